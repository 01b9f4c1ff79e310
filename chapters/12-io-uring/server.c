/* Chapter 12: the disk read goes to the kernel through io_uring.
 * Chapter 06's loop (common/loop.c), but start_read() hands a real read of a real file to the
 * kernel on an io_uring submission queue instead of to a pool of our threads, and the kernel
 * rings an eventfd doorbell as it completes. The disk's time is a kernel timer linked in front
 * of the read, and a linked timeout cancels it at the deadline: RC 1 on time, however slow.
 * With -D the disk is real: the object is opened and the kernel reads it, no timer in front, and
 * the loop's own timer answers at the deadline, since a linked timeout cannot cut that read.
 * What breaks: io_uring does not make a blocking read non-blocking. A read the kernel cannot do
 * asynchronously runs on its own thread pool (iou-wrk threads), which -w caps like chapter 06's.
 * Over the style's 250 lines: its lesson is the read's linked requests, completions and cancels. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "protocol.h"
#include "signals.h"
#include "uring.h"

#define FILE_SIZE     (16 << 20) /* the data file: 256 slots of 64 KiB */
#define SLOT          MAX_OBJECT /* one object per slot */
#define BLOCK         4096       /* O_DIRECT reads whole blocks into block-aligned memory */
#define EXIT_NO_URING 69         /* EX_UNAVAILABLE: the kernel refuses io_uring */

/* The CQ must hold every CQE the reads in flight may post before the loop reaps: a read posts its
 * three together, and reads that end together post theirs in one run of the kernel's task work.
 * This chapter once took the kernel's default, twice 256 SQEs: 512 CQEs, 170 reads. Past that the
 * kernel parks CQEs on an overflow list, and every later one behind them to keep their order,
 * until an io_uring_enter(GETEVENTS); the loop never made one, and the eventfd rings only when
 * the ring's tail moves: one burst wedged it for good. Now start_read sheds a read the CQ has no
 * room for, and reap() flushes an overflow anyway, should a kernel ever make one. */
#define SQ_ENTRIES 1024  /* a loop turn's reads: 256 epoll events (loop.c) x 3 SQEs, rounded up */
#define CQ_ENTRIES 65536 /* the kernel's most (IORING_MAX_CQ_ENTRIES), 1 MiB: 21,845 reads */

/* A read is three linked SQEs: the disk's time, the deadline on it, the read itself; with -D,
 * one, the read of the real file, and later a cancel should the read outlive its deadline
 * (disk_deadline). The step rides in the low bits of each SQE's user_data, beside the conn
 * pointer (16-byte aligned). STEPS: the most CQEs one read posts. */
enum step { STEP_DISK_TIME, STEP_DEADLINE, STEP_READ, STEP_CANCEL };
#define STEPS 3

/* How the data file is read (-m): page-cache hits, misses, O_DIRECT, or forced onto io-wq. */
enum mode { BUFFERED, COLD, DIRECT, ASYNC, MODES };
static const char *const mode_names[MODES + 1] = {"buffered", "cold", "direct", "async", NULL};

/* Per connection, beside chapter 06's conn (at c->data): what the kernel reads and writes for
 * its read. It must live until the kernel has posted the chain's last CQE, even if the client
 * has its reply and is gone by then: release keeps such a conn, the last CQE frees it. */
struct ring_read {
    char *buf;     /* the kernel writes the read here */
    int object_fd; /* -D: the object's file, open until the chain's last CQE */
    int cqes_due;  /* CQEs the kernel still owes us for this read */
    bool answered; /* the reply is decided (the read itself may still be in flight) */
    struct __kernel_timespec disk_time, limit; /* the kernel reads these at submission */
};

static struct server_config cfg;
static struct prng rng;
static struct uring ring;
static int doorbell, data_fd, reads_in_flight, max_reads_in_flight;
static enum mode mode;

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
    /* URING_CQ_ENTRIES: a smaller CQ, to watch start_read shed past it (a test does). */
    const char *cq_env = getenv("URING_CQ_ENTRIES");
    unsigned cq = cq_env ? (unsigned)strtoul(cq_env, NULL, 10) : CQ_ENTRIES;
    if (cq <= STEPS)
        die("URING_CQ_ENTRIES=%s: one read needs %d CQEs, and drain_ring one more", cq_env, STEPS);
    int err = uring_init(&ring, cq < SQ_ENTRIES ? cq : SQ_ENTRIES, cq);
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
    max_reads_in_flight = (int)(ring.cq_entries - 1) / STEPS; /* 1: drain_ring's cancel */
    log_msg("io_uring: %u SQEs, %u CQEs (%d reads in flight); io-wq limits %u bounded, "
            "%u unbounded; capping both at %d",
            ring.sq_entries, ring.cq_entries, max_reads_in_flight, limits[0], limits[1],
            cfg.workers);
    limits[0] = limits[1] = (unsigned)cfg.workers;
    if (uring_register(&ring, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2) < 0)
        die("IORING_REGISTER_IOWQ_MAX_WORKERS refused (needs Linux 5.15+)");
}

static struct __kernel_timespec ms_to_ts(int64_t ms) {
    return (struct __kernel_timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};
}

/* Fills the next SQE of c's chain; every SQE but the chain's last links to the one after it. */
static struct io_uring_sqe *chain_sqe(struct conn *c, enum step step, int opcode, bool last) {
    struct io_uring_sqe *sqe = uring_get_sqe(&ring); /* start_read made room for all three */
    sqe->opcode = (unsigned char)opcode;
    sqe->user_data = (uint64_t)(uintptr_t)c | step;
    sqe->flags = last ? 0 : IOSQE_IO_LINK;
    return sqe;
}

/* The read: pread(fd, buf, len, offset), done by the kernel. */
static void read_sqe(struct conn *c, int fd, size_t len, off_t offset, bool last) {
    struct ring_read *r = c->data;
    struct io_uring_sqe *sqe = chain_sqe(c, STEP_READ, IORING_OP_READ, last);
    sqe->fd = fd;
    sqe->addr = (uintptr_t)r->buf;
    sqe->len = (unsigned)len;
    sqe->off = (uint64_t)offset;
    if (mode == ASYNC)
        sqe->flags |= IOSQE_ASYNC; /* straight to io-wq, as a read that cannot go async goes */
}

/* The deadline on the SQE before it in the chain: if that has not finished by then, the kernel
 * cancels it, and with it the rest of the chain. */
static void deadline_sqe(struct conn *c) {
    struct ring_read *r = c->data;
    struct io_uring_sqe *sqe = chain_sqe(c, STEP_DEADLINE, IORING_OP_LINK_TIMEOUT, false);
    sqe->addr = (uintptr_t)&r->limit;
    sqe->len = 1;
}

/* -D: the object, opened on the loop, and its size. On slowdisk an open is answered at once; a
 * dying disk's open can block the loop all the same (chapter 15), and io_uring's OPENAT could
 * take it off. The read asks for the size exactly: io_uring reads again for the rest of a short
 * read, and on a FUSE file opened for direct I/O this kernel (6.18) sent that second READ at
 * offset 0, paying the disk's delay twice for bytes that were never there. */
static int open_object(struct conn *c, size_t *size) {
    struct stat st;
    int fd = disk_open(c->job.req.path, &c->job.disk);
    if (fd >= 0 && fstat(fd, &st) < 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        log_msg("io fail %s: cannot open it: %s", c->job.req.path, strerror(errno));
        return -1;
    }
    *size = st.st_size < SLOT ? (size_t)st.st_size : SLOT;
    if (mode == COLD)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return fd;
}

/* The whole request is in: queue its read as three linked SQEs (sent at the end of this loop
 * turn, with every other read of the turn, in one system call). The loop goes on serving. */
static enum want start_read(struct conn *c, int64_t now) {
    struct ring_read *r = c->data;
    /* The seed's queue deadline, counted from the accept: a request the loop reads late (a busy
     * turn) may have spent it all. Its linked timeout would then be negative: the kernel refuses
     * that with -EINVAL, and cancels the read behind it. */
    if (job_time_out_in_queue(&c->job, now, cfg.deadline_ms))
        return conn_reply(c, now);
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    /* Whole blocks, at least one; a real object may hold up to a slot. */
    size_t len = disk_is_real() ? SLOT : ((size_t)c->job.disk.bytes / BLOCK + 1) * BLOCK;
    off_t offset = (off_t)(c->job.disk.bytes % (FILE_SIZE / SLOT)) * SLOT;
    if (uring_sq_space(&ring) < STEPS)
        uring_submit(&ring); /* a chain must reach the kernel whole, in one submission */
    if (reads_in_flight >= max_reads_in_flight || uring_sq_space(&ring) < STEPS ||
        !(r->buf = aligned_alloc(BLOCK, len))) {
        log_msg("no room for a read: shedding %s", c->job.req.path);
        c->job.rc = RC_TIMEOUT;
        return conn_reply(c, now);
    }
    job_start_read(&c->job, now);
    r->object_fd = -1;
    if (disk_is_real()) { /* the real file: its read; the loop's timer is its deadline */
        size_t size;
        if ((r->object_fd = open_object(c, &size)) < 0) {
            free(r->buf);
            r->buf = NULL;
            c->job.rc = RC_FAIL;
            return conn_reply(c, now);
        }
        read_sqe(c, r->object_fd, size, 0, true);
        r->cqes_due = 1;
        reads_in_flight++;
        c->deadline_ms = c->job.arrived_ms + cfg.deadline_ms; /* then disk_deadline */
        return WANT_DISK;
    }
    if (mode == COLD || mode == ASYNC) /* make this read a page-cache miss */
        posix_fadvise(data_fd, offset, (off_t)len, POSIX_FADV_DONTNEED);
    r->disk_time = ms_to_ts(c->job.disk.delay_ms);
    r->limit = ms_to_ts(cfg.deadline_ms - (now - c->job.arrived_ms));

    /* 1. The disk's time: a kernel timer. ETIME_SUCCESS makes its expiry a success, not an
     *    error that would break the chain. */
    struct io_uring_sqe *sqe = chain_sqe(c, STEP_DISK_TIME, IORING_OP_TIMEOUT, false);
    sqe->addr = (uintptr_t)&r->disk_time;
    sqe->len = 1;
    sqe->timeout_flags = IORING_TIMEOUT_ETIME_SUCCESS;
    /* 2. The deadline on step 1. */
    deadline_sqe(c);
    /* 3. The read itself, from the data file. */
    read_sqe(c, data_fd, len, offset, true);
    r->cqes_due = STEPS;
    reads_in_flight++;
    return WANT_DISK;
}

static void answer(struct conn *c, int rc, int64_t now) {
    struct ring_read *r = c->data;
    if (r->answered || c->fd < 0)
        return;
    r->answered = true;
    c->job.rc = rc;
    conn_set_want(c, conn_reply(c, now));
}

/* -D: c's read is still in the kernel at its deadline. Not a linked timeout, as on the simulated
 * disk: a read that can outlive it is one io-wq runs (-m async; without it, FUSE's read blocks
 * the loop itself: see the README), and its worker issues it as one blocking call. This kernel
 * (6.18; since 6.15, commit b53e523261bf) arms a linked timeout when that call returns, when the
 * read is over: it never fired, and a 3 s read under -T 1000 was answered at 3 s. Armed in time
 * (older kernels), its cancel could do no more than ours. So the loop answers RC 1 now and asks
 * the kernel to cancel the read (IORING_OP_ASYNC_CANCEL on its user_data): a read still queued
 * for a worker is dropped (-ECANCELED); a worker inside one is signalled, which FUSE's wait
 * takes (it sends the file system FUSE_INTERRUPT: -EINTR) and a block device's uninterruptible
 * wait does not (the read ends when the disk does). Either way the buffer stays ours until the
 * read's CQE (release). */
static enum want disk_deadline(struct conn *c, int64_t now) {
    struct ring_read *r = c->data;
    c->deadline_ms = 0;
    log_msg("timeout (service) %s: still reading after %lld ms: RC 1 now, and the read cancelled",
            c->job.req.path, (long long)(now - c->job.started_ms));
    struct io_uring_sqe *sqe = uring_get_sqe(&ring);
    if (!sqe && uring_submit(&ring) >= 0)
        sqe = uring_get_sqe(&ring);
    if (sqe) { /* else the SQ is full: no cancel, the read ends when the disk does */
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->addr = (uint64_t)(uintptr_t)c | STEP_READ; /* the read's user_data */
        sqe->user_data = (uint64_t)(uintptr_t)c | STEP_CANCEL;
        r->cqes_due++;
    }
    r->answered = true;
    c->job.rc = RC_TIMEOUT;
    return conn_reply(c, now);
}

/* What the cancel's CQE says became of the read. */
static const char *cancel_outcome(int res) {
    switch (res) {
    case 0: return "taken off io-wq's queue before a worker ran it";
    case -EALREADY: return "a worker was in it: signalled";
    case -ENOENT: return "it was over already";
    default: return strerror(-res);
    }
}

/* One CQE: one step of c's read is over. The reply goes out as soon as the outcome is known;
 * the conn and its buffer live until the kernel has posted the chain's last CQE. */
static void on_cqe(uint64_t user_data, int res, int64_t now) {
    struct conn *c = (struct conn *)(uintptr_t)(user_data & ~(uint64_t)3);
    enum step step = (enum step)(user_data & 3);
    if (!c)
        return; /* the shutdown's cancel request */
    struct ring_read *r = c->data;
    int64_t took = now - c->job.started_ms;
    /* The deadline's CQE says -ECANCELED when it was disarmed: the disk was on time. */
    if (step == STEP_DEADLINE && res != -ECANCELED) {
        log_msg("timeout (service) %s: the linked timeout fired after %lld ms (%s)",
                c->job.req.path, (long long)took, strerror(-res));
        answer(c, RC_TIMEOUT, now);
    } else if (step == STEP_CANCEL) {
        log_msg("cancel of %s's read: %s", c->job.req.path, cancel_outcome(res));
    } else if (step == STEP_READ && res == -ECANCELED) {
        log_msg("read of %s cancelled: -ECANCELED", c->job.req.path);
        answer(c, RC_TIMEOUT, now);
    } else if (step == STEP_READ && r->answered) { /* answered at its deadline: dropped */
        log_msg("read of %s over after %lld ms, past its deadline: %s", c->job.req.path,
                (long long)took, res < 0 ? strerror(-res) : "done");
    } else if (step == STEP_READ && (res < 0 || (!disk_is_real() && res < c->job.disk.bytes))) {
        log_msg("io fail %s: %s", c->job.req.path, res < 0 ? strerror(-res) : "short read");
        answer(c, RC_FAIL, now);
    } else if (step == STEP_READ) {
        if (disk_is_real())
            c->job.disk.bytes = res; /* what the real file held */
        answer(c, job_finish(&c->job, now, cfg.deadline_ms), now);
    }
    if (--r->cqes_due == 0) {
        reads_in_flight--;
        if (r->object_fd >= 0)
            close(r->object_fd);
        if (c->fd < 0) { /* the client has its reply and is gone: now the buffer is ours again */
            free(r->buf);
            conn_free(c);
        }
    }
}

/* The kernel kept CQEs the full ring had no room for, and keeps every later one behind them: have
 * it move them into the ring, which reap has just emptied. False when there is nothing to move. */
static bool flush_overflow(void) {
    if (!uring_cq_overflowed(&ring))
        return false;
    log_msg("the completion queue overflowed: flushing the kernel's overflow list");
    int err = uring_get_events(&ring);
    if (err < 0 && err != -EBUSY) /* EBUSY: it filled up again (older kernels): reap, retry */
        log_msg("io_uring_enter(GETEVENTS): %s", strerror(-err));
    return err == 0 || err == -EBUSY;
}

/* Takes every CQE the kernel has posted: reads done since the last look, or done at once. */
static void reap(int64_t now) {
    struct io_uring_cqe *cqe;
    do {
        while ((cqe = uring_peek_cqe(&ring))) {
            uint64_t user_data = cqe->user_data;
            int res = cqe->res;
            uring_cqe_seen(&ring); /* give the slot back before handling, which may queue more */
            on_cqe(user_data, res, now);
        }
    } while (flush_overflow());
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

/* The loop closed c: its buffer may go, unless the kernel still owes CQEs for it. */
static bool release(struct conn *c) {
    struct ring_read *r = c->data;
    if (r->cqes_due > 0)
        return false; /* its last CQE frees it: the kernel may still write to buf */
    free(r->buf);
    return true;
}

/* Every turn, before the loop sleeps: send every read queued in the last turn in one system call,
 * then take what is done already (a read from the page cache completes during the submit). */
static void before_wait(void *unused) {
    (void)unused;
    int err = uring_submit(&ring);
    if (err < 0)
        log_msg("io_uring_enter: %s", strerror(-err));
    reap(now_ms());
}

/* The kernel rang the doorbell: it posted CQEs. */
static void on_doorbell(struct ev *ev, int fd, uint32_t events, void *arg) {
    (void)ev, (void)fd, (void)events, (void)arg;
    int64_t now = now_ms();
    uint64_t count;
    (void)!read(doorbell, &count, sizeof count); /* reset the eventfd's counter */
    reap(now);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 12: the epoll loop hands real file reads "
                                         "to the kernel through io_uring.\nHere -w caps the "
                                         "kernel's io-wq worker threads, and -m is how the "
                                         "file is read.",
                                .extra = "w:",
                                .modes = mode_names,
                                .workers = "the most io-wq threads the kernel may start for us"});
    mode = (enum mode)cfg.mode;
    if (mode == DIRECT && disk_is_real())
        flag_error("-m direct with -D: O_DIRECT is the disk's to offer (bin/slowdisk -x)");
    install_signal_handlers();
    rng.state = cfg.seed;
    setup_ring(); /* first: a kernel that refuses io_uring must fail before "listening on" */
    if (!disk_is_real())
        open_data_file();
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    struct loop *loop = loop_new(&(struct loop_spec){
        .cfg = &cfg,
        .listen_fd = listen_fd,
        .data_size = sizeof(struct ring_read),
        .on_request = start_read,
        .disk_deadline = disk_deadline,
        .release = release,
    });
    ev_before_wait(loop_ev(loop), before_wait, NULL);
    if (ev_watch(loop_ev(loop), doorbell, EPOLLIN, on_doorbell, NULL) < 0)
        perror_die("watching the ring's doorbell");
    loop_run(loop);
    log_msg("stopping");
    drain_ring();
    loop_free(loop);
    uring_exit(&ring);
    close(doorbell);
    if (!disk_is_real())
        close(data_fd);
    close(listen_fd);
    return 0;
}
