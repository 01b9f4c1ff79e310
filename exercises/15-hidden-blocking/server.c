/* Exercise 15 (make exercise-15 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/15-hidden-blocking/server.c. */
/* Chapter 15: the blocking calls you don't see. Chapter 06's loop (common/loop.c) and pool
 * (common/pool.c), and a request that does what an object server's does: it may look up the host
 * it names, opens and reads its object, checksums it, counts it in the disk's statistics under a
 * lock, and writes an access line. -m safe does all of that off the loop; each other mode puts
 * one of them back on the loop thread, as real code does without noticing: open (the open and
 * fstat), mmap (the read becomes a page fault), mutex (a lock a worker holds across its read),
 * checksum (computing), log (a write to a pipe nobody reads), dns (getaddrinfo).
 * What breaks: none of them is a read(2) on a socket, so no readiness API can see them coming,
 * and each one stops the loop for as long as its hidden wait lasts.
 * Over the style's 250 lines: seven modes, one hidden blocking call each, side by side. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "protocol.h"
#include "resolver.h"
#include "signals.h"

enum mode { SAFE, OPEN, MMAP, MUTEX, CHECKSUM, LOG, DNS };
static enum mode mode;

static struct server_config cfg;
static struct prng rng;
static struct pool *pool;

#define CHUNK               (64 * 1024) /* what a read brings in: an object's first (here, only) chunk */
#define SWIFT_MAX_FILE_SIZE (5L << 30) /* a bigger object is stored in segments */

/* The disk's statistics, as Swift's recon reports them: the loop counts requests, the workers
 * add what they read. One lock for both, held for an addition: unless -m mutex. */
static struct {
    pthread_mutex_t lock;
    long requests, reads, bytes;
} stats = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Per connection, beside chapter 06's conn (at c->data). */
struct object {
    bool requested; /* on_request ran; until then the loop's zeroes: fd 0 is not ours */
    int fd;         /* -m open: opened on the loop, read by a worker; else -1 */
    char *data;     /* what was read (CHUNK bytes at most), NULL before */
    size_t data_len;
    long size;         /* its file's size, or the size its path asks for */
    long file_size;    /* -D: what fstat said */
    uint64_t checksum; /* FNV-1a over size bytes: the ETag of the access line */
    char host[256];    /* a path /@HOST/...: the host it lives on, looked up first; "" if none */
};

/* Reads the path's two optional prefixes: /@HOST/ names the host the object lives on, and then
 * /NUMBER[KMG]/ its size, for objects bigger than the disk holds (/4G/obj). NULL, or why the
 * server will not serve it. */
static const char *parse_path(const char *path, struct object *o) {
    int used = 0;
    long n;
    char unit;
    if (sscanf(path, "/@%255[^/]%n", o->host, &used) == 1 && path[used] == '/')
        path += used;
    else
        o->host[0] = '\0';
    used = 0;
    if (sscanf(path, "/%12ld%c/%n", &n, &unit, &used) < 2 || used == 0 || n <= 0)
        return NULL;
    long shift = unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : -1;
    if (shift > 0 && n > SWIFT_MAX_FILE_SIZE >> shift)
        return "larger than 5 GiB, Swift's max_file_size: not read";
    if (shift > 0)
        o->size = n << shift;
    return NULL;
}

/* FNV-1a over the object's size bytes, a chunk at a time, as Swift computes its MD5 ETag while
 * it streams an object. Past the first chunk the bytes are that chunk again (this server keeps
 * no GiB objects), but the arithmetic, and the CPU time, are the whole object's. After each
 * chunk it looks at the clock: past the request's deadline it gives up (false), so a checksum
 * holds its thread, worker or loop, no longer than the deadline and one chunk (75 us here). */
static bool checksum(struct conn *c) {
    struct object *o = c->data;
    int64_t deadline_ms = c->job.started_ms + cfg.deadline_ms;
    uint64_t h = 14695981039346656037u;
    for (long done = 0; o->data_len > 0 && done < o->size;) {
        size_t n = o->size - done < (long)o->data_len ? (size_t)(o->size - done) : o->data_len;
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)o->data[i]) * 1099511628211u;
        done += (long)n;
        if (done < o->size && (stop_requested || now_ms() > deadline_ms)) {
            if (!stop_requested)
                log_msg("%s: checksum given up at the deadline, %ld MiB of %ld", c->job.req.path,
                        done >> 20, o->size >> 20);
            return false;
        }
    }
    o->checksum = h;
    return true;
}

/* Opens the object on the real disk (-D) and stats it. NULL, or why it failed. A signal ends a
 * FUSE open with EINTR, which SA_RESTART does not restart: retry it (a stop request or a
 * debugging tool's signal may come at any time). */
static const char *open_object(struct conn *c) {
    struct object *o = c->data;
    struct stat st;
    while ((o->fd = disk_open(c->job.req.path, &c->job.disk)) < 0 && errno == EINTR &&
           !stop_requested)
        ;
    if (o->fd < 0 || fstat(o->fd, &st) < 0)
        return strerror(errno);
    o->file_size = st.st_size;
    if (!o->size)
        o->size = st.st_size;
    return NULL;
}

/* The read, on a worker: open unless the loop did, and pread the first chunk; or, on the
 * simulated disk, its delay and bytes that stand for the object. */
static const char *read_object(struct conn *c) {
    struct object *o = c->data;
    if (!(o->data = malloc(CHUNK)))
        return "out of memory";
    if (!disk_is_real()) {
        sleep_ms(c->job.disk.delay_ms);
        o->data_len = o->size < CHUNK ? (size_t)o->size : CHUNK;
        memset(o->data, (int)(c->job.disk.bytes % 251), o->data_len);
        return NULL; /* a simulated failure is in c->job.disk.io_fail already */
    }
    const char *failed = o->fd < 0 ? open_object(c) : NULL;
    ssize_t n = -1;
    while (!failed && (n = pread(o->fd, o->data, CHUNK, 0)) < 0 && errno == EINTR &&
           !stop_requested)
        ;
    if (!failed && n < 0)
        failed = strerror(errno);
    o->data_len = n > 0 ? (size_t)n : 0;
    if (o->fd >= 0)
        close(o->fd); /* here too: a close can wait for the disk (NFS flushes, FUSE asks) */
    o->fd = -1;
    return failed;
}

/* A page fault cannot fail as read(2) does: when the disk fails the read a fault needs (EIO, a
 * FUSE disk gone), the kernel sends SIGBUS, whose default kills the server. So the copy out of a
 * mapping runs under a jump buffer, and the handler turns a SIGBUS inside that mapping into a
 * read error, as LMDB's and SQLite's mmap readers do. Any other SIGBUS is a bug, and kills. */
static _Thread_local struct {
    sigjmp_buf failed;
    const char *volatile from, *volatile to; /* the mapping being copied; NULL: none */
} copying;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    (void)context;
    const char *at = info->si_addr;
    if (copying.from && at >= copying.from && at < copying.to)
        siglongjmp(copying.failed, 1);
    signal(sig, SIG_DFL); /* not a copy of ours: die of it, as without this handler */
    raise(sig);
}

/* memcpy out of a mapping: true, or false when the disk failed a page of it. */
static bool copy_mapped(char *to, const char *map, size_t len) {
    if (sigsetjmp(copying.failed, 1)) { /* 1: siglongjmp unblocks SIGBUS again */
        copying.from = NULL;
        return false;
    }
    copying.to = map + len;
    copying.from = map;
    memcpy(to, map, len);
    copying.from = NULL;
    return true;
}

/* -m mmap, on the loop: map the object and copy it out. mmap itself reads nothing; each page not
 * in the page cache faults on the copy, and the fault waits for the disk: a read with no system
 * call, that strace cannot show. */
static const char *map_and_copy(struct conn *c) {
    struct object *o = c->data;
    const char *failed = open_object(c);
    size_t len = o->file_size < CHUNK ? (size_t)o->file_size : CHUNK; /* past its end: SIGBUS */
    void *map = failed || !len ? MAP_FAILED : mmap(NULL, len, PROT_READ, MAP_SHARED, o->fd, 0);
    if (!failed && len && map == MAP_FAILED)
        failed = strerror(errno);
    if (!failed && !(o->data = malloc(CHUNK)))
        failed = "out of memory";
    if (!failed && len && !copy_mapped(o->data, map, len))
        failed = "the disk failed a page of the mapping (SIGBUS)";
    else if (!failed)
        o->data_len = len;
    if (map != MAP_FAILED)
        munmap(map, len);
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    return failed;
}

static const char *look_up(struct object *o) {
    int rc = resolve(o->host);
    return rc ? gai_strerror(rc) : NULL;
}

/* On a worker: everything the mode leaves off the loop. */
static void read_on_worker(struct conn *c) {
    struct object *o = c->data;
    if (mode == MUTEX) /* "so the read and its numbers go in together": the lock waits for it */
        pthread_mutex_lock(&stats.lock);
    const char *failed = o->host[0] && mode != DNS ? look_up(o) : NULL;
    if (!failed && mode != MMAP) /* mmap's copy was the read */
        failed = read_object(c);
    if (!failed && mode != CHECKSUM)
        checksum(c); /* when it gives up, past the deadline, job_finish answers RC 1 */
    if (mode != MUTEX)
        pthread_mutex_lock(&stats.lock);
    stats.reads++;
    stats.bytes += (long)o->data_len;
    pthread_mutex_unlock(&stats.lock);
    if (failed) {
        log_msg("%s: %s", c->job.req.path, failed);
        c->job.disk.io_fail = true;
    }
}

/* The reply, and its access line: -m log writes the line on the loop, where a full pipe blocks
 * it; every other mode hands it to the logger thread. */
static enum want answer(struct conn *c, int64_t now) {
    struct object *o = c->data;
    char line[ACCESS_LINE_MAX], when[32];
    time_t t = time(NULL);
    struct tm tm; /* main's tzset() read /etc/localtime, so neither call here reads it */
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", gmtime_r(&t, &tm));
    int len = snprintf(line, sizeof line,
                       "access: 127.0.0.1 - - [%s] \"GET %.300s\" %d %ld %lld ms etag %016llx\n",
                       when, c->job.req.path, c->job.rc, o->size,
                       (long long)(now - c->job.arrived_ms), (unsigned long long)o->checksum);
    len = len < (int)sizeof line ? len : (int)sizeof line - 1;
    if (mode == LOG)
        access_log_write(line, (size_t)len);
    else
        access_log_queue(line, (size_t)len);
    c->job.disk.bytes = o->size;
    return conn_reply(c, now);
}

/* A piece the mode did on the loop failed: RC 2, at once. */
static enum want fail(struct conn *c, const char *why, int64_t now) {
    log_msg("%s: %s", c->job.req.path, why);
    job_start_read(&c->job, now);
    c->job.disk.io_fail = true;
    job_finish(&c->job, now_ms(), cfg.deadline_ms);
    return answer(c, now_ms());
}

/* The whole request is in. The mode's one piece runs here, on the loop; the rest goes to the
 * workers. */
static enum want on_request(struct conn *c, int64_t now) {
    struct object *o = c->data;
    o->requested = true;
    o->fd = -1;
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    const char *refused = parse_path(c->job.req.path, o);
    if (!o->size && !disk_is_real())
        o->size = c->job.disk.bytes;
    pthread_mutex_lock(&stats.lock); /* an addition: microseconds, unless -m mutex */
    stats.requests++;
    pthread_mutex_unlock(&stats.lock);
    if (refused)
        return fail(c, refused, now);
    const char *failed = NULL;
    if (mode == DNS && o->host[0])
        failed = look_up(o); /* getaddrinfo: a UDP exchange, waited for in poll() */
    else if (mode == OPEN || (mode == SAFE && disk_is_real()))
        /* TODO(exercise): -m safe must do nothing on the loop that may wait for the disk, and
         * an open does: on a dying disk it waits as long as a read. Leave the object unopened
         * here (o->fd stays -1) and let the worker open it (read_object does, when o->fd < 0). */
        failed = open_object(c); /* on a dying disk, the open waits for the disk */
    else if (mode == MMAP)
        failed = map_and_copy(c);
    return failed ? fail(c, failed, now) : pool_submit(pool, c, now);
}

/* Back on the loop once a worker is done: -m checksum computes here. */
static enum want on_job_done(struct conn *c, int64_t now) {
    if (mode == CHECKSUM && c->job.rc == RC_OK && !checksum(c))
        c->job.rc = RC_TIMEOUT;
    return answer(c, mode == CHECKSUM ? now_ms() : now);
}

static bool release(struct conn *c) {
    struct object *o = c->data;
    /* A connection refused before on_request (bad input, too slow, gone) still has o as the
     * loop zeroed it: its fd 0 is not ours, but by then perhaps another client's connection. */
    if (o->requested && o->fd >= 0)
        close(o->fd);
    free(o->data);
    return true;
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){
            .about = "Chapter 15: the blocking calls you don't see. -m safe keeps every piece of "
                     "a request\noff the loop; each other mode puts one back on it: open (and "
                     "fstat), mmap (a page\nfault), mutex (a lock held across a read), checksum, "
                     "log (a full pipe), dns.\nPaths: /@HOST/... is looked up first; /4G/... asks "
                     "for an object of that size.",
            .extra = "w:",
            .modes =
                (const char *[]){"safe", "open", "mmap", "mutex", "checksum", "log", "dns", NULL}});
    mode = (enum mode)cfg.mode;
    if ((mode == OPEN || mode == MMAP) && !cfg.disk_dir)
        flag_error("-m %s needs -D DIR, a slow disk's mount point (bin/slowdisk%s DIR): the "
                   "simulated disk has no file to open",
                   cfg.mode_name, mode == OPEN ? " -O" : "");
    tzset(); /* glibc reads /etc/localtime on its first time call: here, not on the loop */
    access_log_start(); /* a fork: before any thread, and before the listening socket */
    install_signal_handlers();
    struct sigaction on_bus = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&on_bus.sa_mask);
    if (sigaction(SIGBUS, &on_bus, NULL) < 0)
        perror_die("sigaction SIGBUS");
    rng.state = cfg.seed;
    resolver_start();
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    struct loop *loop = loop_new(&(struct loop_spec){.cfg = &cfg,
                                                     .listen_fd = listen_fd,
                                                     .data_size = sizeof(struct object),
                                                     .on_request = on_request,
                                                     .release = release});
    pool = pool_start(loop, &(struct pool_spec){.workers = cfg.workers,
                                                .deadline_ms = cfg.deadline_ms,
                                                .read = read_on_worker,
                                                .on_job_done = on_job_done});
    loop_run(loop);
    pool_stop(pool); /* the workers are gone: stats is the loop's alone */
    log_msg("stopping: %ld requests, %ld reads, %ld bytes read", stats.requests, stats.reads,
            stats.bytes);
    loop_free(loop);
    access_log_stop();
    resolver_stop();
    close(listen_fd);
    return 0;
}
