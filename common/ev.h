/* The event loop's core, shaped like antirez's ae.c but smaller: descriptors watched with a
 * callback each, timers in a heap with a callback each, one hook before every sleep, and run.
 * It knows nothing of requests: the request skeleton of loop.h is built on it, and a chapter
 * watches its own descriptors here too (a pool's doorbell, an io_uring eventfd, a socket that
 * other processes pass connections through). All its state is in struct ev, so several loops can
 * run, one per process or one per thread. */
#ifndef EV_H
#define EV_H

#include <stdbool.h>
#include <stdint.h>

#include "heap.h"

struct ev;

/* Runs on the loop when fd has events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*ev_fd_fn)(struct ev *ev, int fd, uint32_t events, void *arg);

/* A deadline: embed one in whatever needs it; fn runs on the loop once it is due, disarmed. */
struct ev_timer {
    struct timer heap; /* its place in the loop's heap */
    void (*fn)(struct ev *ev, struct ev_timer *t, int64_t now);
};

/* An epoll set, an empty heap and a table of watched descriptors sized to the descriptor limit
 * (raised to the hard limit). Dies on error: start-up only. */
struct ev *ev_new(void);

/* Calls fn(ev, fd, events, arg) whenever fd has any of events (EPOLLIN, EPOLLOUT; EPOLLEXCLUSIVE
 * for a socket several loops watch): adds fd, or changes what it is watched for. Level-triggered:
 * fn must consume what it was woken for. Returns 0, or -1 with errno set. */
int ev_watch(struct ev *ev, int fd, uint32_t events, ev_fd_fn fn, void *arg);

/* Stops watching fd; call it before closing fd (a descriptor passed to another process keeps the
 * socket, and so its epoll registration, alive). Harmless when fd is not watched. */
void ev_unwatch(struct ev *ev, int fd);

/* Arms t for deadline_ms (on the now_ms() clock), or moves it there. Returns 0, or -1 when out
 * of memory. */
int ev_timer_at(struct ev *ev, struct ev_timer *t, int64_t deadline_ms);

/* Disarms t. Harmless when it is not armed. */
void ev_timer_stop(struct ev *ev, struct ev_timer *t);

/* fn(arg) runs at the top of every turn, before the loop sleeps (to submit work queued during
 * the turn in one system call, say). One hook per loop. */
void ev_before_wait(struct ev *ev, void (*fn)(void *arg), void *arg);

/* Runs the loop on the calling thread until stop_requested is set. Each turn calls the
 * before-wait hook, sleeps in epoll_wait until a descriptor is ready or the earliest timer is
 * due, then runs the callbacks of what is ready and of every timer that is due. */
void ev_run(struct ev *ev);

/* Closes the epoll set and frees the loop. The descriptors still watched are their owners'. */
void ev_free(struct ev *ev);

#endif
