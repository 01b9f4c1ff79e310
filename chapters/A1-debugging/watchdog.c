/* loopwatch's watchdog thread (loops.h): it reads the loops' turn stamps and reports, live, a
 * turn longer than -W; it reports the calls strict mode trapped (-S, -R), the turns that slept
 * (-C), and the turns' lengths (-L).
 *
 * DESIGN. A loop's turn MS old means the loop is stuck in a callback, not idle: no poke is needed
 * to tell them apart (a loop at rest is in its wait, its stamp 0). The watchdog thread looks
 * every MS/4 (5 to 50 ms), and for a stuck loop reads what the kernel knows about that thread,
 * from outside it: /proc/self/task/TID/stat (its state: R on a CPU, S asleep, D uninterruptible),
 * .../syscall (the call it is in, its six arguments, its stack pointer and program counter, or
 * "running"), .../wchan (the kernel function it waits in), .../stack (the kernel stack, for
 * root) and /proc/self/fd (what a descriptor argument is). None of that needs the loop thread,
 * which matters most when it is asleep in a real disk read: a signal would be handled only after
 * the read returns (state D), or would interrupt it (a FUSE read: the disk is sent
 * FUSE_INTERRUPT). So its stack is scanned from outside too (stack.c), and only a loop running on
 * a CPU, in no system call, gets a signal (SIGURG), whose handler takes an exact backtrace().
 *
 * The same stall, trapped call or sleep again within REPEAT_MS is counted rather than reported;
 * the count is reported when its interval ends ("the same stall 12 more times in the last 10 s").
 * Every report is written by this thread, or at exit by the exiting one after it has stopped. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "loops.h"
#include "report.h"
#include "stack.h"
#include "strict.h"
#include "syscalls.h"

#define BACKTRACE_SIGNAL SIGURG /* ignored by default and rarely used; Go preempts with it */
#define REPEAT_MS        10000  /* the same report again within this is counted, not logged */
#define REPEATS          16     /* kinds of report counted at once */
#define QUIET_PERIOD_MS  50     /* how often it looks without -W */

/* A kind of report, counted while its interval lasts. */
struct repeat {
    uint64_t key;
    int64_t since_ms;   /* 0: a free slot */
    long more;          /* repeats not logged */
    int64_t longest_us; /* -1: a trapped call, which has no length */
    char what[128];
};

struct repeats {
    const char *noun; /* "stall" */
    int64_t next_flush_ms;
    struct repeat r[REPEATS];
};

struct watch_config watch;
struct loop loops[MAX_LOOPS];

static struct repeats stalls = {.noun = "stall"}, trapped_calls = {.noun = "blocking call"},
                      sleeps = {.noun = "sleep"};

/* What the watchdog thread knows of each loop slot. */
static struct seen {
    pid_t tid;    /* whose: a slot reused by another thread starts afresh */
    int64_t turn; /* the turn reported as a stall, until the loop is back; 0: none */
    uint64_t key; /* ... its kind */
    bool logged;  /* ... in full, not as a repeat */
} seen[MAX_LOOPS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_t thread;
static pid_t running_in; /* the process whose watchdog thread runs; 0: none */
static bool stopping;

/* A SIGURG backtrace, for a loop thread running on a CPU. */
enum { BT_NONE, BT_WANTED, BT_TAKEN };
static atomic_int bt_state;
static uintptr_t bt_frames[STACK_MAX];
static int bt_count;

static int64_t ms_now(void) {
    return mono_ns() / 1000000;
}

/* ---- reports counted while they repeat ---- */

static void repeat_log(const struct repeats *t, const struct repeat *e, int64_t now) {
    char longest[48] = "";
    if (e->longest_us >= 10000)
        snprintf(longest, sizeof longest, ", the longest %lld ms", (long long)e->longest_us / 1000);
    else if (e->longest_us >= 0)
        snprintf(longest, sizeof longest, ", the longest %.3f ms", (double)e->longest_us / 1000);
    if (e->more > 0)
        report("the same %s %ld more time%s in the last %.1f s: %s%s", t->noun, e->more,
               e->more == 1 ? "" : "s", (double)(now - e->since_ms) / 1000, e->what, longest);
}

/* True when key is the first of its kind in its interval: report it in full. Else counts it. */
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

/* Reports the counts of the intervals that are over (all of them at exit). */
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

/* ---- the live report ---- */

/* What /proc says about a loop thread right now. */
struct thread_view {
    char state;      /* R, S, D, ... */
    bool running;    /* on a CPU: in no system call */
    bool in_syscall; /* else, with call.nr -1: stopped outside one (a page fault) */
    struct syscall_args call;
    uintptr_t sp, pc;
    char wchan[64];
};

static ssize_t read_proc(pid_t tid, const char *what, char *out, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);
    if (fd >= 0)
        close(fd);
    out[n > 0 ? n : 0] = '\0';
    return n;
}

/* .../syscall: "running", or "NR ARG0 .. ARG5 SP PC" (NR -1 and only SP PC outside a call). */
static void read_syscall(pid_t tid, struct thread_view *v) {
    char line[256];
    v->running = v->in_syscall = false;
    v->call.nr = -2;
    if (read_proc(tid, "syscall", line, sizeof line) <= 0)
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

static void read_thread(pid_t tid, struct thread_view *v) {
    char stat[512];
    v->state = '?';
    if (read_proc(tid, "stat", stat, sizeof stat) > 0) {
        char *close_paren = strrchr(stat, ')'); /* the name in parentheses may hold anything */
        if (close_paren && close_paren[1] == ' ')
            v->state = close_paren[2];
    }
    read_syscall(tid, v);
    if (read_proc(tid, "wchan", v->wchan, sizeof v->wchan) <= 0 || strcmp(v->wchan, "0") == 0)
        v->wchan[0] = '\0';
    if (v->in_syscall)
        syscall_capture(&v->call);
}

/* The kernel's own stack of the thread (/proc/.../stack, readable by root only), reported as
 * is: where in the kernel a read waits (fuse_..., io_schedule, folio_wait_bit). */
static void report_kernel_stack(pid_t tid) {
    char text[2048];
    if (read_proc(tid, "stack", text, sizeof text) <= 0)
        return;
    report("  its kernel stack:");
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        report("    %s", line);
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
static int signal_backtrace(pid_t tid, uintptr_t *frames) {
    atomic_store(&bt_state, BT_WANTED);
    syscall(SYS_tgkill, getpid(), tid, BACKTRACE_SIGNAL);
    for (int waited = 0; waited < 200 && atomic_load(&bt_state) != BT_TAKEN; waited++)
        usleep(1000);
    int n = 0;
    if (atomic_exchange(&bt_state, BT_NONE) == BT_TAKEN)
        memcpy(frames, bt_frames, (size_t)(n = bt_count) * sizeof *frames);
    return n;
}

/* Loop l has been in the turn that began at began for late_ns: say what it is doing. Returns the
 * key of the stall, and sets *logged to whether it was reported in full (not a repeat). */
static uint64_t report_stall(struct loop *l, pid_t tid, int64_t began, int64_t late_ns,
                             bool *logged) {
    struct thread_view v;
    read_thread(tid, &v);
    uintptr_t frames[STACK_MAX];
    int n = 0;
    const char *how = "";
    if (watch.stack_signal || v.running) {
        n = signal_backtrace(tid, frames);
        how = "taken on the loop thread";
    } else if (v.in_syscall || v.call.nr == -1) {
        n = stack_scan(v.sp, v.pc, frames, STACK_MAX);
        how = "scanned from outside the thread";
        struct thread_view again;
        read_syscall(tid, &again); /* the scan is good only if the thread stayed where it was */
        if (again.call.nr != v.call.nr || again.sp != v.sp || again.pc != v.pc)
            n = 0;
    }
    *logged = false;
    if (atomic_load(&l->turn_began) != began)
        return 0; /* the turn ended while we looked */

    char call[512], where[96], what[160];
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
    if (!repeat_first(&stalls, key, ms_now(), late_ns / 1000, what))
        return key;
    *logged = true;
    char waiting[96] = "";
    if (v.wchan[0])
        snprintf(waiting, sizeof waiting, ", waiting in %s", v.wchan);
    report("loop blocked %lld ms%s: %s, state %c%s; thread %d (%s)", (long long)(late_ns / 1000000),
           watch.cpu_clock ? " of CPU time" : "", call, v.state, waiting, (int)tid, l->name);
    if (n > 0) {
        report("  its stack, %s:", how);
        stack_log(frames, n);
    } else if (watch.stack_signal || v.running) {
        report("  no stack: the thread did not take the signal within 200 ms");
    } else {
        report("  no stack: the thread moved on while it was read");
    }
    if (v.in_syscall || v.call.nr == -1)
        report_kernel_stack(tid);
    return key;
}

/* At exit, a reported turn still running: the program stopped inside it (a loop that checks
 * its stop flag before waiting again never waits again), so the exit is where it ended. */
static void check_blocked_at_exit(struct loop *l, struct seen *s) {
    if (!s->turn || atomic_load_explicit(&l->turn_began, memory_order_acquire) != s->turn)
        return;
    int64_t took_ms = (mono_ns() - s->turn) / 1000000;
    if (s->logged)
        report("loop unblocked after %lld ms, by the exit; thread %d", (long long)took_ms,
               (int)s->tid);
    else
        repeat_lasted(&stalls, s->key, took_ms * 1000);
    s->turn = 0;
}

/* The loop ended the turn that was reported: say how long it took in the end. */
static void check_unblocked(struct loop *l, struct seen *s) {
    if (!s->turn || atomic_load_explicit(&l->long_turn_began, memory_order_acquire) != s->turn) {
        if (s->turn && !atomic_load(&l->turn_began) && !atomic_load(&l->long_turn_began))
            s->turn = 0; /* gone (the thread ended) */
        return;
    }
    int64_t took_ms = atomic_load(&l->long_turn_ns) / 1000000;
    if (s->logged)
        report("loop unblocked after %lld ms; thread %d", (long long)took_ms, (int)s->tid);
    else
        repeat_lasted(&stalls, s->key, took_ms * 1000);
    s->turn = 0;
}

static int64_t cpu_ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -W, for one loop. Returns how soon (ms) it should look again, at most period_ms. */
static int watch_loop(struct loop *l, struct seen *s, int period_ms) {
    check_unblocked(l, s);
    int64_t began = atomic_load_explicit(&l->turn_began, memory_order_acquire);
    if (!began || began == s->turn)
        return period_ms; /* waiting for events, or reported already */
    const int64_t threshold_ns = (int64_t)watch.threshold_ms * 1000000;
    int64_t late_ns;
    if (watch.cpu_clock) { /* Seastar's way: the CPU time this turn has used */
        late_ns =
            cpu_ns(l->cpu_clock) - atomic_load_explicit(&l->turn_cpu_began, memory_order_relaxed);
    } else {
        late_ns = mono_ns() - began;
    }
    if (late_ns < threshold_ns) {
        int due_ms = (int)((threshold_ns - late_ns) / 1000000) + 1;
        return !watch.cpu_clock && due_ms < period_ms ? due_ms : period_ms; /* wake when due */
    }
    s->key = report_stall(l, s->tid, began, late_ns, &s->logged);
    s->turn = began;
    atomic_store(&l->reported_turn, began);
    return period_ms;
}

/* -S, -R: the calls the loops' filters trapped since the last look. */
static void report_trapped(void) {
    struct refusal r;
    while (strict_take(&r)) {
        char call[512], where[96], what[160];
        syscall_format(&r.call, call, sizeof call);
        stack_where(r.frames, r.frame_count, where, sizeof where);
        const char *name = syscall_name(r.call.nr);
        snprintf(what, sizeof what, "%s %s in %s", name ? name : "a call",
                 r.refused ? "refused" : "let through", where);
        uint64_t key = stack_hash(r.frames, r.frame_count) ^ (uint64_t)r.call.nr;
        if (!repeat_first(&trapped_calls, key, ms_now(), -1, what))
            continue;
        if (r.refused)
            report("refused a blocking call on loop thread %d (EPERM): %s; its stack:", (int)r.tid,
                   call);
        else
            report("a blocking call on loop thread %d, let through (-R): %s; its stack:",
                   (int)r.tid, call);
        stack_log(r.frames, r.frame_count);
    }
}

/* -C: the turns that slept in the kernel since the last look. */
static void report_sleeps(struct loop *l, pid_t tid) {
    long turns = atomic_exchange(&l->slept_turns, 0);
    if (!turns)
        return;
    long switches = atomic_exchange(&l->slept_switches, 0);
    long faults = atomic_exchange(&l->slept_faults, 0);
    int64_t longest = atomic_exchange(&l->slept_longest_ns, 0);
    char what[64];
    snprintf(what, sizeof what, "a turn of loop thread %d", (int)tid);
    if (!repeat_first(&sleeps, (uint64_t)tid, ms_now(), longest / 1000, what))
        return;
    char faulted[64] = "", of[64] = "";
    if (faults > 0)
        snprintf(faulted, sizeof faulted, ", %ld major page fault%s", faults,
                 faults == 1 ? "" : "s");
    if (turns > 1)
        snprintf(of, sizeof of, " (%ld turns)", turns);
    report("a turn of loop thread %d slept in the kernel%s: %ld voluntary context switch%s%s, in "
           "a turn of %.3f ms",
           (int)tid, of, switches, switches == 1 ? "" : "es", faulted, (double)longest / 1e6);
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
static int lag_percentile(const uint64_t *lag, long turns, double p) {
    long want = (long)(p * (double)turns + 0.999999), seen_turns = 0;
    for (int k = 0; k < LAG_BUCKETS; k++)
        if ((seen_turns += (long)lag[k]) >= want && seen_turns > 0)
            return k;
    return LAG_BUCKETS - 1;
}

void watchdog_lag_report(struct loop *l, const char *when) {
    pid_t tid = atomic_load(&l->tid);
    uint64_t lag[LAG_BUCKETS];
    for (int k = 0; k < LAG_BUCKETS; k++)
        lag[k] = atomic_load_explicit(&l->lag[k], memory_order_relaxed);
    long turns = atomic_load(&l->turns);
    if (turns == 0) {
        report("loop lag %s, thread %d (%s): no turns yet", when, (int)tid, l->name);
        return;
    }
    char p50[32], p99[32], row[32];
    report("loop lag %s, thread %d (%s): %ld turns; p50 %s, p99 %s, max %.3f ms", when, (int)tid,
           l->name, turns, bucket_range(lag_percentile(lag, turns, 0.50), p50, sizeof p50),
           bucket_range(lag_percentile(lag, turns, 0.99), p99, sizeof p99),
           (double)atomic_load(&l->lag_max_ns) / 1e6);
    for (int k = 0; k < LAG_BUCKETS; k++)
        if (lag[k])
            report("  %14s  %ld", bucket_range(k, row, sizeof row), (long)lag[k]);
}

static void lag_report_all(const char *when) {
    for (int i = 0; i < MAX_LOOPS; i++)
        if (atomic_load(&loops[i].tid))
            watchdog_lag_report(&loops[i], when);
}

/* -L on request: `touch /tmp/loopwatch-PID`. A file and not a signal: a signal would interrupt
 * whatever call the thread that takes it is in, a FUSE read included (appendix A1, Why). */
static void lag_on_request(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/loopwatch-%d", (int)getpid());
    if (unlink(path) == 0)
        lag_report_all("on request");
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

static void *watchdog(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "loopwatch"); /* what ps -L and top show */
    sigset_t all; /* the program's signals are for its own threads */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    const int period_ms = !watch.threshold_ms           ? QUIET_PERIOD_MS
                          : watch.threshold_ms / 4 < 5  ? 5
                          : watch.threshold_ms / 4 > 50 ? 50
                                                        : watch.threshold_ms / 4;
    int nap_ms = period_ms;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        nap(nap_ms);
        nap_ms = period_ms;
        if (stopping)
            break;
        for (int i = 0; i < MAX_LOOPS; i++) {
            struct loop *l = &loops[i];
            pid_t tid = atomic_load(&l->tid);
            if (tid != seen[i].tid)
                seen[i] = (struct seen){.tid = tid};
            if (!tid)
                continue;
            if (watch.threshold_ms) {
                int soon = watch_loop(l, &seen[i], period_ms);
                nap_ms = soon < nap_ms ? soon : nap_ms;
            }
            if (watch.sleeps)
                report_sleeps(l, tid);
        }
        if (watch.strict)
            report_trapped();
        if (watch.lag)
            lag_on_request();
        int64_t now = ms_now();
        repeat_flush(&stalls, now, false);
        repeat_flush(&trapped_calls, now, false);
        repeat_flush(&sleeps, now, false);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void watchdog_ensure(void) {
    pthread_mutex_lock(&lock);
    if (running_in != getpid()) {
        static bool handler;
        if (!handler) { /* once: a fork's child keeps it */
            struct sigaction sa = {.sa_sigaction = on_backtrace_signal,
                                   .sa_flags = SA_SIGINFO | SA_RESTART},
                             old;
            sigemptyset(&sa.sa_mask);
            if (sigaction(BACKTRACE_SIGNAL, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
                sigaction(BACKTRACE_SIGNAL, &sa, NULL); /* unless the program handles it */
            pthread_condattr_t attr;
            pthread_condattr_init(&attr);
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
            pthread_cond_init(&wake, &attr);
            pthread_condattr_destroy(&attr);
            stack_init();
            handler = true;
        }
        stopping = false;
        if (pthread_create(&thread, NULL, watchdog, NULL) == 0)
            running_in = getpid();
        else
            report("cannot start the watchdog thread in pid %d: nothing will be reported",
                   (int)getpid());
        if (running_in && watch.threshold_ms)
            report("reporting loop turns longer than %d ms%s, while they last", watch.threshold_ms,
                   watch.cpu_clock ? " of CPU time (LOOPWATCH_CLOCK=cpu)" : "");
    }
    pthread_mutex_unlock(&lock);
}

void watchdog_forget(void) {
    /* The child is single-threaded: the lock may have been held by the parent's watchdog. */
    pthread_mutex_init(&lock, NULL);
    running_in = 0;
    memset(seen, 0, sizeof seen);
    memset(&stalls.r, 0, sizeof stalls.r);
    memset(&trapped_calls.r, 0, sizeof trapped_calls.r);
    memset(&sleeps.r, 0, sizeof sleeps.r);
    stalls.next_flush_ms = trapped_calls.next_flush_ms = sleeps.next_flush_ms = 0;
}

void watchdog_stop(void) {
    if (watch.strict)
        strict_lift(); /* exiting may block, and nobody waits for this loop any more */
    pthread_mutex_lock(&lock);
    bool mine = running_in == getpid();
    stopping = true;
    if (mine)
        pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (!mine)
        return;
    pthread_join(thread, NULL);
    running_in = 0;
    /* The thread is gone: what is left is reported from here, a stall that ended since its
     * last look, or ends only now, included (a reply sent, then SIGTERM: the reader saw
     * "blocked", and must see how long it lasted). */
    for (int i = 0; i < MAX_LOOPS; i++) {
        pid_t tid = atomic_load(&loops[i].tid);
        if (tid && tid == seen[i].tid && watch.threshold_ms) {
            check_unblocked(&loops[i], &seen[i]);
            check_blocked_at_exit(&loops[i], &seen[i]);
        }
        if (tid && watch.sleeps)
            report_sleeps(&loops[i], tid);
    }
    if (watch.strict)
        report_trapped();
    int64_t now = ms_now();
    repeat_flush(&sleeps, now, true);
    repeat_flush(&trapped_calls, now, true);
    repeat_flush(&stalls, now, true);
    long lost, trapped = watch.strict ? strict_trapped(&lost) : 0;
    if (trapped)
        report("%ld blocking call%s %s on loop threads%s", trapped, trapped == 1 ? "" : "s",
               watch.strict == STRICT_REFUSE ? "refused" : "let through",
               lost ? " (some not shown: too many at once)" : "");
    if (watch.lag) {
        lag_report_all("at exit");
        /* Not a turn in the figures: the loop may have ended, and its thread gone on to exit. */
        for (int i = 0; i < MAX_LOOPS; i++) {
            int64_t began = atomic_load(&loops[i].began);
            if (atomic_load(&loops[i].tid) && began > 1)
                report("  and a turn still running at exit, for %.3f ms",
                       (double)(mono_ns() - began) / 1e6);
        }
    }
}
