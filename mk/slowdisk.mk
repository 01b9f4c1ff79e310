# The slow disk (tools/slowdisk.c): a FUSE file system whose reads really take DELAY_MS.
#   bin/slowdisk MOUNTPOINT   mounts it (as root); tests/slowdisk.bats shows what it does
#   make fuzz-slowdisk        libFuzzer over its request decoder for SLOWDISK_FUZZ_SECONDS
#                             (default 20); make check runs it too
.PHONY: fuzz-slowdisk

SLOWDISK_SRC := tools/slowdisk.c common/heap.c common/disk.c common/protocol.c common/signals.c \
    common/log.c

all: $(BIN_DIR)/slowdisk
$(BIN_DIR)/slowdisk: $(SLOWDISK_SRC) $(COMMON_HDR) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SLOWDISK_SRC) $(LDLIBS)

SLOWDISK_FUZZ_SECONDS ?= 20

# The fuzz target includes tools/slowdisk.c itself (without its main) to reach its decoder.
$(FUZZ_DIR)/fuzz_slowdisk: fuzz/fuzz_slowdisk.c $(SLOWDISK_SRC) $(COMMON_HDR) | fuzz-deps
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) -g -O1 $(STRICT) -Icommon \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ fuzz/fuzz_slowdisk.c $(filter common/%,$(SLOWDISK_SRC)) -lpthread -lm

# New inputs go to bin/fuzz/slowdisk-corpus; the committed seeds in fuzz/slowdisk-corpus are
# only read.
fuzz-slowdisk: $(FUZZ_DIR)/fuzz_slowdisk
	@mkdir -p $(FUZZ_DIR)/slowdisk-corpus
	$(FUZZ_DIR)/fuzz_slowdisk -max_total_time=$(SLOWDISK_FUZZ_SECONDS) -max_len=4096 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/slowdisk- \
	    $(FUZZ_DIR)/slowdisk-corpus fuzz/slowdisk-corpus

check: fuzz-slowdisk

# make disk-demo: chapters 05 and 06 on a disk that really dies (scripts/disk-demo.sh).
.PHONY: disk-demo
disk-demo: all
	@scripts/need strace
	@scripts/disk-demo.sh
