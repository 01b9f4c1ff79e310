/* The green-thread hub of chapter 09, eventlet's design in C: green threads are coroutines with
 * their own stacks (ucontext), run one at a time on one OS thread. A green thread that would
 * block parks itself on the hub (an epoll set and a timer heap, chapter 04's loop); the hub runs
 * the others and resumes it when its socket or timer is ready. Handlers call green_* instead of
 * the blocking calls and read like chapter 01. A call that is not green blocks every one of them.
 */
#ifndef HUB_H
#define HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates the epoll set and timer heap, and tpool_threads worker threads for tpool_execute
 * (0: none). Dies on error. Call once, before anything else here. */
void hub_init(int tpool_threads);

/* Starts fn(arg) as a green thread with its own stack; it first runs on the hub's next turn.
 * Returns 0, or -1 with errno set (ENOMEM) when there is no memory for its stack. */
int green_spawn(void (*fn)(void *), void *arg);

/* Runs the hub on the calling thread until stop_requested is set, then returns. Green threads
 * still parked then are never resumed; hub_free releases them. */
void hub_run(void);

/* After hub_run: stops the tpool workers and frees every green thread's stack. */
void hub_free(void);

/* In a green thread: accepts a connection on the non-blocking listen_fd, parking until one
 * arrives. Returns the new non-blocking fd, or -1 with errno set (not EAGAIN). */
int green_accept(int listen_fd);

/* In a green thread: reads up to len bytes from non-blocking fd, parking until it is readable
 * or until deadline_ms (on the now_ms() clock). Returns read()'s result, or -1 with errno
 * ETIMEDOUT at the deadline. */
ssize_t green_read(int fd, void *buf, size_t len, int64_t deadline_ms);

/* In a green thread: writes all of buf to non-blocking fd, parking while the socket buffer is
 * full, until deadline_ms at most. Returns 0, or -1 with errno set (ETIMEDOUT at the deadline). */
int green_write(int fd, const void *buf, size_t len, int64_t deadline_ms);

/* In a green thread: sleeps ms milliseconds on the hub's timer heap; the others run meanwhile. */
void green_sleep(int ms);

/* In a green thread: runs fn(arg) on a tpool worker thread and parks until it has returned, as
 * eventlet.tpool.execute does, so fn may block as long as it likes. Needs hub_init(n > 0). */
void tpool_execute(void (*fn)(void *), void *arg);

#endif
