/* A system call by name and arguments, as the watchdog (-W) and strict mode (-S) report the call
 * a loop thread is blocked in: "pread64(fd 7 = /mnt/slow/3000/obj.d/3, 65536, 0)". A small table
 * of the calls that matter to an event loop; any other is shown by number. */
#ifndef SYSCALLS_H
#define SYSCALLS_H

#include <stddef.h>

/* One call: its number and raw arguments, and what the arguments pointed to, copied while it
 * still existed (a caller's buffer, an fd closed right after the call). */
struct syscall_args {
    long nr;
    long arg[6];
    char fd_path[256];  /* the file of its first descriptor argument; "" if none or unknown */
    char text[256];     /* its path argument; "" if none */
    long long sleep_ns; /* its timespec argument, in ns; -1 if none */
};

/* The name of system call nr ("pread64"), or NULL when the table does not have it. */
const char *syscall_name(long nr);

/* Copies what call->arg point to into call's other fields. Async-signal-safe (readlink and
 * process_vm_readv only, which fail cleanly on a bad pointer), so strict mode's SIGSYS handler
 * can call it. */
void syscall_capture(struct syscall_args *call);

/* Formats call as "pread64(fd 7 = /path, 65536, 0)", pointers left out; a call the table does
 * not have as "syscall 285(0x3, 0x7ffd1c0, ...)". Returns out. */
char *syscall_format(const struct syscall_args *call, char *out, size_t size);

#endif
