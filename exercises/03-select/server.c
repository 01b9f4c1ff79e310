/* Exercise 03 (make exercise-3 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/03-select/server.c. */
/* Chapter 03: select(). Chapter 02's loop sleeps in select() until a socket is ready or the
 * nearest deadline is due, so a waiting server uses no CPU (-m poll: poll(), in poll_wait.c).
 * What breaks: no descriptor >= FD_SETSIZE (1024) can be watched, and every turn passes and scans
 * every descriptor, in the kernel and in the loop: O(n) per wait.
 * Over the style's 200 lines: it is chapter 02 whole plus the wait, so that it reads alone. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "net.h"
#include "poll_wait.h"
#include "protocol.h"
#include "signals.h"
#include "trace.h"

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
static struct watch *watch; /* indexed by fd too: what this turn waits for, and what it found */
static enum { MODE_SELECT, MODE_POLL } mode; /* -m, in the order of the modes below */

static enum want conn_reply_bad(struct conn *c, const char *why) {
    c->out_len = job_reply_bad(&c->job, c->out, why);
    return WANT_WRITE;
}

/* The "disk" is done: decide the RC and format the reply. */
static enum want on_job_done(struct conn *c, int64_t now) {
    job_finish(&c->job, now, cfg.deadline_ms);
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    return WANT_WRITE;
}

/* The whole request is in: start its disk read, which here is only a time on the clock. */
static enum want start_read(struct conn *c, int64_t now) {
    if (job_time_out_in_queue(&c->job, now, cfg.deadline_ms)) {
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
    if (mode == MODE_SELECT &&
        fd >= FD_SETSIZE) { /* FD_SET on it would write past the end of the fd_set */
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
    case PARSE_BAD: return conn_reply_bad(c, why);
    default: break;
    }
    trace_event("request", c->fd, c->job.req.path);
    return start_read(c, now);
}

/* A deadline passed: a request too slow to arrive, a "disk" read that is done, or a reply not taken
 * in time (lingering: a client that never closed; its reply is out). */
static enum want on_timer(struct conn *c, int64_t now) {
    switch (c->want) {
    case WANT_READ: return conn_reply_bad(c, "request took too long to arrive");
    case WANT_DISK: return on_job_done(c, now);
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
    conns[c->fd] = NULL;
    close(c->fd);
    free(c);
}

/* Runs the handler for what c waits for, if the wait said it is ready or its deadline is due. */
static void dispatch(struct conn *c, int64_t now) {
    enum want next = c->want;
    if (now >= c->deadline_ms)
        next = on_timer(c, now);
    else if (c->want == WANT_READ && watch[c->fd].readable)
        next = on_readable(c, now);
    else if (c->want == WANT_WRITE && watch[c->fd].writable)
        next = on_writable(c);
    else if (c->want == WANT_LINGER && watch[c->fd].readable)
        next = drain_input(c->fd) ? WANT_LINGER : WANT_CLOSE;
    if (next == WANT_WRITE && c->want != WANT_WRITE) /* the reply has -T to be taken */
        c->deadline_ms = now + cfg.deadline_ms;
    c->want = next;
    if (next == WANT_CLOSE)
        conn_close(c);
}

/* How long the loop may sleep: until the nearest deadline, or -1 (until a socket is ready). */
static int next_timeout_ms(int64_t now) {
    /* TODO(exercise): a timeout of 0 makes select() (and poll()) return at once, so this loop
     * spins as chapter 02's did. Return how long the loop may sleep instead: until the nearest
     * deadline of all the connections (conns[0..max_fd], each c->deadline_ms), in ms from now
     * (0 if it has passed), or -1 when there is none: then wait_select sleeps until a socket is
     * ready. */
    (void)now;
    return 0;
}

/* Says what each descriptor waits for this turn: the listener for a connection, each socket for
 * what its connection wants (nothing while its "disk" works: a pending read is only a deadline),
 * and clears what the last wait found. Returns the highest descriptor watched. */
static int watch_all(int listen_fd) {
    int top = listen_fd;
    for (int fd = 0; fd <= max_fd; fd++) {
        struct conn *c = conns[fd];
        watch[fd] = (struct watch){.read = c && (c->want == WANT_READ || c->want == WANT_LINGER),
                                   .write = c && c->want == WANT_WRITE};
        if ((watch[fd].read || watch[fd].write) && fd > top)
            top = fd;
    }
    watch[listen_fd] = (struct watch){.read = true};
    return top;
}

/* select(): two bitmaps of FD_SETSIZE bits, rebuilt on every turn, scanned by the kernel up to
 * the highest descriptor, then by us with FD_ISSET. Returns as wait_poll does (poll_wait.h). */
static int wait_select(struct watch *watch, int top, int timeout_ms) {
    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    for (int fd = 0; fd <= top; fd++) {
        if (watch[fd].read)
            FD_SET(fd, &readable);
        if (watch[fd].write)
            FD_SET(fd, &writable);
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (select(top + 1, &readable, &writable, NULL, timeout_ms < 0 ? NULL : &tv) < 0) {
        if (errno != EINTR)
            perror_die("select");
        return -1;
    }
    for (int fd = 0; fd <= top; fd++) {
        watch[fd].readable = FD_ISSET(fd, &readable);
        watch[fd].writable = FD_ISSET(fd, &writable);
    }
    return 0;
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 03: a select() loop; sleeps until a socket or a "
                                         "deadline is ready.\n-m poll waits in poll() instead.",
                                .modes = (const char *[]){"select", "poll", NULL}});
    mode = cfg.mode;
    if (cfg.disk_dir) /* the lesson of chapter 05, ahead of time */
        flag_error("-D: this chapter waits for its disk on a timer; a real read would block its "
                   "loop (chapter 05 does that)");
    install_signal_handlers();
    trace_thread("loop");
    rng.state = cfg.seed;
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)) ||
        !(watch = calloc((size_t)conns_cap, sizeof *watch)))
        die("cannot size the connection table");
    if (mode == MODE_POLL)
        poll_wait_init(conns_cap);
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    while (!stop_requested) {
        int top = watch_all(listen_fd), timeout_ms = next_timeout_ms(now_ms());
        trace_event("wait", -1, NULL);
        int waited = mode == MODE_POLL ? wait_poll(watch, top, timeout_ms)
                                       : wait_select(watch, top, timeout_ms);
        trace_event("wake", -1, NULL);
        if (waited < 0)
            continue; /* a signal: stop_requested, perhaps */
        int64_t now = now_ms();
        int fd;
        while (watch[listen_fd].readable && (fd = accept_client(listen_fd, SOCK_NONBLOCK)) >= 0)
            on_accept(fd, now_ms()); /* this one's own arrival, not the turn's */
        for (fd = 0; fd <= max_fd; fd++)
            if (conns[fd])
                dispatch(conns[fd], now);
    }
    log_msg("stopping");
    for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd])
            conn_close(conns[fd]);
    free(conns);
    free(watch);
    close(listen_fd);
    return 0;
}
