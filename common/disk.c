#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utils.h"

#define MAX_OBJECT (64 * 1024) /* the protocol's objects are 1-64 KiB: one pread reads any */

static const char *disk_dir; /* -D, or NULL */

int disk_use(const char *dir) {
    struct stat st;
    if (stat(dir, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    disk_dir = dir;
    return 0;
}

bool disk_is_real(void) {
    return disk_dir != NULL;
}

int disk_path(const struct job *job, char *out, size_t size) {
    int n = job->disk.io_fail ? snprintf(out, size, "%s/eio", disk_dir)
                              : snprintf(out, size, "%s/%d", disk_dir, job->disk.delay_ms);
    /* "/a/b/c" becomes "/a.d/b.d/c": slowdisk tells a directory from a file by its name, since
     * the kernel asks what a name is before it knows whether the path goes on. */
    for (const char *p = job->req.path; *p && n > 0 && (size_t)n + 3 < size; p++) {
        if (*p == '/' && p != job->req.path && p[-1] != '/') {
            out[n++] = '.';
            out[n++] = 'd';
        }
        if (*p == '/' && (n == 0 || out[n - 1] != '/'))
            out[n++] = '/';
        else if (*p != '/')
            out[n++] = *p;
    }
    if (n <= 0 || (size_t)n + 3 >= size)
        return -1;
    out[n] = '\0';
    return n;
}

int disk_open(const struct job *job) {
    char path[MAX_PATH + 4096];
    if (disk_path(job, path, sizeof path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* open + pread of the object: a real read, waited for in the kernel. */
static void read_for_real(struct job *job) {
    char *buf = malloc(MAX_OBJECT); /* not on the stack: chapter 07's threads have 64 KiB */
    int fd = buf ? disk_open(job) : -1;
    ssize_t n = -1;
    while (fd >= 0 && (n = pread(fd, buf, MAX_OBJECT, 0)) < 0 && errno == EINTR && !stop_requested)
        ;
    if (n < 0) {
        if (!stop_requested)
            log_msg("read of %s failed: %s", job->req.path, strerror(errno));
        job->disk.io_fail = true;
    }
    job->disk.bytes = n > 0 ? n : 0;
    if (fd >= 0)
        close(fd);
    free(buf);
}

void disk_read(struct job *job) {
    if (disk_dir) {
        read_for_real(job);
    } else if (sleep_ms(job->disk.delay_ms) < 0) { /* the "read" itself failed (-S) */
        log_msg("read of %s failed: %s", job->req.path, strerror(errno));
        job->disk.io_fail = true;
    }
}
