/* Stacks for loopwatch's live report (-W) and strict mode (-S, -R): a loop thread's frames, named.
 * Two ways to get them. stack_here runs on the thread itself, in a signal handler (backtrace()),
 * and is exact. stack_scan reads the stack of a thread blocked in the kernel from another thread,
 * without its cooperation: no signal, so a blocked read is not disturbed (a signal makes a FUSE
 * read send FUSE_INTERRUPT, and the disk may answer it EINTR and start over). */
#ifndef STACK_H
#define STACK_H

#include <stddef.h>
#include <stdint.h>

#define STACK_MAX 32 /* frames kept */

/* Loads the program's own symbol table (its static functions too, which backtrace_symbols cannot
 * name) and warms up backtrace(). Harmless twice; without the table, dladdr names what it can. */
void stack_init(void);

/* In a signal handler: the frames of the code the signal interrupted at pc (from the handler's
 * ucontext), the handler's own frames left out. Async-signal-safe once stack_init has run.
 * Returns the number of frames written. */
int stack_here(uintptr_t pc, uintptr_t *frames, int max);

/* The frames of a thread stopped in the kernel with user stack pointer sp at pc (from
 * /proc/self/task/TID/syscall), found by scanning its stack for return addresses: words that
 * point just after a call instruction, chained so that each call leads to the frame below (a
 * direct call to that frame's function, through its PLT slot or a tail jump; or a call that
 * cannot be checked, through a register). As with any scan, an old return address left in a
 * frame can pass for a frame. Call from another thread, never from a handler. Returns the number
 * of frames. */
int stack_scan(uintptr_t sp, uintptr_t pc, uintptr_t *frames, int max);

/* Logs frames[0..n), one line each: "    #1  sleep_ms+0x2c (bin/05-blocking-in-loop+0x3fff)",
 * the offset in the file being what addr2line -e FILE wants. */
void stack_log(const uintptr_t *frames, int n);

/* The innermost function of the program itself in frames, "sleep_ms" ("?" when none): the short
 * name of a stall. Writes it to out and returns out. */
char *stack_where(const uintptr_t *frames, int n, char *out, size_t size);

/* The name of the function at code address fn ("on_conn_event"), into out; returns out. */
char *stack_function(uintptr_t fn, char *out, size_t size);

/* A hash of the frames, to tell the same stall again from another. */
uint64_t stack_hash(const uintptr_t *frames, int n);

#endif
