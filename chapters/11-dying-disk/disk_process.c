/* The processes of chapter 11's -m per-process. See disk_process.h for what they are; here is
 * how the parent keeps them working.
 * - A socket pair per disk carries the hand-offs: the socket's send buffer is the queue of what
 *   the process has not taken yet.
 * - The parent keeps both ends. A process that reads its socket takes each hand-off at once, so
 *   one still there at its deadline waits for a process that is stopped, stuck in a blocking
 *   call on its loop, or dead: the parent takes it back (a message is read by one reader only)
 *   and answers it RC 1, as pool_withdraw takes back a job no worker has started.
 * - A pidfd per process tells the parent's loop when it has exited: it is collected and another
 *   started on the same socket pair, which serves what was waiting for the dead one. */
#include "disk_process.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flags.h"
#include "log.h"
#include "protocol.h"
#include "signals.h"
#include "trace.h"

/* A process per disk is started at most once per this many ms (systemd's RestartSec). */
#define RESTART_INTERVAL_MS 100

struct disk_process {
    int disk;
    pid_t pid;               /* 0: none running */
    int pidfd;               /* readable once the process has exited */
    int to_child;            /* the parent's end of the socket pair */
    int child_end;           /* the process's end, kept to take back what it has not read */
    bool checking;           /* oldest is armed */
    struct ev_timer oldest;  /* the deadline of the oldest hand-off it may not have read */
    struct ev_timer restart; /* when to start the next process, after one has died */
    int64_t started_ms;
};

static struct disk_process *procs; /* cfg->disks of them, in the parent */
static struct loop *parent_loop;
static const struct server_config *cfg;
static void (*serve)(int from_parent);
static pid_t parent_pid;

/* In a forked child: closes every descriptor above stderr except keep and also (-1: none), so the
 * child holds nothing of its parent's it does not use (clients, the listening socket). */
static void close_all_but(int keep, int also) {
    int lo = keep < also ? keep : also, hi = keep < also ? also : keep;
    if (lo < 3) /* also is -1: only keep */
        lo = hi;
    if (lo > 3)
        close_range(3, (unsigned)lo - 1, 0);
    if (hi > lo + 1)
        close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0U, 0);
}

bool hand_off(struct conn *c, int disk) {
    struct disk_process *d = &procs[disk];
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
    if (sendmsg(d->to_child, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) !=
        (ssize_t)(sizeof c->job.arrived_ms + c->in_len))
        return false;
    if (!d->checking) /* the oldest hand-off not yet read is this one or one after it */
        d->checking = ev_timer_at(loop_ev(parent_loop), &d->oldest,
                                  c->job.arrived_ms + cfg->deadline_ms) == 0;
    return true;
}

/* Takes the next connection handed off on fd and serves it on loop l, as if its request had
 * just arrived. Returns recvmsg's result: < 0 none is waiting, 0 the parent is gone. */
static ssize_t take_handoff(int fd, struct loop *l) {
    char in[MAX_REQUEST], control[CMSG_SPACE(sizeof(int))];
    int64_t accepted_ms;
    struct iovec iov[2] = {{.iov_base = &accepted_ms, .iov_len = sizeof accepted_ms},
                           {.iov_base = in, .iov_len = sizeof in}};
    struct msghdr msg = {
        .msg_iov = iov, .msg_iovlen = 2, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    while ((n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    struct cmsghdr *cm = n > (ssize_t)sizeof accepted_ms ? CMSG_FIRSTHDR(&msg) : NULL;
    if (cm && cm->cmsg_type == SCM_RIGHTS) {
        int client;
        memcpy(&client, CMSG_DATA(cm), sizeof client);
        loop_adopt(l, client, in, (size_t)n - sizeof accepted_ms, accepted_ms);
    }
    return n;
}

void on_handoff(struct ev *ev, int fd, uint32_t events, void *loop) {
    (void)ev, (void)events;
    ssize_t n;
    while ((n = take_handoff(fd, loop)) > 0)
        ;
    if (n == 0)
        stop_requested = 1; /* the parent is gone */
}

/* The oldest hand-off disk d's process may not have read is due: take back, from the front of
 * its queue, every one that is due. The parent's on_request answers each RC 1 ("timeout
 * (queue)"); if the process took the one looked at meanwhile, the next, not due, is handed on
 * again. */
static void on_oldest_due(struct ev *ev, struct ev_timer *t, int64_t now) {
    struct disk_process *d =
        (struct disk_process *)((char *)t - offsetof(struct disk_process, oldest));
    int64_t arrived_ms;
    struct iovec iov = {.iov_base = &arrived_ms, .iov_len = sizeof arrived_ms};
    struct msghdr peek = {.msg_iov = &iov, .msg_iovlen = 1}; /* no room for the descriptor */
    d->checking = false;
    while (recvmsg(d->child_end, &peek, MSG_PEEK | MSG_DONTWAIT) >= (ssize_t)sizeof arrived_ms) {
        if (arrived_ms + cfg->deadline_ms > now) {
            d->checking = ev_timer_at(ev, t, arrived_ms + cfg->deadline_ms) == 0;
            return;
        }
        take_handoff(d->child_end, parent_loop);
    }
}

/* In a new process: become disk d's. Never returns. */
static void run_disk_process(struct disk_process *d) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* the parent died, even by SIGKILL: stop too */
    if (getppid() != parent_pid)
        exit(0); /* it died before prctl */
    /* Keep only our end of all the parent holds: a client the parent closes must not stay open
     * here, nor the listening socket once the parent is gone. */
    int from_parent = d->child_end;
    close_all_but(from_parent, trace_descriptor()); /* the trace is shared by every process */
    trace_process("disk-%d", d->disk);
    log_msg("disk %d: process %d", d->disk, (int)getpid());
    /* The parent's loop, copied by fork: free its memory, only now that its descriptors are
     * closed here. Before, loop_free would unwatch the parent's connections in the epoll set,
     * which fork does not copy: both processes would share it. */
    loop_free(parent_loop);
    free(procs);
    procs = NULL;
    serve(from_parent);
    close(from_parent);
    exit(0);
}

static void on_exit_of(struct ev *ev, int fd, uint32_t events, void *arg);

/* Forks disk d's process and watches for its exit. Returns false (logged) when it cannot. */
static bool start(struct disk_process *d) {
    d->started_ms = now_ms();
    if ((d->pid = fork()) == 0)
        run_disk_process(d);
    d->pidfd = d->pid > 0 ? pidfd_open(d->pid, 0) : -1;
    if (d->pidfd >= 0 && ev_watch(loop_ev(parent_loop), d->pidfd, EPOLLIN, on_exit_of, d) == 0)
        return true;
    log_msg("cannot start disk %d's process: %s", d->disk, strerror(errno));
    if (d->pidfd >= 0)
        close(d->pidfd);
    if (d->pid > 0) { /* one we cannot watch we could not restart */
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    d->pid = 0;
    return false;
}

static void on_restart_due(struct ev *ev, struct ev_timer *t, int64_t now) {
    struct disk_process *d =
        (struct disk_process *)((char *)t - offsetof(struct disk_process, restart));
    if (!start(d))
        ev_timer_at(ev, t, now + RESTART_INTERVAL_MS);
}

/* Disk d's process has exited: collect it and start another, at once unless the last one died
 * young (a crash at start-up must not become a fork storm). */
static void on_exit_of(struct ev *ev, int fd, uint32_t events, void *arg) {
    (void)events;
    struct disk_process *d = arg;
    int status = 0;
    while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
        ;
    log_msg("disk %d: process %d died (status %#x): starting another", d->disk, (int)d->pid,
            status);
    ev_unwatch(ev, fd);
    close(fd);
    d->pid = 0;
    ev_timer_at(ev, &d->restart, d->started_ms + RESTART_INTERVAL_MS); /* past: this turn */
}

void disk_processes_start(struct loop *parent, const struct server_config *config,
                          void (*serve_fn)(int from_parent)) {
    parent_loop = parent, cfg = config, serve = serve_fn;
    parent_pid = getpid();
    if (!(procs = calloc((size_t)cfg->disks, sizeof *procs)))
        die("out of memory for %d disk processes", cfg->disks);
    for (int k = 0; k < cfg->disks; k++) {
        struct disk_process *d = &procs[k];
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
            perror_die("socketpair");
        /* Room for a burst while the process catches up: each hand-off holds about 770 bytes
         * of the send buffer, so the default 208 KiB holds 278. Ask for 4 MiB; the kernel
         * grants what net.core.wmem_max allows. */
        setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &(int){4 << 20}, sizeof(int));
        *d = (struct disk_process){.disk = k, .to_child = pair[0], .child_end = pair[1]};
        d->oldest.fn = on_oldest_due;
        d->restart.fn = on_restart_due;
        if (!start(d))
            die("cannot start the disk processes");
    }
}

void disk_processes_stop(void) {
    struct ev *ev = loop_ev(parent_loop);
    for (int k = 0; k < cfg->disks; k++)
        if (procs[k].pid > 0) {
            /* A stopped process acts on SIGTERM only once resumed. SIGCONT first: sent after,
             * it can cancel the SIGSTOP that LeakSanitizer's tracer sends the process as it
             * exits, and leave the two waiting for each other (seen once). */
            kill(procs[k].pid, SIGCONT);
            kill(procs[k].pid, SIGTERM);
        }
    for (int k = 0; k < cfg->disks; k++) {
        struct disk_process *d = &procs[k];
        if (d->pid > 0) {
            while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            ev_unwatch(ev, d->pidfd);
            close(d->pidfd);
        }
        ev_timer_stop(ev, &d->oldest);
        ev_timer_stop(ev, &d->restart);
        close(d->to_child);
        close(d->child_end);
    }
    free(procs);
}
