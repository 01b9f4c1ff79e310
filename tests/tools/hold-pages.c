/* hold-pages: keeps the pages of a file that are in the page cache now from being paged out, for
 * the tests and scripts/figures.sh ("hold" in figures.conf): hold_pages in scripts/server.bash.
 *   hold-pages FILE   maps FILE, touches each page mincore(2) finds resident (a touch of a
 *                     resident page reads nothing from the disk), prints "holding N of M pages"
 *                     and keeps the mapping until SIGTERM, SIGINT or SIGHUP; then exits 0.
 * Why: the kernel may drop a cached page that nothing maps with 23 GB free. Our VMs run DAMON
 * with a "pageout" scheme for unmapped file pages in memory it judges idle, in regions of tens
 * of MB: a block read 100 ms earlier can go with its region. A test that wants a block's second
 * read to be a hit holds the block between the reads, so that it tests the server, not the VM.
 * Exits 1 with the error when FILE cannot be opened or mapped, 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: hold-pages FILE\n");
        return 2;
    }
    /* Blocked before anything else: a stop that comes early waits for sigwait, not kills us. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "hold-pages: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
    volatile const char *map = NULL;
    unsigned char *resident = calloc(pages ? pages : 1, 1);
    if (pages > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED || !resident || mincore(m, (size_t)st.st_size, resident) < 0) {
            fprintf(stderr, "hold-pages: mapping %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
        /* MADV_RANDOM: a touch of a page the kernel marked for readahead would otherwise start
         * the next readahead window, read_ahead_kb of the file (8 MiB on our VMs): holding 84
         * pages of chapter 14's data file read 2,000 more, and a block a test needs cold went
         * warm. So marked, a touch reads nothing more (or, for a page dropped since mincore, that
         * page alone). */
        if (madvise(m, (size_t)st.st_size, MADV_RANDOM) < 0) {
            fprintf(stderr, "hold-pages: madvise %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
        map = m;
    }
    size_t held = 0;
    for (size_t i = 0; i < pages; i++) {
        if (resident[i] & 1) {
            (void)map[i * (size_t)page]; /* mapped into us: no longer an unmapped page */
            held++;
        }
    }
    printf("holding %zu of %zu pages\n", held, pages);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    free(resident);
    return 0;
}
