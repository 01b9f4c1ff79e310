/* The loop-lag watchdog (watchdog.h).
 *
 * DESIGN. The loop stores now_ms() in last_beat at the top of every turn. A watchdog thread
 * looks at it every threshold/2 ms. A stale beat has two causes, told apart by a poke: a loop
 * idle in epoll_wait (no socket, no timer) and a loop stuck in a handler. The watchdog sends
 * SIGURG to the loop thread: an idle epoll_wait returns EINTR and the loop beats at once; a stuck
 * loop does not come back, and the signal's handler, running on the loop thread wherever it is
 * stuck, has recorded its backtrace. Only then does the watchdog log it. So an idle loop is woken
 * once per threshold, which costs one syscall; that is the price of needing only one hook.
 *
 * The handler does the least it can: backtrace() into a static array, then one atomic store.
 * backtrace() is async-signal-unsafe only the first time (it loads libgcc's unwinder with
 * dlopen, which mallocs), so watchdog_start calls it once first. Turning addresses into names
 * (backtrace_symbols mallocs) happens in the watchdog thread, outside any handler.
 * Limits: a thread in uninterruptible sleep (a real read from a dying disk: state D) runs the
 * handler only when the read returns, so the log line also names the kernel function the
 * thread waits in (/proc/self/task/TID/wchan), which needs no cooperation from the thread. */
#include "watchdog.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"

#define WATCHDOG_SIGNAL SIGURG /* ignored by default and unused here; Go preempts with it too */
#define MAX_FRAMES      64
#define TRACE_NONE      (-2) /* no trace asked for */
#define TRACE_WANTED    (-1) /* asked; the handler replaces it with the frame count */

static int threshold_ms; /* 0: off. Written once, before the watchdog thread starts. */
static _Atomic int64_t last_beat;
static pthread_t loop_thread, watchdog_thread;
static pid_t loop_tid;

static void *trace[MAX_FRAMES]; /* written by the handler before it publishes trace_len */
static void *trampoline;        /* where the handler returns to: the frames above it are ours */
static atomic_int trace_len = TRACE_NONE;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake; /* on CLOCK_MONOTONIC; signalled when stopping */
static bool stopping;

void watchdog_beat(void) {
    if (threshold_ms)
        atomic_store_explicit(&last_beat, now_ms(), memory_order_relaxed);
}

/* Runs on the loop thread, wherever it is stuck. */
static void on_watchdog_signal(int sig) {
    (void)sig;
    int saved = errno; /* the interrupted code may be about to read errno */
    if (atomic_load(&trace_len) == TRACE_WANTED) {
        trampoline = __builtin_return_address(0);
        atomic_store(&trace_len, backtrace(trace, MAX_FRAMES));
    }
    errno = saved;
}

/* Sleeps ms on the monotonic clock, or until stopping. Called and returns with lock held. */
static void nap(int ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000)
        until.tv_sec++, until.tv_nsec -= 1000000000;
    while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
        ;
}

/* Pokes the loop and gives it threshold_ms to come back. True when it did not: it is stuck in
 * a handler, not idle in epoll_wait. Called with lock held. */
static bool loop_is_stuck(int64_t beat) {
    atomic_store(&trace_len, TRACE_WANTED);
    pthread_kill(loop_thread, WATCHDOG_SIGNAL);
    for (int waited = 0; waited < threshold_ms && !stopping; waited += 10) {
        nap(10);
        if (atomic_load_explicit(&last_beat, memory_order_relaxed) != beat)
            return false;
    }
    return !stopping;
}

/* The kernel function the loop thread sleeps in, e.g. "hrtimer_nanosleep" or "do_epoll_wait";
 * "running" when it is on a CPU. */
static void kernel_wait(char *out, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/wchan", (int)loop_tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);
    if (fd >= 0)
        close(fd);
    out[n > 0 ? n : 0] = '\0';
    if (n <= 0)
        snprintf(out, size, "?");
    else if (strcmp(out, "0") == 0)
        snprintf(out, size, "running");
}

static void report_stuck(int64_t blocked_ms) {
    char wchan[64];
    kernel_wait(wchan, sizeof wchan);
    int n = atomic_load(&trace_len);
    log_msg("loop blocked for %lld ms (thread %d, in kernel: %s)%s", (long long)blocked_ms,
            (int)loop_tid, wchan, n > 0 ? "; its stack:" : "; no backtrace: signal not taken yet");
    char **names = n > 0 ? backtrace_symbols(trace, n) : NULL;
    /* Skip the handler's own frames, up to the signal trampoline (__restore_rt, or a
     * sanitizer's signal dispatcher): the next frame is where the loop thread was. */
    int first = 0;
    while (first < n && trace[first] != trampoline)
        first++;
    first = first < n ? first + 1 : 0;
    for (int i = first; names && i < n; i++)
        log_msg("    #%-2d %s", i - first, names[i]);
    free(names);
    if (n > 0 && !names)
        backtrace_symbols_fd(trace, n, STDERR_FILENO); /* out of memory: raw, but still there */
}

static void *watch(void *arg) {
    (void)arg;
    block_stop_signals(); /* they belong to the loop thread */
    int64_t reported = 0; /* the beat whose turn we reported stuck */
    pthread_mutex_lock(&lock);
    while (!stopping) {
        nap(threshold_ms / 2 > 10 ? threshold_ms / 2 : 10);
        int64_t beat = atomic_load_explicit(&last_beat, memory_order_relaxed);
        if (reported && beat != reported) {
            log_msg("loop unblocked after %lld ms", (long long)(beat - reported));
            reported = 0;
        }
        if (stopping || beat == reported || now_ms() - beat <= threshold_ms)
            continue;
        if (loop_is_stuck(beat)) {
            report_stuck(now_ms() - beat);
            reported = beat;
        }
        atomic_store(&trace_len, TRACE_NONE);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void watchdog_stop(void) {
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(watchdog_thread, NULL);
}

void watchdog_start(int threshold) {
    void *warm_up[1];
    backtrace(warm_up, 1); /* loads the unwinder now, not inside the first signal */
    struct sigaction sa = {.sa_handler = on_watchdog_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(WATCHDOG_SIGNAL, &sa, NULL) < 0)
        perror_die("sigaction");
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    threshold_ms = threshold;
    loop_thread = pthread_self();
    loop_tid = gettid();
    watchdog_beat();
    if (pthread_create(&watchdog_thread, NULL, watch, NULL) != 0)
        die("cannot start the watchdog thread");
    atexit(watchdog_stop);
    log_msg("watchdog: logging loop turns longer than %d ms", threshold);
}
