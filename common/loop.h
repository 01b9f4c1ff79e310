/* The request skeleton: chapter 06's way of serving a connection, made reusable for Part III on
 * the core loop of ev.h. A connection is read until its request is whole; the chapter starts its
 * read (on_request) and brings it back when the disk is done; the skeleton writes the reply, gives
 * it -T to be taken, and closes without losing it. Part I and II keep their loops inline, because
 * there the loop is the lesson; a Part III chapter plugs its one idea in at struct loop_spec. */
#ifndef LOOP_H
#define LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "job.h"
#include "protocol.h"

struct server_config;

/* What a connection waits for next. Handlers return it; conn_set_want acts on it. WANT_CLOSE
 * means "done with it": after a reply the skeleton closes it gracefully (WANT_LINGER, never
 * returned by a chapter), after an error at once. */
enum want { WANT_READ, WANT_DISK, WANT_WRITE, WANT_LINGER, WANT_CLOSE };

struct loop;

/* Everything the blocking server kept on its stack now lives here, between loop turns. The loop
 * allocates it zeroed on accept, with out and data in the same block, and frees it on close. */
struct conn {
    int fd; /* -1 once closed (release may keep a closed conn a while) */
    enum want want;
    /* WANT_READ: give up on the request; WANT_DISK: 0, or a deadline the chapter set (see
     * disk_deadline); WANT_WRITE and WANT_LINGER: give up on the client taking its reply. */
    int64_t deadline_ms;
    char in[MAX_REQUEST];
    size_t in_len;
    char *out; /* out_cap bytes: MAX_REPLY, or more if the chapter asked (loop_spec) */
    size_t out_cap, out_len, out_pos;
    struct job job;
    struct ev_timer timer; /* deadline_ms, armed while there is one */
    struct loop *loop;     /* the loop that owns it */
    void *data;            /* the chapter's own per-connection state (loop_spec.data_size bytes) */
};

/* What a chapter brings to the skeleton. Hooks left NULL do what chapter 06 does. */
struct loop_spec {
    const struct server_config *cfg; /* -T: how long a request may take to arrive; -v */
    int listen_fd;                   /* non-blocking listening socket; -1: none, see loop_adopt */
    bool shared_listener; /* other loops watch listen_fd too: wake one of them (EPOLLEXCLUSIVE) */
    size_t out_size;      /* room for the reply in out; MAX_REPLY at least */
    size_t data_size;     /* room for the chapter's state at data, zeroed on accept */

    /* Required. The whole request is in c->job.req: start its read. c->deadline_ms is 0; set it
     * to give the read a deadline (see disk_deadline). */
    enum want (*on_request)(struct conn *c, int64_t now);
    /* The socket has room for more of the reply. NULL: write out[out_pos..out_len), then done. */
    enum want (*write_reply)(struct conn *c);
    /* c waits for its disk and the deadline_ms on_request gave it has passed. Needed only when
     * on_request sets one. */
    enum want (*disk_deadline)(struct conn *c, int64_t now);
    /* c is closed (fd is -1): release what its data holds. Return true to let the skeleton free c
     * now, false to keep it while the kernel still has memory it owns; then call conn_free later.
     * NULL: free it. Also called for every conn at loop_free. */
    bool (*release)(struct conn *c);
};

/* Makes a loop serving connections from spec->listen_fd on a core loop of its own. Dies on
 * error: start-up only. */
struct loop *loop_new(const struct loop_spec *spec);

/* Its core loop: to watch more descriptors (ev_watch) or hook the turn (ev_before_wait). */
struct ev *loop_ev(struct loop *l);

/* Runs the loop on the calling thread until stop_requested is set. */
void loop_run(struct loop *l);

/* After loop_run (and after stopping any pool that holds connections): closes every connection
 * and frees the loop. The listening socket stays open: its owner closes it. */
void loop_free(struct loop *l);

/* How many connections this loop has taken (to see how evenly several loops share them). */
long loop_accepted(const struct loop *l);

/* Takes on a connection whose first bytes were read elsewhere (another process, say): as if the
 * len bytes at in had just arrived on fd, accepted at accepted_ms, and the client had stopped
 * sending. Closes fd if it cannot. */
void loop_adopt(struct loop *l, int fd, const char *in, size_t len, int64_t accepted_ms);

/* Makes c wait for next: the one place that watches, unwatches and times connections. WANT_CLOSE
 * closes c, which must not be used afterwards. */
void conn_set_want(struct conn *c, enum want next);

/* Formats c's job reply (its RC set) into out, timed from arrival to now. Returns WANT_WRITE. */
enum want conn_reply(struct conn *c, int64_t now);

/* Formats the reply to a bad request into out and logs "bad request: why". Returns WANT_WRITE. */
enum want conn_reply_bad(struct conn *c, const char *why);

/* Frees a closed conn that release chose to keep. */
void conn_free(struct conn *c);

#endif
