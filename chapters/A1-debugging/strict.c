/* Strict mode (strict.h): a seccomp filter that catches a loop thread's blocking calls.
 *
 * THE MECHANISM: SECCOMP_RET_TRAP. The filter, a classic BPF program the kernel runs at every
 * system call of the thread, answers TRAP for a blocking call: the call is not made, and the
 * kernel sends SIGSYS to the thread at once, synchronously, at the call site. The handler runs
 * on the loop thread with the caller's stack intact, so backtrace() gives the exact stack; it
 * copies the call's arguments, writes -EPERM into the register the call returns in, and the
 * caller sees the call fail with EPERM (-S); or it makes the call itself and writes its result
 * there (-R). The watchdog thread reports it (watchdog.c).
 * The alternatives: SECCOMP_RET_ERRNO alone refuses without a word (no report, no stack).
 * SECCOMP_RET_USER_NOTIF parks the thread in the kernel until a supervisor thread answers: the
 * supervisor sees the call and its arguments but not the loop thread's stack, and every trapped
 * call then waits for another thread to be scheduled. TRAP costs nothing until a call is trapped.
 *
 * WHICH CALLS. A filter sees the call's number and its six raw arguments, never the memory they
 * point to, and not what a descriptor is. So it traps what blocks whatever the descriptor: the
 * sleeps; reads and writes at an offset (pread64, preadv, pwrite64, pwritev, and preadv2 /
 * pwritev2 unless RWF_NOWAIT, which chapter 14's loop uses and which never waits for a disk);
 * opens, stats and the other path lookups (a dying disk blocks those too; a stat of an open
 * descriptor, AT_EMPTY_PATH, does not); syncs; locks that wait (flock without LOCK_NB, F_SETLKW);
 * poll with a timeout. Not read() and write(): on a socket they are what the loop does all day,
 * and the filter cannot tell a socket from a file. Not futex: a contended mutex waits in it, and
 * refusing it would break the program rather than report it (-W's sleep detector sees those).
 *
 * WHOSE CALLS. Only calls made from the C library's code: the filter compares the instruction
 * pointer with libc's text. Every blocking call the program makes goes through a libc wrapper,
 * but the sanitizers' runtimes make raw system calls of their own (LeakSanitizer's checker opens
 * /proc at exit, on a thread that blocks every signal: a trap there would kill the process).
 * A filter is inherited by every thread the loop thread creates later, and cannot be removed; so
 * the handler catches only on a loop thread outside its own wait (loop_thread_busy: a poll loop
 * waits in poll, which the filter traps), and only until strict_lift. Any other trapped call
 * (another thread's, an exit's, an open of /proc, /dev or /sys, which are not disks) it makes
 * itself, through strict_escape: a system call instruction outside libc, which the filter lets
 * through. This is a debugging aid, not a sandbox: code that wanted to could get around it. */
#include "strict.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#define RING 64 /* trapped calls kept until the watchdog thread reports them */

/* Several loop threads may trap at once: each reserves a slot (head), fills it, then publishes it
 * (its seq); the watchdog thread alone takes them in order (tail). */
static struct slot {
    atomic_uint seq; /* n + 1 once slot n is filled */
    struct refusal r;
} ring[RING];
static atomic_uint ring_head, ring_tail;
static atomic_long trapped, lost;
static atomic_int catching; /* STRICT_REFUSE or STRICT_REPORT until strict_lift, else 0 */
static bool (*loop_thread_busy)(void); /* the caller's: a loop thread, outside its wait */

bool strict_take(struct refusal *out) {
    unsigned tail = atomic_load(&ring_tail);
    struct slot *s = &ring[tail % RING];
    if (atomic_load_explicit(&s->seq, memory_order_acquire) != tail + 1)
        return false;
    *out = s->r;
    atomic_store(&ring_tail, tail + 1);
    return true;
}

long strict_trapped(long *lost_out) {
    *lost_out = atomic_load(&lost);
    return atomic_load(&trapped);
}

void strict_lift(void) {
    atomic_store(&catching, 0);
}

#if defined(__x86_64__)

/* strict_escape(nr, a0..a5): the system call nr, made from here rather than from libc, so the
 * filter lets it through. Returns what the kernel returned (-errno on failure). */
long strict_escape(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
    __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl strict_escape\n"
        ".hidden strict_escape\n"
        ".type strict_escape, @function\n"
        "strict_escape:\n"
        "    movq %rdi, %rax\n" /* the C calling convention to the kernel's */
        "    movq %rsi, %rdi\n"
        "    movq %rdx, %rsi\n"
        "    movq %rcx, %rdx\n"
        "    movq %r8, %r10\n"
        "    movq %r9, %r8\n"
        "    movq 8(%rsp), %r9\n"
        "    syscall\n"
        "    ret\n"
        ".size strict_escape, .-strict_escape\n");

/* An open or stat of a pseudo-file (accept_client's spare /dev/null, a /proc read): no disk. */
static bool harmless(long nr, const long *arg) {
    int path_arg;
    switch (nr) {
    case SYS_open:
    case SYS_creat:
    case SYS_stat:
    case SYS_lstat: path_arg = 0; break;
    case SYS_openat:
    case SYS_openat2:
    case SYS_newfstatat:
    case SYS_statx: path_arg = 1; break;
    default: return false;
    }
    char p[8] = "";
    struct iovec local = {.iov_base = p, .iov_len = sizeof p - 1};
    struct iovec remote = {.iov_base = (void *)arg[path_arg], .iov_len = sizeof p - 1};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof p - 1)
        return false;
    return strncmp(p, "/proc/", 6) == 0 || strncmp(p, "/dev/", 5) == 0 ||
           strncmp(p, "/sys/", 5) == 0;
}

/* Keeps a trapped call for the watchdog thread to report. */
static void keep(long nr, const long *arg, uintptr_t pc, pid_t tid, bool refused) {
    atomic_fetch_add(&trapped, 1);
    unsigned head = atomic_load(&ring_head);
    do
        if (head - atomic_load(&ring_tail) >= RING) {
            atomic_fetch_add(&lost, 1);
            return;
        }
    while (!atomic_compare_exchange_weak(&ring_head, &head, head + 1));
    struct slot *s = &ring[head % RING];
    s->r.call.nr = nr;
    memcpy(s->r.call.arg, arg, sizeof s->r.call.arg);
    syscall_capture(&s->r.call);
    s->r.tid = tid;
    s->r.refused = refused;
    s->r.frame_count = stack_here(pc, s->r.frames, STACK_MAX);
    atomic_store_explicit(&s->seq, head + 1, memory_order_release);
}

/* SIGSYS: the filter trapped a call of this thread. Runs at the call site. */
static void on_sigsys(int sig, siginfo_t *si, void *context) {
    (void)sig;
    greg_t *reg = ((ucontext_t *)context)->uc_mcontext.gregs;
    long nr = si->si_syscall;
    long arg[6] = {reg[REG_RDI], reg[REG_RSI], reg[REG_RDX],
                   reg[REG_R10], reg[REG_R8],  reg[REG_R9]};
    int saved = errno, mode = atomic_load(&catching);
    if (mode && loop_thread_busy() && !harmless(nr, arg)) {
        pid_t tid = (pid_t)strict_escape(SYS_gettid, 0, 0, 0, 0, 0, 0);
        keep(nr, arg, (uintptr_t)reg[REG_RIP], tid, mode == STRICT_REFUSE);
        if (mode == STRICT_REFUSE) {
            reg[REG_RAX] = -EPERM;
            errno = saved;
            return;
        }
    }
    reg[REG_RAX] = strict_escape(nr, arg[0], arg[1], arg[2], arg[3], arg[4], arg[5]);
    errno = saved;
}

/* The filter, assembled: jumps name labels, resolved to the forward offsets BPF wants. */
enum label {
    NEXT = -1,
    L_ALLOW,
    L_TRAP,
    L_NOWAIT,
    L_LOCK_NB,
    L_SETLKW,
    L_POLL,
    L_EMPTY3,
    L_EMPTY2,
    LABELS
};

struct program {
    struct sock_filter ins[160];
    int jt[160], jf[160];
    int n, at[LABELS];
};

static void emit(struct program *p, uint16_t code, uint32_t k, int jt, int jf) {
    p->ins[p->n] = (struct sock_filter){.code = code, .k = k};
    p->jt[p->n] = jt;
    p->jf[p->n++] = jf;
}

static void load(struct program *p, uint32_t offset) {
    emit(p, BPF_LD | BPF_W | BPF_ABS, offset, NEXT, NEXT);
}

static void place(struct program *p, enum label l) {
    p->at[l] = p->n;
}

#define ARG_LOW(i) (uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)) /* little-endian */
#define IP_LOW     (uint32_t) offsetof(struct seccomp_data, instruction_pointer)

static int resolve(struct program *p) {
    for (int i = 0; i < p->n; i++) {
        if (BPF_CLASS(p->ins[i].code) != BPF_JMP)
            continue;
        int t = p->jt[i] == NEXT ? i + 1 : p->at[p->jt[i]];
        int f = p->jf[i] == NEXT ? i + 1 : p->at[p->jf[i]];
        if (t - i - 1 < 0 || t - i - 1 > 255 || f - i - 1 < 0 || f - i - 1 > 255)
            return -1;
        p->ins[i].jt = (uint8_t)(t - i - 1);
        p->ins[i].jf = (uint8_t)(f - i - 1);
    }
    return 0;
}

static const long always[] = {
    SYS_nanosleep, SYS_clock_nanosleep,
    SYS_pause,     SYS_pread64,
    SYS_pwrite64,  SYS_preadv,
    SYS_pwritev,   SYS_open,
    SYS_openat,    SYS_openat2,
    SYS_creat,     SYS_stat,
    SYS_lstat,     SYS_getdents64,
    SYS_unlink,    SYS_unlinkat,
    SYS_rename,    SYS_renameat,
    SYS_renameat2, SYS_mkdir,
    SYS_mkdirat,   SYS_rmdir,
    SYS_truncate,  SYS_fsync,
    SYS_fdatasync, SYS_sync,
    SYS_syncfs,    SYS_msync,
    SYS_fallocate, SYS_sync_file_range,
};

static const struct {
    long nr;
    enum label check;
} unless[] = {
    {SYS_preadv2, L_NOWAIT}, {SYS_pwritev2, L_NOWAIT}, {SYS_flock, L_LOCK_NB},
    {SYS_fcntl, L_SETLKW},   {SYS_poll, L_POLL},       {SYS_newfstatat, L_EMPTY3},
    {SYS_statx, L_EMPTY2},
};

static int build(struct program *p, uintptr_t lo, uintptr_t hi) {
    load(p, offsetof(struct seccomp_data, arch));
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, NEXT, L_ALLOW);
    load(p, IP_LOW + 4); /* libc's text is within one 4 GiB window: strict_install checked */
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(lo >> 32), NEXT, L_ALLOW);
    load(p, IP_LOW);
    emit(p, BPF_JMP | BPF_JGE | BPF_K, (uint32_t)lo, NEXT, L_ALLOW);
    emit(p, BPF_JMP | BPF_JGE | BPF_K, (uint32_t)hi, L_ALLOW, NEXT);
    load(p, offsetof(struct seccomp_data, nr));
    for (size_t i = 0; i < sizeof always / sizeof *always; i++)
        emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)always[i], L_TRAP, NEXT);
    for (size_t i = 0; i < sizeof unless / sizeof *unless; i++)
        emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)unless[i].nr, unless[i].check, NEXT);
    emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, NEXT, NEXT);
    place(p, L_NOWAIT); /* preadv2(fd, iov, n, pos_lo, pos_hi, flags) */
    load(p, ARG_LOW(5));
    emit(p, BPF_JMP | BPF_JSET | BPF_K, RWF_NOWAIT, L_ALLOW, L_TRAP);
    place(p, L_LOCK_NB); /* flock(fd, op) */
    load(p, ARG_LOW(1));
    emit(p, BPF_JMP | BPF_JSET | BPF_K, LOCK_NB, L_ALLOW, L_TRAP);
    place(p, L_SETLKW); /* fcntl(fd, cmd, ...) */
    load(p, ARG_LOW(1));
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, F_SETLKW, L_TRAP, NEXT);
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, F_OFD_SETLKW, L_TRAP, L_ALLOW);
    place(p, L_POLL); /* poll(fds, n, timeout) */
    load(p, ARG_LOW(2));
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, L_ALLOW, L_TRAP);
    place(p, L_EMPTY3); /* newfstatat(dirfd, path, st, flags) */
    load(p, ARG_LOW(3));
    emit(p, BPF_JMP | BPF_JSET | BPF_K, AT_EMPTY_PATH, L_ALLOW, L_TRAP);
    place(p, L_EMPTY2); /* statx(dirfd, path, flags, mask, st) */
    load(p, ARG_LOW(2));
    emit(p, BPF_JMP | BPF_JSET | BPF_K, AT_EMPTY_PATH, L_ALLOW, L_TRAP);
    place(p, L_ALLOW);
    emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, NEXT, NEXT);
    place(p, L_TRAP);
    emit(p, BPF_RET | BPF_K, SECCOMP_RET_TRAP, NEXT, NEXT);
    return resolve(p);
}

struct code_range {
    uintptr_t lo, hi;
};

static struct sock_fprog prog;

/* libc's executable segment. */
static int find_libc(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct code_range *libc = arg;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libc.so", 7) != 0)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && ph->p_flags & PF_X) {
            libc->lo = info->dlpi_addr + ph->p_vaddr;
            libc->hi = libc->lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* Once per process: the filter for this libc, and the handler. */
static int prepare(char *why, size_t size) {
    static struct program p;
    static bool ready;
    if (ready)
        return 0;
    struct code_range libc = {0};
    dl_iterate_phdr(find_libc, &libc);
    if (!libc.lo) {
        snprintf(why, size, "cannot find the C library's code (is this glibc?)");
        return -1;
    }
    if (libc.lo >> 32 != (libc.hi - 1) >> 32) {
        snprintf(why, size, "the C library's code straddles a 4 GiB boundary; run it again");
        return -1;
    }
    if (build(&p, libc.lo, libc.hi) < 0) {
        snprintf(why, size, "the filter does not assemble");
        return -1;
    }
    stack_init(); /* warms up backtrace(), which the handler calls */
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        snprintf(why, size, "cannot handle SIGSYS: %s", strerror(errno));
        return -1;
    }
    prog = (struct sock_fprog){.len = (unsigned short)p.n, .filter = p.ins};
    ready = true;
    return 0;
}

int strict_install(int mode, bool (*busy)(void), char *why, size_t size) {
    if (prepare(why, size) < 0)
        return -1;
    loop_thread_busy = busy;
    atomic_store(&catching, mode);
    /* no_new_privs: what lets a process without CAP_SYS_ADMIN install a filter. No flag asks
     * for the other threads (SECCOMP_FILTER_FLAG_TSYNC): this loop thread alone. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
        snprintf(why, size, "cannot install the seccomp filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}

#else

int strict_install(int mode, bool (*busy)(void), char *why, size_t size) {
    (void)mode, (void)busy;
    snprintf(why, size, "strict mode is written for x86-64 only (its handler edits registers)");
    return -1;
}

#endif
