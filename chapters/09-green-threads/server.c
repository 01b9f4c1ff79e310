/* Chapter 09: green threads, eventlet's model in C.
 * Each connection is a coroutine with its own stack on one thread; serve_connection() is
 * chapter 01's blocking code, but green_read/green_write/green_sleep park it on the epoll hub
 * (hub.c) until its socket or timer is ready, and the hub runs the others meanwhile.
 * What breaks: a call the hub does not know about. -m unpatched reads the disk with a plain
 * sleep, which blocks the hub's only thread: everything stalls, as Swift did. -m tpool hands
 * that call to a worker thread (eventlet.tpool) and parks the coroutine until it is done. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocking.h"
#include "disk.h"
#include "flags.h"
#include "hub.h"
#include "job.h"
#include "log.h"
#include "net.h"
#include "protocol.h"
#include "signals.h"

enum mode { MODE_GREEN, MODE_UNPATCHED, MODE_TPOOL };
static const char *const mode_names[] = {"green", "unpatched", "tpool", NULL};

static struct server_config cfg;
static struct prng rng;
static enum mode mode;
static int listen_fd;

/* When the acceptor took each connection, indexed by fd. Passed this way rather than in a
 * malloc'd argument: a green thread spawned but never run (the server stopped first) would leak
 * its argument, and ASan's leak check said so. */
static int64_t *accepted_ms;
static long accepted_cap;

/* The disk read as blocking library code does it: the calling thread sleeps in the kernel. On a
 * tpool thread, a job that waited for one past its deadline is answered RC 1 unread, as chapter
 * 06's pool does: a queue without a deadline only hides a dying disk for longer. */
static void blocking_disk_read(void *arg) {
    struct job *job = arg;
    if (job_time_out_in_queue(job, now_ms(), cfg.deadline_ms))
        return;
    job_start_read(job, now_ms());
    disk_read(job->req.path, &job->disk);
    job_finish(job, now_ms(), cfg.deadline_ms);
}

/* Where each mode reads the disk: the only code the three modes do not share. Each sets the RC. */
static void read_disk(struct job *job) {
    switch (mode) {
    case MODE_GREEN: /* the read is a timer on the hub; one past the deadline is cut off there */
        job_start_read(job, now_ms());
        green_sleep(job->disk.delay_ms <= cfg.deadline_ms ? job->disk.delay_ms
                                                          : cfg.deadline_ms + 1);
        job_finish(job, now_ms(), cfg.deadline_ms);
        break;
    case MODE_UNPATCHED: /* THE BUG: the hub's only thread sleeps; no green thread runs */
        blocking_disk_read(job);
        break;
    case MODE_TPOOL: /* the fix: a worker thread blocks, this green thread parks */
        tpool_execute(blocking_disk_read, job);
        break;
    }
}

/* Chapter 01's serve_connection: straight-line code that reads like it blocks. */
static void serve_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    char in[MAX_REQUEST], out[MAX_REPLY];
    size_t in_len, out_len;
    struct job job = {.fd = fd, .arrived_ms = accepted_ms[fd]};
    const char *why;

    enum parse_status status =
        read_request(fd, in, &in_len, cfg.deadline_ms, &job.req, &why, green_read);
    if (status == PARSE_INCOMPLETE) {
        log_msg("client closed without a request");
        close_connection(fd);
        return;
    }
    if (status == PARSE_BAD) {
        out_len = job_reply_bad(&job, out, why);
    } else {
        job.disk = plan_disk_read(&job.req, &rng); /* one OS thread: no lock needed */
        read_disk(&job);
        if (stop_requested) {
            close_connection(fd); /* shutting down mid-read: no reply rather than a false one */
            return;
        }
        out_len = job_reply(&job, out, now_ms(), cfg.verbose);
    }
    reply_and_close(&job, out, out_len, cfg.deadline_ms, green_write, green_read);
}

/* Chapter 01's main loop as a green thread: accept, and start a green thread per connection. */
static void acceptor(void *unused) {
    (void)unused;
    for (;;) {
        int fd = green_accept(listen_fd);
        if (fd < 0) {
            green_sleep(10); /* logged, or a stop shut the listener: let some conns finish */
            continue;
        }
        if (fd < accepted_cap)
            accepted_ms[fd] = now_ms();
        if (fd >= accepted_cap || green_spawn(serve_connection, (void *)(intptr_t)fd) < 0) {
            log_msg("refusing connection: no memory for a green thread");
            close(fd);
        }
    }
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 09: green threads on a hub; -m says how "
                                         "the disk is read (-w: tpool's threads).",
                                .extra = "w:",
                                .modes = mode_names,
                                .workers = "tpool threads doing the blocking reads (-m tpool)"});
    mode = (enum mode)cfg.mode;
    if (mode == MODE_GREEN && cfg.disk_dir) /* eventlet cannot green a file read either */
        flag_error("-D: -m green reads with green_sleep, a timer; no green thread can wait for a "
                   "real file read without blocking the hub (-m unpatched does, -m tpool "
                   "does not)");
    if (mode != MODE_TPOOL && flag_given('w'))
        flag_error("-w sizes tpool's threads; -m %s starts none", cfg.mode_name);
    install_signal_handlers();
    rng.state = cfg.seed;
    accepted_cap = raise_fd_limit();
    if (accepted_cap <= 0 || !(accepted_ms = calloc((size_t)accepted_cap, sizeof *accepted_ms)))
        die("cannot size the connection table");
    listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    hub_init(mode == MODE_TPOOL ? cfg.workers : 0);
    if (green_spawn(acceptor, NULL) < 0)
        die("cannot start the acceptor");
    hub_run();
    log_msg("stopping");
    hub_free(); /* green threads still parked are dropped with their stacks */
    free(accepted_ms);
    close(listen_fd);
    return 0;
}
