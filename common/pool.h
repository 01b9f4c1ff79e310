/* Chapter 06's worker pool (chapters/06-worker-offload/workers.c tells its design, after Redis's
 * bio.c), made reusable for the loop of loop.h: a chapter chooses the read a worker makes, what
 * the loop does with a finished job, the queue's bound and its threads' name, and may take back
 * a job no worker has started. As in 06, a connection belongs to one side at a time: while its
 * job is queued or running the loop does not touch it (its socket is not even watched). */
#ifndef POOL_H
#define POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define POOL_QUEUE_CAP 16384 /* jobs waiting for a worker: a bound, not an ever-growing backlog */

struct pool;

struct pool_spec {
    int workers;
    const char *name; /* its threads' lane in the trace: NAME-1, NAME-2...; NULL: "worker" */
    size_t queue_cap; /* 0: POOL_QUEUE_CAP */
    int deadline_ms;  /* a job that waited this long for a worker is answered RC 1, unread */
    /* The blocking read, on a worker thread; job_finish follows it. NULL: the simulated disk,
     * sleep_ms(c->job.disk.delay_ms). */
    void (*read)(struct conn *c);
    /* On the loop, for each finished job. NULL: conn_reply, the job's reply line. */
    enum want (*on_job_done)(struct conn *c, int64_t now);
};

/* Starts spec->workers threads and watches the pool's doorbell on loop l. Dies on error:
 * start-up only (and after fork(): threads do not survive it). */
struct pool *pool_start(struct loop *l, const struct pool_spec *spec);

/* Queues c's read (c->job.disk planned). Returns WANT_DISK; or, when the queue is full, logs
 * "queue full: shedding PATH", answers RC 1 at once and returns WANT_WRITE. */
enum want pool_submit(struct pool *p, struct conn *c, int64_t now);

/* Takes c back if no worker has started its read yet: a scan, O(queue), cheap next to a disk
 * read (a list would make it O(1)). Returns false when a worker has it: a read in progress
 * cannot be taken back. */
bool pool_withdraw(struct pool *p, struct conn *c);

/* Stops and joins every worker (interrupting a long read), stops watching the doorbell and frees
 * the pool. Connections still queued or done stay in the loop's table for loop_free. */
void pool_stop(struct pool *p);

#endif
