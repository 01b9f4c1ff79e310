/* Exercise 10 (make exercise-10 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/10-slow-clients/server.c. */
/* Chapter 10: slow clients. Chapter 06's loop (common/loop.c) and pool (common/pool.c), but a
 * reply now carries BYTES of payload after its line, and the send can block too. -m naive sends
 * it the way seed 002 did (`conn.sendall(response)  # cross fingers`): one reader slower than the
 * object is big holds the loop. -m fixed (the default) writes what the socket takes, keeps the
 * rest for EPOLLOUT, and makes the payload a chunk at a time, so a connection holds at most one
 * chunk in user space. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "protocol.h"
#include "signals.h"

#define OUT_CHUNK      16384      /* the payload is made and sent this much at a time */
#define MAX_BIG_OBJECT (1L << 30) /* the largest object a path may ask for */

/* Per connection, beside chapter 06's conn, whose out now holds OUT_CHUNK bytes: the reply line,
 * then each chunk of payload in turn. */
struct payload {
    long left; /* payload bytes not yet in out: the bound is out, not the object */
};

static struct server_config cfg;
static struct prng rng;
static struct pool *pool;
static bool naive;

/* The object's size: the seed's simulated BYTES (1-64 KiB), unless the path's first part asks
 * for one, as /16M/obj or /512K/obj do: objects bigger than any socket buffer, as Swift's are. */
static long object_bytes(const char *path, long simulated) {
    long n;
    char unit;
    int used = 0;
    if (sscanf(path, "/%9ld%c/%n", &n, &unit, &used) < 2 || used == 0 || n <= 0)
        return simulated;
    long size = unit == 'K' ? n << 10 : unit == 'M' ? n << 20 : simulated;
    return size < MAX_BIG_OBJECT ? size : MAX_BIG_OBJECT;
}

/* The whole request is in: queue its read for the workers and wait for the doorbell. */
static enum want on_request(struct conn *c, int64_t now) {
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    if (!c->job.disk.io_fail)
        c->job.disk.bytes = object_bytes(c->job.req.path, c->job.disk.bytes);
    return pool_submit(pool, c, now);
}

/* Refills out with the next chunk of payload once the last one is sent. Returns its length. */
static size_t next_chunk(struct conn *c) {
    struct payload *payload = c->data;
    size_t len = payload->left < OUT_CHUNK ? (size_t)payload->left : OUT_CHUNK;
    memset(c->out, 'x', len); /* stands for the bytes the read brought in */
    payload->left -= (long)len;
    c->out_len = len;
    c->out_pos = 0;
    return len;
}

/* -m naive: seed 002's sendall. Blocking writes return only when the kernel has taken every
 * byte, which for an object bigger than the socket buffers means when the reader has read it.
 * The loop, and every other connection, waits for the slowest reader. */
static enum want send_all_blocking(struct conn *c) {
    int flags = fcntl(c->fd, F_GETFL);
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return WANT_CLOSE;
    size_t len = c->out_len;
    do {
        if (write_all(c->fd, c->out, len) < 0) {
            log_msg("reply to %s lost: %s", c->job.req.path, strerror(errno));
            break;
        }
    } while ((len = next_chunk(c)) > 0);
    return WANT_CLOSE;
}

/* A worker finished c's read (job_finish has set its RC): the reply line, then BYTES of payload.
 * The HTTP form keeps its one-line body, which is all its Content-Length announces. */
static enum want on_job_done(struct conn *c, int64_t now) {
    struct payload *payload = c->data;
    conn_reply(c, now);
    payload->left = c->job.rc == RC_OK && !c->job.req.http ? c->job.disk.bytes : 0;
    return naive ? send_all_blocking(c) : WANT_WRITE;
}

/* The socket has room: write what it takes, at most one chunk per turn so that one fast reader
 * of a big object does not starve the others either. A short write is normal, not an error: the
 * rest waits in out for the next EPOLLOUT. */
static enum want write_reply(struct conn *c) {
    /* TODO(exercise): this is -m naive's sendall: it returns when the slowest reader has taken
     * the whole object, and the loop waits for it. Instead write what the socket takes now, one
     * write: a short write (or EAGAIN) is normal, the rest waits in out for the next EPOLLOUT.
     * When out is all sent, refill it (next_chunk) while payload bytes are left; return
     * WANT_WRITE only while something is left to send (EPOLLOUT on an idle socket fires at
     * once, over and over), and WANT_CLOSE when the reply is out. */
    return send_all_blocking(c);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 10: replies carry their payload; -m naive "
                                         "sends it blocking,\n-m fixed with partial writes "
                                         "and EPOLLOUT.",
                                .extra = "w:",
                                .modes = (const char *[]){"fixed", "naive", NULL}});
    naive = cfg.mode == 1;
    install_signal_handlers();
    rng.state = cfg.seed;
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    struct loop *loop = loop_new(&(struct loop_spec){
        .cfg = &cfg,
        .listen_fd = listen_fd,
        .out_size = OUT_CHUNK,
        .data_size = sizeof(struct payload),
        .on_request = on_request,
        .write_reply = write_reply,
    });
    pool = pool_start(loop, &(struct pool_spec){.workers = cfg.workers,
                                                .deadline_ms = cfg.deadline_ms,
                                                .on_job_done = on_job_done});
    loop_run(loop);
    log_msg("stopping");
    pool_stop(pool);
    loop_free(loop);
    close(listen_fd);
    return 0;
}
