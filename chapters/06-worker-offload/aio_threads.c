/* POSIX AIO, as glibc does it: "asynchronous" in the API, chapter 06's thread pool underneath.
 * usage: aio-threads [-n READS] [MOUNTPOINT]
 * Issues READS (default 8) aio_read()s at once, each on a descriptor of its own, and counts this
 * process's threads (/proc/self/task) before, while the reads are in flight, and after. With a
 * slow disk's MOUNTPOINT (bin/slowdisk MOUNTPOINT) it reads MOUNTPOINT/1000/aio-PID.d/K (never
 * read before, so not in the page cache), which takes 1000 ms: the threads are caught in the
 * middle of their reads. Without one it reads a file of its own under $TMPDIR, from the page
 * cache, at once.
 * aio_read() returns at once because glibc hands the request to a helper thread (one per
 * descriptor with work, up to 20 by default: aio_init's aio_threads) that makes a plain blocking
 * pread(). A helper that runs out of work waits a second (aio_idle_time) for more before it
 * exits, so even fast reads leave their helpers there to be counted. */
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_READS 64
#define READ_SIZE (64 * 1024)

static long elapsed_us(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000 + (now.tv_nsec - since->tv_nsec) / 1000;
}

/* This process's threads; with list, one line each: its id, name and the kernel function it
 * waits in. */
static int count_threads(bool list) {
    DIR *dir = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        char path[320], name[32] = "?", wchan[64] = "?";
        FILE *f;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (list && (f = fopen(path, "r"))) {
            if (fscanf(f, "%31s", name) != 1)
                snprintf(name, sizeof name, "?");
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/self/task/%s/wchan", e->d_name);
        if (list && (f = fopen(path, "r"))) {
            if (fscanf(f, "%63s", wchan) != 1 || strcmp(wchan, "0") == 0)
                snprintf(wchan, sizeof wchan, "running");
            fclose(f);
        }
        if (list)
            printf("  thread %-8s %-12s in kernel: %s%s\n", e->d_name, name, wchan,
                   atoi(e->d_name) == getpid() ? " (main, reading /proc)" : "");
    }
    if (dir)
        closedir(dir);
    return n;
}

/* Opens READS descriptors to read from: READS files on the slow disk, or one file of ours
 * under $TMPDIR (unlinked at once, so nothing is left behind), duplicated. */
static int open_files(const char *mnt, int reads, int *fds) {
    if (mnt) {
        for (int i = 0; i < reads; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/1000/aio-%d.d/%d", mnt, (int)getpid(), i);
            if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
                fprintf(stderr, "aio-threads: %s: %s\n", path, strerror(errno));
                return -1;
            }
        }
        printf("aio_read x %d: %s/1000/aio-%d.d/0..%d, a read of 1000 ms each\n", reads, mnt,
               (int)getpid(), reads - 1);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/aio-threads.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    static char block[READ_SIZE];
    memset(block, 'a', sizeof block);
    if ((fds[0] = mkostemp(path, O_CLOEXEC)) < 0 || unlink(path) < 0 ||
        write(fds[0], block, sizeof block) != (ssize_t)sizeof block) {
        fprintf(stderr, "aio-threads: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 1; i < reads; i++)
        if ((fds[i] = dup(fds[0])) < 0) {
            perror("aio-threads: dup");
            return -1;
        }
    printf("aio_read x %d: one file of %d KiB in %s, a descriptor each, from the page cache\n",
           reads, READ_SIZE / 1024, tmp && *tmp ? tmp : "/tmp");
    return 0;
}

/* Waits for every read of cbs to end, as the glibc helper threads finish them. Returns how many
 * failed, and adds what the others read to *bytes. */
static int wait_all(struct aiocb *cbs, const struct aiocb **list, int reads, long *bytes) {
    int done = 0, failed = 0;
    while (done < reads) {
        aio_suspend(list, reads, NULL);
        for (int i = 0; i < reads; i++) {
            if (!list[i] || aio_error(list[i]) == EINPROGRESS)
                continue;
            ssize_t n = aio_return(&cbs[i]);
            n < 0 ? failed++ : (*bytes += n);
            list[i] = NULL; /* aio_suspend skips it from now on */
            done++;
        }
    }
    return failed;
}

int main(int argc, char **argv) {
    int reads = 8, opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        char *end;
        long n = opt == 'n' ? strtol(optarg, &end, 10) : 0;
        if (opt != 'n' || *end || n < 1 || n > MAX_READS) {
            fprintf(stderr, "usage: aio-threads [-n READS (1-%d)] [MOUNTPOINT]\n", MAX_READS);
            return 2;
        }
        reads = (int)n;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "usage: aio-threads [-n READS (1-%d)] [MOUNTPOINT]\n", MAX_READS);
        return 2;
    }
    const char *mnt = optind < argc ? argv[optind] : NULL;
    static int fds[MAX_READS];
    static struct aiocb cbs[MAX_READS];
    static const struct aiocb *list[MAX_READS];
    static char bufs[MAX_READS][READ_SIZE];
    if (open_files(mnt, reads, fds) < 0)
        return 1;

    printf("threads before:                      %d\n", count_threads(false));
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < reads; i++) {
        cbs[i] = (struct aiocb){.aio_fildes = fds[i], .aio_buf = bufs[i], .aio_nbytes = READ_SIZE};
        list[i] = &cbs[i];
        if (aio_read(&cbs[i]) < 0) {
            perror("aio-threads: aio_read");
            return 1;
        }
    }
    long issued_us = elapsed_us(&start);
    printf("aio_read x %d returned after %ld us\n", reads, issued_us);
    printf("threads after aio_read:              %d\n", count_threads(false));
    if (mnt) {
        usleep(100 * 1000); /* the helpers have started their reads */
        printf("100 ms later, the reads still in flight:\n");
        count_threads(true);
    }

    long bytes = 0;
    int failed = wait_all(cbs, list, reads, &bytes);
    printf("all %d done after %ld ms: %ld bytes, %d failed\n", reads, elapsed_us(&start) / 1000,
           bytes, failed);
    usleep(1500 * 1000); /* past aio_idle_time, 1 s: the idle helpers exit */
    printf("threads 1.5 s later:                 %d\n", count_threads(false));
    for (int i = 0; i < reads; i++)
        close(fds[i]);
    return failed ? 1 : 0;
}
