/* Exercise 06 (make exercise-6 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from chapters/06-worker-offload/workers.c. */
/* Chapter 06's worker pool: the blocking read chapter 05 made on the loop, made on a thread.
 *
 * DESIGN
 * ------
 * Shaped like Redis's bio.c: a job queue, a mutex and a condition variable, worker threads, and
 * completions woken back into the loop through a descriptor it watches.
 * - The loop queues a job whose request is in (workers_submit): a ring of QUEUE_CAP slots under
 *   one mutex. The bound is a choice: a full queue sheds the request (RC 1) rather than grow
 *   without limit behind a dying disk.
 * - A worker sleeps on the condition variable until there is a job, takes it, and with the lock
 *   released checks the seed's queue deadline, makes the blocking read and decides the RC. Then
 *   it puts the job on the done list and rings the doorbell: a write to an eventfd.
 * - The loop watches the eventfd like any socket. When it rings, the loop takes the whole done
 *   list (workers_take_done, which reads the eventfd to reset it) and sends the replies: it is
 *   the only thread that touches sockets.
 * A job belongs to one side at a time: from workers_submit to workers_take_done the workers own
 * it, and the loop leaves its connection alone (its socket is not even watched). Handing the
 * pointer over under the one lock is all the synchronisation there is.
 * What it cannot do: make the disk faster. -w threads read at once; when slow reads hold them
 * all, the jobs behind wait in the queue, past their deadline (chapter 11 takes that on). */
#include "workers.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "disk.h"
#include "job.h"
#include "log.h"
#include "signals.h"
#include "trace.h"

#define QUEUE_CAP 16384 /* jobs waiting for a worker: a bound, not an ever-growing backlog */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct job *queue[QUEUE_CAP]; /* a ring: len jobs from head on */
    size_t head, len;
    struct job *done; /* finished jobs, linked through next */
    bool stopping;
    int efd; /* the doorbell: readable when done is not empty */
    int deadline_ms;
    pthread_t *threads;
    int count;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER};

static void *worker_main(void *arg) {
    trace_thread("worker-%d", (int)(intptr_t)arg);
    block_stop_signals();
    /* TODO(exercise): take the job at the head of pool.queue (waiting on not_empty while the
     * queue is empty), and with the lock released do its blocking read as chapter 05 did on the
     * loop (unless it already waited past the deadline: job_time_out_in_queue). Then put it on
     * pool.done (linked through job->next) and ring the doorbell: write 1 to pool.efd. Until
     * pool.stopping. */
    pthread_mutex_lock(&pool.lock);
    while (!pool.stopping)
        pthread_cond_wait(&pool.not_empty, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

int workers_start(int count, int deadline_ms) {
    if ((pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        perror_die("eventfd");
    pool.deadline_ms = deadline_ms;
    pool.count = count;
    pool.threads = calloc((size_t)count, sizeof *pool.threads);
    for (int i = 0; i < count; i++)
        if (!pool.threads ||
            pthread_create(&pool.threads[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0)
            die("cannot start worker %d of %d", i + 1, count);
    return pool.efd;
}

bool workers_submit(struct job *job) {
    pthread_mutex_lock(&pool.lock);
    bool queued = pool.len < QUEUE_CAP;
    if (queued) {
        pool.queue[(pool.head + pool.len++) % QUEUE_CAP] = job;
        pthread_cond_signal(&pool.not_empty);
    }
    pthread_mutex_unlock(&pool.lock);
    if (!queued) {
        log_msg("queue full: shedding %s", job->req.path);
        job->rc = RC_TIMEOUT;
    }
    return queued;
}

struct job *workers_take_done(void) {
    /* TODO(exercise): read pool.efd (it stays readable, waking epoll_wait again and again, until
     * its counter is read), then take the whole pool.done list under the lock and return it. */
    return NULL;
}

void workers_stop(void) {
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.not_empty);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.count; i++)
        join_interrupting(pool.threads[i]); /* a worker may be in the middle of a long read */
    free(pool.threads);
    close(pool.efd);
}
