/* Chapter 11: a dying disk among healthy ones. Chapter 06's loop (common/loop.c) and pool
 * (common/pool.c), with -d disks; a request names its disk in its path (/d2/obj). -m picks how
 * reads reach the disks, as production has: shared (one pool for all, libuv's), per-disk (a small
 * pool each: nginx, Swift's threads_per_disk), per-process (a process each: Swift's
 * servers_per_port), deadline (the shared pool, but a job still queued at its deadline is answered
 * RC 1 at once). What breaks: shared lets one slow disk take every worker; deadline answers the
 * healthy disks' requests fast, but with RC 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "pool.h"
#include "trace.h"
#include "watchdog.h"

enum mode { SHARED, PER_DISK, PER_PROCESS, DEADLINE };
static const char *const mode_name[] = {"shared", "per-disk", "per-process", "deadline", NULL};
static enum mode mode;

static struct server_config cfg;
static struct prng rng;

/* shared and deadline run one pool of -w x -D workers, per-disk one pool of -w workers per disk:
 * the same number of threads, split so that a disk can only ever hold its own. */
#define QUEUE_CAP 4096
static struct pool **pools;
static int pool_count;

/* -m per-process: the parent keeps one end of a socket pair per disk process. */
static int *to_disk;         /* in the parent: to_disk[k] reaches disk k's process */
static int from_parent = -1; /* in a disk's process: where connections arrive */

static void start_pools(struct loop *loop) {
    bool split = mode == PER_DISK || from_parent >= 0;
    pool_count = mode == PER_DISK ? cfg.disks : 1;
    if (!(pools = calloc((size_t)pool_count, sizeof *pools)))
        die("out of memory for %d pools", pool_count);
    for (int k = 0; k < pool_count; k++)
        pools[k] = pool_start(
            loop, &(struct pool_spec){.workers = split ? cfg.workers : cfg.workers * cfg.disks,
                                      .queue_cap = QUEUE_CAP,
                                      .deadline_ms = cfg.deadline_ms});
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

/* Passes the connection and the request it sent to its disk's process (SCM_RIGHTS), which
 * answers it directly. Returns false when that process cannot take it now. */
static bool hand_off(struct conn *c, int disk) {
    char control[CMSG_SPACE(sizeof(int))] = {0};
    /* When it was accepted, so its deadline and ELAPSED count from there in the other process
     * too (CLOCK_MONOTONIC is one clock for the whole machine), then the request. */
    struct iovec iov[2] = {{.iov_base = &c->job.arrived_ms, .iov_len = sizeof c->job.arrived_ms},
                           {.iov_base = c->in, .iov_len = c->in_len}};
    struct msghdr msg = {
        .msg_iov = iov, .msg_iovlen = 2, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));
    return sendmsg(to_disk[disk], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
           (ssize_t)(sizeof c->job.arrived_ms + c->in_len);
}

/* The whole request is in: route it to its disk's pool (or hand it to its disk's process) and
 * wait for the doorbell. */
static enum want on_request(struct conn *c, int64_t now) {
    int disk = disk_of(c->job.req.path);
    if (disk < 0)
        return conn_reply_bad(c, "no such disk");
    if (to_disk) {
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
    job_expired_in_queue(&c->job, now, 0); /* logs "timeout (queue)", sets RC 1 */
    return conn_reply(c, now);
}

/* In a disk's process: the parent passed connections, each with the request it read from it. */
static void on_handoff(struct ev *ev, int fd, uint32_t events, void *loop) {
    (void)ev, (void)fd, (void)events;
    for (;;) {
        char in[MAX_REQUEST], control[CMSG_SPACE(sizeof(int))];
        int64_t accepted_ms;
        struct iovec iov[2] = {{.iov_base = &accepted_ms, .iov_len = sizeof accepted_ms},
                               {.iov_base = in, .iov_len = sizeof in}};
        struct msghdr msg = {.msg_iov = iov,
                             .msg_iovlen = 2,
                             .msg_control = control,
                             .msg_controllen = sizeof control};
        ssize_t n = recvmsg(from_parent, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            stop_requested = 1; /* the parent is gone */
        struct cmsghdr *cm = n > (ssize_t)sizeof accepted_ms ? CMSG_FIRSTHDR(&msg) : NULL;
        if (!cm || cm->cmsg_type != SCM_RIGHTS)
            return;
        int client;
        memcpy(&client, CMSG_DATA(cm), sizeof client);
        loop_adopt(loop, client, in, (size_t)n - sizeof accepted_ms, accepted_ms);
    }
}

/* -m per-process: fork one process per disk, each with its own loop and pool, as Swift's
 * servers_per_port does. Swift gives each disk its own port and the proxy connects to the right
 * one; here one port is kept and this parent routes, passing each connection to its disk's
 * process. Returns in each child with from_parent set; in the parent with to_disk set. */
static pid_t *fork_disk_processes(int listen_fd) {
    pid_t *pids = calloc((size_t)cfg.disks, sizeof *pids);
    to_disk = calloc((size_t)cfg.disks, sizeof *to_disk);
    if (!pids || !to_disk)
        die("out of memory for %d disk processes", cfg.disks);
    for (int k = 0; k < cfg.disks; k++) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
            perror_die("socketpair");
        if ((pids[k] = fork()) < 0)
            perror_die("fork");
        if (pids[k] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* the parent died, even by SIGKILL: stop too */
            for (int j = 0; j < k; j++)
                close(to_disk[j]);
            free(to_disk), free(pids);
            to_disk = NULL, pids = NULL;
            close(pair[0]);
            close(listen_fd);
            from_parent = pair[1];
            trace_process("disk-%d", k);
            log_msg("disk %d: process %d", k, (int)getpid());
            return NULL;
        }
        close(pair[1]);
        to_disk[k] = pair[0];
    }
    return pids;
}

static void stop_disk_processes(pid_t *pids) {
    for (int k = 0; k < cfg.disks; k++)
        kill(pids[k], SIGTERM);
    for (int k = 0; k < cfg.disks; k++) {
        while (waitpid(pids[k], NULL, 0) < 0 && errno == EINTR)
            ;
        close(to_disk[k]);
    }
    free(pids);
    free(to_disk);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 11: -d disks, one of them dying; -m is how "
                                         "reads reach the disks.",
                                .extra = "w:W:SLd:",
                                .modes = mode_name});
    mode = (enum mode)cfg.mode;
    install_signal_handlers();
    rng.state = cfg.seed;
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);
    pid_t *disk_pids = mode == PER_PROCESS ? fork_disk_processes(listen_fd) : NULL;
    bool disk_process = from_parent >= 0; /* it gets its connections from the parent */

    struct loop *loop = loop_new(&(struct loop_spec){
        .cfg = &cfg,
        .listen_fd = disk_process ? -1 : listen_fd,
        .on_request = on_request,
        .disk_deadline = disk_deadline,
    });
    if (disk_process)
        if (ev_watch(loop_ev(loop), from_parent, EPOLLIN, on_handoff, loop) < 0)
            perror_die("watching the hand-off socket");
    if (!disk_pids) /* the per-process parent only routes: it has no pool */
        start_pools(loop);
    watchdog_start(&cfg); /* -W, -S, -L, after the workers: see common/watchdog.h */
    loop_run(loop);
    log_msg("stopping");
    if (disk_pids)
        stop_disk_processes(disk_pids);
    else
        stop_pools();
    loop_free(loop);
    close(disk_process ? from_parent : listen_fd);
    return 0;
}
