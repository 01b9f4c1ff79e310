# The reader of the servers' event traces (tools/trace.c, behind timeline-svg -e), fuzzed: a
# trace cut short by a killed server must give a line number, not a crash.
#   make fuzz-trace   libFuzzer over trace_load, the model and both pictures, for
#                     FUZZ_TRACE_SECONDS (default 60); make check runs it for
#                     CHECK_FUZZ_TRACE_SECONDS (default 20)
# It uses the fuzz rules' compiler and libFuzzer runtime (FUZZ_CC, fuzz-deps: mk/reliability.mk).
.PHONY: fuzz-trace

FUZZ_TRACE_SECONDS ?= 60
CHECK_FUZZ_TRACE_SECONDS ?= 20
FUZZ_TRACE_SRC := tools/trace.c tools/timeline.c tools/timeline-draw.c

$(FUZZ_DIR)/fuzz_trace: fuzz/fuzz_trace.c $(FUZZ_TRACE_SRC) tools/trace.h tools/timeline.h | fuzz-deps
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) -g -O1 $(STRICT) -Itools \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ fuzz/fuzz_trace.c $(FUZZ_TRACE_SRC) -lm

# New inputs go to bin/fuzz/trace-corpus; the test traces in tests/timeline are the seeds.
fuzz-trace: $(FUZZ_DIR)/fuzz_trace
	@mkdir -p $(FUZZ_DIR)/trace-corpus
	$(FUZZ_DIR)/fuzz_trace -max_total_time=$(FUZZ_TRACE_SECONDS) -max_len=8192 \
	    -dict=fuzz/trace.dict -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/trace- \
	    $(FUZZ_DIR)/trace-corpus tests/timeline

# Bounded in make check (a prerequisite's variables follow the target that asked for it).
check: FUZZ_TRACE_SECONDS = $(CHECK_FUZZ_TRACE_SECONDS)
check: fuzz-trace

# Any -E trace in the Chrome Trace Event format (ui.perfetto.dev, chrome://tracing), with the
# same reader as timeline-svg; and the test's own check of that format (tests/trace.bats).
all: $(BIN_DIR)/trace-chrome $(BIN_DIR)/trace-event-check

$(BIN_DIR)/trace-chrome: tools/trace-chrome.c tools/trace.c tools/trace.h $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itools -o $@ tools/trace-chrome.c tools/trace.c -lm

$(BIN_DIR)/trace-event-check: tests/tools/trace-event-check.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/tools/trace-event-check.c
