/* Chapter 06's worker pool, parameterised: pool.h says what a chapter chooses, 06's workers.c
 * how the pool works. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "disk.h"
#include "job.h"
#include "log.h"
#include "protocol.h"
#include "signals.h"
#include "trace.h"

struct pool {
    struct pool_spec spec;
    struct loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct conn **queue; /* a ring of spec.queue_cap; NULL: withdrawn by the loop */
    size_t head, len;
    struct job *done; /* finished jobs, linked through next */
    bool stopping;
    int efd; /* the workers' doorbell: readable when done is not empty */
    pthread_t *workers;
    atomic_int started; /* workers that have started: each takes the next number, for the trace */
    char name[24];      /* spec.name, copied: the caller's may be gone when a worker starts */
};

/* One job, on a worker: unless it waited past its deadline, do the blocking read. */
static void run_job(struct pool *p, struct conn *c) {
    int64_t now = now_ms();
    if (job_time_out_in_queue(&c->job, now, p->spec.deadline_ms))
        return;
    job_start_read(&c->job, now);
    if (p->spec.read)
        p->spec.read(c);
    else
        disk_read(c->job.req.path, &c->job.disk); /* chapter 05's blocking call, off the loop */
    job_finish(&c->job, now_ms(), p->spec.deadline_ms);
}

static void *worker_main(void *arg) {
    struct pool *p = arg;
    trace_thread("%s-%d", p->name, atomic_fetch_add(&p->started, 1) + 1);
    block_stop_signals();
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        if (p->len == 0) {
            pthread_cond_wait(&p->not_empty, &p->lock);
            continue;
        }
        struct conn *c = p->queue[p->head];
        p->head = (p->head + 1) % p->spec.queue_cap;
        p->len--;
        if (!c)
            continue; /* the loop already answered it */
        pthread_mutex_unlock(&p->lock);
        run_job(p, c);
        pthread_mutex_lock(&p->lock);
        c->job.next = p->done;
        p->done = &c->job;
        uint64_t one = 1;
        (void)!write(p->efd, &one, sizeof one);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The doorbell rang: hand every finished job back to its connection. */
static void on_doorbell(struct ev *ev, int fd, uint32_t events, void *arg) {
    (void)ev, (void)fd, (void)events;
    struct pool *p = arg;
    int64_t now = now_ms();
    uint64_t count;
    (void)!read(p->efd, &count, sizeof count); /* reset the eventfd's counter */
    pthread_mutex_lock(&p->lock);
    struct job *job = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->lock);
    while (job) {
        struct job *next = job->next;
        struct conn *c = (struct conn *)((char *)job - offsetof(struct conn, job));
        conn_set_want(c, p->spec.on_job_done ? p->spec.on_job_done(c, now) : conn_reply(c, now));
        job = next;
    }
}

struct pool *pool_start(struct loop *l, const struct pool_spec *spec) {
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        die("out of memory for a pool");
    p->spec = *spec;
    snprintf(p->name, sizeof p->name, "%s", spec->name ? spec->name : "worker");
    if (!p->spec.queue_cap)
        p->spec.queue_cap = POOL_QUEUE_CAP;
    p->loop = l;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    if (!(p->queue = calloc(p->spec.queue_cap, sizeof *p->queue)) ||
        !(p->workers = calloc((size_t)spec->workers, sizeof *p->workers)))
        die("out of memory for a pool of %d workers", spec->workers);
    if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        perror_die("eventfd");
    for (int i = 0; i < spec->workers; i++)
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0)
            die("cannot start worker %d of %d", i + 1, spec->workers);
    if (ev_watch(loop_ev(l), p->efd, EPOLLIN, on_doorbell, p) < 0)
        perror_die("watching the pool's doorbell");
    return p;
}

enum want pool_submit(struct pool *p, struct conn *c, int64_t now) {
    pthread_mutex_lock(&p->lock);
    bool queued = p->len < p->spec.queue_cap;
    if (queued) {
        p->queue[(p->head + p->len++) % p->spec.queue_cap] = c;
        pthread_cond_signal(&p->not_empty);
    }
    pthread_mutex_unlock(&p->lock);
    if (queued)
        return WANT_DISK;
    log_msg("queue full: shedding %s", c->job.req.path);
    c->job.rc = RC_TIMEOUT;
    return conn_reply(c, now);
}

bool pool_withdraw(struct pool *p, struct conn *c) {
    bool found = false;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->len && !found; i++) {
        struct conn **slot = &p->queue[(p->head + i) % p->spec.queue_cap];
        if (*slot == c)
            *slot = NULL, found = true;
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

void pool_stop(struct pool *p) {
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->spec.workers; i++)
        join_interrupting(p->workers[i]); /* a worker may be in the middle of a long read */
    ev_unwatch(loop_ev(p->loop), p->efd);
    close(p->efd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->not_empty);
    free(p->workers);
    free(p->queue);
    free(p);
}
