/* Chapter 03's -m poll: the loop's wait with poll() in place of select(). */
#ifndef POLL_WAIT_H
#define POLL_WAIT_H

#include <stdbool.h>

/* One descriptor's turn: what the loop waits for on it, and what the wait found. The loop keeps a
 * table of these, indexed by fd, and hands it to the wait. */
struct watch {
    bool read, write;        /* wait for fd to be readable (writable); neither: not watched */
    bool readable, writable; /* what the wait found */
};

/* Makes room for a watch table's worth of descriptors: cap of them. Dies on error: start-up. */
void poll_wait_init(int cap);

/* Sleeps in poll() for at most timeout_ms (-1: until something is ready) on every descriptor
 * 0..top that watch asks for, and marks each readable or writable as poll() found it. Returns
 * 0, or -1 when a signal cut the sleep short. */
int wait_poll(struct watch *watch, int top, int timeout_ms);

#endif
