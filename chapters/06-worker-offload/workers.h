/* Chapter 06's worker pool (workers.c says how it works): threads that make the blocking reads
 * the loop must not make, and an eventfd that tells the loop when one is done. */
#ifndef WORKERS_H
#define WORKERS_H

#include <stdbool.h>

struct job;

/* Starts count threads that read what workers_submit queues, each job held to deadline_ms (-T),
 * and returns the doorbell: an eventfd, readable once a job is done, for the loop to watch. Dies
 * on error: start-up only. */
int workers_start(int count, int deadline_ms);

/* Queues job's read (its disk planned) for the next free worker. From here until
 * workers_take_done gives it back, the job is the workers'. False when the queue is full
 * (QUEUE_CAP jobs wait already): then it has logged "queue full: shedding PATH" and set RC 1. */
bool workers_submit(struct job *job);

/* On the loop, when the doorbell rang: resets it and takes every finished job (its RC set),
 * linked through next; NULL when there is none. */
struct job *workers_take_done(void);

/* Stops and joins every worker, cutting short a read in progress, and closes the doorbell. The
 * jobs still queued or done stay as they are: their connections are the loop's to close. */
void workers_stop(void);

#endif
