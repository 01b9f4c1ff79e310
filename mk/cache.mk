# The tests (hold_pages) and chapter 14's figures hold a block read once in memory until the read
# that must hit it: the kernel may page out a file page nothing maps at any moment
# (tests/tools/hold-pages.c).
all: $(BIN_DIR)/hold-pages
$(BIN_DIR)/hold-pages: tests/tools/hold-pages.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
