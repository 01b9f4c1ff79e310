/* The system call table of syscalls.h. Each entry says how to show each argument, one letter
 * an argument:
 *   f  a descriptor, shown with its file: "fd 7 = /mnt/slow/3000/a"
 *   a  a directory descriptor for a path (AT_FDCWD or a descriptor)
 *   s  a path (a string in the caller's memory)
 *   t  a struct timespec: "1.500 s"
 *   c  a clock id
 *   n  a number, x a number in hex (flags)
 *   p  a pointer (a buffer): left out, its contents mean nothing to a reader
 * Numbers come from <sys/syscall.h>, so the table is right on any architecture; a call an
 * architecture does not have (open on arm64) is simply not in it there. */
#include "syscalls.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const struct {
    long nr;
    const char *name, *args;
} table[] = {
    {SYS_read, "read", "fpn"},
    {SYS_write, "write", "fpn"},
    {SYS_pread64, "pread64", "fpnn"},
    {SYS_pwrite64, "pwrite64", "fpnn"},
    {SYS_readv, "readv", "fpn"},
    {SYS_writev, "writev", "fpn"},
    {SYS_preadv, "preadv", "fpnn"},
    {SYS_pwritev, "pwritev", "fpnn"},
    {SYS_preadv2, "preadv2", "fpnnpx"},
    {SYS_pwritev2, "pwritev2", "fpnnpx"},
    {SYS_openat, "openat", "asx"},
    {SYS_openat2, "openat2", "as"},
    {SYS_close, "close", "f"},
    {SYS_newfstatat, "newfstatat", "aspx"},
    {SYS_statx, "statx", "asx"},
    {SYS_getdents64, "getdents64", "fpn"},
    {SYS_unlinkat, "unlinkat", "asx"},
    {SYS_renameat2, "renameat2", "as"},
    {SYS_mkdirat, "mkdirat", "as"},
    {SYS_fsync, "fsync", "f"},
    {SYS_fdatasync, "fdatasync", "f"},
    {SYS_sync, "sync", ""},
    {SYS_syncfs, "syncfs", "f"},
    {SYS_sync_file_range, "sync_file_range", "fnnx"},
    {SYS_msync, "msync", "pnx"},
    {SYS_fallocate, "fallocate", "fxnn"},
    {SYS_ftruncate, "ftruncate", "fn"},
    {SYS_flock, "flock", "fx"},
    {SYS_fcntl, "fcntl", "fnx"},
    {SYS_nanosleep, "nanosleep", "t"},
    {SYS_clock_nanosleep, "clock_nanosleep", "cxt"},
    {SYS_futex, "futex", "pxn"},
    {SYS_epoll_pwait, "epoll_pwait", "fpnn"},
    {SYS_ppoll, "ppoll", "pn"},
    {SYS_pselect6, "pselect6", "n"},
    {SYS_io_uring_enter, "io_uring_enter", "fnnx"},
    {SYS_accept4, "accept4", "fppx"},
    {SYS_connect, "connect", "f"},
    {SYS_sendto, "sendto", "fpnx"},
    {SYS_recvfrom, "recvfrom", "fpnx"},
    {SYS_sendmsg, "sendmsg", "fpx"},
    {SYS_recvmsg, "recvmsg", "fpx"},
    {SYS_wait4, "wait4", "n"},
    {SYS_waitid, "waitid", "nn"},
    {SYS_mmap, "mmap", "pnxx"},
    {SYS_munmap, "munmap", "pn"},
    {SYS_madvise, "madvise", "pnx"},
#ifdef SYS_open /* the calls older architectures still have: x86-64 does, arm64 does not */
    {SYS_open, "open", "sx"},
    {SYS_creat, "creat", "sx"},
    {SYS_stat, "stat", "s"},
    {SYS_lstat, "lstat", "s"},
    {SYS_unlink, "unlink", "s"},
    {SYS_rename, "rename", "s"},
    {SYS_epoll_wait, "epoll_wait", "fpnn"},
    {SYS_poll, "poll", "pnn"},
    {SYS_select, "select", "n"},
    {SYS_pause, "pause", ""},
    {SYS_accept, "accept", "fpp"},
#endif
#ifdef SYS_epoll_pwait2
    {SYS_epoll_pwait2, "epoll_pwait2", "fpn"},
#endif
};

static int lookup(long nr) {
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].nr == nr)
            return (int)i;
    return -1;
}

const char *syscall_name(long nr) {
    int i = lookup(nr);
    return i < 0 ? NULL : table[i].name;
}

/* Copies len bytes at addr in our own memory into out, or fewer if the rest is not mapped. Never
 * faults: the kernel checks the address, as it would have for the call itself. */
static size_t copy_in(long addr, void *out, size_t len) {
    struct iovec local = {.iov_base = out, .iov_len = len};
    struct iovec remote = {.iov_base = (void *)addr, .iov_len = len};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n < 0 && len > 1) { /* the string may end just before an unmapped page: read up to it */
        size_t to_page = 4096 - ((unsigned long)addr & 4095);
        remote.iov_len = local.iov_len = to_page < len ? to_page : len;
        n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    }
    return n > 0 ? (size_t)n : 0;
}

/* readlink of /proc/self/fd/FD, without snprintf: this runs in a signal handler. */
static void fd_path(long fd, char *out, size_t size) {
    char link[32] = "/proc/self/fd/", digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) > 0 && n < (int)sizeof digits);
    size_t len = strlen(link);
    while (n > 0 && len + 1 < sizeof link)
        link[len++] = digits[--n];
    link[len] = '\0';
    ssize_t got = readlink(link, out, size - 1);
    out[got > 0 ? got : 0] = '\0';
}

void syscall_capture(struct syscall_args *call) {
    call->fd_path[0] = call->text[0] = '\0';
    call->sleep_ns = -1;
    int i = lookup(call->nr);
    if (i < 0)
        return;
    bool have_fd = false;
    for (int k = 0; k < 6 && table[i].args[k]; k++) {
        long a = call->arg[k];
        switch (table[i].args[k]) {
        case 'a': /* a directory descriptor is a descriptor, AT_FDCWD is not */
            if ((int)a == AT_FDCWD)
                break;
            /* fall through */
        case 'f':
            if (!have_fd && (int)a >= 0)
                fd_path((int)a, call->fd_path, sizeof call->fd_path);
            have_fd = true;
            break;
        case 's': call->text[copy_in(a, call->text, sizeof call->text - 1)] = '\0'; break;
        case 't': {
            struct timespec ts;
            if (a && copy_in(a, &ts, sizeof ts) == sizeof ts)
                call->sleep_ns = (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
            break;
        }
        default: break;
        }
    }
}

static const char *clock_name(long id) {
    switch (id) {
    case CLOCK_REALTIME: return "CLOCK_REALTIME";
    case CLOCK_MONOTONIC: return "CLOCK_MONOTONIC";
    case CLOCK_BOOTTIME: return "CLOCK_BOOTTIME";
    default: return NULL;
    }
}

char *syscall_format(const struct syscall_args *call, char *out, size_t size) {
    int i = lookup(call->nr);
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int put = snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__);                         \
        n += put > 0 ? (size_t)put : 0;                                                            \
    } while (0)
    if (i < 0) {
        PUT("syscall %ld(", call->nr);
        for (int k = 0; k < 6; k++)
            PUT("%s%#lx", k ? ", " : "", (unsigned long)call->arg[k]);
        PUT(")");
        return out;
    }
    PUT("%s(", table[i].name);
    bool first = true, fd_shown = false;
    for (int k = 0; k < 6 && table[i].args[k]; k++) {
        long a = call->arg[k];
        char kind = table[i].args[k];
        if (kind == 'p')
            continue;
        PUT("%s", first ? "" : ", ");
        first = false;
        switch (kind) {
        case 'a':
            if ((int)a == AT_FDCWD) {
                PUT("AT_FDCWD");
                break;
            }
            /* fall through */
        case 'f':
            PUT("fd %d", (int)a);
            if (!fd_shown && call->fd_path[0])
                PUT(" = %s", call->fd_path);
            fd_shown = true;
            break;
        case 's': PUT("\"%s\"", call->text); break;
        case 't':
            if (call->sleep_ns < 0)
                PUT("?");
            else if (call->sleep_ns >= 1000000000)
                PUT("%.3f s", (double)call->sleep_ns / 1e9);
            else
                PUT("%.3f ms", (double)call->sleep_ns / 1e6);
            break;
        case 'c':
            if (clock_name(a))
                PUT("%s", clock_name(a));
            else
                PUT("clock %ld", a);
            break;
        case 'x': PUT("%#lx", (unsigned long)a); break;
        default: PUT("%ld", a); break;
        }
    }
    PUT(")");
#undef PUT
    return out;
}
