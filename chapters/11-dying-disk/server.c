/* Chapter 11: a dying disk among healthy ones. Chapter 06's loop and pool, with -D disks; a request
 * names its disk in its path (/d2/obj). -m picks how reads reach the disks, as production has:
 * shared (one pool for all, libuv's), per-disk (a small pool each: nginx, Swift's threads_per_disk),
 * per-process (a process each: Swift's servers_per_port), deadline (the shared pool, but a job
 * still queued at its deadline is answered RC 1 at once). What breaks: shared lets one slow disk
 * take every worker; deadline answers the healthy disks' requests fast, but with RC 1. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap.h"
#include "protocol.h"
#include "utils.h"

/* What a connection waits for next. Handlers return it; the loop acts on it. */
enum want { WANT_READ, WANT_DISK, WANT_WRITE, WANT_CLOSE };

/* Everything the blocking server kept on its stack now lives here, between loop turns. */
struct conn {
    int fd;
    enum want want;
    int64_t deadline_ms; /* WANT_READ: give up on the request; WANT_DISK: the read is done */
    char in[MAX_REQUEST];
    size_t in_len;
    char out[MAX_REPLY];
    size_t out_len, out_pos;
    struct job job;
    struct timer timer; /* deadline_ms, in the heap while there is one */
    int disk;               /* which disk's queue (and pool, or process) serves it */
    struct conn *next_done; /* on the done list */
};

enum mode { SHARED, PER_DISK, PER_PROCESS, DEADLINE };
static const char *mode_name[] = {"shared", "per-disk", "per-process", "deadline"};
static enum mode mode;

static struct server_config cfg;
static struct prng rng;
static struct conn **conns; /* indexed by fd: descriptors are small integers, reused after close */
static int conns_cap, max_fd, epfd;
static struct timer_heap timers;

static enum want reply_bad(struct conn *c, const char *why) {
    c->out_len = bad_request_reply(c->out, c->job.req.http, why);
    return WANT_WRITE;
}

/* The worker pools, each shaped like chapter 06's (Redis's bio.c): a bounded queue under a mutex,
 * workers doing the blocking read, finished jobs back on one done list with an eventfd doorbell.
 * shared and deadline run one pool of -w x -D workers, per-disk one pool of -w workers per disk:
 * the same number of threads, split so that a disk can only ever hold its own. */
#define QUEUE_CAP 4096

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct conn *queue[QUEUE_CAP]; /* NULL: withdrawn by the loop at its deadline */
    size_t head, len;
    bool stopping;
    int count;
    pthread_t *workers;
};
static struct pool *pools;
static int pool_count;

static struct {
    pthread_mutex_t lock;
    struct conn *done; /* finished jobs, linked through next_done */
    int efd;           /* the workers' doorbell: readable when done is not empty */
} doorbell = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *worker_main(void *arg) {
    struct pool *p = arg;
    block_stop_signals();
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        if (p->len == 0) {
            pthread_cond_wait(&p->not_empty, &p->lock);
            continue;
        }
        struct conn *c = p->queue[p->head];
        p->head = (p->head + 1) % QUEUE_CAP;
        p->len--;
        if (!c)
            continue; /* the loop already answered it */
        pthread_mutex_unlock(&p->lock);

        int64_t now = now_ms();
        if (!job_expired_in_queue(&c->job, now, cfg.deadline_ms)) {
            c->job.started_ms = now;
            sleep_ms(c->job.disk.delay_ms); /* the blocking read, off the loop */
            job_finish(&c->job, now_ms(), cfg.deadline_ms);
        }
        pthread_mutex_lock(&doorbell.lock);
        c->next_done = doorbell.done;
        doorbell.done = c;
        uint64_t one = 1;
        (void)!write(doorbell.efd, &one, sizeof one);
        pthread_mutex_unlock(&doorbell.lock);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void start_pools(int count, int workers_each) {
    if ((doorbell.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        perror_die("eventfd");
    if (!(pools = calloc((size_t)count, sizeof *pools)))
        die("out of memory for %d pools", count);
    pool_count = count;
    for (int i = 0; i < count; i++) {
        struct pool *p = &pools[i];
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->not_empty, NULL);
        p->count = workers_each;
        p->workers = calloc((size_t)workers_each, sizeof *p->workers);
        for (int w = 0; w < workers_each; w++)
            if (!p->workers || pthread_create(&p->workers[w], NULL, worker_main, p) != 0)
                die("cannot start worker %d of pool %d", w + 1, i);
    }
}

static void stop_pools(void) {
    for (int i = 0; i < pool_count; i++) {
        struct pool *p = &pools[i];
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->not_empty);
        pthread_mutex_unlock(&p->lock);
        for (int w = 0; w < p->count; w++)
            join_interrupting(p->workers[w]); /* a worker may be in the middle of a long read */
        free(p->workers);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->not_empty);
    }
    free(pools);
    close(doorbell.efd);
}

/* -m deadline: c's deadline passed while it may still be queued. Withdraw it if no worker has
 * taken it yet (a scan, O(queue), cheap next to a disk read; a list would make it O(1)). */
static bool withdraw(struct conn *c) {
    struct pool *p = &pools[0];
    bool found = false;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->len && !found; i++)
        if (p->queue[(p->head + i) % QUEUE_CAP] == c)
            p->queue[(p->head + i) % QUEUE_CAP] = NULL, found = true;
    pthread_mutex_unlock(&p->lock);
    return found;
}

/* -m per-process: the parent keeps one end of a socket pair per disk process. */
static int *to_disk; /* in the parent: to_disk[k] reaches disk k's process */
static int from_parent = -1; /* in a disk's process: where connections arrive */

/* Passes the connection and the request it sent to its disk's process (SCM_RIGHTS), which
 * answers it directly. Returns false when that process cannot take it now. */
static bool hand_off(struct conn *c) {
    char control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = c->in, .iov_len = c->in_len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));
    return sendmsg(to_disk[c->disk], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)c->in_len;
}

/* The whole request is in: queue its read on its disk's pool (or hand it to its disk's process)
 * and wait for the doorbell. */
static enum want start_read(struct conn *c, int64_t now) {
    bool queued;
    if (to_disk) {
        if (hand_off(c))
            return WANT_CLOSE; /* closes only our descriptor: the disk's process has its own */
        queued = false;
    } else {
        c->job.disk = plan_disk_read(&c->job.req, &rng);
        struct pool *p = &pools[mode == PER_DISK ? c->disk : 0];
        pthread_mutex_lock(&p->lock);
        if ((queued = p->len < QUEUE_CAP)) {
            p->queue[(p->head + p->len++) % QUEUE_CAP] = c;
            pthread_cond_signal(&p->not_empty);
        }
        pthread_mutex_unlock(&p->lock);
        /* -m deadline: a timer at the request's deadline, even while it waits for a worker. */
        c->deadline_ms = mode == DEADLINE ? c->job.arrived_ms + cfg.deadline_ms : 0;
    }
    if (queued)
        return WANT_DISK;
    log_msg("disk %d is not keeping up: shedding %s", c->disk, c->job.req.path);
    c->job.rc = RC_TIMEOUT;
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    return WANT_WRITE;
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
    c->fd = fd;
    c->want = WANT_READ;
    c->deadline_ms = now + cfg.deadline_ms; /* a slow sender may not hold its slot forever */
    c->job.arrived_ms = now;
    conns[fd] = c;
    if (fd > max_fd)
        max_fd = fd;
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

/* in[0..in_len) holds what the client has sent so far; see whether it is a whole request. */
static enum want on_request(struct conn *c, bool at_eof, int64_t now) {
    const char *why;
    switch (parse_request(c->in, c->in_len, at_eof, &c->job.req, &why)) {
    case PARSE_INCOMPLETE: return WANT_READ;
    case PARSE_BAD: return reply_bad(c, why);
    default: break;
    }
    if ((c->disk = disk_of(c->job.req.path)) < 0)
        return reply_bad(c, "no such disk");
    return start_read(c, now);
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
    return on_request(c, n == 0, now);
}

/* A worker finished c's read (job_finish has set its RC): format the reply. */
static enum want on_job_done(struct conn *c, int64_t now) {
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    return WANT_WRITE;
}

/* A request still arriving took too long; or, -m deadline, a queued read reached its deadline. */
static enum want on_timer(struct conn *c, int64_t now) {
    if (c->want == WANT_READ)
        return reply_bad(c, "request took too long to arrive");
    c->deadline_ms = 0;
    if (!withdraw(c))
        return WANT_DISK; /* a worker has it: a read in progress cannot be taken back */
    job_expired_in_queue(&c->job, now, 0); /* logs "timeout (queue)", sets RC 1 */
    return on_job_done(c, now);
}

static enum want on_writable(struct conn *c) {
    ssize_t n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return WANT_WRITE;
    if (n < 0) {
        log_msg("reply to %s lost: %s", c->job.req.path[0] ? c->job.req.path : "-", strerror(errno));
        return WANT_CLOSE;
    }
    c->out_pos += (size_t)n;
    return c->out_pos < c->out_len ? WANT_WRITE : WANT_CLOSE;
}

static void close_conn(struct conn *c) {
    heap_remove(&timers, &c->timer);
    conns[c->fd] = NULL;
    /* close() drops a socket from the epoll set only when no descriptor refers to it any more,
     * and -m per-process has just passed a copy to a disk's process: without this, the socket's
     * next event would arrive here carrying a pointer to freed memory. */
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Turns what a handler returned into epoll_ctl and heap calls: the one place that touches them. */
static void set_want(struct conn *c, enum want next) {
    if (next == WANT_CLOSE)
        return close_conn(c);
    if (next != c->want) {
        /* While its "disk" works the socket is not watched at all: a pending read is a timer. */
        int op = c->want == WANT_DISK ? EPOLL_CTL_ADD
                 : next == WANT_DISK  ? EPOLL_CTL_DEL
                                      : EPOLL_CTL_MOD;
        struct epoll_event ev = {.events = next == WANT_READ ? EPOLLIN : EPOLLOUT, .data.ptr = c};
        if (epoll_ctl(epfd, op, c->fd, &ev) < 0) {
            log_msg("epoll_ctl: %s", strerror(errno));
            return close_conn(c);
        }
    }
    c->want = next;
    if (next == WANT_WRITE || (next == WANT_DISK && !c->deadline_ms))
        heap_remove(&timers, &c->timer); /* a queued read has a timer only with -m deadline */
    else if (!c->timer.slot || c->timer.deadline_ms != c->deadline_ms) {
        heap_remove(&timers, &c->timer);
        if (heap_add(&timers, &c->timer, c->deadline_ms) < 0) {
            log_msg("out of memory for a timer");
            close_conn(c);
        }
    }
}

static void dispatch(struct conn *c, int64_t now, uint32_t events) {
    bool ready = events & (c->want == WANT_READ ? EPOLLIN | EPOLLHUP | EPOLLERR : EPOLLOUT | EPOLLERR);
    if (c->want == WANT_READ && ready)
        set_want(c, on_readable(c, now));
    else if (c->want == WANT_WRITE && ready)
        set_want(c, on_writable(c));
}

/* The doorbell rang: hand every finished job back to its connection. */
static void on_doorbell(int64_t now) {
    uint64_t count;
    (void)!read(doorbell.efd, &count, sizeof count); /* reset the eventfd's counter */
    pthread_mutex_lock(&doorbell.lock);
    struct conn *c = doorbell.done;
    doorbell.done = NULL;
    pthread_mutex_unlock(&doorbell.lock);
    while (c) {
        struct conn *next = c->next_done;
        set_want(c, on_job_done(c, now));
        c = next;
    }
}

/* Runs every timer that is due: a request too slow to arrive, or a "disk" read that is done. */
static void run_timers(int64_t now) {
    struct timer *t;
    while ((t = heap_top(&timers)) && t->deadline_ms <= now) {
        struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
        heap_remove(&timers, t);
        set_want(c, on_timer(c, now));
    }
}

/* In a disk's process: the parent passed a connection and the request it read from it. */
static bool on_handoff(int64_t now) {
    char in[MAX_REQUEST], control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = in, .iov_len = sizeof in};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    ssize_t n = recvmsg(from_parent, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (n == 0)
        stop_requested = 1; /* the parent is gone */
    if (n <= 0 || !cm || cm->cmsg_type != SCM_RIGHTS)
        return false;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    on_accept(fd, now);
    struct conn *c = fd < conns_cap ? conns[fd] : NULL;
    if (c) {
        memcpy(c->in, in, (size_t)n);
        c->in_len = (size_t)n;
        set_want(c, on_request(c, true, now));
    }
    return true;
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
    parse_server_flags(argc, argv, &cfg, "w:D:m:",
                       "Chapter 11: -D disks, one of them dying. -m shared | per-disk |\n"
                       "per-process | deadline: how reads reach the disks (default shared).");
    for (mode = SHARED; cfg.mode && strcmp(cfg.mode, mode_name[mode]) != 0; mode++)
        if (mode == DEADLINE)
            die("-m must be shared, per-disk, per-process or deadline, not '%s'", cfg.mode);
    install_signal_handlers();
    rng.state = cfg.seed;
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)))
        die("cannot size the connection table");
    int listen_fd = listen_tcp(cfg.host, cfg.port);
    if (set_nonblocking(listen_fd) < 0)
        perror_die("set_nonblocking");
    pid_t *disk_pids = mode == PER_PROCESS ? fork_disk_processes(listen_fd) : NULL;
    int accept_fd = from_parent >= 0 ? from_parent : listen_fd; /* a disk process "accepts" there */

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, accept_fd, &ev) < 0)
        perror_die("epoll_ctl");
    if (!disk_pids) { /* the per-process parent only routes: it has no pool */
        bool split = mode == PER_DISK || from_parent >= 0;
        start_pools(mode == PER_DISK ? cfg.disks : 1, split ? cfg.workers : cfg.workers * cfg.disks);
        ev.data.ptr = &doorbell;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, doorbell.efd, &ev) < 0)
            perror_die("epoll_ctl");
    }

    struct epoll_event events[256];
    while (!stop_requested) {
        /* Sleep until a socket is ready or the earliest deadline is due. */
        int n = epoll_wait(epfd, events, 256, heap_wait_ms(&timers, now_ms()));
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        int64_t now = now_ms();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &doorbell) {
                on_doorbell(now);
                continue;
            }
            if (events[i].data.ptr) {
                dispatch(events[i].data.ptr, now, events[i].events);
                continue;
            }
            if (from_parent >= 0) {
                while (on_handoff(now))
                    ;
                continue;
            }
            int fd;
            while ((fd = accept_client(listen_fd)) >= 0)
                on_accept(fd, now);
            if (errno != EAGAIN && errno != EINTR && errno != EMFILE && errno != ENFILE)
                log_msg("accept: %s", strerror(errno));
        }
        run_timers(now_ms());
    }
    log_msg("stopping");
    if (disk_pids)
        stop_disk_processes(disk_pids);
    else
        stop_pools();
    for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd])
            close_conn(conns[fd]);
    free(conns);
    heap_free(&timers);
    close(epfd);
    close(accept_fd);
    return 0;
}
