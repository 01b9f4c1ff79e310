# make debug-5: the demo of appendix A1 (chapters/A1-debugging): chapter 05 under the dying disk,
# run by bin/loopwatch -W 200 -L, the read on the slow disk (bin/slowdisk, where FUSE is available)
# or the simulated one; loopwatch's live report, looked at from outside too (wchan, ss), then
# strict mode (-S) and the loop-lag figures (-L).
.PHONY: debug-5 debug-tools
debug-5: all debug-tools
	@scripts/debug-demo.sh 05-blocking-in-loop

# ss (iproute2) and addr2line (binutils), only for this demo; the recipes of A1 also use strace.
debug-tools:
	@scripts/need iproute2 binutils strace

# spin-sleep.so (tests/loopwatch.bats): LD_PRELOADed, it turns every nanosleep into a busy loop,
# a compute-bound stall. Built without sanitizers: preloaded, it comes before their runtimes.
all: $(BIN_DIR)/spin-sleep.so
$(BIN_DIR)/spin-sleep.so: tests/tools/spin-sleep.c $(FLAGS_STAMP)
	$(CC) -O2 -g $(STRICT) -shared -fPIC -o $@ $<

# make debug-cost: what loopwatch costs a loop's turn, and strict mode's filter a system call
# (tests/tools/loop-cost.c): alone, then under bin/loopwatch with each flag.
.PHONY: debug-cost debug-signal
all: $(BIN_DIR)/loop-cost
$(BIN_DIR)/loop-cost: tests/tools/loop-cost.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

debug-cost: $(BIN_DIR)/loop-cost $(BIN_DIR)/loopwatch $(BIN_DIR)/libloopwatch.so
	@$(BIN_DIR)/loop-cost || exit 1; for flags in "-L" "-W 100" "-C" "-S" "-W 100 -L -S"; do \
	    $(BIN_DIR)/loopwatch $$flags -- $(BIN_DIR)/loop-cost "$$flags" 2>/dev/null || exit 1; done

# make debug-signal: why -W does not take its stacks with a signal (appendix A1, "Why").
debug-signal: all
	@scripts/debug-demo.sh signal

# make debug-peers: loopwatch on the real systems, unchanged (appendix A1): eventlet, asyncio and
# nginx on the slow disk, with and without their pools. make peers installs them.
.PHONY: debug-peers
debug-peers: all peers
	@scripts/debug-demo.sh peers

# two-loops (tests/loopwatch.bats): two event loops in one process, one of which blocks once.
all: $(BIN_DIR)/two-loops
$(BIN_DIR)/two-loops: tests/tools/two-loops.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)
