/* Chapter 06's epoll loop, made reusable for Part III, in the spirit of antirez's ae.c: a
 * connection table indexed by fd, a timer heap, handlers that return what a connection wants
 * next and one function (conn_set_want) that turns that into epoll_ctl and heap calls. Part I and
 * II keep their loops inline, because there the loop is the lesson; from chapter 10 on a chapter
 * plugs its one idea into this loop through the callbacks of struct loop_spec.
 * All state lives in struct loop, so several loops can run, one per process or one per thread. */
#ifndef LOOP_H
#define LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "protocol.h"
#include "utils.h"

/* What a connection waits for next. Handlers return it; conn_set_want acts on it. */
enum want { WANT_READ, WANT_DISK, WANT_WRITE, WANT_CLOSE };

struct loop;

/* Everything the blocking server kept on its stack now lives here, between loop turns. The loop
 * allocates it zeroed on accept, with out and data in the same block, and frees it on close. */
struct conn {
    int fd; /* -1 once closed (chapter 12 may keep a closed conn a while) */
    enum want want;
    int64_t deadline_ms; /* WANT_READ: give up on the request; WANT_DISK: 0, or the chapter's own */
    char in[MAX_REQUEST];
    size_t in_len;
    char *out; /* out_cap bytes: MAX_REPLY, or more if the chapter asked (loop_spec) */
    size_t out_cap, out_len, out_pos;
    struct job job;
    struct timer timer;     /* deadline_ms, in the loop's heap while there is one */
    struct conn *next_done; /* on a pool's done list */
    struct loop *loop;      /* the loop that owns it */
    void *data;             /* the chapter's own per-connection state (loop_spec.data_size bytes) */
};

/* What a chapter brings to the loop. Callbacks left NULL do what chapter 06 does. */
struct loop_spec {
    const struct server_config *cfg; /* -T: how long a request may take to arrive; -v */
    int listen_fd;    /* non-blocking listening socket; -1: none (chapter 11's disk processes) */
    bool exclusive;   /* watch listen_fd with EPOLLEXCLUSIVE: several loops share it (chapter 13) */
    size_t out_size;  /* room for the reply in out; MAX_REPLY at least */
    size_t data_size; /* room for the chapter's state at data, zeroed on accept */

    /* Required. The whole request is in c->job.req: start its read. c->deadline_ms is 0 now (the
     * request arrived in time); set it to give the read a deadline, see on_deadline. */
    enum want (*on_request)(struct conn *c, int64_t now);
    /* The socket has room for more of the reply. NULL: write out[out_pos..out_len), then close. */
    enum want (*on_writable)(struct conn *c);
    /* c waits for its disk and the deadline_ms the chapter gave it has passed (chapter 11's
     * deadline mode). Needed only by a chapter that sets one. */
    enum want (*on_deadline)(struct conn *c, int64_t now);
    /* c has been closed (fd is -1): release what its data holds. Return true to let the loop free
     * it now, false to keep it, when memory it owns is still in the kernel's hands (chapter 12);
     * then call conn_free later. NULL: free it. Also called for every conn at loop_free. */
    bool (*on_close)(struct conn *c);
    /* Called at the top of every turn, before the loop sleeps (chapter 12 submits and reaps). */
    void (*before_wait)(struct loop *l);
};

/* Makes a loop: an epoll set holding spec->listen_fd, an empty timer heap and a connection table
 * sized to the descriptor limit (raised to the hard limit). Dies on error: start-up only. */
struct loop *loop_new(const struct loop_spec *spec);

/* Watches another descriptor for input (a pool's eventfd doorbell, an io_uring's eventfd,
 * chapter 11's hand-off socket): fn(arg, now) runs on the loop whenever fd is readable. It must
 * drain fd, the loop is level-triggered. Dies on error: start-up only. */
void loop_watch(struct loop *l, int fd, void (*fn)(void *arg, int64_t now), void *arg);

/* Stops watching fd (before closing it). */
void loop_unwatch(struct loop *l, int fd);

/* Runs the loop on the calling thread until stop_requested is set. Each turn beats the watchdog,
 * sleeps in epoll_wait until a descriptor is ready or the earliest deadline is due, then handles
 * what is ready: new connections, requests, replies, watched descriptors, due timers. */
void loop_run(struct loop *l);

/* After loop_run (and after stopping any pool that holds connections): closes every connection,
 * then the epoll set, and frees the loop. The listening socket stays open: its owner closes it. */
void loop_free(struct loop *l);

/* How many connections this loop has taken (chapter 13: how evenly the kernel spread them). */
long loop_accepted(const struct loop *l);

/* Takes on a connection whose request was read elsewhere (chapter 11's hand-off): as if those
 * len bytes had just arrived on fd and the client had stopped sending. Closes fd if it cannot. */
void loop_adopt(struct loop *l, int fd, const char *in, size_t len, int64_t now);

/* Makes c wait for next: the one place that calls epoll_ctl and touches the heap. WANT_CLOSE
 * closes c, which must not be used afterwards. */
void conn_set_want(struct conn *c, enum want next);

/* Formats c's job reply (its RC set) into out, timed from arrival to now. Returns WANT_WRITE. */
enum want conn_reply(struct conn *c, int64_t now);

/* Formats the reply to a bad request into out and logs "bad request: why". Returns WANT_WRITE. */
enum want conn_reply_bad(struct conn *c, const char *why);

/* Frees a closed conn that on_close chose to keep. */
void conn_free(struct conn *c);

#endif
