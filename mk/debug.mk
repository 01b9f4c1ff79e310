# make debug-5: the demo of appendix A1 (chapters/A1-debugging): chapter 05 under the dying disk
# with -W 200, the read on the slow disk (bin/slowdisk, where FUSE is available) or the simulated
# one; the watchdog's live report, looked at from outside too (wchan, ss), then strict mode (-S)
# and the loop-lag figures (-L).
.PHONY: debug-5 debug-tools
debug-5: all debug-tools
	@scripts/debug-demo.sh 05-blocking-in-loop

# ss (iproute2) and addr2line (binutils), only for this demo; the recipes of A1 also use strace.
debug-tools:
	@scripts/need iproute2 binutils strace

# spin-sleep.so (tests/watchdog.bats): LD_PRELOADed, it turns every nanosleep into a busy loop,
# a compute-bound stall. Built without sanitizers: preloaded, it comes before their runtimes.
all: $(BIN_DIR)/spin-sleep.so
$(BIN_DIR)/spin-sleep.so: tests/tools/spin-sleep.c $(FLAGS_STAMP)
	$(CC) -O2 -g $(STRICT) -shared -fPIC -o $@ $<

# make debug-cost: what the hooks and strict mode's filter cost (tests/tools/watchdog-cost.c).
.PHONY: debug-cost debug-signal
WATCHDOG_COST_SRC := tests/tools/watchdog-cost.c $(foreach p,$(WATCH) $(BASE) heap,common/$(p).c)
all: $(BIN_DIR)/watchdog-cost
$(BIN_DIR)/watchdog-cost: $(WATCHDOG_COST_SRC) $(COMMON_HDR) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(WATCHDOG_COST_SRC) $(LDLIBS)

debug-cost: $(BIN_DIR)/watchdog-cost
	@for flags in "" "-L" "-W 100" "-S" "-W 100 -S -L"; do \
	    $(BIN_DIR)/watchdog-cost $$flags 2>/dev/null || exit 1; done

# make debug-signal: why -W does not take its stacks with a signal (appendix A1, "Why").
debug-signal: all
	@scripts/debug-demo.sh signal
