/* Exercise 14 (make exercise-14 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/14-cache-aware/server.c. */
/* Chapter 14: read on the loop when the page cache has the data, offload only on a miss.
 * Chapter 06's loop (common/loop.c) and pool (common/pool.c), reading a real file: start_read()
 * first tries preadv2(RWF_NOWAIT), which copies from the page cache or fails with EAGAIN rather
 * than wait for the disk. A hit is answered at once on the loop; only a miss goes to the worker
 * pool (-m always-offload: all go).
 * What breaks: RWF_NOWAIT is a promise about the disk only (not page locks or memory pressure),
 * and some filesystems refuse it (tmpfs, FUSE: EOPNOTSUPP); then every read is offloaded.
 * With -D the objects are the real disk's files, not the data file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "signals.h"

static struct server_config cfg;
static struct prng rng;
static struct pool *pool;

/* The data every request reads: a real file, made at start-up and removed at exit. */
#define READ_SIZE (64 * 1024)       /* one request reads this much ... */
#define FILE_SIZE (256 * READ_SIZE) /* ... at one of 256 offsets: a 16 MiB file */
static char data_path[4096];
static int data_fd = -1;
static bool try_nowait = true;           /* -m nowait (default); false: -m always-offload */
static bool nowait_works = true;         /* false where the filesystem refuses RWF_NOWAIT */
static const char *offload_why = "miss"; /* how the log names an offloaded read */
static long hits, misses;                /* the loop's alone: workers never touch them */

/* Per connection, beside chapter 06's conn (at c->data). */
struct block_read {
    off_t offset; /* where in the data file this request reads */
};

/* Checks a read of c's block (n bytes, or -1) into buf: a short or wrong read is an I/O
 * failure (RC 2). Every byte of block k is k % 251, so a misplaced read shows. */
static long read_block(ssize_t n, const char *buf, struct conn *c) {
    struct block_read *r = c->data;
    char want = (char)(r->offset / READ_SIZE % 251);
    if (n != READ_SIZE || buf[0] != want || buf[n - 1] != want)
        c->job.disk.io_fail = true;
    return n < 0 ? 0 : (long)n;
}

/* A filesystem that refuses RWF_NOWAIT (EOPNOTSUPP: tmpfs, FUSE): every read goes to the pool. */
static void no_nowait(const char *where) {
    log_msg("RWF_NOWAIT unsupported on the filesystem of %s: every read goes to the pool", where);
    try_nowait = nowait_works = false;
    offload_why = "no RWF_NOWAIT";
}

/* -D: c's object, read if the page cache holds all of it. Its open is on the loop: answered at
 * once by slowdisk, though a dying disk's open can block too (chapter 15). */
static bool read_object_if_cached(struct conn *c, char *buf) {
    struct iovec iov = {.iov_base = buf, .iov_len = READ_SIZE};
    struct stat st;
    int fd = disk_open(c->job.req.path, &c->job.disk);
    ssize_t n = fd < 0 || fstat(fd, &st) < 0 ? -1 : preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
    if (n < 0 && errno == EOPNOTSUPP)
        no_nowait(cfg.disk_dir);
    if (fd >= 0)
        close(fd);
    if (n < 0 || n < (st.st_size < READ_SIZE ? st.st_size : READ_SIZE))
        return false; /* a miss, or only part of it cached: the rest is on the disk */
    c->job.disk = (struct disk_plan){.bytes = n};
    return true;
}

/* Reads c's block if the page cache holds all of it: then there is no disk, so no delay and no
 * I/O failure to simulate. False on EAGAIN (a miss), a partly cached block, or no RWF_NOWAIT. */
static bool read_if_cached(struct conn *c, char *buf) {
    /* TODO(exercise): read c's block (READ_SIZE bytes at its offset, r->offset, from data_fd)
     * with preadv2() and RWF_NOWAIT: the kernel copies it from the page cache, or fails with
     * EAGAIN rather than wait for the disk. True only for the whole block; then c->job.disk is a
     * read with no delay, its bytes checked by read_block. Where the filesystem refuses
     * RWF_NOWAIT (nowait_works false) it is always a miss; with -D (disk_is_real()),
     * read_object_if_cached does it for the real disk's files. */
    (void)c;
    (void)buf;
    (void)read_object_if_cached;
    return false;
}

/* On a worker: the read the loop could not do without waiting for the disk. always-offload
 * sends hits here too, and a hit waits for no disk. A miss the loop saw waits for the simulated
 * disk even if the block is in the cache by now: the loop's RWF_NOWAIT attempt started the
 * readahead that brought it there, and that readahead is this miss's trip to the disk. */
static void read_on_worker(struct conn *c) {
    struct block_read *r = c->data;
    static _Thread_local char buf[READ_SIZE];
    if (!try_nowait && read_if_cached(c, buf))
        return;
    if (disk_is_real()) {
        disk_read(c->job.req.path, &c->job.disk); /* the object itself, from the real disk */
    } else {
        ssize_t n = pread(data_fd, buf, READ_SIZE, r->offset);
        sleep_ms(c->job.disk.delay_ms);
        c->job.disk.bytes = read_block(n, buf, c);
    }
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
    struct block_read *r = c->data;
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    r->offset = block_of(c->job.req.path);
    /* TODO(exercise): unless -m always-offload (try_nowait false), try read_if_cached first. A
     * hit is a memory copy: count it (hits), log "hit: served on the loop PATH" under -v, and
     * answer now (job_start_read, job_finish, conn_reply) with no queue, thread or doorbell.
     * Only a miss goes on to the pool. */
    misses++;
    if (cfg.verbose)
        log_msg("%s: offloaded %s", offload_why, c->job.req.path);
    return pool_submit(pool, c, now);
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
    log_msg("%s: %ld of %ld pages of %s (unlinked) in the page cache", when, resident, pages,
            data_path);
}

/* Writes the 16 MiB data file under $TMPDIR (default /var/tmp, which is on disk where /tmp may
 * be tmpfs), then evicts it from the page cache: every block starts cold. It is unlinked as soon
 * as it is open, so nothing is left behind, however the server ends (kill -9 included). */
static void make_data_file(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(data_path, sizeof data_path, "%s/cache-aware.XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
    if ((data_fd = mkostemp(data_path, O_CLOEXEC)) < 0)
        perror_die(data_path);
    unlink(data_path);
    static char block[READ_SIZE];
    for (int k = 0; k < FILE_SIZE / READ_SIZE; k++) {
        memset(block, k % 251, sizeof block);
        if (write_all(data_fd, block, sizeof block) < 0)
            perror_die("write");
    }
    /* DONTNEED drops only clean pages: write the dirty ones back first. */
    int err = fdatasync(data_fd) < 0 ? errno : posix_fadvise(data_fd, 0, 0, POSIX_FADV_DONTNEED);
    /* RANDOM: each block stands for an object, read whole at a random offset. Readahead would
     * bring its neighbours in with it (up to read_ahead_kb: 8 MiB, half this file, on our VMs),
     * and a later read of one of them would be a hit by luck, not by having been read. */
    if (!err)
        err = posix_fadvise(data_fd, 0, 0, POSIX_FADV_RANDOM);
    if (err)
        die("evicting %s: %s", data_path, strerror(err));
    log_residency("evicted");
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    if (try_nowait && preadv2(data_fd, &iov, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP)
        no_nowait(data_path);
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 14: reads that hit the page cache are "
                                         "served on the loop;\n-m nowait: try "
                                         "preadv2(RWF_NOWAIT), offload only a miss;\n-m "
                                         "always-offload: every read goes to the workers, "
                                         "as in chapter 06.",
                                .extra = "w:",
                                .modes = (const char *[]){"nowait", "always-offload", NULL}});
    try_nowait = cfg.mode == 0;
    if (!try_nowait)
        offload_why = "always-offload";
    install_signal_handlers();
    rng.state = cfg.seed;
    if (!disk_is_real())  /* -D: the objects are the disk's files instead */
        make_data_file(); /* before "listening on": ready means the file is there, and cold */
    int listen_fd = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);

    struct loop *loop = loop_new(&(struct loop_spec){
        .cfg = &cfg,
        .listen_fd = listen_fd,
        .data_size = sizeof(struct block_read),
        .on_request = start_read,
    });
    pool = pool_start(loop, &(struct pool_spec){.workers = cfg.workers,
                                                .deadline_ms = cfg.deadline_ms,
                                                .read = read_on_worker});
    loop_run(loop);
    log_msg("stopping: %ld hits served on the loop, %ld reads offloaded", hits, misses);
    if (!disk_is_real())
        log_residency("at exit");
    pool_stop(pool);
    loop_free(loop);
    close(listen_fd);
    if (data_fd >= 0)
        close(data_fd);
    return 0;
}
