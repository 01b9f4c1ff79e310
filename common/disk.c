#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "signals.h"

static const char *disk_dir; /* -D, or NULL */

static uint64_t prng_next(struct prng *rng) {
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int uniform(struct prng *rng, int lo, int hi) {
    return lo + (int)(prng_next(rng) % (uint64_t)(hi - lo + 1));
}

struct disk_plan plan_disk_read(const struct request *req, struct prng *rng) {
    struct disk_plan d = {.delay_ms = req->delay_ms};
    /* The simulated size: stable per path, so a reader sees the same BYTES for the same object. */
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = req->path; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    d.bytes = 1024 + (long)(h % (MAX_OBJECT - 1024));
    if (d.delay_ms < 0) {
        int draw = uniform(rng, 0, 9999); /* in units of 0.01% */
        if (draw < 10)
            d.io_fail = true, d.delay_ms = uniform(rng, 300, 3000);
        else if (draw < 1010)
            d.delay_ms = uniform(rng, 6000, 20000);
        else
            d.delay_ms = uniform(rng, 75, 400);
    }
    if (d.io_fail)
        d.bytes = 0;
    return d;
}

int sleep_ms(int ms) {
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    int rc = 0;
    /* The flag first: a stop signal that came before the sleep (chapter 01 between its accept
     * and here) interrupted no call, and would otherwise wait out the whole delay. */
    while (!stop_requested && (rc = nanosleep(&left, &left)) < 0 && errno == EINTR)
        ;
    return rc < 0 && errno != EINTR ? -1 : 0;
}

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

/* The object's path: DIR/DELAY_MS/PATH (DIR/eio/PATH for a read the delay model failed), PATH's
 * leading '/' or not, every directory in PATH named NAME.d. Returns its length, or -1 with errno
 * set: ENAMETOOLONG when it does not fit in size, EINVAL when PATH's last name is "", "." or ".."
 * (a directory, not an object). */
static int disk_path(const char *path, const struct disk_plan *d, char *out, size_t size) {
    /* PATH lies below DIR/DELAY_MS with or without its leading '/', as the protocol takes both:
     * "100,x" is DIR/100/x (not DIR/100x, a sibling of DIR/100). */
    int n = d->io_fail ? snprintf(out, size, "%s/eio/", disk_dir)
                       : snprintf(out, size, "%s/%d/", disk_dir, d->delay_ms);
    if (n < 0 || (size_t)n >= size)
        return errno = ENAMETOOLONG, -1;
    size_t len = (size_t)n, name = len; /* where the last name starts */
    for (const char *p = path; *p; p++) {
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

int disk_open(const char *path, const struct disk_plan *d) {
    char object[MAX_PATH + 4096];
    if (disk_path(path, d, object, sizeof object) < 0)
        return -1;
    return open(object, O_RDONLY | O_CLOEXEC);
}

/* open + pread of the object: a real read, waited for in the kernel. */
static void read_for_real(const char *path, struct disk_plan *d) {
    char *buf = malloc(MAX_OBJECT); /* not on the stack: chapter 07's threads have 64 KiB */
    int fd = buf ? disk_open(path, d) : -1;
    ssize_t n = -1;
    while (fd >= 0 && (n = pread(fd, buf, MAX_OBJECT, 0)) < 0 && errno == EINTR && !stop_requested)
        ;
    if (n < 0) {
        if (!stop_requested)
            log_msg("read of %s failed: %s", path, strerror(errno));
        d->io_fail = true;
    }
    d->bytes = n > 0 ? n : 0;
    if (fd >= 0)
        close(fd);
    free(buf);
}

void disk_read(const char *path, struct disk_plan *d) {
    if (disk_dir) {
        read_for_real(path, d);
    } else if (sleep_ms(d->delay_ms) < 0) { /* the "read" itself failed (loopwatch -S) */
        log_msg("read of %s failed: %s", path, strerror(errno));
        d->io_fail = true;
    }
}
