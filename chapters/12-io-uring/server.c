/* Chapter 12: the disk read goes to the kernel through io_uring.
 * Chapter 06's loop, but start_read() hands a real read of a real file to the kernel on an
 * io_uring submission queue instead of to our threads, and the kernel rings an eventfd doorbell
 * as it completes. The disk's time is a kernel timer linked in front of the read, and a linked
 * timeout cancels it at the deadline: RC 1 on time, however slow the disk.
 * What breaks: io_uring does not make a blocking read non-blocking. A read the kernel cannot do
 * asynchronously runs on its own thread pool (iou-wrk threads), which -w caps like chapter 06's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "heap.h"
#include "protocol.h"
#include "uring.h"
#include "utils.h"

#define FILE_SIZE (16 << 20) /* the data file: 256 slots of 64 KiB */
#define SLOT (64 << 10)      /* one object per slot: plan_disk_read's sizes are below 64 KiB */
#define BLOCK 4096           /* O_DIRECT reads whole blocks into block-aligned memory */
#define EXIT_NO_URING 69     /* EX_UNAVAILABLE: the kernel refuses io_uring */

/* What a connection waits for next. Handlers return it; the loop acts on it. */
enum want { WANT_READ, WANT_DISK, WANT_WRITE, WANT_CLOSE };

/* A read is three linked SQEs: the disk's time, the deadline on it, the read itself. The step
 * rides in the low bits of each SQE's user_data, beside the conn pointer (16-byte aligned). */
enum step { STEP_DISK_TIME, STEP_DEADLINE, STEP_READ, STEPS };

/* How the data file is read (-m): page-cache hits, misses, O_DIRECT, or forced onto io-wq. */
enum mode { BUFFERED, COLD, DIRECT, ASYNC, MODES };
static const char *const mode_names[MODES] = {"buffered", "cold", "direct", "async"};

struct conn {
    int fd; /* -1 once closed: the conn then lives only until its last CQE */
    enum want want;
    int64_t deadline_ms; /* WANT_READ: give up on the request */
    char in[MAX_REQUEST];
    size_t in_len;
    char out[MAX_REPLY];
    size_t out_len, out_pos;
    struct job job;
    struct timer timer;
    char *buf;      /* the kernel writes the read here: it must outlive the read */
    int cqes_due;   /* CQEs the kernel still owes us for this conn */
    bool answered;  /* the reply is decided (the read itself may still be in flight) */
    struct __kernel_timespec disk_time, limit; /* the kernel reads these at submission */
};

static struct server_config cfg;
static struct prng rng;
static struct conn **conns; /* indexed by fd: descriptors are small integers, reused after close */
static int conns_cap, max_fd, epfd;
static struct timer_heap timers;
static struct uring ring;
static int doorbell, data_fd, reads_in_flight;
static enum mode mode;

static void set_want(struct conn *c, enum want next);

static enum want reply_bad(struct conn *c, const char *why) {
    c->out_len = bad_request_reply(c->out, c->job.req.http, why);
    return WANT_WRITE;
}

/* The disk: a real 16 MiB file, unlinked as soon as it is open, so nothing is left behind even
 * after kill -9. Written, flushed and dropped from the page cache: first reads go to the device.
 * Not /tmp: that is often tmpfs, memory with no disk behind it. */
static void open_data_file(void) {
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/12-io-uring.XXXXXX", dir);
    char *block = malloc(SLOT);
    if (!block || (data_fd = mkstemp(path)) < 0)
        perror_die(path);
    unlink(path);
    for (int slot = 0; slot < FILE_SIZE / SLOT; slot++) {
        memset(block, 'a' + slot % 26, SLOT);
        if (write_all(data_fd, block, SLOT) < 0)
            perror_die("writing the data file");
    }
    free(block);
    if (fdatasync(data_fd) < 0 || posix_fadvise(data_fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
        perror_die("flushing the data file");
    if (mode == DIRECT && fcntl(data_fd, F_SETFL, O_DIRECT) < 0)
        perror_die("O_DIRECT on the data file");
    log_msg("data file: %d MiB in %s (already unlinked), %s reads", FILE_SIZE >> 20, dir,
            mode_names[mode]);
}

/* The ring, and how its completions reach the loop: the kernel writes to the eventfd we
 * registered on every CQE it posts, and epoll watches that eventfd like any socket. */
static void setup_ring(void) {
    char why[256];
    int err = uring_init(&ring, 256);
    if (err < 0) {
        log_msg("io_uring unavailable: %s", uring_refusal(err, why, sizeof why));
        exit(EXIT_NO_URING);
    }
    if (uring_opcode_supported(&ring, IORING_OP_READ) != 1 ||
        uring_opcode_supported(&ring, IORING_OP_LINK_TIMEOUT) != 1) {
        log_msg("io_uring unavailable: this kernel lacks READ or LINK_TIMEOUT (needs Linux 5.19+)");
        exit(EXIT_NO_URING);
    }
    if ((doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        uring_register(&ring, IORING_REGISTER_EVENTFD, &doorbell, 1) < 0)
        die("cannot register an eventfd with the ring");
    /* io-wq, the kernel's pool for reads it cannot do asynchronously, has two halves: bounded
     * (disk I/O; at most min(SQ entries, 4 x CPUs) threads) and unbounded (the rest; up to
     * RLIMIT_NPROC). A read sent there before its file is looked up lands in the unbounded half
     * (measured, see the README), so -w caps both, as chapter 06 sized its pool. */
    unsigned limits[2] = {0, 0}; /* 0 = leave as is: reports the kernel's defaults */
    uring_register(&ring, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2);
    log_msg("io_uring: %u SQEs; io-wq limits %u bounded, %u unbounded; capping both at %d",
            ring.sq_entries, limits[0], limits[1], cfg.workers);
    limits[0] = limits[1] = (unsigned)cfg.workers;
    if (uring_register(&ring, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2) < 0)
        die("IORING_REGISTER_IOWQ_MAX_WORKERS refused (needs Linux 5.15+)");
}

static struct __kernel_timespec ms_to_ts(int64_t ms) {
    return (struct __kernel_timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};
}

/* Fills the next SQE of c's chain. Every step but the last links to the one after it. */
static struct io_uring_sqe *chain_sqe(struct conn *c, enum step step, int opcode) {
    struct io_uring_sqe *sqe = uring_get_sqe(&ring); /* start_read made room for all three */
    sqe->opcode = (unsigned char)opcode;
    sqe->user_data = (uint64_t)(uintptr_t)c | step;
    sqe->flags = step == STEP_READ ? 0 : IOSQE_IO_LINK;
    return sqe;
}

/* The whole request is in: queue its read as three linked SQEs (sent at the end of this loop
 * turn, with every other read of the turn, in one system call). The loop goes on serving. */
static enum want start_read(struct conn *c, int64_t now) {
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    size_t len = ((size_t)c->job.disk.bytes / BLOCK + 1) * BLOCK; /* whole blocks, at least one */
    off_t offset = (off_t)(c->job.disk.bytes % (FILE_SIZE / SLOT)) * SLOT;
    if (uring_sq_space(&ring) < STEPS)
        uring_submit(&ring); /* a chain must reach the kernel whole, in one submission */
    if (uring_sq_space(&ring) < STEPS || !(c->buf = aligned_alloc(BLOCK, len))) {
        log_msg("no room for a read: shedding %s", c->job.req.path);
        c->job.rc = RC_TIMEOUT;
        c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
        return WANT_WRITE;
    }
    if (mode == COLD || mode == ASYNC) /* make this read a page-cache miss */
        posix_fadvise(data_fd, offset, (off_t)len, POSIX_FADV_DONTNEED);
    c->job.started_ms = now;
    c->disk_time = ms_to_ts(c->job.disk.delay_ms);
    c->limit = ms_to_ts(cfg.deadline_ms - (now - c->job.arrived_ms));

    /* 1. The disk's time: a kernel timer. ETIME_SUCCESS makes its expiry a success, not an
     *    error that would break the chain. */
    struct io_uring_sqe *sqe = chain_sqe(c, STEP_DISK_TIME, IORING_OP_TIMEOUT);
    sqe->addr = (uintptr_t)&c->disk_time;
    sqe->len = 1;
    sqe->timeout_flags = IORING_TIMEOUT_ETIME_SUCCESS;
    /* 2. The deadline on step 1: if it has not finished by then, the kernel cancels it, and with
     *    it the rest of the chain. */
    sqe = chain_sqe(c, STEP_DEADLINE, IORING_OP_LINK_TIMEOUT);
    sqe->addr = (uintptr_t)&c->limit;
    sqe->len = 1;
    /* 3. The read itself: pread(data_fd, buf, len, offset), done by the kernel. */
    sqe = chain_sqe(c, STEP_READ, IORING_OP_READ);
    sqe->fd = data_fd;
    sqe->addr = (uintptr_t)c->buf;
    sqe->len = (unsigned)len;
    sqe->off = (uint64_t)offset;
    if (mode == ASYNC)
        sqe->flags |= IOSQE_ASYNC; /* straight to io-wq, as a read that cannot go async goes */
    c->cqes_due = STEPS;
    reads_in_flight++;
    return WANT_DISK;
}

static void answer(struct conn *c, int rc, int64_t now) {
    if (c->answered || c->fd < 0)
        return;
    c->answered = true;
    c->job.rc = rc;
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    set_want(c, WANT_WRITE);
}

/* One CQE: one step of c's read is over. The reply goes out as soon as the outcome is known;
 * the conn and its buffer live until the kernel has posted the chain's last CQE. */
static void on_cqe(uint64_t user_data, int res, int64_t now) {
    struct conn *c = (struct conn *)(uintptr_t)(user_data & ~(uint64_t)3);
    enum step step = (enum step)(user_data & 3);
    if (!c)
        return; /* the shutdown's cancel request */
    int64_t took = now - c->job.started_ms;
    if (step == STEP_DEADLINE && res != -ECANCELED) { /* -ECANCELED: disarmed, the disk was on time */
        log_msg("timeout (service) %s: the linked timeout fired after %lld ms (%s)",
                c->job.req.path, (long long)took, strerror(-res));
        answer(c, RC_TIMEOUT, now);
    } else if (step == STEP_READ && res == -ECANCELED) {
        log_msg("read of %s cancelled: -ECANCELED", c->job.req.path);
        answer(c, RC_TIMEOUT, now);
    } else if (step == STEP_READ && res < c->job.disk.bytes) {
        log_msg("io fail %s: %s", c->job.req.path, res < 0 ? strerror(-res) : "short read");
        answer(c, RC_FAIL, now);
    } else if (step == STEP_READ) {
        answer(c, job_finish(&c->job, now, cfg.deadline_ms), now);
    }
    if (--c->cqes_due == 0) {
        reads_in_flight--;
        if (c->fd < 0) { /* the client has its reply and is gone: now the buffer is ours again */
            free(c->buf);
            free(c);
        }
    }
}

/* Takes every CQE the kernel has posted: reads done since the last look, or done at once. */
static void reap(int64_t now) {
    struct io_uring_cqe *cqe;
    while ((cqe = uring_peek_cqe(&ring))) {
        uint64_t user_data = cqe->user_data;
        int res = cqe->res;
        uring_cqe_seen(&ring); /* give the slot back before handling, which may queue more */
        on_cqe(user_data, res, now);
    }
}

/* Stopping: cancel everything in flight and collect its CQEs, so no buffer is freed while the
 * kernel may still write to it. A read the device is already doing cannot be cancelled: wait
 * for it, up to 2 s. */
static void drain_ring(void) {
    uring_submit(&ring);
    struct io_uring_sqe *sqe = uring_get_sqe(&ring);
    if (sqe) {
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
    }
    for (int64_t give_up = now_ms() + 2000; reads_in_flight > 0 && now_ms() < give_up;) {
        uring_wait(&ring, 100);
        reap(now_ms());
    }
    if (reads_in_flight > 0)
        log_msg("%d reads still in the kernel at exit", reads_in_flight);
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
    default: return start_read(c, now);
    }
}

static enum want on_timer(struct conn *c, int64_t now) {
    (void)now; /* only a request that is still arriving has a timer */
    return reply_bad(c, "request took too long to arrive");
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
    conns[c->fd] = NULL; /* close() also drops the fd from the epoll set */
    close(c->fd);
    c->fd = -1;
    if (c->cqes_due == 0) { /* else its last CQE frees it: the kernel may still write to buf */
        free(c->buf);
        free(c);
    }
}

/* Turns what a handler returned into epoll_ctl and heap calls: the one place that touches them. */
static void set_want(struct conn *c, enum want next) {
    if (next == WANT_CLOSE)
        return close_conn(c);
    if (next != c->want) {
        /* While the kernel reads, the socket is not watched at all: the ring will tell us. */
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
    if (next != WANT_READ) /* a read in the kernel has no timer here: its deadline is linked */
        heap_remove(&timers, &c->timer);
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

/* Runs every timer that is due: a request too slow to arrive. */
static void run_timers(int64_t now) {
    struct timer *t;
    while ((t = heap_top(&timers)) && t->deadline_ms <= now) {
        struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, timer));
        heap_remove(&timers, t);
        set_want(c, on_timer(c, now));
    }
}

static void parse_mode(void) {
    for (mode = BUFFERED; cfg.mode && mode < MODES; mode++)
        if (strcmp(cfg.mode, mode_names[mode]) == 0)
            return;
    if (cfg.mode)
        die("-m %s: the read modes are buffered, cold, direct and async", cfg.mode);
    mode = BUFFERED;
}

int main(int argc, char **argv) {
    parse_server_flags(argc, argv, &cfg, "w:m:",
                       "Chapter 12: the epoll loop hands real file reads to the kernel through "
                       "io_uring.\nHere -w caps the kernel's io-wq worker threads, and -m is how "
                       "the file is read:\nbuffered (default), cold, direct or async.");
    install_signal_handlers();
    parse_mode();
    rng.state = cfg.seed;
    setup_ring(); /* first: a kernel that refuses io_uring must fail before "listening on" */
    open_data_file();
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)))
        die("cannot size the connection table");
    int listen_fd = listen_tcp(cfg.host, cfg.port);
    if (set_nonblocking(listen_fd) < 0)
        perror_die("set_nonblocking");

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        perror_die("epoll_ctl");
    ev.data.ptr = &ring; /* &ring: the doorbell */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, doorbell, &ev) < 0)
        perror_die("epoll_ctl");

    struct epoll_event events[256];
    while (!stop_requested) {
        int err = uring_submit(&ring); /* every read queued in the last turn, one system call */
        if (err < 0)
            log_msg("io_uring_enter: %s", strerror(-err));
        reap(now_ms()); /* a read from the page cache is done already, during the submit */
        int n = epoll_wait(epfd, events, 256, heap_wait_ms(&timers, now_ms()));
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        int64_t now = now_ms();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &ring) {
                uint64_t count;
                (void)!read(doorbell, &count, sizeof count); /* reset the eventfd's counter */
                reap(now);
                continue;
            }
            if (events[i].data.ptr) {
                dispatch(events[i].data.ptr, now, events[i].events);
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
    drain_ring();
    for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd])
            close_conn(conns[fd]);
    free(conns);
    heap_free(&timers);
    uring_exit(&ring);
    close(doorbell);
    close(data_fd);
    close(epfd);
    close(listen_fd);
    return 0;
}
