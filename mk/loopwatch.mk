# bin/loopwatch and the library it preloads (chapters/A1-debugging): the appendix's watchdog, strict
# mode and loop-lag figures as a tool that watches any dynamically linked program from inside its
# process, with no hook in it. -fvisibility=hidden: the library exports only the waits it wraps, so
# none of its own functions can take the place of a program's of the same name.
LOOPWATCH_DIR := chapters/A1-debugging
LOOPWATCH_SRC := $(addprefix $(LOOPWATCH_DIR)/,preload.c watchdog.c strict.c stack.c syscalls.c report.c)
all: $(BIN_DIR)/loopwatch $(BIN_DIR)/libloopwatch.so
$(BIN_DIR)/libloopwatch.so: $(LOOPWATCH_SRC) $(wildcard $(LOOPWATCH_DIR)/*.h) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -fPIC -fvisibility=hidden -o $@ $(LOOPWATCH_SRC) -ldl $(LDLIBS)
$(BIN_DIR)/loopwatch: $(LOOPWATCH_DIR)/loopwatch.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
