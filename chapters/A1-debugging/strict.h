/* Strict mode (loopwatch -S, -R): a loop thread may not make a blocking system call. A seccomp
 * filter on each loop thread traps the calls that block (sleeps, file reads and writes at an
 * offset, opens, syncs, locks that wait); -S refuses each with EPERM, so the request it served
 * fails instead of stalling every other one; -R lets it go on. Either way it is kept, with its
 * arguments and the loop thread's stack, for the watchdog thread to report. */
#ifndef STRICT_H
#define STRICT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "stack.h"
#include "syscalls.h"

enum { STRICT_REFUSE = 1, STRICT_REPORT = 2 };

/* One trapped call: what it was, on which thread, and the stack that made it. */
struct refusal {
    struct syscall_args call;
    pid_t tid;
    bool refused; /* -S: it failed with EPERM; -R: it went on */
    uintptr_t frames[STACK_MAX];
    int frame_count;
};

/* Installs the filter on the calling thread, a loop's (mode: STRICT_REFUSE or STRICT_REPORT).
 * Threads it creates later inherit the filter, but a trapped call is caught only when busy() says
 * the thread is a loop's, outside its own wait (busy runs in a signal handler: it must be
 * async-signal-safe); any other goes through. Returns 0, or -1 with a reason in why. */
int strict_install(int mode, bool (*busy)(void), char *why, size_t size);

/* Takes the oldest trapped call not yet reported. False when there is none. */
bool strict_take(struct refusal *out);

/* How many calls were trapped so far, and how many of them could not be kept for a report. */
long strict_trapped(long *lost);

/* From now on every call goes through (the process is exiting: shutting down may block). */
void strict_lift(void);

#endif
