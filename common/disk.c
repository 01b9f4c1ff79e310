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
    /* PATH lies below DIR/DELAY_MS with or without its leading '/', as the protocol takes both:
     * "100,x" is DIR/100/x (not DIR/100x, a sibling of DIR/100). */
    int n = job->disk.io_fail ? snprintf(out, size, "%s/eio/", disk_dir)
                              : snprintf(out, size, "%s/%d/", disk_dir, job->disk.delay_ms);
    if (n < 0 || (size_t)n >= size)
        return errno = ENAMETOOLONG, -1;
    size_t len = (size_t)n, name = len; /* where the last name starts */
    for (const char *p = job->req.path; *p; p++) {
        if (len + 3 >= size)
            return errno = ENAMETOOLONG, -1;
        if (*p != '/') {
            out[len++] = *p;
        } else if (out[len - 1] != '/') { /* a leading or doubled '/' adds nothing */
            /* "a/b/c" becomes "a.d/b.d/c": slowdisk tells a directory from a file by its name,
             * since the kernel asks what a name is before it knows whether the path goes on.
             * So a ".." before the last name is "...d", a name, and never climbs. */
            memcpy(out + len, ".d/", 3);
            len += 3;
            name = len;
        }
    }
    out[len] = '\0';
    /* The last name must name an object: "", "." or ".." would be a directory, and ".." one
     * above DIR/DELAY_MS. */
    if (!out[name] || strcmp(out + name, ".") == 0 || strcmp(out + name, "..") == 0)
        return errno = EINVAL, -1;
    return (int)len;
}

int disk_open(const struct job *job) {
    char path[MAX_PATH + 4096];
    if (disk_path(job, path, sizeof path) < 0)
        return -1;
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
