# make              build every chapter's server, the client and the tools into bin/, a compiler
#                   on every core (make build; make all: one at a time)
# make chapter-N    build chapter N and run its demo (make chapter-1, make chapter-01)
# make tour         every chapter's demo, in order
# make test         install the test tools if missing, then run every test (TEST_JOBS=1: one
#                   file at a time)
# make test-N       chapter N's tests alone (make test-4, make test-04: tests/04-epoll.bats;
#                   make test-A1: the appendix's, tests/loopwatch.bats)
# make test-repeat N=5   the tests N times; lists each test that failed in any run, and in
#                   which runs
# make clean        remove bin/
# SAN=address,undefined (or SAN=thread) builds everything with those sanitizers, into its own
# bin/san-*/ so that plain and sanitizer binaries never mix; `make test SAN=...` tests those.
CC      ?= cc
CFLAGS  ?= -O2 -g
# The language and warnings every build uses (the fuzzer's clang build in mk/reliability.mk too):
# ISO C11 (-Wpedantic holds the code to it) with the GNU and Linux extensions of its headers.
STRICT  := -Wall -Wextra -Wpedantic -Werror -std=c11 -D_GNU_SOURCE
CFLAGS  += $(STRICT) -Icommon -Iclient
LDLIBS  += -lpthread -lm
comma   := ,
ifdef SAN
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
# UBSan's runtime linked in, not libubsan.so: at every exit LeakSanitizer scans each library's
# globals, and libubsan.so's are 6 MB, most never touched: 1,400 page faults and 20 ms of CPU a
# program (`client -h` 57 ms, 35 ms linked in), in a sanitized run that starts 2,500 of them.
# ASan's stays shared: bin/libloopwatch.so, preloaded into a sanitized chapter, needs the same one.
# GCC's flag; clang links its one runtime in already, and refuses the flag.
LDFLAGS += -fsanitize=$(SAN) $(if $(findstring undefined,$(SAN)),$(shell \
    $(CC) --version 2>/dev/null | grep -q clang || echo -static-libubsan))
BIN_DIR := bin/san-$(subst $(comma),-,$(SAN))
else
BIN_DIR := bin
endif
# The tests read BIN_DIR from the environment. Set here with :=, not ?=, so that a `make test
# SAN=...` run from inside another make (make check) does not inherit its parent's plain bin/.
export BIN_DIR

COMMON_HDR := $(wildcard common/*.h)
CHAPTERS   := $(patsubst chapters/%/server.c,%,$(wildcard chapters/[0-9]*/server.c))
SERVERS    := $(addprefix $(BIN_DIR)/,$(CHAPTERS))
PROGRAMS   := $(SERVERS) $(BIN_DIR)/client $(BIN_DIR)/epoll-file $(BIN_DIR)/aio-threads

# What each chapter is made of: its folder's server.c, then each part named here, found in the
# chapter's own folder when it is that chapter's lesson (09's hub, 12's ring, 13's reuseport),
# else in common/. `make -n -B bin/NN-name` prints the list.
BASE := flags job disk protocol net signals trace log
LOOP := loop ev heap $(BASE)
uses.01-blocking              := blocking $(BASE)
uses.02-busy-poll             := $(BASE)
uses.03-select                := poll_wait $(BASE)
uses.04-epoll                 := heap $(BASE)
uses.05-blocking-in-loop      := heap $(BASE)
uses.06-worker-offload        := workers heap $(BASE)
uses.07-thread-per-connection := blocking $(BASE)
uses.08-prefork               := blocking $(BASE)
uses.09-green-threads         := hub blocking heap $(BASE)
uses.10-slow-clients          := pool $(LOOP)
uses.11-dying-disk            := disk_process pool $(LOOP)
uses.12-io-uring              := uring $(LOOP)
uses.13-multicore             := reuseport pool $(LOOP)
uses.14-cache-aware           := pool $(LOOP)
uses.15-hidden-blocking       := accesslog resolver pool $(LOOP)
# chapter_src NN-name: server.c and the .c file of every part it uses.
chapter_src = chapters/$(1)/server.c $(foreach p,$(uses.$(1)),$(firstword \
    $(wildcard chapters/$(1)/$(p).c) common/$(p).c))

# Rebuild everything when the flags change.
FLAGS_STAMP := $(BIN_DIR)/.flags
$(shell mkdir -p $(BIN_DIR); echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' | cmp -s - $(FLAGS_STAMP) \
        || echo '$(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)' > $(FLAGS_STAMP))

.PHONY: all build test test-repeat tour clean format format-check install-test-deps
all: $(PROGRAMS)

# build: all, with a compiler on every core: make test, the tour and a chapter's demo build so.
# Only the build: the measurements (make bench, figures, compare) must not run side by side.
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
.DEFAULT_GOAL := build
build:
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) all

# Each source file compiles once, into $(BIN_DIR)/obj/ under its own path, and a program links the
# objects of the parts it uses: the chapters share common/, and compiling it again for each
# (some 200 compiler runs, not 60) was most of the build. -MMD -MP: each object's headers, kept
# beside it in a .d file, rebuild it when one changes.
OBJ_DIR := $(BIN_DIR)/obj
objects = $(patsubst %.c,$(OBJ_DIR)/%.o,$(1))
$(OBJ_DIR)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
-include $(wildcard $(OBJ_DIR)/*/*.d $(OBJ_DIR)/*/*/*.d)

.SECONDEXPANSION:
$(BIN_DIR)/%: $$(call objects,$$(call chapter_src,%)) $(FLAGS_STAMP)
	$(if $(uses.$*),,$(error chapter $* has no uses.$* list in the Makefile))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(call objects,$(call chapter_src,$*)) $(LDLIBS)

CLIENT_SRC := client/client.c client/stats.c common/log.c common/net.c common/signals.c common/trace.c
$(BIN_DIR)/client: $(call objects,$(CLIENT_SRC)) $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(call objects,$(CLIENT_SRC)) $(LDLIBS)

# Every object stays after the build. Make deletes a file that only a pattern rule's prerequisites
# name (an intermediate one) once the build is done, and on a fresh clone, before any .d file
# named them, the chapters' objects were such: the next make found them missing, compiled them
# again and relinked every chapter, in the middle of make test (tests/exercises.bats ran a make,
# and a test ran a chapter as the linker wrote it).
.SECONDARY: $(call objects,$(sort $(CLIENT_SRC) $(foreach c,$(CHAPTERS),$(call chapter_src,$(c)))))

$(BIN_DIR)/epoll-file: chapters/05-blocking-in-loop/epoll_file.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# POSIX AIO's reads, glibc's threads (chapter 06). -lrt: glibc before 2.34 keeps aio there.
$(BIN_DIR)/aio-threads: chapters/06-worker-offload/aio_threads.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lrt $(LDLIBS)

# chapter-1 and chapter-01 both name chapters/01-*.
chapter-%: build
	@scripts/demo.sh "$(firstword $(filter $(shell printf %02d $* 2>/dev/null)-%,$(CHAPTERS)))"

tour: build
	@for c in $(CHAPTERS); do scripts/demo.sh $$c || exit 1; done

# What the tests use (scripts/need installs only what is missing): bats and GNU parallel (to run
# four files at once), OpenBSD netcat (its -N shuts the socket down after stdin ends), curl, ps
# (procps) for thread and child counts, strace for chapter 12's refused io_uring, clang-format for
# format-check; mk/charts.mk adds Chromium and remark for the deck's browser test. prlimit comes
# with util-linux, which Debian always has. python3-eventlet and nginx are the real systems the
# story is about (peers/): loopwatch's and the peers' tests run them.
install-test-deps:
	@scripts/need bats parallel netcat-openbsd curl procps strace clang-format python3-eventlet nginx

# Each test file starts its own servers on port 0, so files can run side by side: four at once
# (GNU parallel runs them for bats), the tests of one file in order. Most of a test is waiting
# for a deadline, so four fit two cores: a sanitized run took 304 s with four, 343 s with three
# (1.6 of the 2 cores busy, not 1.4). TEST_JOBS=1 runs one file at a time, in name order. The
# format goes first: a drifted file fails the run before any server starts.
TEST_JOBS ?= 4
test: install-test-deps build format-check
	bats --jobs $(TEST_JOBS) --no-parallelize-within-files tests

# make test-4 (or test-04): one chapter's tests, tests/04-epoll.bats, built and run as make test
# builds and runs them (SAN= too). An explicit rule such as test-repeat wins over this pattern.
# The appendix has no server of its own: its tests are loopwatch's.
test-A1 test-a1: install-test-deps build
	bats tests/loopwatch.bats

test-%: install-test-deps build
	@t=tests/$(firstword $(filter $(shell printf %02d $* 2>/dev/null)-%,$(CHAPTERS))).bats; \
	    [ -f "$$t" ] || { echo "make test-$*: no chapter $*; the chapters: $(CHAPTERS)" >&2; exit 2; }; \
	    bats "$$t"

# make test-repeat N=5: the suite N times, as make test runs it (SAN=, TEST_JOBS= too; TESTS=
# names some files or folders instead of tests/), then every test that failed in any run, with
# the runs it failed in; fails if any did. A flaky test is found by repeating it, never hidden
# by a retry (scripts/test-repeat.sh).
TESTS ?= tests
test-repeat: N ?= 5
test-repeat: install-test-deps build format-check
	@TEST_JOBS=$(TEST_JOBS) scripts/test-repeat.sh $(N) $(TESTS)

# Every C file the repository holds, formatted by .clang-format; make test fails on any drift.
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './bin/*')
format:
	clang-format -i $(C_FILES)

format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format-check: $(words $(C_FILES)) files as .clang-format wants them"

clean:
	rm -rf bin

# Larger pieces (figures, benchmarks, fuzzing, ...) bring their own rules.
-include mk/*.mk
