/* The disk a request's read goes to. By default it is simulated, as the seed did: the read
 * "takes" DELAY_MS by sleeping. With -D DIR it is real: the object is the file
 * DIR/DELAY_MS/PATH, opened and read with open(2) and pread(2), so the thread waits in the
 * kernel as it would for a dying disk. DIR is meant to be a slow disk's mount point (bin/slowdisk
 * DIR: every read of DIR/300/... takes 300 ms), but any directory laid out the same way works.
 * Below DIR/DELAY_MS every directory is named NAME.d, as slowdisk wants: /obj/7 is obj.d/7. */
#ifndef DISK_H
#define DISK_H

#include <stdbool.h>
#include <stdint.h>

struct request;

/* A small deterministic PRNG (splitmix64), so `-s SEED` gives the same delays on every libc. */
struct prng {
    uint64_t state;
};

#define MAX_OBJECT                                                                                 \
    (64 * 1024) /* an object's size: 1 KiB up to this, simulated or on the slow disk */

/* One disk read: what the request asked for, planned once when it arrives. */
struct disk_plan {
    int delay_ms; /* how long the disk takes */
    bool io_fail; /* the disk answers with an error after delay_ms */
    long bytes;   /* the size read */
};

/* Plans the read for req: its own delay, or for a bare PATH one drawn from the seed's model
 * (0.1% I/O failures of 300-3000 ms, 10% slow reads of 6-20 s, the rest 75-400 ms). */
struct disk_plan plan_disk_read(const struct request *req, struct prng *rng);

/* -D: the directory to read objects from; NULL: the simulated disk. parse_server_flags calls it;
 * returns -1 with errno set when dir is not a directory. */
int disk_use(const char *dir);

/* True with -D. */
bool disk_is_real(void);

/* The read of the object at path, as planned by d, on the calling thread, for as long as the
 * disk takes: with -D, the object's open and pread (a failure sets d->io_fail, and d->bytes
 * becomes what was read); else a sleep of d->delay_ms. The caller times it (job_start_read,
 * job_finish). A stop request cuts it short. */
void disk_read(const char *path, struct disk_plan *d);

/* With -D, opens the object at path, as planned by d, read-only. Returns the fd, or -1 with errno
 * set. For a chapter that reads it its own way (io_uring, RWF_NOWAIT). */
int disk_open(const char *path, const struct disk_plan *d);

/* Blocks the calling thread for ms milliseconds, the way a read from a dying disk does: the
 * simulated disk's read. Returns early only when a stop signal arrives. Returns 0, or -1 with
 * errno set when the sleep itself fails (EPERM: bin/loopwatch -S refused it on a loop thread). */
int sleep_ms(int ms);

#endif
