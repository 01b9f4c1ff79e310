/* libloopwatch.so, the library bin/loopwatch preloads (LD_PRELOAD) into any dynamically linked
 * program: it finds the program's event loops, and times their turns, with no hook in the
 * program.
 *
 * DESIGN. Every event loop, ours and eventlet's hub, asyncio, nginx, libuv, sleeps between turns
 * in one of a few C library calls: epoll_wait (epoll_pwait, epoll_pwait2), poll (ppoll), select
 * (pselect). This library defines those functions; the dynamic linker finds its definitions
 * before the C library's, so the program calls them, and they call the C library's. A turn of the
 * loop is the time between two of these calls: the wrapper stamps the turn's end before calling
 * the real wait and its start when it returns (two clock reads and a store), and a watchdog
 * thread (watchdog.c) looks at the stamps from outside. The loop thread itself never reports,
 * never takes a lock and never makes a system call for loopwatch, but with -C (one getrusage a
 * turn end) and when strict mode traps a call.
 *
 * WHICH THREADS. A thread becomes a loop at its first epoll wait (only event loops use epoll), and
 * from then on only waits on that same epoll descriptor end its turns: a blocking socket with a
 * timeout waits in poll on one descriptor, and that is a stall inside a turn, not a new turn. A
 * thread with no epoll loop becomes a loop at its first poll or select for two descriptors or
 * more (a poll loop with one client), and then every poll or select it makes ends a turn (at
 * rest it waits for its listener alone). Calls the C library makes to itself (getaddrinfo's poll)
 * do not go through these definitions at all.
 *
 * FORK AND EXEC. The environment carries the configuration, so a program the loop starts is
 * watched too. A forked child has only the thread that forked: pthread_atfork forgets the
 * parent's loops and watchdog thread, and the child's own are found at its first turn (nginx's
 * workers, a prefork server). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "loops.h"
#include "report.h"
#include "strict.h"

#define EXPORT __attribute__((visibility("default")))
/* Thread-local variables read by strict mode's SIGSYS handler: initial-exec, so that reading
 * one never calls into the dynamic linker (not async-signal-safe). */
#define TLS __thread __attribute__((tls_model("initial-exec")))

static bool enabled;     /* the launcher set LOOPWATCH_* */
static pid_t top_pid;    /* the process bin/loopwatch started (LOOPWATCH_TOP) */
static atomic_int found; /* loops found in this process */
static atomic_int forks; /* children it forked */
static atomic_bool full; /* MAX_LOOPS reached once */
static pthread_key_t exit_key;

enum kind { UNKNOWN, NOT_YET, EPOLL_LOOP, POLL_LOOP, UNWATCHED };

static TLS struct loop *self; /* this thread's loop, once found */
static TLS enum kind kind;
static TLS int loop_epfd;
static TLS bool in_wait; /* in the loop's own wait: strict mode lets its poll through */

static struct {
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int (*poll_chk)(struct pollfd *, nfds_t, int, size_t);
    int (*ppoll_chk)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
    void (*exit_now)(int);
} real;

/* The C library's definition of name (the next one after ours). */
static void *next(const char *name) {
    return dlsym(RTLD_NEXT, name);
}

static void resolve(void) {
    *(void **)&real.epoll_wait = next("epoll_wait");
    *(void **)&real.epoll_pwait = next("epoll_pwait");
    *(void **)&real.epoll_pwait2 = next("epoll_pwait2");
    *(void **)&real.poll = next("poll");
    *(void **)&real.ppoll = next("ppoll");
    *(void **)&real.poll_chk = next("__poll_chk");
    *(void **)&real.ppoll_chk = next("__ppoll_chk");
    *(void **)&real.select = next("select");
    *(void **)&real.pselect = next("pselect");
    *(void **)&real.exit_now = next("_exit");
}

/* Strict mode's question, asked in its SIGSYS handler: is this a loop thread, outside its wait? */
static bool loop_thread_busy(void) {
    return self && !in_wait;
}

/* ---- finding loops ---- */

/* A loop thread ends: its figures now, while they are still its own, then its slot is free. */
static void on_thread_exit(void *arg) {
    struct loop *l = arg;
    if (watch.lag)
        watchdog_lag_report(l, "at the end of its thread");
    atomic_store(&l->tid, 0);
}

static struct loop *take_slot(pid_t tid) {
    for (int i = 0; i < MAX_LOOPS; i++) {
        pid_t none = 0;
        struct loop *l = &loops[i];
        if (atomic_load(&l->tid) == 0 && atomic_compare_exchange_strong(&l->tid, &none, tid)) {
            atomic_store(&l->turn_began, 0);
            atomic_store(&l->long_turn_began, 0);
            atomic_store(&l->reported_turn, 0);
            for (int k = 0; k < LAG_BUCKETS; k++)
                atomic_store(&l->lag[k], 0);
            atomic_store(&l->turns, 0);
            atomic_store(&l->lag_max_ns, 0);
            l->began = 0;
            return l;
        }
    }
    return NULL;
}

/* This thread waits like a loop for the first time (in wait, on fd: -1 for poll and select). */
static struct loop *found_loop(const char *wait, int fd) {
    pid_t tid = gettid();
    struct loop *l = take_slot(tid);
    if (!l) {
        kind = UNWATCHED;
        if (!atomic_exchange(&full, true))
            report("more than %d loop threads in pid %d: thread %d and the next are not watched",
                   MAX_LOOPS, (int)getpid(), (int)tid);
        return NULL;
    }
    prctl(PR_GET_NAME, l->name, 0, 0, 0);
    pthread_getcpuclockid(pthread_self(), &l->cpu_clock);
    pthread_setspecific(exit_key, l);
    char on[32] = "";
    if (fd >= 0)
        snprintf(on, sizeof on, " (fd %d)", fd);
    report("watching loop thread %d (%s) of pid %d: it waits in %s%s", (int)tid, l->name,
           (int)getpid(), wait, on);
    if (atomic_fetch_add(&found, 1) == 0 && watch.lag)
        report("-L: each loop's turn lengths at exit, or now: touch /tmp/loopwatch-%d",
               (int)getpid());
    watchdog_ensure(); /* before the filter: the watchdog thread must not inherit it */
    char why[160];
    if (watch.strict && strict_install(watch.strict, loop_thread_busy, why, sizeof why) < 0)
        report("%s is off on thread %d: %s", watch.strict == STRICT_REFUSE ? "-S" : "-R", (int)tid,
               why);
    return self = l;
}

static void sample_sleeps(struct loop *l) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    l->nvcsw = ru.ru_nvcsw;
    l->majflt = ru.ru_majflt;
}

static void lag_add(struct loop *l, int64_t ns) {
    uint64_t us = (uint64_t)(ns > 0 ? ns : 0) / 1000;
    int k = us < 2 ? 0 : 63 - __builtin_clzll(us);
    k = k < LAG_BUCKETS ? k : LAG_BUCKETS - 1;
    /* One writer, this thread: a load and a store, no locked instruction. */
    atomic_store_explicit(&l->lag[k], atomic_load_explicit(&l->lag[k], memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&l->turns, atomic_load_explicit(&l->turns, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (ns > atomic_load_explicit(&l->lag_max_ns, memory_order_relaxed))
        atomic_store_explicit(&l->lag_max_ns, ns, memory_order_relaxed);
}

/* -C: did the turn that ends go to sleep in the kernel? */
static void look_for_sleeps(struct loop *l, int64_t took) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    long switches = ru.ru_nvcsw - l->nvcsw;
    if (switches <= 0 || atomic_load_explicit(&l->reported_turn, memory_order_relaxed) == l->began)
        return; /* no sleep, or the watchdog reported this turn as a stall already */
    atomic_fetch_add(&l->slept_turns, 1);
    atomic_fetch_add(&l->slept_switches, switches);
    atomic_fetch_add(&l->slept_faults, ru.ru_majflt - l->majflt);
    if (took > atomic_load(&l->slept_longest_ns))
        atomic_store(&l->slept_longest_ns, took);
}

/* The loop is about to wait: its turn, if one was running, is over. Returns the loop, or NULL
 * when this wait is not a loop's. */
static struct loop *turn_end(bool loop_wait, const char *wait, int fd) {
    if (!enabled || !loop_wait)
        return NULL;
    int saved = errno;
    struct loop *l = self;
    if (!l && kind != UNWATCHED)
        l = found_loop(wait, fd);
    if (l && l->began) {
        int64_t now = watch.threshold_ms || watch.lag || watch.sleeps ? mono_ns() : 0;
        int64_t took = now - l->began;
        if (watch.lag)
            lag_add(l, took);
        if (watch.sleeps)
            look_for_sleeps(l, took);
        if (watch.threshold_ms) {
            if (took >= (int64_t)watch.threshold_ms * 1000000) { /* for "unblocked after" */
                atomic_store_explicit(&l->long_turn_ns, took, memory_order_relaxed);
                atomic_store_explicit(&l->long_turn_began, l->began, memory_order_release);
            }
            atomic_store_explicit(&l->turn_began, 0, memory_order_release);
        }
        l->began = 0;
    }
    in_wait = l != NULL;
    errno = saved;
    return l;
}

/* The wait returned: a turn begins. */
static void turn_begin(struct loop *l) {
    if (!l)
        return;
    int saved = errno; /* the wait's errno is the caller's */
    in_wait = false;
    l->began = watch.threshold_ms || watch.lag || watch.sleeps ? mono_ns() : 1;
    if (watch.cpu_clock) { /* a system call a turn, but only for the appendix's comparison */
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        atomic_store_explicit(&l->turn_cpu_began, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
                              memory_order_relaxed);
    }
    if (watch.threshold_ms)
        atomic_store_explicit(&l->turn_began, l->began, memory_order_release);
    if (watch.sleeps)
        sample_sleeps(l); /* the wait itself slept: count from here */
    errno = saved;
}

/* Is this epoll wait the loop's? The first epoll descriptor a thread waits on is its loop's. */
static bool epoll_loop_wait(int epfd) {
    if (kind == UNKNOWN || kind == NOT_YET || kind == POLL_LOOP) {
        if (kind == POLL_LOOP)
            return false; /* a poll loop that uses epoll in a callback: not a turn */
        kind = EPOLL_LOOP;
        loop_epfd = epfd;
    }
    return kind == EPOLL_LOOP && epfd == loop_epfd;
}

/* Is this poll or select (for fds descriptors) the loop's? */
static bool poll_loop_wait(unsigned long fds) {
    if (kind == POLL_LOOP)
        return true;
    if ((kind == UNKNOWN || kind == NOT_YET) && fds >= 2) {
        kind = POLL_LOOP;
        return true;
    }
    if (kind == UNKNOWN)
        kind = NOT_YET;
    return false;
}

static unsigned long count_fds(int nfds, const fd_set *r, const fd_set *w, const fd_set *e) {
    if (kind != UNKNOWN && kind != NOT_YET)
        return 0; /* decided already: not worth counting */
    unsigned long n = 0;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
        n += (r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e));
    return n;
}

/* ---- the wrapped waits ---- */

#define MISSING(fn) (errno = ENOSYS, -1) /* the C library has no such call (an old glibc) */

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout) {
    struct loop *l = turn_end(epoll_loop_wait(epfd), "epoll_wait", epfd);
    int n = real.epoll_wait ? real.epoll_wait(epfd, events, max, timeout) : MISSING(epoll_wait);
    turn_begin(l);
    return n;
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout,
                       const sigset_t *mask) {
    struct loop *l = turn_end(epoll_loop_wait(epfd), "epoll_pwait", epfd);
    int n = real.epoll_pwait ? real.epoll_pwait(epfd, events, max, timeout, mask)
                             : MISSING(epoll_pwait);
    turn_begin(l);
    return n;
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int max,
                        const struct timespec *timeout, const sigset_t *mask) {
    struct loop *l = turn_end(epoll_loop_wait(epfd), "epoll_pwait2", epfd);
    int n = real.epoll_pwait2 ? real.epoll_pwait2(epfd, events, max, timeout, mask)
                              : MISSING(epoll_pwait2);
    turn_begin(l);
    return n;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) {
    struct loop *l = turn_end(poll_loop_wait(n), "poll", -1);
    int ready = real.poll ? real.poll(fds, n, timeout) : MISSING(poll);
    turn_begin(l);
    return ready;
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                 const sigset_t *mask) {
    struct loop *l = turn_end(poll_loop_wait(n), "ppoll", -1);
    int ready = real.ppoll ? real.ppoll(fds, n, timeout, mask) : MISSING(ppoll);
    turn_begin(l);
    return ready;
}

/* What poll and ppoll become where the compiler knows the array's size (_FORTIFY_SOURCE). */
EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fds_len) {
    struct loop *l = turn_end(poll_loop_wait(n), "poll", -1);
    int ready = real.poll_chk ? real.poll_chk(fds, n, timeout, fds_len) : MISSING(__poll_chk);
    turn_begin(l);
    return ready;
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                       const sigset_t *mask, size_t fds_len) {
    struct loop *l = turn_end(poll_loop_wait(n), "ppoll", -1);
    int ready =
        real.ppoll_chk ? real.ppoll_chk(fds, n, timeout, mask, fds_len) : MISSING(__ppoll_chk);
    turn_begin(l);
    return ready;
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *timeout) {
    struct loop *l = turn_end(poll_loop_wait(count_fds(nfds, r, w, e)), "select", -1);
    int ready = real.select ? real.select(nfds, r, w, e, timeout) : MISSING(select);
    turn_begin(l);
    return ready;
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                   const sigset_t *mask) {
    struct loop *l = turn_end(poll_loop_wait(count_fds(nfds, r, w, e)), "pselect", -1);
    int ready = real.pselect ? real.pselect(nfds, r, w, e, timeout, mask) : MISSING(pselect);
    turn_begin(l);
    return ready;
}

/* ---- start, fork, exit ---- */

static void before_fork(void) {
    atomic_fetch_add(&forks, 1);
}

/* In the child: the parent's loops and watchdog thread are not here. This thread's loop, if it
 * was one, is found again at its next wait, with the child's thread id. */
static void in_child(void) {
    for (int i = 0; i < MAX_LOOPS; i++)
        atomic_store(&loops[i].tid, 0);
    atomic_store(&found, 0);
    atomic_store(&forks, 0);
    self = NULL;
    kind = UNKNOWN;
    watchdog_forget();
}

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v ? atoi(v) : 0;
}

__attribute__((constructor)) static void start(void) {
    resolve();
    const char *out = getenv("LOOPWATCH_OUT");
    if (!getenv("LOOPWATCH_W") && !getenv("LOOPWATCH_STRICT") && !getenv("LOOPWATCH_L"))
        return; /* preloaded by hand, with nothing asked: stay out of the way */
    watch.threshold_ms = env_int("LOOPWATCH_W");
    watch.lag = env_int("LOOPWATCH_L") > 0;
    watch.sleeps = env_int("LOOPWATCH_C") > 0;
    watch.strict = env_int("LOOPWATCH_STRICT");
    const char *clock = getenv("LOOPWATCH_CLOCK"), *stack = getenv("LOOPWATCH_STACK");
    watch.cpu_clock = clock && strcmp(clock, "cpu") == 0;
    watch.stack_signal = stack && strcmp(stack, "signal") == 0;
    top_pid = env_int("LOOPWATCH_TOP");
    report_epoch();
    if (out && *out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0)
            report_to(fd);
        else
            report("cannot write to %s (%s): reporting to stderr", out, strerror(errno));
    }
    if (pthread_key_create(&exit_key, on_thread_exit) != 0) {
        report("cannot watch thread exits: not watching pid %d", (int)getpid());
        return;
    }
    pthread_atfork(before_fork, NULL, in_child);
    enabled = true;
}

__attribute__((destructor)) static void finish(void) {
    if (!enabled)
        return;
    enabled = false; /* the waits an exit makes are not turns */
    watchdog_stop();
    if (getpid() != top_pid || atomic_load(&found) > 0)
        return;
    char name[16] = "";
    prctl(PR_GET_NAME, name, 0, 0, 0);
    int children = atomic_load(&forks);
    if (children > 0)
        report("no event loop in pid %d (%s) itself: it never waited in epoll_wait, or in poll or "
               "select for two descriptors; it started %d child process%s, each watched on its own",
               (int)getpid(), name, children, children == 1 ? "" : "es");
    else
        report("no event loop in pid %d (%s): it never waited in epoll_wait, or in poll or select "
               "for two descriptors, through the C library (a loop on raw system calls or "
               "io_uring is not seen)",
               (int)getpid(), name);
}

/* A program that ends with _exit (dash does) runs no destructor: finish first, in the process
 * loopwatch started (never in a child: a vfork's child shares the parent's memory). */
EXPORT void _exit(int status) {
    if (enabled && getpid() == top_pid)
        finish();
    if (real.exit_now)
        real.exit_now(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _Exit(int status) {
    _exit(status);
}
