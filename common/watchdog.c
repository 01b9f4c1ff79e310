/* Catching the blocking call in the act (watchdog.h): -W's watchdog thread and sleep detector,
 * the reports of -S's refusals, -L's figures.
 *
 * DESIGN. The loop publishes when its turn began (turn_began, 0 while it sleeps in epoll_wait)
 * and which callback runs; that is all it does for -W, two clock reads and a few stores a turn.
 * The watchdog thread looks every few ms. A turn MS old means the loop is stuck in a callback,
 * not idle: no poke is needed to tell them apart. Then it reads, from outside the loop thread,
 * what the kernel knows about it: /proc/self/task/TID/stat (its state: R on a CPU, S asleep,
 * D in an uninterruptible wait), .../syscall (the call it is in, its six arguments, its stack
 * pointer and program counter, or "running"), .../wchan (the kernel function it waits in) and
 * /proc/self/fd (what a descriptor argument is). That needs nothing from the loop thread, which
 * matters most when it is asleep in a real disk read: a signal would not be handled until the
 * read returns (state D), or would interrupt it (a FUSE read: the disk is sent FUSE_INTERRUPT).
 * So its stack is scanned from outside too (stack.c), and only a loop thread running on a CPU, in
 * no system call, gets a signal (SIGURG), whose handler takes an exact backtrace().
 *
 * The sleep detector has no threshold: the loop reads its own count of voluntary context
 * switches (getrusage(RUSAGE_THREAD).ru_nvcsw, one system call) at both ends of each turn and
 * after every callback long enough to have slept. Only a thread that went to sleep in the kernel
 * counts one: a disk read, a page-cache miss of 2 ms, a page fault that read from disk, a
 * contended mutex, a full pipe. Never a preemption (that is ru_nivcsw), never a busy callback.
 * The callback is named, and the count says how often.
 *
 * The same stall, refusal or sleep again within REPEAT_MS is counted rather than logged; the
 * count is logged when its interval ends ("the same stall 12 more times in the last 10 s"). */
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "stack.h"
#include "strict.h"
#include "syscalls.h"
#include "trace.h"
#include "utils.h"

#define BACKTRACE_SIGNAL SIGURG /* ignored by default and unused here; Go preempts with it too */
#define REPEAT_MS        10000  /* the same report again within this is counted, not logged */
#define REPEATS          16     /* kinds of report counted at once, per reporter */
#define LAG_BUCKETS      36     /* turns of 2^k to 2^(k+1) us, up to 2^36 us (19 hours) */
#define PROBE_NS         20000  /* a callback this long may have slept: look right after it */

bool watchdog_on;

static struct {
    int threshold_ms; /* -W; 0: off */
    bool cpu_clock;   /* WATCHDOG_CLOCK=cpu: -W counts the loop's CPU time only */
    bool by_signal;   /* WATCHDOG_STACK=signal: every stack by SIGURG, as eventlet's SIGALRM */
    bool sleeps;      /* the sleep detector: with -W, on the wall clock */
    bool strict, lag; /* -S, -L */
    pthread_t loop_thread;
    pid_t loop_tid;
    clockid_t loop_cpu; /* the loop thread's CPU clock */
    pthread_t thread;   /* the watchdog's */
} wd;

/* Written by the loop thread, read by the watchdog thread. */
static _Atomic int64_t turn_began;         /* ns; 0 while the loop waits for events */
static _Atomic int64_t long_turn_began;    /* the last turn longer than -W, once it ended */
static _Atomic int64_t long_turn_ns;       /* ... and how long it took */
static _Atomic(const char *) running_name; /* the callback running now, by name */
static _Atomic(void (*)(void)) running_fn; /* ... or by address */
static atomic_int running_fd;              /* ... and its descriptor */
static _Atomic int64_t reported_turn;      /* written by the watchdog thread */
static atomic_int lag_wanted;              /* SIGUSR1 came */

/* A kind of report, counted while its interval lasts. */
struct repeat {
    uint64_t key;
    int64_t since_ms;   /* 0: a free slot */
    long more;          /* repeats not logged */
    int64_t longest_us; /* -1: a refusal, which has no length */
    char what[128];
};

struct repeats {
    const char *noun; /* "stall" */
    int64_t next_flush_ms;
    struct repeat r[REPEATS];
};

/* The loop thread's own. */
static struct {
    int64_t began;          /* this turn, ns; 0 between turns */
    int64_t callback_began; /* ns */
    const char *name;       /* the callback running now */
    void (*fn)(void);
    int fd;
    /* The sleep detector's: the counts at its last look, and the callbacks since. */
    long nvcsw, majflt;
    int callbacks;
    struct {
        const char *name;
        void (*fn)(void);
        int fd;
        int64_t ns;
    } longest; /* of them */
    struct repeats sleeps, refusals;
    uint64_t lag[LAG_BUCKETS];
    long turns;
    int64_t lag_max_ns;
} loop = {.sleeps.noun = "sleep", .refusals.noun = "refusal"};

/* The watchdog thread's own. */
static struct repeats stalls = {.noun = "stall"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake; /* on CLOCK_MONOTONIC; signalled when stopping */
static bool stopping, thread_started;

/* A SIGURG backtrace, for a loop thread running on a CPU. */
enum { BT_NONE, BT_WANTED, BT_TAKEN };
static atomic_int bt_state;
static uintptr_t bt_frames[STACK_MAX];
static int bt_count;

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- reports counted while they repeat ---- */

static void repeat_log(const struct repeats *t, const struct repeat *e, int64_t now) {
    char longest[48] = "";
    if (e->longest_us >= 10000)
        snprintf(longest, sizeof longest, ", the longest %lld ms", (long long)e->longest_us / 1000);
    else if (e->longest_us >= 0)
        snprintf(longest, sizeof longest, ", the longest %.3f ms", (double)e->longest_us / 1000);
    if (e->more > 0)
        log_msg("the same %s %ld more time%s in the last %.1f s: %s%s", t->noun, e->more,
                e->more == 1 ? "" : "s", (double)(now - e->since_ms) / 1000, e->what, longest);
}

/* True when key is the first of its kind in its interval: log it in full. Else counts it. */
static bool repeat_first(struct repeats *t, uint64_t key, int64_t now, int64_t us,
                         const char *what) {
    struct repeat *slot = NULL;
    for (int i = 0; i < REPEATS; i++) {
        struct repeat *e = &t->r[i];
        if (e->since_ms && e->key == key) {
            if (now - e->since_ms < REPEAT_MS) {
                e->more++;
                e->longest_us = us > e->longest_us ? us : e->longest_us;
                return false;
            }
            slot = e;
            break;
        }
        if (!slot || (slot->since_ms && (!e->since_ms || e->since_ms < slot->since_ms)))
            slot = e; /* a free one, else the oldest */
    }
    if (slot->since_ms)
        repeat_log(t, slot, now); /* its interval is over, or it makes room */
    *slot = (struct repeat){.key = key, .since_ms = now, .longest_us = us};
    snprintf(slot->what, sizeof slot->what, "%s", what);
    if (!t->next_flush_ms || now + REPEAT_MS < t->next_flush_ms)
        t->next_flush_ms = now + REPEAT_MS;
    return true;
}

/* A repeat of key lasted us in the end (a stall's length is known when it ends). */
static void repeat_lasted(struct repeats *t, uint64_t key, int64_t us) {
    for (int i = 0; i < REPEATS; i++)
        if (t->r[i].since_ms && t->r[i].key == key && us > t->r[i].longest_us)
            t->r[i].longest_us = us;
}

/* Logs the counts of the intervals that are over (all of them at exit). One comparison when
 * none is due. */
static void repeat_flush(struct repeats *t, int64_t now, bool all) {
    if (!all && (!t->next_flush_ms || now < t->next_flush_ms))
        return;
    t->next_flush_ms = 0;
    for (int i = 0; i < REPEATS; i++) {
        struct repeat *e = &t->r[i];
        if (!e->since_ms)
            continue;
        if (all || now - e->since_ms >= REPEAT_MS) {
            repeat_log(t, e, now);
            *e = (struct repeat){0}; /* free */
        } else if (!t->next_flush_ms || e->since_ms + REPEAT_MS < t->next_flush_ms) {
            t->next_flush_ms = e->since_ms + REPEAT_MS;
        }
    }
}

static uint64_t hash_str(const char *s, uint64_t h) {
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* "dispatch (fd 7)": the callback, for a report. */
static char *callback_text(const char *name, void (*fn)(void), int fd, char *out, size_t size) {
    char named[96];
    if (!name && fn)
        name = stack_function((uintptr_t)fn, named, sizeof named);
    if (!name)
        snprintf(out, size, "no callback");
    else if (fd >= 0)
        snprintf(out, size, "%s (fd %d)", name, fd);
    else
        snprintf(out, size, "%s", name);
    return out;
}

/* ---- the live report, from the watchdog thread ---- */

/* What /proc says about the loop thread right now. */
struct thread_view {
    char state;      /* R, S, D, ... */
    bool running;    /* on a CPU: in no system call */
    bool in_syscall; /* else, with call.nr -1: stopped outside one (a page fault) */
    struct syscall_args call;
    uintptr_t sp, pc;
    char wchan[64];
};

static ssize_t read_proc(const char *what, char *out, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)wd.loop_tid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);
    if (fd >= 0)
        close(fd);
    out[n > 0 ? n : 0] = '\0';
    return n;
}

/* .../syscall: "running", or "NR ARG0 .. ARG5 SP PC" (NR -1 and only SP PC outside a call). */
static void read_syscall(struct thread_view *v) {
    char line[256];
    v->running = v->in_syscall = false;
    v->call.nr = -2;
    if (read_proc("syscall", line, sizeof line) <= 0)
        return;
    if (strncmp(line, "running", 7) == 0) {
        v->running = true;
        return;
    }
    char *p = line, *end;
    v->call.nr = strtol(p, &end, 0);
    int words = v->call.nr < 0 ? 2 : 8;
    unsigned long w[8] = {0};
    for (int i = 0; i < words && end != p; i++)
        w[i] = strtoul(p = end, &end, 0);
    if (v->call.nr >= 0)
        for (int i = 0; i < 6; i++)
            v->call.arg[i] = (long)w[i];
    v->sp = w[words - 2];
    v->pc = w[words - 1];
    v->in_syscall = v->call.nr >= 0;
}

static void read_thread(struct thread_view *v) {
    char stat[512];
    v->state = '?';
    if (read_proc("stat", stat, sizeof stat) > 0) {
        char *close_paren = strrchr(stat, ')'); /* the name in parentheses may hold anything */
        if (close_paren && close_paren[1] == ' ')
            v->state = close_paren[2];
    }
    read_syscall(v);
    if (read_proc("wchan", v->wchan, sizeof v->wchan) <= 0 || strcmp(v->wchan, "0") == 0)
        v->wchan[0] = '\0';
    if (v->in_syscall)
        syscall_capture(&v->call);
}

static void on_backtrace_signal(int sig, siginfo_t *si, void *context) {
    (void)sig, (void)si;
    int saved = errno; /* the interrupted code may be about to read errno */
    if (atomic_load(&bt_state) == BT_WANTED) {
        uintptr_t pc = 0;
#if defined(__x86_64__)
        pc = (uintptr_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
        pc = (uintptr_t)((ucontext_t *)context)->uc_mcontext.pc;
#endif
        bt_count = stack_here(pc, bt_frames, STACK_MAX);
        atomic_store(&bt_state, BT_TAKEN);
    }
    (void)context;
    errno = saved;
}

/* The stack of a loop thread on a CPU: SIGURG, whose handler runs at once there. */
static int signal_backtrace(uintptr_t *frames) {
    atomic_store(&bt_state, BT_WANTED);
    pthread_kill(wd.loop_thread, BACKTRACE_SIGNAL);
    for (int waited = 0; waited < 200 && atomic_load(&bt_state) != BT_TAKEN; waited++)
        usleep(1000);
    int n = 0;
    if (atomic_exchange(&bt_state, BT_NONE) == BT_TAKEN)
        memcpy(frames, bt_frames, (size_t)(n = bt_count) * sizeof *frames);
    return n;
}

/* The loop has been in the turn that began at began for late_ns: say what it is doing. Returns
 * the key of the stall, and sets *logged to whether it was logged (not a repeat). */
static uint64_t report_stall(int64_t began, int64_t late_ns, bool *logged) {
    struct thread_view v;
    read_thread(&v);
    uintptr_t frames[STACK_MAX];
    int n = 0;
    const char *how = "";
    if (wd.by_signal || v.running) {
        n = signal_backtrace(frames);
        how = "taken on the loop thread";
    } else if (v.in_syscall || v.call.nr == -1) {
        n = stack_scan(v.sp, v.pc, frames, STACK_MAX);
        how = "scanned from outside the thread";
        struct thread_view again;
        read_syscall(&again); /* the scan is good only if the thread stayed where it was */
        if (again.call.nr != v.call.nr || again.sp != v.sp || again.pc != v.pc)
            n = 0;
    }
    *logged = false;
    if (atomic_load(&turn_began) != began)
        return 0; /* the turn ended while we looked */

    char call[512], where[96], what[160], cb[128];
    const char *name = syscall_name(v.call.nr);
    if (v.in_syscall)
        syscall_format(&v.call, call, sizeof call);
    else if (v.running)
        snprintf(call, sizeof call, "running, in no system call (a compute-bound stall)");
    else
        snprintf(call, sizeof call, "in no system call (a page fault?)");
    stack_where(frames, n, where, sizeof where);
    snprintf(what, sizeof what, "%s in %s",
             v.in_syscall ? (name ? name : "a system call")
             : v.running  ? "running"
                          : "a fault",
             where);
    uint64_t key = stack_hash(frames, n) ^ (uint64_t)v.call.nr ^ hash_str(where, 0);
    int64_t late_ms = late_ns / 1000000;
    if (!repeat_first(&stalls, key, now_ms(), late_ns / 1000, what))
        return key;
    *logged = true;
    callback_text(atomic_load(&running_name), atomic_load(&running_fn), atomic_load(&running_fd),
                  cb, sizeof cb);
    char waiting[96] = "";
    if (v.wchan[0])
        snprintf(waiting, sizeof waiting, ", waiting in %s", v.wchan);
    log_msg("loop blocked %lld ms%s: %s, state %c%s; in callback %s", (long long)late_ms,
            wd.cpu_clock ? " of CPU time" : "", call, v.state, waiting, cb);
    if (n > 0) {
        log_msg("  its stack, %s:", how);
        stack_log(frames, n);
    } else if (wd.by_signal || v.running) {
        log_msg("  no stack: the thread did not take the signal within 200 ms");
    } else {
        log_msg("  no stack: the thread moved on while it was read");
    }
    return key;
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

static int64_t loop_cpu_ns(void) {
    struct timespec ts;
    if (clock_gettime(wd.loop_cpu, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The stall the watchdog thread reported last, until the loop is back. */
static struct {
    int64_t turn; /* when its turn began; 0: none */
    uint64_t key;
    bool logged; /* in full, not as a repeat */
} reported;

/* The loop ended the turn that was reported: say how long it took in the end. */
static void check_unblocked(void) {
    if (!reported.turn ||
        atomic_load_explicit(&long_turn_began, memory_order_acquire) != reported.turn)
        return;
    int64_t took_ms = atomic_load(&long_turn_ns) / 1000000;
    if (reported.logged)
        log_msg("loop unblocked after %lld ms", (long long)took_ms);
    else
        repeat_lasted(&stalls, reported.key, took_ms * 1000);
    reported.turn = 0;
}

static void *watch(void *arg) {
    (void)arg;
    block_stop_signals(); /* they belong to the loop thread */
    const int64_t threshold_ns = (int64_t)wd.threshold_ms * 1000000;
    /* How late a stall may be seen: a quarter of the threshold, within 5 to 50 ms. */
    const int period_ms = wd.threshold_ms / 4 < 5    ? 5
                          : wd.threshold_ms / 4 > 50 ? 50
                                                     : wd.threshold_ms / 4;
    int64_t cpu_turn = 0, cpu_at_start = 0; /* the turn timed on the CPU clock, from where */
    int nap_ms = period_ms;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        nap(nap_ms);
        nap_ms = period_ms;
        check_unblocked();
        repeat_flush(&stalls, now_ms(), false);
        int64_t began = atomic_load_explicit(&turn_began, memory_order_acquire);
        if (stopping || !began || began == reported.turn)
            continue; /* waiting for events, or reported already */
        int64_t late_ns;
        if (wd.cpu_clock) { /* Seastar's way: the CPU time this turn has used */
            int64_t cpu = loop_cpu_ns();
            if (began != cpu_turn) {
                cpu_turn = began;
                cpu_at_start = cpu;
                continue;
            }
            late_ns = cpu - cpu_at_start;
        } else {
            late_ns = mono_ns() - began;
        }
        if (late_ns < threshold_ns) {
            if (!wd.cpu_clock && (threshold_ns - late_ns) / 1000000 + 1 < nap_ms)
                nap_ms = (int)((threshold_ns - late_ns) / 1000000) + 1; /* wake when it is due */
            continue;
        }
        reported.key = report_stall(began, late_ns, &reported.logged);
        reported.turn = began;
        atomic_store(&reported_turn, began);
    }
    repeat_flush(&stalls, now_ms(), true);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* ---- the loop thread's side ---- */

/* The loop thread slept switches times since the last look, during callbacks callbacks, the one
 * named the longest of them (ns long). */
static void report_sleep(long switches, long faults, int callbacks, const char *name,
                         void (*fn)(void), int fd, int64_t ns) {
    if (atomic_load_explicit(&reported_turn, memory_order_relaxed) == loop.began)
        return; /* the watchdog has reported this turn already */
    char cb[128], bare[96];
    callback_text(name, fn, -1, bare, sizeof bare); /* the same callback, whatever its fd */
    if (!repeat_first(&loop.sleeps, hash_str(bare, 0), now_ms(), ns / 1000, bare))
        return;
    callback_text(name, fn, fd, cb, sizeof cb);
    char faulted[64] = "", among[64] = "";
    if (faults > 0)
        snprintf(faulted, sizeof faulted, ", %ld major page fault%s", faults,
                 faults == 1 ? "" : "s");
    if (callbacks > 1)
        snprintf(among, sizeof among, " (or one of %d shorter ones before it)", callbacks - 1);
    log_msg("callback %s%s slept in the kernel: %ld voluntary context switch%s%s in %.3f ms", cb,
            among, switches, switches == 1 ? "" : "es", faulted, (double)ns / 1e6);
}

static void report_refusals(void) {
    struct refusal r;
    while (strict_take(&r)) {
        char call[512], where[96], what[160], cb[128];
        syscall_format(&r.call, call, sizeof call);
        stack_where(r.frames, r.frame_count, where, sizeof where);
        const char *name = syscall_name(r.call.nr);
        snprintf(what, sizeof what, "%s refused in %s", name ? name : "a call", where);
        uint64_t key = stack_hash(r.frames, r.frame_count) ^ (uint64_t)r.call.nr;
        if (!repeat_first(&loop.refusals, key, now_ms(), -1, what))
            continue;
        log_msg("strict: refused %s on the loop thread (EPERM), in callback %s; its stack:", call,
                callback_text(loop.name, loop.fn, loop.fd, cb, sizeof cb));
        stack_log(r.frames, r.frame_count);
    }
}

/* Starts counting the loop thread's sleeps afresh. */
static void sample_sleeps(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    loop.nvcsw = ru.ru_nvcsw;
    loop.majflt = ru.ru_majflt;
    loop.callbacks = 0;
    loop.longest.ns = -1;
}

/* The sleep detector looks: did the thread sleep since it last looked? One getrusage, about
 * 0.4 us, so it looks after every callback long enough to have slept (PROBE_NS) and at the end
 * of each turn; a shorter sleep is put down to the longest callback since the last look. */
static void look_for_sleeps(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    if (ru.ru_nvcsw != loop.nvcsw)
        report_sleep(ru.ru_nvcsw - loop.nvcsw, ru.ru_majflt - loop.majflt, loop.callbacks,
                     loop.longest.name, loop.longest.fn, loop.longest.fd, loop.longest.ns);
    sample_sleeps(); /* afresh: the report's own write may have slept */
}

/* The callback that ran since callback_began is over, at now: did it sleep, was a call refused. */
static void callback_over(int64_t now) {
    if (wd.sleeps && loop.began && (loop.name || loop.fn)) {
        int64_t took = now - loop.callback_began;
        loop.callbacks++;
        if (took > loop.longest.ns) {
            loop.longest.name = loop.name;
            loop.longest.fn = loop.fn;
            loop.longest.fd = loop.fd;
            loop.longest.ns = took;
        }
        if (took >= PROBE_NS)
            look_for_sleeps();
    }
    if (wd.strict && strict_pending())
        report_refusals();
}

static void set_running(const char *name, void (*fn)(void), int fd) {
    loop.name = name;
    loop.fn = fn;
    loop.fd = fd;
    if (wd.threshold_ms) {
        atomic_store_explicit(&running_name, name, memory_order_relaxed);
        atomic_store_explicit(&running_fn, fn, memory_order_relaxed);
        atomic_store_explicit(&running_fd, fd, memory_order_relaxed);
    }
}

/* Whether the turns are timed: -W and -L need the clock, -S alone does not. */
static bool timing(void) {
    return wd.threshold_ms || wd.lag;
}

void watchdog_turn_begin_hook(void) {
    loop.began = loop.callback_began = timing() ? mono_ns() : 1; /* 1: in a turn, untimed */
    if (wd.threshold_ms)
        atomic_store_explicit(&turn_began, loop.began, memory_order_release);
    if (wd.sleeps)
        sample_sleeps(); /* epoll_wait itself slept: count from here */
    set_running(NULL, NULL, -1);
}

void watchdog_callback_hook(const char *name, void (*fn)(void), int fd) {
    int64_t now = wd.sleeps ? mono_ns() : 0;
    callback_over(now);
    loop.callback_began = now;
    set_running(name, fn, fd);
}

/* Bucket k's range, [2^k, 2^(k+1)) us, in the unit of its lower end: "8-16 us", "262-524 ms". */
static char *bucket_range(int k, char *out, size_t size) {
    double lo = k ? (double)(1ull << k) : 0, hi = (double)(1ull << (k + 1)), unit = 1;
    const char *name = "us";
    if (lo >= 1e6)
        unit = 1e6, name = "s";
    else if (lo >= 1e3)
        unit = 1e3, name = "ms";
    int digits = hi / unit < 10 ? 1 : 0;
    snprintf(out, size, "%.*f-%.*f %s", lo / unit < 10 && lo ? digits : 0, lo / unit, digits,
             hi / unit, name);
    return out;
}

/* The bucket holding the p-th fraction of the turns. */
static int lag_percentile(double p) {
    long want = (long)(p * (double)loop.turns + 0.999999), seen = 0;
    for (int k = 0; k < LAG_BUCKETS; k++)
        if ((seen += (long)loop.lag[k]) >= want && seen > 0)
            return k;
    return LAG_BUCKETS - 1;
}

static void lag_log(const char *when) {
    if (loop.turns == 0) {
        log_msg("loop lag %s: no turns yet", when);
        return;
    }
    char p50[32], p99[32], row[32];
    log_msg("loop lag %s: %ld turns; p50 %s, p99 %s, max %.3f ms", when, loop.turns,
            bucket_range(lag_percentile(0.50), p50, sizeof p50),
            bucket_range(lag_percentile(0.99), p99, sizeof p99), (double)loop.lag_max_ns / 1e6);
    for (int k = 0; k < LAG_BUCKETS; k++)
        if (loop.lag[k])
            log_msg("  %14s  %ld", bucket_range(k, row, sizeof row), (long)loop.lag[k]);
}

static void lag_add(int64_t ns) {
    uint64_t us = (uint64_t)(ns > 0 ? ns : 0) / 1000;
    int k = us < 2 ? 0 : 63 - __builtin_clzll(us);
    loop.lag[k < LAG_BUCKETS ? k : LAG_BUCKETS - 1]++;
    loop.turns++;
    if (ns > loop.lag_max_ns)
        loop.lag_max_ns = ns;
    if (trace_enabled())
        trace_number("loop_lag", "ms", (double)ns / 1e6);
}

void watchdog_turn_end_hook(void) {
    if (!loop.began) { /* outside a turn (a hook run before the first sleep) */
        if (wd.strict && strict_pending())
            report_refusals();
        return;
    }
    bool due = loop.sleeps.next_flush_ms || loop.refusals.next_flush_ms; /* counts to log */
    int64_t now = timing() || due ? mono_ns() : 0, took = now - loop.began;
    callback_over(now);
    if (wd.sleeps && loop.callbacks > 0)
        look_for_sleeps(); /* for the short callbacks since the last look */
    if (wd.lag)
        lag_add(took);
    if (wd.threshold_ms) {
        if (took >= (int64_t)wd.threshold_ms * 1000000) { /* for the watchdog's "unblocked" */
            atomic_store_explicit(&long_turn_ns, took, memory_order_relaxed);
            atomic_store_explicit(&long_turn_began, loop.began, memory_order_release);
        }
        atomic_store_explicit(&turn_began, 0, memory_order_release);
    }
    loop.began = 0;
    set_running(NULL, NULL, -1);
    if (atomic_load_explicit(&lag_wanted, memory_order_relaxed)) {
        atomic_store(&lag_wanted, 0);
        lag_log("on SIGUSR1");
    }
    if (due) {
        repeat_flush(&loop.sleeps, now / 1000000, false);
        repeat_flush(&loop.refusals, now / 1000000, false);
    }
}

/* ---- start and stop ---- */

static void on_lag_signal(int sig) {
    (void)sig;
    atomic_store(&lag_wanted, 1);
}

static void start_watchdog_thread(void) {
    struct sigaction sa = {.sa_sigaction = on_backtrace_signal,
                           .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(BACKTRACE_SIGNAL, &sa, NULL) < 0)
        perror_die("sigaction");
    if (pthread_getcpuclockid(wd.loop_thread, &wd.loop_cpu) != 0)
        die("cannot read the loop thread's CPU clock");
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&wd.thread, NULL, watch, NULL) != 0)
        die("cannot start the watchdog thread");
    thread_started = true;
}

void watchdog_start(const struct server_config *cfg) {
    if (watchdog_on || (!cfg->watchdog_ms && !cfg->strict && !cfg->lag))
        return;
    /* parse_server_flags checked them: WATCHDOG_CLOCK is cpu or wall, WATCHDOG_STACK scan or signal
     */
    const char *clock = getenv("WATCHDOG_CLOCK"), *stack = getenv("WATCHDOG_STACK");
    stack_init();
    wd.loop_thread = pthread_self();
    wd.loop_tid = gettid();
    wd.threshold_ms = cfg->watchdog_ms;
    wd.cpu_clock = cfg->watchdog_ms && clock && strcmp(clock, "cpu") == 0;
    wd.sleeps = cfg->watchdog_ms && !wd.cpu_clock;
    wd.by_signal = stack && strcmp(stack, "signal") == 0;
    wd.strict = cfg->strict;
    wd.lag = cfg->lag;
    if (wd.threshold_ms) /* first: a thread started after the filter would inherit it */
        start_watchdog_thread();
    if (wd.lag) {
        struct sigaction sa = {.sa_handler = on_lag_signal, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGUSR1, &sa, NULL) < 0)
            perror_die("sigaction");
    }
    char why[160];
    if (wd.strict && strict_install(why, sizeof why) < 0)
        die("-S: %s", why);
    atexit(watchdog_stop);
    watchdog_on = true;
    if (wd.threshold_ms && wd.cpu_clock)
        log_msg("watchdog: reporting loop turns that use more than %d ms of CPU time "
                "(WATCHDOG_CLOCK=cpu)",
                wd.threshold_ms);
    else if (wd.threshold_ms)
        log_msg("watchdog: reporting loop turns longer than %d ms, and callbacks that sleep",
                wd.threshold_ms);
    if (wd.strict)
        log_msg("strict: blocking system calls on the loop thread (%d) are refused",
                (int)wd.loop_tid);
    if (wd.lag)
        log_msg("loop lag: timing every turn; kill -USR1 %d prints the figures", (int)getpid());
}

void watchdog_stop(void) {
    static bool stopped;
    if (!watchdog_on || stopped)
        return;
    stopped = true;
    if (pthread_equal(pthread_self(), wd.loop_thread)) {
        if (wd.strict) {
            strict_lift();
            report_refusals();
        }
        repeat_flush(&loop.sleeps, now_ms(), true);
        repeat_flush(&loop.refusals, now_ms(), true);
        long lost, refused = wd.strict ? strict_refused(&lost) : 0;
        if (refused)
            log_msg("strict: %ld blocking call%s refused on the loop thread%s", refused,
                    refused == 1 ? "" : "s", lost ? " (some not shown: too many at once)" : "");
        if (wd.lag)
            lag_log("at exit");
    }
    if (thread_started) {
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        pthread_join(wd.thread, NULL);
    }
}
