/* Chapter 06: offload the blocking read to a pool of worker threads (workers.c).
 * Chapter 05's loop, but start_read() queues the read for -w workers, and the finished job comes
 * back through an eventfd the loop watches: a slow disk delays only its own requests. What
 * breaks: when slow reads hold every worker, the rest wait past their deadline (chapter 11). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "heap.h"
#include "job.h"
#include "log.h"
#include "net.h"
#include "protocol.h"
#include "signals.h"
#include "trace.h"
#include "workers.h"

/* What a connection waits for next. Handlers return it; the loop acts on it. */
enum want { WANT_READ, WANT_DISK, WANT_WRITE, WANT_LINGER, WANT_CLOSE };

/* Everything the blocking server kept on its stack now lives here, between loop turns. */
struct conn {
    int fd;
    enum want want;
    /* WANT_READ: give up on the request; WANT_WRITE, WANT_LINGER: give up on the client taking
     * its reply. (WANT_DISK has none: the workers have the job.) */
    int64_t deadline_ms;
    char in[MAX_REQUEST];
    size_t in_len;
    char out[MAX_REPLY];
    size_t out_len, out_pos;
    struct job job;
    struct timer timer; /* deadline_ms, in the heap while there is one */
};

static struct server_config cfg;
static struct prng rng;
static struct conn **conns; /* indexed by fd: descriptors are small integers, reused after close */
static int conns_cap, epfd, doorbell; /* doorbell: the workers' eventfd */
static struct timer_heap timers;
#define MAX_EVENTS 256 /* per epoll_wait: more simply wait for the next turn */

static enum want conn_reply_bad(struct conn *c, const char *why) {
    c->out_len = job_reply_bad(&c->job, c->out, why);
    return WANT_WRITE;
}

/* A worker finished c's read (job_finish has set its RC): format the reply. */
static enum want on_job_done(struct conn *c, int64_t now) {
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    return WANT_WRITE;
}

/* The whole request is in: queue its read for the workers, and wait for the doorbell. */
static enum want start_read(struct conn *c, int64_t now) {
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    return workers_submit(&c->job) ? WANT_DISK : on_job_done(c, now); /* full: RC 1 at once */
}

static void on_accept(int fd, int64_t now) {
    struct conn *c = fd < conns_cap ? calloc(1, sizeof *c) : NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (!c || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
        heap_add(&timers, &c->timer, now + cfg.deadline_ms) < 0) {
        free(c);
        log_msg("refusing connection: no room for fd %d", fd);
        close(fd);
        return;
    }
    c->fd = c->job.fd = fd;
    c->want = WANT_READ;
    c->deadline_ms = now + cfg.deadline_ms; /* a slow sender may not hold its slot forever */
    c->job.arrived_ms = now;
    conns[fd] = c;
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
    const char *why;
    switch (parse_request(c->in, c->in_len, n == 0, &c->job.req, &why)) {
    case PARSE_INCOMPLETE: return WANT_READ;
    case PARSE_BAD: return conn_reply_bad(c, why);
    default: break;
    }
    trace_event("request", c->fd, c->job.req.path);
    return start_read(c, now);
}

/* A deadline passed: a request too slow to arrive, a reply not taken, a client that never left. */
static enum want on_timer(struct conn *c) {
    switch (c->want) {
    case WANT_READ: return conn_reply_bad(c, "request took too long to arrive");
    case WANT_WRITE:
        log_msg("reply to %s not taken within %d ms: closing",
                c->job.req.path[0] ? c->job.req.path : "-", cfg.deadline_ms);
        return WANT_CLOSE;
    default: return WANT_CLOSE;
    }
}

static enum want on_writable(struct conn *c) {
    int sent = job_send_reply(&c->job, c->out, c->out_len, &c->out_pos);
    if (sent <= 0)
        return sent == 0 ? WANT_WRITE : WANT_CLOSE; /* 0: the socket is full for now */
    /* The reply is out. Closing now would reset a connection whose client sent more than its
     * request (the reset can destroy the reply in flight): then wait for the client to close. */
    return start_lingering_close(c->fd) ? WANT_LINGER : WANT_CLOSE;
}

static void conn_close(struct conn *c) {
    trace_event("closed", c->fd, NULL);
    heap_remove(&timers, &c->timer);
    conns[c->fd] = NULL; /* close() also drops the fd from the epoll set */
    close(c->fd);
    free(c);
}

/* Turns what a handler returned into epoll_ctl and heap calls: the one place that touches them. */
static void conn_set_want(struct conn *c, enum want next) {
    if (next == WANT_WRITE && c->want != WANT_WRITE) {
        c->deadline_ms = now_ms() + cfg.deadline_ms; /* the reply has -T to be taken */
        /* Write it now: the socket nearly always has room, and waiting for EPOLLOUT would cost an
         * epoll_ctl and a turn for nothing (nginx does the same; libuv calls it uv_try_write). */
        next = on_writable(c);
    }
    /* From read to linger (the reply went at once) the socket stays watched for EPOLLIN. */
    if (next != WANT_CLOSE && next != c->want && !(c->want == WANT_READ && next == WANT_LINGER)) {
        /* While the workers have it the socket is not watched: the doorbell brings it back. */
        int op = c->want == WANT_DISK ? EPOLL_CTL_ADD
                 : next == WANT_DISK  ? EPOLL_CTL_DEL
                                      : EPOLL_CTL_MOD;
        struct epoll_event ev = {.events = next == WANT_WRITE ? EPOLLOUT : EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, op, c->fd, &ev) < 0) {
            log_msg("epoll_ctl: %s", strerror(errno));
            next = WANT_CLOSE;
        }
    }
    if (next == WANT_DISK) /* a queued read has no timer: the workers own it */
        heap_remove(&timers, &c->timer);
    else if (next != WANT_CLOSE && heap_set(&timers, &c->timer, c->deadline_ms) < 0) {
        log_msg("out of memory for a timer");
        next = WANT_CLOSE;
    }
    c->want = next;
    if (next == WANT_CLOSE)
        conn_close(c);
}

static void dispatch(struct conn *c, int64_t now, uint32_t events) {
    uint32_t wanted = c->want == WANT_WRITE ? EPOLLOUT | EPOLLERR : EPOLLIN | EPOLLHUP | EPOLLERR;
    if (!(events & wanted))
        return;
    if (c->want == WANT_READ)
        conn_set_want(c, on_readable(c, now));
    else if (c->want == WANT_WRITE)
        conn_set_want(c, on_writable(c));
    else if (c->want == WANT_LINGER) /* read and drop what it sends until it closes */
        conn_set_want(c, drain_input(c->fd) ? WANT_LINGER : WANT_CLOSE);
}

/* The doorbell rang: hand every finished job back to its connection. */
static void on_doorbell(int64_t now) {
    for (struct job *job = workers_take_done(), *next; job; job = next) {
        next = job->next; /* now: conn_set_want may close the connection and free the job */
        conn_set_want(conns[job->fd], on_job_done(conns[job->fd], now));
    }
}

/* Runs every timer that is due: a request too slow to arrive, or a reply not taken in time. */
static void run_timers(int64_t now) {
    struct timer *t;
    while ((t = heap_pop_due(&timers, now))) {
        struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
        conn_set_want(c, on_timer(c));
    }
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){
            .about = "Chapter 06: the epoll loop hands blocking reads to worker threads.",
            .extra = "w:"});
    install_signal_handlers();
    trace_thread("loop");
    rng.state = cfg.seed;
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)))
        die("cannot size the connection table");
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        perror_die("epoll_ctl");
    doorbell = workers_start(cfg.workers, cfg.deadline_ms);
    ev.data.ptr = &doorbell; /* &doorbell: the workers' doorbell */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, doorbell, &ev) < 0)
        perror_die("epoll_ctl");

    struct epoll_event events[MAX_EVENTS];
    while (!stop_requested) {
        /* Sleep until a socket is ready or the earliest deadline is due. */
        trace_event("wait", -1, NULL);
        int n = epoll_wait(epfd, events, MAX_EVENTS, heap_wait_ms(&timers, now_ms()));
        trace_event("wake", -1, NULL);
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        int64_t now = now_ms();
        for (int i = 0, fd; i < n; i++) {
            if (events[i].data.ptr == &doorbell)
                on_doorbell(now);
            else if (events[i].data.ptr)
                dispatch(events[i].data.ptr, now, events[i].events);
            else /* the listener: take every connection waiting */
                while ((fd = accept_client(listen_fd, SOCK_NONBLOCK)) >= 0)
                    on_accept(fd, now_ms()); /* this one's own arrival, not the turn's */
        }
        run_timers(now_ms());
    }
    log_msg("stopping");
    workers_stop();
    for (int fd = 0; fd < conns_cap; fd++)
        if (conns[fd])
            conn_close(conns[fd]);
    free(conns);
    heap_free(&timers);
    close(epfd);
    close(listen_fd);
    return 0;
}
