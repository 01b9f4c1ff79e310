# Reliability (issue 7): the misbehaving test client, the parser fuzzer, the soak, make check.
#   make check         the whole suite under ASan+UBSan, the threaded chapters' tests under TSan,
#                      and a bounded fuzz run (CHECK_FUZZ_SECONDS, default 30). Zero findings.
#   make fuzz          libFuzzer over parse_request/format_reply for FUZZ_SECONDS (default 60)
#   make soak          scripts/soak.sh: 1,000,000 requests at chapters 04 and 06 (SOAK_REQUESTS)
.PHONY: check fuzz fuzz-deps soak

# tests/reliability.bats resets connections (SO_LINGER 0), half-closes and slowlorises with it.
all: $(BIN_DIR)/rst-client
RST_CLIENT_SRC := tests/tools/rst-client.c common/log.c common/net.c common/signals.c common/trace.c
$(BIN_DIR)/rst-client: $(RST_CLIENT_SRC) $(COMMON_HDR) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(RST_CLIENT_SRC) $(LDLIBS)

# tests/client.bats points the client at it: one reply, right or wrong, to every request.
all: $(BIN_DIR)/bad-server
BAD_SERVER_SRC := tests/tools/bad-server.c common/protocol.c common/net.c common/signals.c \
    common/log.c common/trace.c
$(BIN_DIR)/bad-server: $(BAD_SERVER_SRC) $(COMMON_HDR) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(BAD_SERVER_SRC) $(LDLIBS)

# Chapters that start threads, themselves or through common/pool.c, 06's workers.c or 09's
# hub.c (its tpool): the ones TSan has something to say about.
THREADED_CHAPTERS = $(patsubst chapters/%/server.c,%,$(shell grep -lE 'pthread_create|"(pool|workers|hub)\.h"' chapters/[0-9]*/server.c))

check:
	$(MAKE) test SAN=address,undefined
	BIN_DIR=bin/san-address-undefined RELIABILITY_CHAPTERS=all bats tests/reliability.bats
	$(MAKE) all SAN=thread
	BIN_DIR=bin/san-thread bats $(wildcard $(foreach c,$(THREADED_CHAPTERS),tests/$(c).bats))
	BIN_DIR=bin/san-thread RELIABILITY_CHAPTERS="$(THREADED_CHAPTERS)" bats tests/reliability.bats
	$(MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)

CHECK_FUZZ_SECONDS ?= 30
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_DIR := bin/fuzz
FUZZ_SRC := common/protocol.c

# libFuzzer ships with clang on Debian, its runtime in libclang-rt-N-dev for clang N.
fuzz-deps:
	@scripts/need clang
	@scripts/need libclang-rt-$$($(FUZZ_CC) -dumpversion | cut -d. -f1)-dev

$(FUZZ_DIR)/fuzz_parse: fuzz/fuzz_parse.c $(FUZZ_SRC) $(COMMON_HDR) | fuzz-deps
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) -g -O1 $(STRICT) -Icommon \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ fuzz/fuzz_parse.c $(FUZZ_SRC) -lpthread -lm

# New inputs go to bin/fuzz/corpus; the committed seeds in fuzz/corpus are only read.
fuzz: $(FUZZ_DIR)/fuzz_parse
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/fuzz_parse -max_total_time=$(FUZZ_SECONDS) -max_len=5000 -dict=fuzz/protocol.dict \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus fuzz/corpus

SOAK_REQUESTS ?= 1000000
soak: all
	SOAK_REQUESTS=$(SOAK_REQUESTS) scripts/soak.sh
