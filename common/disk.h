/* The disk a request's read goes to. By default it is simulated, as the seed did: the read
 * "takes" DELAY_MS by sleeping. With -D DIR it is real: the object is the file
 * DIR/DELAY_MS/PATH, opened and read with open(2) and pread(2), so the thread waits in the
 * kernel as it would for a dying disk. DIR is meant to be a slow disk's mount point (bin/slowdisk
 * DIR: every read of DIR/300/... takes 300 ms), but any directory laid out the same way works.
 * Below DIR/DELAY_MS every directory is named NAME.d, as slowdisk wants: /obj/7 is obj.d/7. */
#ifndef DISK_H
#define DISK_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol.h"

/* -D: the directory to read objects from; NULL: the simulated disk. parse_server_flags calls it;
 * returns -1 with errno set when dir is not a directory. */
int disk_use(const char *dir);

/* True with -D. */
bool disk_is_real(void);

/* The read, on the calling thread, for as long as the disk takes: with -D, the object's open and
 * pread (a failure sets job->disk.io_fail, and BYTES becomes what was read); else a sleep of
 * job->disk.delay_ms. The caller times it (job_start_read, job_finish). A stop request cuts
 * it short. */
void disk_read(struct job *job);

/* With -D, opens job's object read-only. Returns the fd, or -1 with errno set. For a chapter that
 * reads it its own way (io_uring, RWF_NOWAIT). */
int disk_open(const struct job *job);

/* With -D, the object's path: DIR/DELAY_MS/PATH (DIR/eio/PATH for a read the delay model
 * failed), PATH's leading '/' or not, every directory in PATH named NAME.d. Returns its length,
 * or -1 with errno set: ENAMETOOLONG when it does not fit in size, EINVAL when PATH's last name
 * is "", "." or ".." (a directory, not an object). */
int disk_path(const struct job *job, char *out, size_t size);

#endif
