# tests/14-cache-aware.bats holds a block it has read in memory until its next read of it: the
# kernel may page out a file page that nothing maps at any moment (tests/tools/hold-pages.c).
all: $(BIN_DIR)/hold-pages
$(BIN_DIR)/hold-pages: tests/tools/hold-pages.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
