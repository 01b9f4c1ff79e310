/* Chapter 11: a dying disk among healthy ones. Chapter 06's loop (common/loop.c) and pool
 * (common/pool.c), with -d disks; a request names its disk in its path (/d2/obj). -m picks how
 * reads reach the disks, as production has: shared (one pool for all, libuv's), per-disk (a small
 * pool each: nginx, Swift's threads_per_disk), per-process (a process each: Swift's
 * servers_per_port, in disk_process.c), deadline (the shared pool, but a job still queued at its
 * deadline is answered RC 1 at once). What breaks: shared lets one slow disk take every worker;
 * deadline answers the healthy disks' requests fast, but with RC 1. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "disk.h"
#include "disk_process.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "protocol.h"
#include "signals.h"

enum mode { SHARED, PER_DISK, PER_PROCESS, DEADLINE };
static const char *const mode_name[] = {"shared", "per-disk", "per-process", "deadline", NULL};
static enum mode mode;

static struct server_config cfg;
static struct prng rng;

/* shared and deadline run one pool of -w x -D workers, per-disk one pool of -w workers per disk:
 * the same number of threads, split so that a disk can only ever hold its own. */
#define QUEUE_CAP_PER_POOL 4096 /* jobs waiting in each pool: a disk's, or the one they share */
static struct pool **pools;
static int pool_count;

static struct loop *loop; /* this process's */
static bool routing;      /* -m per-process, in the parent: requests go to the disks' processes */

static void start_pools(void) {
    bool split = mode == PER_DISK || mode == PER_PROCESS;
    pool_count = mode == PER_DISK ? cfg.disks : 1;
    if (!(pools = calloc((size_t)pool_count, sizeof *pools)))
        die("out of memory for %d pools", pool_count);
    for (int k = 0; k < pool_count; k++) {
        char name[24]; /* per-disk pools show in the trace as d0-worker-1, d1-worker-1, ... */
        snprintf(name, sizeof name, "d%d-worker", k);
        pools[k] = pool_start(
            loop, &(struct pool_spec){.workers = split ? cfg.workers : cfg.workers * cfg.disks,
                                      .name = mode == PER_DISK ? name : NULL,
                                      .queue_cap = QUEUE_CAP_PER_POOL,
                                      .deadline_ms = cfg.deadline_ms});
    }
}

static void stop_pools(void) {
    for (int k = 0; k < pool_count; k++)
        pool_stop(pools[k]);
    free(pools);
}

/* The disk a path names, /dK/...; any other path is placed by a hash, as Swift's ring does.
 * Returns -1 for a disk this server does not have. */
static int disk_of(const char *path) {
    int disk, used = 0;
    if (sscanf(path, "/d%2d/%n", &disk, &used) == 1 && used > 0)
        return disk >= 0 && disk < cfg.disks ? disk : -1;
    unsigned h = 0;
    while (*path)
        h = h * 31 + (unsigned char)*path++;
    return (int)(h % (unsigned)cfg.disks);
}

/* The whole request is in: route it to its disk's pool (or hand it to its disk's process) and
 * wait for the doorbell. */
static enum want on_request(struct conn *c, int64_t now) {
    int disk = disk_of(c->job.req.path);
    if (disk < 0)
        return conn_reply_bad(c, "no such disk");
    /* Handed off (or taken back by the parent), it may have waited past its deadline for a
     * disk's process: answer RC 1, unread. */
    if (mode == PER_PROCESS && job_time_out_in_queue(&c->job, now, cfg.deadline_ms))
        return conn_reply(c, now);
    if (routing) {
        if (hand_off(c, disk))
            return WANT_CLOSE; /* closes only our descriptor: the disk's process has its own */
        log_msg("disk %d is not keeping up: shedding %s", disk, c->job.req.path);
        c->job.rc = RC_TIMEOUT;
        return conn_reply(c, now);
    }
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    /* -m deadline: a timer at the request's deadline, even while it waits for a worker. */
    c->deadline_ms = mode == DEADLINE ? c->job.arrived_ms + cfg.deadline_ms : 0;
    return pool_submit(pools[mode == PER_DISK ? disk : 0], c, now);
}

/* -m deadline: c's read is still queued or running at its deadline. Withdraw it if no worker
 * has taken it yet and answer RC 1 now; a read in progress cannot be taken back. */
static enum want disk_deadline(struct conn *c, int64_t now) {
    c->deadline_ms = 0;
    if (!pool_withdraw(pools[0], c))
        return WANT_DISK;
    job_time_out_in_queue(&c->job, now, 0); /* logs "timeout (queue)", sets RC 1 */
    return conn_reply(c, now);
}

/* -m per-process, a disk's process: a loop fed by the connections the parent hands off, and a
 * pool of -w workers for the one disk. */
static void serve_disk(int from_parent) {
    routing = false;
    loop = loop_new(&(struct loop_spec){
        .cfg = &cfg, .listen_fd = -1, .on_request = on_request, .disk_deadline = disk_deadline});
    if (ev_watch(loop_ev(loop), from_parent, EPOLLIN, on_handoff, loop) < 0)
        perror_die("watching the hand-off socket");
    start_pools();
    loop_run(loop);
    log_msg("stopping");
    stop_pools();
    loop_free(loop);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 11: -d disks, one of them dying; -m is how "
                                         "reads reach the disks.",
                                .extra = "w:d:",
                                .modes = mode_name});
    mode = (enum mode)cfg.mode;
    install_signal_handlers();
    rng.state = cfg.seed;
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);
    loop = loop_new(&(struct loop_spec){
        .cfg = &cfg,
        .listen_fd = listen_fd,
        .on_request = on_request,
        .disk_deadline = disk_deadline,
    });
    routing = mode == PER_PROCESS; /* the parent only routes: it has no pool */
    if (routing)
        disk_processes_start(loop, &cfg, serve_disk);
    else
        start_pools();
    loop_run(loop);
    log_msg("stopping");
    if (routing)
        disk_processes_stop();
    else
        stop_pools();
    loop_free(loop);
    close(listen_fd);
    return 0;
}
