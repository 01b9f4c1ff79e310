/* Exercise 03 (make exercise-3 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/03-select/server.c. */
/* Chapter 03: select().
 * Chapter 02's loop and handlers, but the loop now sleeps in select() until a socket is ready or
 * the nearest deadline is due, so a waiting server uses no CPU.
 * What breaks: select() takes fd_sets of FD_SETSIZE (1024) bits, so a descriptor >= 1024 cannot
 * be watched at all, and every call passes and scans every descriptor. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol.h"
#include "trace.h"
#include "utils.h"

/* What a connection waits for next. Handlers return it; the loop acts on it. */
enum want { WANT_READ, WANT_DISK, WANT_WRITE, WANT_LINGER, WANT_CLOSE };

/* Everything the blocking server kept on its stack now lives here, between loop turns. */
struct conn {
    int fd;
    enum want want;
    /* WANT_READ: give up on the request; WANT_DISK: the read is done; WANT_WRITE, WANT_LINGER:
     * give up on the client taking its reply. */
    int64_t deadline_ms;
    char in[MAX_REQUEST];
    size_t in_len;
    char out[MAX_REPLY];
    size_t out_len, out_pos;
    struct job job;
};

static struct server_config cfg;
static struct prng rng;
static struct conn **conns; /* indexed by fd: descriptors are small integers, reused after close */
static int conns_cap, max_fd;

static enum want reply_bad(struct conn *c, const char *why) {
    c->out_len = bad_request_reply(&c->job, c->out, why);
    return WANT_WRITE;
}

/* The whole request is in: start its disk read, which here is only a time on the clock. */
static enum want start_read(struct conn *c, int64_t now) {
    if (job_expired_in_queue(&c->job, now, cfg.deadline_ms)) {
        c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
        return WANT_WRITE;
    }
    job_start_read(&c->job, now);
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    /* A read longer than the deadline is cut off at the deadline and answered RC 1. */
    int wait = c->job.disk.delay_ms <= cfg.deadline_ms ? c->job.disk.delay_ms : cfg.deadline_ms + 1;
    c->deadline_ms = now + wait;
    return WANT_DISK;
}

static void on_accept(int fd, int64_t now) {
    if (fd >= FD_SETSIZE) { /* FD_SET on it would write past the end of the fd_set */
        log_msg("refusing connection: fd %d >= FD_SETSIZE (%d), select() cannot watch it", fd,
                FD_SETSIZE);
        close(fd);
        return;
    }
    struct conn *c = fd < conns_cap ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        log_msg("refusing connection: no room for fd %d", fd);
        close(fd);
        return;
    }
    c->fd = c->job.fd = fd;
    c->want = WANT_READ;
    c->deadline_ms = now + cfg.deadline_ms; /* a slow sender may not hold its slot forever */
    c->job.arrived_ms = now;
    conns[fd] = c;
    if (fd > max_fd)
        max_fd = fd;
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
    case PARSE_BAD: return reply_bad(c, why);
    default: break;
    }
    trace_event("request", c->fd, c->job.req.path);
    return start_read(c, now);
}

/* The "disk" is done: decide the RC and format the reply. */
static enum want finish_read(struct conn *c, int64_t now) {
    job_finish(&c->job, now, cfg.deadline_ms);
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    return WANT_WRITE;
}

/* A deadline passed: a request too slow to arrive, a "disk" read that is done, or a reply not taken
 * in time (lingering: a client that never closed; its reply is out). */
static enum want on_timer(struct conn *c, int64_t now) {
    switch (c->want) {
    case WANT_READ: return reply_bad(c, "request took too long to arrive");
    case WANT_DISK: return finish_read(c, now);
    case WANT_WRITE:
        log_msg("reply to %s not taken within %d ms: closing",
                c->job.req.path[0] ? c->job.req.path : "-", cfg.deadline_ms);
        return WANT_CLOSE;
    default: return WANT_CLOSE;
    }
}

static enum want on_writable(struct conn *c) {
    ssize_t n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return WANT_WRITE;
    if (n < 0) {
        log_msg("reply to %s lost: %s", c->job.req.path[0] ? c->job.req.path : "-",
                strerror(errno));
        return WANT_CLOSE;
    }
    c->out_pos += (size_t)n;
    if (c->out_pos < c->out_len)
        return WANT_WRITE;
    trace_event("reply_sent", c->fd, c->job.req.path);
    /* The reply is out. Closing now would reset a connection whose client sent more than its
     * request (the reset can destroy the reply in flight): then wait for the client to close. */
    return must_linger(c->fd) ? WANT_LINGER : WANT_CLOSE;
}

static void close_conn(struct conn *c) {
    trace_event("closed", c->fd, NULL);
    conns[c->fd] = NULL;
    close(c->fd);
    free(c);
}

/* Runs the handler for what c waits for, if select() said it is ready or its deadline is due. */
static void dispatch(struct conn *c, int64_t now, const fd_set *readable, const fd_set *writable) {
    enum want next = c->want;
    if (now >= c->deadline_ms)
        next = on_timer(c, now);
    else if (c->want == WANT_READ && FD_ISSET(c->fd, readable))
        next = on_readable(c, now);
    else if (c->want == WANT_WRITE && FD_ISSET(c->fd, writable))
        next = on_writable(c);
    else if (c->want == WANT_LINGER && FD_ISSET(c->fd, readable))
        next = drain_input(c->fd) ? WANT_LINGER : WANT_CLOSE;
    if (next == WANT_WRITE && c->want != WANT_WRITE) /* the reply has -T to be taken */
        c->deadline_ms = now + cfg.deadline_ms;
    c->want = next;
    if (next == WANT_CLOSE)
        close_conn(c);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){
            .about = "Chapter 03: a select() loop; sleeps until a socket or a deadline is ready."});
    if (cfg.disk_dir) /* the lesson of chapter 05, ahead of time */
        flag_error("-D: this chapter waits for its disk on a timer; a real read would block its "
                   "loop (chapter 05 does that)");
    install_signal_handlers();
    trace_thread("loop");
    rng.state = cfg.seed;
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)))
        die("cannot size the connection table");
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    while (!stop_requested) {
        /* Tell select() what each connection waits for, and sleep until the nearest deadline. */
        fd_set readable, writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        FD_SET(listen_fd, &readable);
        int top = listen_fd;
        int64_t now = now_ms(), next_deadline = INT64_MAX;
        for (int fd = 0; fd <= max_fd; fd++) {
            struct conn *c = conns[fd];
            if (!c)
                continue;
            if (c->want == WANT_READ || c->want == WANT_LINGER)
                FD_SET(fd, &readable);
            else if (c->want == WANT_WRITE)
                FD_SET(fd, &writable); /* WANT_DISK: a pending read is a deadline, no fd */
            /* TODO(exercise): keep the nearest deadline of all in next_deadline. */
            if (fd > top)
                top = fd;
        }
        /* TODO(exercise): a zero timeout makes select() return at once, so this loop spins as
         * chapter 02's did. Let it sleep until next_deadline instead, or, with none (INT64_MAX),
         * until a socket is ready (a NULL timeout). */
        struct timeval tv = {0}, *timeout = &tv;
        (void)next_deadline;
        trace_event("wait", -1, NULL);
        int ready = select(top + 1, &readable, &writable, NULL, timeout);
        trace_event("wake", -1, NULL);
        if (ready < 0) {
            if (errno != EINTR)
                perror_die("select");
            continue;
        }
        now = now_ms();
        int fd;
        if (FD_ISSET(listen_fd, &readable)) {
            while ((fd = accept_client(listen_fd, SOCK_NONBLOCK)) >= 0)
                on_accept(fd, now);
        }
        for (fd = 0; fd <= top; fd++)
            if (conns[fd])
                dispatch(conns[fd], now, &readable, &writable);
    }
    log_msg("stopping");
    for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd])
            close_conn(conns[fd]);
    free(conns);
    close(listen_fd);
    return 0;
}
