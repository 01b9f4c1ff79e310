# bin/wait-cost (chapters/03-select/wait_cost.c): microseconds per select(), poll() and
# epoll_wait() with N idle descriptors and one ready; make bench prints its table. libc only.
all: $(BIN_DIR)/wait-cost
$(BIN_DIR)/wait-cost: chapters/03-select/wait_cost.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
