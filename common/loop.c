/* Chapter 06's loop, the same code, with its state in struct loop and the chapter's part behind
 * the callbacks of struct loop_spec. Read chapter 04 for how it came to be this shape.
 * One change: an epoll event carries the descriptor, not a pointer. The descriptor finds the
 * listener, a conn in the table or a watch, so an event for a connection closed earlier in the
 * same turn finds nothing (or the fd's new owner, whose read then finds nothing yet), never
 * freed memory; and one kind of key serves conns and watches alike. */
#include "loop.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "watchdog.h"

#define MAX_EVENTS 256 /* per epoll_wait: more simply wait for the next turn */

/* A descriptor watched for a chapter: a doorbell, or chapter 11's hand-off socket. A loop has a
 * handful, so a list searched per event is as fast as anything cleverer. */
struct watch {
    int fd;
    void (*fn)(void *arg, int64_t now);
    void *arg;
    struct watch *next;
};

struct loop {
    struct loop_spec spec;
    int epfd;
    struct conn **conns; /* indexed by fd: descriptors are small integers, reused after close */
    int conns_cap, max_fd;
    struct timer_heap timers;
    struct watch *watches;
    size_t conn_size, out_offset, data_offset; /* one allocation per conn: conn, out, data */
    long accepted;
};

static size_t align_up(size_t n) {
    return (n + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
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
    l->conns_cap = (int)raise_fd_limit();
    if (l->conns_cap <= 0 || !(l->conns = calloc((size_t)l->conns_cap, sizeof *l->conns)))
        die("cannot size the connection table");
    if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
    /* EPOLLEXCLUSIVE: a new connection wakes one loop that is waiting in epoll_wait, not all of
     * them (the thundering herd), and never one that is busy or blocked elsewhere. */
    struct epoll_event ev = {.events = EPOLLIN | (spec->exclusive ? EPOLLEXCLUSIVE : 0),
                             .data.fd = spec->listen_fd};
    if (spec->listen_fd >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, spec->listen_fd, &ev) < 0)
        perror_die("epoll_ctl");
    return l;
}

void loop_watch(struct loop *l, int fd, void (*fn)(void *arg, int64_t now), void *arg) {
    struct watch *w = malloc(sizeof *w);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (!w || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        perror_die("loop_watch");
    *w = (struct watch){.fd = fd, .fn = fn, .arg = arg, .next = l->watches};
    l->watches = w;
}

void loop_unwatch(struct loop *l, int fd) {
    for (struct watch **w = &l->watches; *w; w = &(*w)->next)
        if ((*w)->fd == fd) {
            struct watch *gone = *w;
            *w = gone->next;
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
            free(gone);
            return;
        }
}

long loop_accepted(const struct loop *l) {
    return l->accepted;
}

enum want conn_reply(struct conn *c, int64_t now) {
    c->out_len = job_reply(&c->job, c->out, now, c->loop->spec.cfg->verbose);
    return WANT_WRITE;
}

enum want conn_reply_bad(struct conn *c, const char *why) {
    c->out_len = bad_request_reply(c->out, c->job.req.http, why);
    return WANT_WRITE;
}

void conn_free(struct conn *c) {
    free(c); /* out and data are in the same block */
}

static void conn_close(struct conn *c) {
    struct loop *l = c->loop;
    heap_remove(&l->timers, &c->timer);
    l->conns[c->fd] = NULL;
    /* close() drops a socket from the epoll set only when no descriptor refers to it any more,
     * and chapter 11 passes a copy to another process: without this, the socket's next event
     * would name a descriptor that is closed here, or already someone else's. */
    if (c->want != WANT_DISK)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (!l->spec.on_close || l->spec.on_close(c))
        conn_free(c);
}

void conn_set_want(struct conn *c, enum want next) {
    struct loop *l = c->loop;
    if (next == WANT_CLOSE)
        return conn_close(c);
    if (next != c->want) {
        /* While its disk works the socket is not watched at all: the disk's doorbell, or a
         * timer, is what brings the connection back. */
        int op = c->want == WANT_DISK ? EPOLL_CTL_ADD
                 : next == WANT_DISK  ? EPOLL_CTL_DEL
                                      : EPOLL_CTL_MOD;
        struct epoll_event ev = {.events = next == WANT_READ ? EPOLLIN : EPOLLOUT,
                                 .data.fd = c->fd};
        if (epoll_ctl(l->epfd, op, c->fd, &ev) < 0) {
            log_msg("epoll_ctl: %s", strerror(errno));
            return conn_close(c);
        }
    }
    c->want = next;
    /* A timer while the request arrives, and while the disk works only if the chapter set one. */
    if (next == WANT_WRITE || !c->deadline_ms)
        heap_remove(&l->timers, &c->timer);
    else if (!c->timer.slot || c->timer.deadline_ms != c->deadline_ms) {
        heap_remove(&l->timers, &c->timer);
        if (heap_add(&l->timers, &c->timer, c->deadline_ms) < 0) {
            log_msg("out of memory for a timer");
            conn_close(c);
        }
    }
}

/* A new connection: a zeroed conn waiting for its request, with -T to send it. */
static struct conn *conn_open(struct loop *l, int fd, int64_t now) {
    struct conn *c = fd < l->conns_cap ? calloc(1, l->conn_size) : NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (!c || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
        heap_add(&l->timers, &c->timer, now + l->spec.cfg->deadline_ms) < 0) {
        free(c);
        log_msg("refusing connection: no room for fd %d", fd);
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->want = WANT_READ;
    /* A slow sender may not hold its slot forever. */
    c->deadline_ms = now + l->spec.cfg->deadline_ms;
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

/* in[0..in_len) holds what the client has sent so far: is it a whole request yet? */
static enum want parse(struct conn *c, bool at_eof, int64_t now) {
    const char *why;
    switch (parse_request(c->in, c->in_len, at_eof, &c->job.req, &why)) {
    case PARSE_INCOMPLETE: return WANT_READ;
    case PARSE_BAD: return conn_reply_bad(c, why);
    default: break;
    }
    c->deadline_ms = 0; /* it arrived in time: what happens next is the chapter's to bound */
    return c->loop->spec.on_request(c, now);
}

void loop_adopt(struct loop *l, int fd, const char *in, size_t len, int64_t now) {
    struct conn *c = conn_open(l, fd, now);
    if (!c)
        return;
    c->in_len = len < sizeof c->in ? len : sizeof c->in;
    memcpy(c->in, in, c->in_len);
    conn_set_want(c, parse(c, true, now));
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
        const char *path = c->job.req.path[0] ? c->job.req.path : "-";
        log_msg("reply to %s lost: %s", path, strerror(errno));
        return WANT_CLOSE;
    }
    c->out_pos += (size_t)n;
    return c->out_pos < c->out_len ? WANT_WRITE : WANT_CLOSE;
}

static void dispatch(struct conn *c, int64_t now, uint32_t events) {
    uint32_t wanted = c->want == WANT_READ ? EPOLLIN | EPOLLHUP | EPOLLERR : EPOLLOUT | EPOLLERR;
    bool ready = events & wanted;
    if (c->want == WANT_READ && ready)
        conn_set_want(c, on_readable(c, now));
    else if (c->want == WANT_WRITE && ready)
        conn_set_want(c, c->loop->spec.on_writable ? c->loop->spec.on_writable(c) : on_writable(c));
}

static void accept_all(struct loop *l, int64_t now) {
    int fd; /* another loop may have taken it first (chapter 13): EAGAIN is normal here */
    while ((fd = accept_client(l->spec.listen_fd, SOCK_NONBLOCK)) >= 0)
        conn_open(l, fd, now);
}

/* Runs every timer that is due: a request too slow to arrive, or a read past its deadline. */
static void run_timers(struct loop *l, int64_t now) {
    struct timer *t;
    while ((t = heap_top(&l->timers)) && t->deadline_ms <= now) {
        struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
        heap_remove(&l->timers, t);
        if (c->want == WANT_READ) {
            conn_set_want(c, conn_reply_bad(c, "request took too long to arrive"));
            continue;
        }
        assert(c->want == WANT_DISK && l->spec.on_deadline); /* set_want arms no other timer */
        conn_set_want(c, l->spec.on_deadline(c, now));
    }
}

static void handle(struct loop *l, const struct epoll_event *ev, int64_t now) {
    int fd = ev->data.fd;
    if (fd == l->spec.listen_fd)
        return accept_all(l, now);
    if (fd < l->conns_cap && l->conns[fd])
        return dispatch(l->conns[fd], now, ev->events);
    for (struct watch *w = l->watches; w; w = w->next)
        if (w->fd == fd)
            return w->fn(w->arg, now);
}

void loop_run(struct loop *l) {
    struct epoll_event events[MAX_EVENTS];
    while (!stop_requested) {
        watchdog_beat(); /* "the loop is back": a no-op unless -W started the watchdog */
        if (l->spec.before_wait)
            l->spec.before_wait(l);
        /* Sleep until a descriptor is ready or the earliest deadline is due. */
        int n = epoll_wait(l->epfd, events, MAX_EVENTS, heap_wait_ms(&l->timers, now_ms()));
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        int64_t now = now_ms();
        for (int i = 0; i < n; i++)
            handle(l, &events[i], now);
        run_timers(l, now_ms());
    }
}

void loop_free(struct loop *l) {
    for (int fd = 0; fd <= l->max_fd; fd++)
        if (l->conns[fd])
            conn_close(l->conns[fd]);
    while (l->watches)
        loop_unwatch(l, l->watches->fd);
    free(l->conns);
    heap_free(&l->timers);
    close(l->epfd);
    free(l);
}
