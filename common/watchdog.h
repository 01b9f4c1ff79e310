/* Catching the blocking call in the act (appendix A1): what -W, -S and -L do for a loop.
 *   -W MS  a watchdog thread that, as soon as a turn of the loop is MS late, logs what the loop
 *          thread is doing, read from outside it (/proc/self/task/TID): the system call it is
 *          blocked in with its arguments and file, its state (R, S, D) and the kernel function it
 *          waits in, then its stack; and a detector with no threshold, which names every
 *          callback that slept in the kernel, however briefly. WATCHDOG_CLOCK=cpu counts only
 *          the loop's CPU time, as Seastar's stall detector does (and so misses a blocked read);
 *          WATCHDOG_STACK=signal takes every stack with a signal, as eventlet's SIGALRM does (and
 *          so interrupts the read it reports: appendix A1 shows what that does to a FUSE read).
 *   -S     strict mode (strict.h): blocking system calls on the loop thread are refused, EPERM,
 *          and reported with their stack.
 *   -L     loop-lag figures: every turn's duration in log2 buckets, logged as p50/p99/max on
 *          SIGUSR1 and at exit (and each turn as a loop_lag event in the -E trace).
 * A loop calls the hooks below; while all three are off each costs one test of a global. */
#ifndef WATCHDOG_H
#define WATCHDOG_H

#include <stdbool.h>

#include "flags.h"

/* Starts what cfg asks for (-W, -S, -L) on the calling thread, which must be the loop's; nothing
 * when none is on. Call it once, right before the loop, after every worker thread is started
 * (strict mode's filter is inherited by threads created later). Dies on failure. */
void watchdog_start(const struct server_config *cfg);

/* After the loop: lifts strict mode, logs what is left to report and the -L figures. Runs at
 * exit too; harmless twice. */
void watchdog_stop(void);

extern bool watchdog_on; /* any of -W, -S, -L: set by watchdog_start */

/* The slow paths of the hooks below. */
void watchdog_turn_begin_hook(void);
void watchdog_turn_end_hook(void);
void watchdog_callback_hook(const char *name, void (*fn)(void), int fd);

/* epoll_wait returned: a turn of the loop begins. */
static inline void watchdog_turn_begin(void) {
    if (watchdog_on)
        watchdog_turn_begin_hook();
}

/* The turn is over: the loop is about to sleep again. */
static inline void watchdog_turn_end(void) {
    if (watchdog_on)
        watchdog_turn_end_hook();
}

/* The loop is about to run callback name ("dispatch") for descriptor fd (-1: none): reports name
 * it. The callback ends when the next begins, or the turn does. */
static inline void watchdog_callback(const char *name, int fd) {
    if (watchdog_on)
        watchdog_callback_hook(name, 0, fd);
}

/* The same for a callback known by its address (common/ev.c's): reports name it from the
 * program's symbol table. */
static inline void watchdog_callback_at(void (*fn)(void), int fd) {
    if (watchdog_on)
        watchdog_callback_hook(0, fn, fd);
}

#endif
