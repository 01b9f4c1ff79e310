/* The loops loopwatch has found in this process, and what it was asked to do with them.
 *
 * A loop is a thread that waits for events in epoll_wait (or epoll_pwait, epoll_pwait2), or in
 * poll or select for two descriptors or more. A turn of the loop is the time between two such
 * waits: the wrappers in preload.c stamp its start and end, and that is all the loop thread does;
 * the watchdog thread (watchdog.c) reads the stamps and reports. */
#ifndef LOOPS_H
#define LOOPS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define MAX_LOOPS   64 /* loop threads watched in one process; more are only counted */
#define LAG_BUCKETS 36 /* turns of 2^k to 2^(k+1) us, up to 2^36 us (19 hours) */

/* What the launcher asked for (bin/loopwatch sets it in the environment). */
struct watch_config {
    int threshold_ms;  /* -W: a turn this long is reported live; 0: off */
    bool lag;          /* -L: every turn's length, in log2 buckets */
    bool sleeps;       /* -C: every turn that slept in the kernel, however briefly */
    int strict;        /* -S: STRICT_REFUSE, -R: STRICT_REPORT, else 0 */
    bool cpu_clock;    /* LOOPWATCH_CLOCK=cpu: -W counts the loop's CPU time, as Seastar does */
    bool stack_signal; /* LOOPWATCH_STACK=signal: every stack taken with a signal, as eventlet */
};

extern struct watch_config watch;

struct loop {
    _Atomic pid_t tid; /* 0: a free slot */
    char name[16];     /* the thread's name (comm) when it was found */
    clockid_t cpu_clock;
    /* Written by the loop thread, read by the watchdog thread. */
    _Atomic int64_t turn_began;      /* ns; 0 while the loop waits for events */
    _Atomic int64_t turn_cpu_began;  /* LOOPWATCH_CLOCK=cpu: the thread's CPU time then, ns */
    _Atomic int64_t long_turn_began; /* the last turn longer than -W, once it ended */
    _Atomic int64_t long_turn_ns;    /* ... and how long it took */
    _Atomic uint64_t lag[LAG_BUCKETS];
    _Atomic long turns;
    _Atomic int64_t lag_max_ns;
    _Atomic long slept_turns, slept_switches, slept_faults; /* -C, since the watchdog looked */
    _Atomic int64_t slept_longest_ns;
    /* Written by the watchdog thread. */
    _Atomic int64_t reported_turn; /* the turn it reported as a stall */
    /* The loop thread's own, but read at exit: -L says how long a turn still running has run. */
    _Atomic int64_t began; /* this turn, ns (1: untimed); 0 between turns */
    long nvcsw, majflt;    /* -C: the thread's counts when the turn began */
};

extern struct loop loops[MAX_LOOPS];

/* Starts the watchdog thread if it is not running in this process (a fork's child has none
 * until its first loop turn). Called by a loop thread, before its strict filter is installed:
 * a thread inherits the filter of the thread that creates it. */
void watchdog_ensure(void);

/* Loop l's -L figures, now ("at its thread's end"). */
void watchdog_lag_report(struct loop *l, const char *when);

/* Stops the watchdog thread and reports what is left (at exit). */
void watchdog_stop(void);

/* A fork's child: forget the parent's watchdog thread (it does not exist here). */
void watchdog_forget(void);

#endif
