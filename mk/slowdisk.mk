# The slow disk (tools/slowdisk.c): a FUSE file system whose reads really take DELAY_MS.
#   bin/slowdisk MOUNTPOINT   mounts it (as root); tests/slowdisk.bats shows what it does

SLOWDISK_SRC := tools/slowdisk.c common/heap.c common/protocol.c common/utils.c

all: $(BIN_DIR)/slowdisk
$(BIN_DIR)/slowdisk: $(SLOWDISK_SRC) $(COMMON_HDR) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SLOWDISK_SRC) $(LDLIBS)
