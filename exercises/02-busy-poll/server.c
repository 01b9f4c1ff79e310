/* Exercise 02 (make exercise-2 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/02-busy-poll/server.c. */
/* Chapter 02: busy-polling non-blocking sockets.
 * Every socket is O_NONBLOCK and the disk read is a deadline on the clock, so no call ever waits:
 * one loop tries accept, read, the clock and write on every connection, over and over.
 * What breaks: nothing times out, but the loop never sleeps: it burns a core while reads wait. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "net.h"
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
    /* TODO(exercise): on a non-blocking socket "nothing yet" is no error: read() fails with
     * EAGAIN (or EINTR when a signal came first), and the connection waits for the next turn. */
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

/* Without a way to ask the kernel what is ready, the only way to find out is to try. */
static void try_conn(struct conn *c, int64_t now) {
    enum want next = c->want;
    if (now >= c->deadline_ms)
        next = on_timer(c, now);
    else if (c->want == WANT_READ)
        next = on_readable(c, now);
    else if (c->want == WANT_WRITE)
        next = on_writable(c);
    else if (c->want == WANT_LINGER)
        next = drain_input(c->fd) ? WANT_LINGER : WANT_CLOSE;
    if (next == WANT_WRITE && c->want != WANT_WRITE) /* the reply has -T to be taken */
        c->deadline_ms = now + cfg.deadline_ms;
    c->want = next;
    if (next == WANT_CLOSE)
        conn_close(c);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){
            .about = "Chapter 02: non-blocking sockets in a busy loop; burns a core."});
    if (cfg.disk_dir) /* the lesson of chapter 05, ahead of time */
        flag_error("-D: this chapter waits for its disk on a timer; a real read would block its "
                   "loop (chapter 05 does that)");
    install_signal_handlers();
    trace_thread("loop");
    rng.state = cfg.seed;
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)))
        die("cannot size the connection table");
    /* TODO(exercise): a blocking listener makes accept() wait for the next client, and the whole
     * loop with it: make it non-blocking (common/net.h has set_nonblocking). */
    int listen_fd = listen_tcp(cfg.host, cfg.port, 0);

    while (!stop_requested) { /* the spin: no call in this loop ever waits */
        int64_t now = now_ms();
        int fd;
        /* TODO(exercise): an accepted socket blocks too, so read() waits for its client: ask
         * accept_client (accept4) for a non-blocking one. */
        while ((fd = accept_client(listen_fd, 0)) >= 0)
            on_accept(fd, now_ms()); /* this one's own arrival, not the turn's */
        for (fd = 0; fd <= max_fd; fd++)
            if (conns[fd])
                try_conn(conns[fd], now);
    }
    log_msg("stopping");
    for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd])
            conn_close(conns[fd]);
    free(conns);
    close(listen_fd);
    return 0;
}
