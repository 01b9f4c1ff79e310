/* The request skeleton of loop.h: chapter 06's connection handling on the core loop of ev.h.
 * Read chapter 04 for how it came to be this shape; the one thing it adds to 06 is the end of a
 * connection: the reply has -T to be taken, and a connection whose client may still be sending
 * is closed the way nginx's lingering close does, so that close() never resets it mid-reply. */
#include "loop.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flags.h"
#include "job.h"
#include "log.h"
#include "net.h"
#include "protocol.h"
#include "trace.h"

struct loop {
    struct loop_spec spec;
    struct ev *ev;
    struct conn **conns; /* indexed by fd, to close them all at loop_free */
    int conns_cap, max_fd;
    size_t conn_size, out_offset, data_offset; /* one allocation per conn: conn, out, data */
    long accepted;
};

static size_t align_up(size_t n) {
    return (n + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
}

struct ev *loop_ev(struct loop *l) {
    return l->ev;
}

long loop_accepted(const struct loop *l) {
    return l->accepted;
}

void loop_run(struct loop *l) {
    trace_thread("loop");
    ev_run(l->ev);
}

enum want conn_reply(struct conn *c, int64_t now) {
    c->out_len = job_reply(&c->job, c->out, now, c->loop->spec.cfg->verbose);
    return WANT_WRITE;
}

enum want conn_reply_bad(struct conn *c, const char *why) {
    c->out_len = job_reply_bad(&c->job, c->out, why);
    return WANT_WRITE;
}

void conn_free(struct conn *c) {
    free(c); /* out and data are in the same block */
}

static const char *path_of(const struct conn *c) {
    return c->job.req.path[0] ? c->job.req.path : "-"; /* "-": no request, or a bad one */
}

static void conn_close(struct conn *c) {
    struct loop *l = c->loop;
    trace_event("closed", c->fd, NULL);
    ev_timer_stop(l->ev, &c->timer);
    ev_unwatch(l->ev, c->fd);
    l->conns[c->fd] = NULL;
    close(c->fd);
    c->fd = -1;
    if (!l->spec.release || l->spec.release(c))
        conn_free(c);
}

static void on_conn_event(struct ev *ev, int fd, uint32_t events, void *arg);
static enum want on_writable(struct conn *c);

void conn_set_want(struct conn *c, enum want next) {
    struct loop *l = c->loop;
    if (next == WANT_WRITE && c->want != WANT_WRITE) {
        /* The reply, and then the lingering close, have -T from the moment the reply is ready. */
        c->deadline_ms = now_ms() + l->spec.cfg->deadline_ms;
        /* Write it now: the socket nearly always has room for a reply, and waiting for EPOLLOUT
         * would cost an epoll_ctl and a turn of the loop for nothing. EPOLLOUT is only for what
         * did not go (nginx does the same; libuv calls it uv_try_write). */
        c->want = WANT_WRITE;
        next = l->spec.write_reply ? l->spec.write_reply(c) : on_writable(c);
    }
    /* A reply is out: close now, unless the client may still be sending (lingering close). */
    bool sent = c->want == WANT_WRITE && next == WANT_CLOSE && c->out_pos == c->out_len;
    if (sent)
        trace_event("reply_sent", c->fd, c->job.req.path);
    if (sent && start_lingering_close(c->fd))
        next = WANT_LINGER;
    if (next == WANT_CLOSE) {
        conn_close(c);
        return;
    }
    c->want = next;
    /* While its disk works the socket is not watched at all: the disk's doorbell, or a timer,
     * is what brings the connection back. */
    int err = next == WANT_DISK ? (ev_unwatch(l->ev, c->fd), 0)
                                : ev_watch(l->ev, c->fd, next == WANT_WRITE ? EPOLLOUT : EPOLLIN,
                                           on_conn_event, c);
    if (!err && next == WANT_DISK && !c->deadline_ms)
        ev_timer_stop(l->ev, &c->timer);
    else if (!err)
        err = ev_timer_at(l->ev, &c->timer, c->deadline_ms);
    if (err) {
        log_msg("cannot wait for %s: %s", path_of(c), strerror(errno));
        conn_close(c);
    }
}

/* in[0..in_len) holds what the client has sent so far: is it a whole request yet? */
static enum want parse(struct conn *c, bool at_eof, int64_t now) {
    const char *why;
    switch (parse_request(c->in, c->in_len, at_eof, &c->job.req, &why)) {
    case PARSE_INCOMPLETE: return WANT_READ;
    case PARSE_BAD: return conn_reply_bad(c, why);
    default: break;
    }
    c->deadline_ms = 0; /* it arrived in time: what happens next is the chapter's to bound */
    trace_event("request", c->fd, c->job.req.path);
    return c->loop->spec.on_request(c, now);
}

static enum want on_readable(struct conn *c, int64_t now) {
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return WANT_READ; /* woken, but nothing to read after all */
    if (n < 0) {
        log_msg("read: %s", strerror(errno));
        return WANT_CLOSE;
    }
    c->in_len += (size_t)n;
    if (n == 0 && c->in_len == 0) {
        log_msg("client closed without a request");
        return WANT_CLOSE;
    }
    return parse(c, n == 0, now);
}

/* The reply fits in out: write what the socket takes, the rest on the next EPOLLOUT. */
static enum want on_writable(struct conn *c) {
    ssize_t n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return WANT_WRITE;
    if (n < 0) {
        log_msg("reply to %s lost: %s", path_of(c), strerror(errno));
        return WANT_CLOSE;
    }
    c->out_pos += (size_t)n;
    return c->out_pos < c->out_len ? WANT_WRITE : WANT_CLOSE;
}

static void on_conn_event(struct ev *ev, int fd, uint32_t events, void *arg) {
    (void)ev, (void)fd;
    struct conn *c = arg;
    if (c->want == WANT_READ)
        conn_set_want(c, on_readable(c, now_ms()));
    else if (c->want == WANT_WRITE && c->loop->spec.write_reply)
        conn_set_want(c, c->loop->spec.write_reply(c));
    else if (c->want == WANT_WRITE)
        conn_set_want(c, on_writable(c));
    else if (c->want == WANT_LINGER)
        conn_set_want(c, drain_input(c->fd) ? WANT_LINGER : WANT_CLOSE);
    (void)events; /* EPOLLHUP and EPOLLERR show up as a read or write that fails */
}

/* c's deadline has passed: a request too slow to arrive, a read the chapter bounded, or a reply
 * (or the client's goodbye) not taken in time. */
static void on_timer(struct ev *ev, struct ev_timer *t, int64_t now) {
    (void)ev;
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
    switch (c->want) {
    case WANT_READ: conn_set_want(c, conn_reply_bad(c, "request took too long to arrive")); break;
    case WANT_DISK: conn_set_want(c, c->loop->spec.disk_deadline(c, now)); break;
    case WANT_WRITE:
        log_msg("reply to %s not taken within %d ms: closing", path_of(c),
                c->loop->spec.cfg->deadline_ms);
        conn_close(c);
        break;
    default: conn_close(c); break; /* lingering: the client never closed; the reply is out */
    }
}

/* A new connection: a zeroed conn waiting for its request, with -T to send it. */
static struct conn *conn_open(struct loop *l, int fd, int64_t now) {
    struct conn *c = fd < l->conns_cap ? calloc(1, l->conn_size) : NULL;
    if (c) {
        c->timer.fn = on_timer;
        /* A slow sender may not hold its slot forever. */
        c->deadline_ms = now + l->spec.cfg->deadline_ms;
    }
    if (!c || ev_watch(l->ev, fd, EPOLLIN, on_conn_event, c) < 0 ||
        ev_timer_at(l->ev, &c->timer, c->deadline_ms) < 0) {
        if (c)
            ev_unwatch(l->ev, fd);
        free(c);
        log_msg("refusing connection: no room for fd %d", fd);
        close(fd);
        return NULL;
    }
    c->fd = c->job.fd = fd;
    c->want = WANT_READ;
    c->job.arrived_ms = now;
    c->out = (char *)c + l->out_offset;
    c->out_cap = l->spec.out_size;
    c->data = l->spec.data_size ? (char *)c + l->data_offset : NULL;
    c->loop = l;
    l->conns[fd] = c;
    if (fd > l->max_fd)
        l->max_fd = fd;
    l->accepted++;
    return c;
}

void loop_adopt(struct loop *l, int fd, const char *in, size_t len, int64_t accepted_ms) {
    struct conn *c = conn_open(l, fd, now_ms());
    if (!c)
        return;
    c->job.arrived_ms = accepted_ms;
    c->in_len = len < sizeof c->in ? len : sizeof c->in;
    memcpy(c->in, in, c->in_len);
    conn_set_want(c, parse(c, true, now_ms()));
}

/* A turn accepts at most this many connections, as many as it handles other events (ev.c), as
 * Redis bounds its accept loop (MAX_ACCEPTS_PER_CALL). Accepting until EAGAIN, a burst of new
 * connections faster than the loop accepts them held it in here: 10,000 under the sanitizers
 * took 3.7 s, and the first ones, whose requests were in at once, were read after their -T had
 * passed ("request took too long to arrive"). The listener stays readable: the rest wait a turn. */
#define ACCEPTS_PER_TURN 256
/* And for at most this long. A connection's -T runs from its accept, and its request is read in
 * a later turn: a count alone lets slow accepts spend it. 12's test makes each accept 2 ms late
 * (strace); on a loaded machine, sanitized, 256 of them took 1.2 s a turn, two such turns passed
 * -T 3000 before the first requests were read. An accept is microseconds: this bound is met only
 * when accepting is what is slow, and then the loop accepts no faster than it can read. */
#define ACCEPT_MS_PER_TURN 10

static void on_listener(struct ev *ev, int fd, uint32_t events, void *arg) {
    (void)ev, (void)events;
    struct loop *l = arg;
    int64_t turn_start = now_ms();
    for (int n = 0; n < ACCEPTS_PER_TURN; n++) {
        /* EAGAIN is normal here: another loop may have taken it first */
        int client = accept_client(fd, SOCK_NONBLOCK);
        if (client < 0)
            return;
        int64_t now = now_ms(); /* each its own arrival: a burst takes a while to accept */
        conn_open(l, client, now);
        if (now - turn_start >= ACCEPT_MS_PER_TURN)
            return;
    }
}

struct loop *loop_new(const struct loop_spec *spec) {
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
        die("out of memory for a loop");
    l->spec = *spec;
    if (l->spec.out_size < MAX_REPLY)
        l->spec.out_size = MAX_REPLY;
    l->out_offset = align_up(sizeof(struct conn));
    l->data_offset = align_up(l->out_offset + l->spec.out_size);
    l->conn_size = l->data_offset + l->spec.data_size;
    l->ev = ev_new();
    l->conns_cap = (int)raise_fd_limit();
    if (l->conns_cap <= 0 || !(l->conns = calloc((size_t)l->conns_cap, sizeof *l->conns)))
        die("cannot size the connection table");
    /* EPOLLEXCLUSIVE: a new connection wakes one loop that is waiting in epoll_wait, not all of
     * them (the thundering herd), and never one that is busy or blocked elsewhere. */
    uint32_t events = EPOLLIN | (spec->shared_listener ? EPOLLEXCLUSIVE : 0);
    if (spec->listen_fd >= 0 && ev_watch(l->ev, spec->listen_fd, events, on_listener, l) < 0)
        perror_die("watching the listening socket");
    return l;
}

void loop_free(struct loop *l) {
    for (int fd = 0; fd <= l->max_fd; fd++)
        if (l->conns[fd])
            conn_close(l->conns[fd]);
    free(l->conns);
    ev_free(l->ev);
    free(l);
}
