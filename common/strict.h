/* Strict mode (-S): the loop thread may not make a blocking system call. A seccomp filter on the
 * loop thread alone traps the calls that block (sleeps, file reads and writes at an offset,
 * opens, syncs, locks that wait); each is refused with EPERM, so the request it served fails
 * (RC 2) instead of stalling every other one, and is reported with its arguments and the loop
 * thread's stack. watchdog.c reports them; this file catches them. */
#ifndef STRICT_H
#define STRICT_H

#include <stdbool.h>
#include <stdint.h>

#include "stack.h"
#include "syscalls.h"

/* One refused call: what it was, and the stack that made it. */
struct refusal {
    struct syscall_args call;
    uintptr_t frames[STACK_MAX];
    int frame_count;
};

/* Installs the filter on the calling thread, the loop's, and on the threads it creates later
 * (they inherit it, but only the loop thread is refused: see strict.c). Call after starting
 * every worker thread. Returns 0, or -1 with a reason in why. */
int strict_install(char *why, size_t size);

/* True when a refused call waits to be reported. One load: the loop calls it every callback. */
bool strict_pending(void);

/* Takes the oldest refused call not yet reported. False when there is none. */
bool strict_take(struct refusal *out);

/* How many calls were refused so far, and how many of them could not be kept for a report. */
long strict_refused(long *lost);

/* From now on the loop thread's calls go through (the loop is over: shutting down may sleep). */
void strict_lift(void);

#endif
