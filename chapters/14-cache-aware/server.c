/* Chapter 14: read on the loop when the page cache has the data, offload only on a miss.
 * Chapter 06's server, reading a real file: start_read() first tries preadv2(RWF_NOWAIT), which
 * copies from the page cache or fails with EAGAIN rather than wait for the disk. A hit is
 * answered at once on the loop; only a miss goes to the worker pool (-m always-offload: all go).
 * What breaks: RWF_NOWAIT is a promise about the disk only (not page locks or memory pressure),
 * and some filesystems refuse it (tmpfs: EOPNOTSUPP); then every read is offloaded. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "heap.h"
#include "protocol.h"
#include "utils.h"
#include "watchdog.h"

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
    off_t offset;       /* where in the data file this request reads */
    struct timer timer; /* deadline_ms, in the heap while there is one */
    struct conn *next_done; /* on the pool's done list */
};

static struct server_config cfg;
static struct prng rng;
static struct conn **conns; /* indexed by fd: descriptors are small integers, reused after close */
static int conns_cap, max_fd, epfd;
static struct timer_heap timers;

/* The data every request reads: a real file, made at start-up and removed at exit. */
#define READ_SIZE (64 * 1024)           /* one request reads this much ... */
#define FILE_SIZE (256 * READ_SIZE)     /* ... at one of 256 offsets: a 16 MiB file */
static char data_dir[4096], data_path[4096 + 8];
static int data_fd = -1;
static bool try_nowait = true;          /* -m nowait (default); false: -m always-offload */
static bool nowait_works = true;        /* false where the filesystem refuses RWF_NOWAIT */
static const char *offload_why = "miss"; /* how the log names an offloaded read */
static long hits, misses;               /* the loop's alone: workers never touch them */

static enum want reply_bad(struct conn *c, const char *why) {
    c->out_len = bad_request_reply(c->out, c->job.req.http, why);
    return WANT_WRITE;
}

/* The worker pool, shaped like Redis's bio.c.
 * The loop puts a connection whose request is in on a bounded queue (a ring under one mutex).
 * A worker takes it, does the blocking read, puts it on the done list and writes to an eventfd;
 * that wakes the loop's epoll_wait, and the loop, the only thread that touches sockets, sends
 * the reply. A connection belongs to one side at a time: while its job is queued or running the
 * loop does not touch it (its socket is not even watched), so conn itself needs no lock. */
#define QUEUE_CAP 16384

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct conn *queue[QUEUE_CAP];
    size_t head, len;
    struct conn *done; /* finished jobs, linked through next_done */
    bool stopping;
    int efd;           /* the workers' doorbell: readable when done is not empty */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER};

/* Checks a read of block c->offset (n bytes, or -1) into buf: a short or wrong read is an I/O
 * failure (RC 2). Every byte of block k is k % 251, so a misplaced read shows. */
static long read_block(ssize_t n, const char *buf, struct conn *c) {
    char want = (char)(c->offset / READ_SIZE % 251);
    if (n != READ_SIZE || buf[0] != want || buf[n - 1] != want)
        c->job.disk.io_fail = true;
    return n < 0 ? 0 : (long)n;
}

/* Reads c's block if the page cache holds all of it: then there is no disk, so no delay and no
 * I/O failure to simulate. False on EAGAIN (a miss), a partly cached block, or no RWF_NOWAIT. */
static bool read_if_cached(struct conn *c, char *buf) {
    struct iovec iov = {.iov_base = buf, .iov_len = READ_SIZE};
    if (!nowait_works || preadv2(data_fd, &iov, 1, c->offset, RWF_NOWAIT) != READ_SIZE)
        return false;
    c->job.disk = (struct disk_read){0};
    c->job.disk.bytes = read_block(READ_SIZE, buf, c);
    return true;
}

static void *worker_main(void *arg) {
    (void)arg;
    block_stop_signals();
    pthread_mutex_lock(&pool.lock);
    while (!pool.stopping) {
        if (pool.len == 0) {
            pthread_cond_wait(&pool.not_empty, &pool.lock);
            continue;
        }
        struct conn *c = pool.queue[pool.head];
        pool.head = (pool.head + 1) % QUEUE_CAP;
        pool.len--;
        pthread_mutex_unlock(&pool.lock);

        int64_t now = now_ms();
        if (!job_expired_in_queue(&c->job, now, cfg.deadline_ms)) {
            c->job.started_ms = now;
            static _Thread_local char buf[READ_SIZE];
            if (!read_if_cached(c, buf)) { /* always-offload sends hits here too */
                ssize_t n = pread(data_fd, buf, READ_SIZE, c->offset);
                sleep_ms(c->job.disk.delay_ms); /* a miss also waits for the simulated disk */
                c->job.disk.bytes = read_block(n, buf, c);
            }
            job_finish(&c->job, now_ms(), cfg.deadline_ms);
        }
        pthread_mutex_lock(&pool.lock);
        c->next_done = pool.done;
        pool.done = c;
        uint64_t one = 1;
        (void)!write(pool.efd, &one, sizeof one);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

static pthread_t *start_workers(int count) {
    if ((pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        perror_die("eventfd");
    pthread_t *workers = calloc((size_t)count, sizeof *workers);
    for (int i = 0; i < count; i++)
        if (!workers || pthread_create(&workers[i], NULL, worker_main, NULL) != 0)
            die("cannot start worker %d of %d", i + 1, count);
    return workers;
}

static void stop_workers(pthread_t *workers, int count) {
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.not_empty);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < count; i++)
        join_interrupting(workers[i]); /* a worker may be in the middle of a long read */
    free(workers);
    close(pool.efd);
}

/* FNV-1a of the path picks the block: the same path always reads the same 64 KiB. */
static off_t block_of(const char *path) {
    uint32_t h = 2166136261u;
    for (; *path; path++)
        h = (h ^ (uint8_t)*path) * 16777619u;
    return (off_t)(h % (FILE_SIZE / READ_SIZE)) * READ_SIZE;
}

/* The whole request is in. If the page cache holds its block, read it here and answer now: no
 * queue, no thread, no doorbell. Otherwise queue it for the workers, as chapter 06 does. */
static enum want start_read(struct conn *c, int64_t now) {
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    c->offset = block_of(c->job.req.path);
    static char buf[READ_SIZE];
    if (try_nowait && read_if_cached(c, buf)) { /* a hit: a memory copy, answered now */
        hits++;
        c->job.started_ms = now;
        job_finish(&c->job, now, cfg.deadline_ms);
        if (cfg.verbose)
            log_msg("hit: served on the loop %s", c->job.req.path);
        c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
        return WANT_WRITE;
    }
    misses++;
    if (cfg.verbose)
        log_msg("%s: offloaded %s", offload_why, c->job.req.path);
    pthread_mutex_lock(&pool.lock);
    bool queued = pool.len < QUEUE_CAP;
    if (queued) {
        pool.queue[(pool.head + pool.len++) % QUEUE_CAP] = c;
        pthread_cond_signal(&pool.not_empty);
    }
    pthread_mutex_unlock(&pool.lock);
    if (queued)
        return WANT_DISK;
    log_msg("queue full: shedding %s", c->job.req.path); /* a bound, not an ever-growing backlog */
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

/* A worker finished c's read (job_finish has set its RC): format the reply. */
static enum want on_job_done(struct conn *c, int64_t now) {
    c->out_len = job_reply(&c->job, c->out, now, cfg.verbose);
    return WANT_WRITE;
}

static enum want on_timer(struct conn *c, int64_t now) {
    (void)now; /* only a request that is still arriving has a timer now */
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
    if (next != WANT_READ) /* a queued read has no timer: the workers own it */
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

/* The doorbell rang: hand every finished job back to its connection. */
static void on_doorbell(int64_t now) {
    uint64_t count;
    (void)!read(pool.efd, &count, sizeof count); /* reset the eventfd's counter */
    pthread_mutex_lock(&pool.lock);
    struct conn *c = pool.done;
    pool.done = NULL;
    pthread_mutex_unlock(&pool.lock);
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

/* Pages of the data file in the page cache now, as mincore(2) reports them for a mapping of it
 * (mapping it does not read it). -1 if it cannot tell. */
static long resident_pages(long *pages) {
    long page = sysconf(_SC_PAGESIZE), count = 0;
    *pages = FILE_SIZE / page;
    void *map = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, data_fd, 0);
    unsigned char *vec = malloc((size_t)*pages);
    if (map == MAP_FAILED || !vec || mincore(map, FILE_SIZE, vec) < 0)
        count = -1;
    for (long i = 0; count >= 0 && i < *pages; i++)
        count += vec[i] & 1;
    if (map != MAP_FAILED)
        munmap(map, FILE_SIZE);
    free(vec);
    return count;
}

static void log_residency(const char *when) {
    long pages, resident = resident_pages(&pages);
    log_msg("%s: %ld of %ld pages of %s in the page cache", when, resident, pages, data_path);
}

static void remove_data_file(void) {
    unlink(data_path);
    rmdir(data_dir);
}

/* Writes the 16 MiB data file in a new directory under $TMPDIR (default /var/tmp, which is on
 * disk where /tmp may be tmpfs), then evicts it from the page cache: every block starts cold. */
static void make_data_file(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(data_dir, sizeof data_dir, "%s/cache-aware.XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
    if (!mkdtemp(data_dir))
        perror_die(data_dir);
    snprintf(data_path, sizeof data_path, "%s/data", data_dir);
    atexit(remove_data_file);
    if ((data_fd = open(data_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        perror_die(data_path);
    static char block[READ_SIZE];
    for (int k = 0; k < FILE_SIZE / READ_SIZE; k++) {
        memset(block, k % 251, sizeof block);
        if (write_all(data_fd, block, sizeof block) < 0)
            perror_die("write");
    }
    /* DONTNEED drops only clean pages: write the dirty ones back first. */
    int err = fdatasync(data_fd) < 0 ? errno : posix_fadvise(data_fd, 0, 0, POSIX_FADV_DONTNEED);
    if (err)
        die("evicting %s: %s", data_path, strerror(err));
    log_residency("evicted");
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    if (try_nowait && preadv2(data_fd, &iov, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP) {
        log_msg("RWF_NOWAIT unsupported on the filesystem of %s: every read goes to the pool",
                data_dir);
        try_nowait = nowait_works = false;
        offload_why = "no RWF_NOWAIT";
    }
}

int main(int argc, char **argv) {
    parse_server_flags(argc, argv, &cfg, "w:W:m:",
                       "Chapter 14: reads that hit the page cache are served on the loop;\n"
                       "-m nowait (default): try preadv2(RWF_NOWAIT), offload only a miss;\n"
                       "-m always-offload: every read goes to the workers, as in chapter 06.");
    try_nowait = !cfg.mode || strcmp(cfg.mode, "nowait") == 0;
    if (!try_nowait && strcmp(cfg.mode, "always-offload") != 0)
        die("unknown mode '%s': want nowait or always-offload", cfg.mode);
    if (!try_nowait)
        offload_why = "always-offload";
    install_signal_handlers();
    rng.state = cfg.seed;
    conns_cap = (int)raise_fd_limit();
    if (conns_cap <= 0 || !(conns = calloc((size_t)conns_cap, sizeof *conns)))
        die("cannot size the connection table");
    make_data_file(); /* before "listening on": ready means the file is there, and cold */
    int listen_fd = listen_tcp(cfg.host, cfg.port);
    if (set_nonblocking(listen_fd) < 0)
        perror_die("set_nonblocking");

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        perror_die("epoll_ctl");
    pthread_t *workers = start_workers(cfg.workers);
    ev.data.ptr = &pool; /* &pool: the doorbell */
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, pool.efd, &ev) < 0)
        perror_die("epoll_ctl");

    if (cfg.watchdog_ms > 0)
        watchdog_start(cfg.watchdog_ms);
    struct epoll_event events[256];
    while (!stop_requested) {
        watchdog_beat();
        /* Sleep until a socket is ready or the earliest deadline is due. */
        int n = epoll_wait(epfd, events, 256, heap_wait_ms(&timers, now_ms()));
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        int64_t now = now_ms();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &pool) {
                on_doorbell(now);
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
    log_msg("stopping: %ld hits served on the loop, %ld reads offloaded", hits, misses);
    log_residency("at exit");
    stop_workers(workers, cfg.workers);
    for (int fd = 0; fd <= max_fd; fd++)
        if (conns[fd])
            close_conn(conns[fd]);
    free(conns);
    heap_free(&timers);
    close(epfd);
    close(listen_fd);
    close(data_fd);
    return 0;
}
