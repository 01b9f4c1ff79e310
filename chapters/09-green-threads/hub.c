#include "hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

#include "heap.h"
#include "log.h"
#include "net.h"
#include "signals.h"
#include "trace.h"

/* A handler needs ~12 KiB (two buffers, a job, a log line). Like a thread's, the stack is only
 * address space until touched; a PROT_NONE guard page below it turns an overflow into a crash
 * instead of silent corruption of a neighbour. The sanitizers' redzones and interceptors need more.
 * Both sanitizers track one stack per thread, so every switch below tells them which one runs. */
#if defined(__SANITIZE_ADDRESS__)
#define HUB_ASAN 1
#elif defined(__SANITIZE_THREAD__)
#define HUB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUB_ASAN 1
#elif __has_feature(thread_sanitizer)
#define HUB_TSAN 1
#endif
#endif
#ifdef HUB_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef HUB_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if defined(HUB_ASAN) || defined(HUB_TSAN)
#define GREEN_STACK (256 * 1024)
#else
#define GREEN_STACK (64 * 1024)
#endif
#define GUARD      4096
#define MAX_EVENTS 256 /* per epoll_wait: more simply wait for the next turn */

struct green {
    ucontext_t ctx;
    char *map; /* the guard page, then the stack */
    void (*fn)(void *);
    void *arg;
    struct timer timer; /* in the heap while parked with a deadline */
    bool ready, timed_out, done;
    struct green *next; /* on the ready list, the tpool queue or its done list */
    struct green *prev_all, *next_all;
    void (*job)(void *); /* tpool_execute's call, run by a worker */
    void *job_arg;
    void *asan_fake_stack;
    void *tsan_fiber;
};

static struct {
    int epfd;
    struct timer_heap timers;
    ucontext_t ctx; /* where the hub waits while a green thread runs */
    struct green *current;
    struct green *ready_head, *ready_tail;
    struct green *all;
    void *asan_fake_stack;
    const void *stack_bottom; /* the hub's own stack, for ASan */
    size_t stack_size;
    void *tsan_fiber; /* the hub's own, for TSan */
} hub = {.epfd = -1};

/* ASan's fake stacks and TSan's shadow stack and clock follow the running stack: these tell them
 * it is about to change (no-ops without the sanitizers). TSan's switch also orders the two
 * fibers, so what one wrote happens before what the next reads, as it does on one thread. */
static void switch_begin(void **save, const void *bottom, size_t size, void *tsan_fiber) {
#ifdef HUB_ASAN
    __sanitizer_start_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
#ifdef HUB_TSAN
    __tsan_switch_to_fiber(tsan_fiber, 0);
#else
    (void)tsan_fiber;
#endif
}
static void switch_end(void *save, const void **old_bottom, size_t *old_size) {
#ifdef HUB_ASAN
    __sanitizer_finish_switch_fiber(save, old_bottom, old_size);
#else
    (void)save, (void)old_bottom, (void)old_size;
#endif
}

/* The only ways control moves: the hub resumes a green thread, a green thread yields to it. */
static void resume(struct green *g) {
    hub.current = g;
    switch_begin(&hub.asan_fake_stack, g->map + GUARD, GREEN_STACK, g->tsan_fiber);
    swapcontext(&hub.ctx, &g->ctx);
    switch_end(hub.asan_fake_stack, NULL, NULL);
    hub.current = NULL;
}

static void yield_to_hub(void) {
    struct green *g = hub.current;
    switch_begin(&g->asan_fake_stack, hub.stack_bottom, hub.stack_size, hub.tsan_fiber);
    swapcontext(&g->ctx, &hub.ctx);
    switch_end(g->asan_fake_stack, NULL, NULL);
}

static void green_main(void) {
    struct green *g = hub.current;
    switch_end(NULL, &hub.stack_bottom, &hub.stack_size);
    g->fn(g->arg);
    g->done = true;
    /* NULL: this stack is finished */
    switch_begin(NULL, hub.stack_bottom, hub.stack_size, hub.tsan_fiber);
    setcontext(&hub.ctx);
}

static void wake(struct green *g) {
    if (g->ready)
        return; /* its socket and its timer may both fire in one turn */
    g->ready = true;
    g->next = NULL;
    if (hub.ready_tail)
        hub.ready_tail->next = g;
    else
        hub.ready_head = g;
    hub.ready_tail = g;
}

static void free_green(struct green *g) {
    if (g->prev_all)
        g->prev_all->next_all = g->next_all;
    else
        hub.all = g->next_all;
    if (g->next_all)
        g->next_all->prev_all = g->prev_all;
    heap_remove(&hub.timers, &g->timer);
    munmap(g->map, GUARD + GREEN_STACK);
#ifdef HUB_TSAN
    __tsan_destroy_fiber(g->tsan_fiber);
#endif
    free(g);
}

int green_spawn(void (*fn)(void *), void *arg) {
    struct green *g = calloc(1, sizeof *g);
    char *map = g ? mmap(NULL, GUARD + GREEN_STACK, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                  : MAP_FAILED;
    if (map == MAP_FAILED || mprotect(map, GUARD, PROT_NONE) < 0 || getcontext(&g->ctx) < 0) {
        if (map != MAP_FAILED)
            munmap(map, GUARD + GREEN_STACK);
        free(g);
        errno = ENOMEM;
        return -1;
    }
    g->map = map;
#ifdef HUB_TSAN
    g->tsan_fiber = __tsan_create_fiber(0);
#endif
    g->fn = fn;
    g->arg = arg;
    g->ctx.uc_stack = (stack_t){.ss_sp = map + GUARD, .ss_size = GREEN_STACK};
    g->ctx.uc_link = NULL; /* green_main never returns: it switches back itself */
    makecontext(&g->ctx, green_main, 0);
    g->next_all = hub.all;
    if (hub.all)
        hub.all->prev_all = g;
    hub.all = g;
    wake(g);
    return 0;
}

/* Parks the running green thread until fd has events (fd >= 0), deadline_ms passes
 * (deadline_ms >= 0), or someone calls wake() (neither). Returns 0, or -1 with ETIMEDOUT. */
static int park(int fd, uint32_t events, int64_t deadline_ms) {
    struct green *g = hub.current;
    struct epoll_event ev = {.events = events, .data.ptr = g};
    if (fd >= 0 && epoll_ctl(hub.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    if (deadline_ms >= 0 && heap_add(&hub.timers, &g->timer, deadline_ms) < 0) {
        deadline_ms = -1; /* out of memory for a timer: wait without one */
        log_msg("out of memory for a timer");
    }
    g->timed_out = false;
    yield_to_hub();
    /* One registration per wait keeps the hub simple; eventlet keeps the fd registered. */
    if (fd >= 0)
        epoll_ctl(hub.epfd, EPOLL_CTL_DEL, fd, NULL);
    heap_remove(&hub.timers, &g->timer);
    if (g->timed_out) {
        errno = ETIMEDOUT;
        return -1;
    }
    return 0;
}

int green_accept(int listen_fd) {
    for (;;) {
        int fd = accept_client(listen_fd, SOCK_NONBLOCK);
        if (fd >= 0 || (errno != EAGAIN && errno != EINTR && errno != EMFILE && errno != ENFILE))
            return fd;
        if (park(listen_fd, EPOLLIN, -1) < 0)
            return -1;
    }
}

ssize_t green_read(int fd, void *buf, size_t len, int64_t deadline_ms) {
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || (errno != EAGAIN && errno != EINTR))
            return n;
        if (park(fd, EPOLLIN, deadline_ms) < 0)
            return -1;
    }
}

int green_write(int fd, const void *buf, size_t len, int64_t deadline_ms) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n >= 0) {
            p += n, len -= (size_t)n;
        } else if (errno != EAGAIN && errno != EINTR) {
            return -1;
        } else if (park(fd, EPOLLOUT, deadline_ms) < 0) {
            return -1;
        }
    }
    return 0;
}

void green_sleep(int ms) {
    park(-1, 0, now_ms() + ms);
}

/* The tpool: chapter 06's worker pool, with green threads as its jobs. A worker runs the job,
 * puts the green thread on the done list and rings the eventfd doorbell the hub watches; the
 * hub then wakes it. A parked green thread belongs to the pool until then. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    struct green *head, *tail, *done;
    bool stopping;
    int efd, count;
    pthread_t *threads;
} tpool = {.lock = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER, .efd = -1};

static void *tpool_worker(void *number) {
    trace_thread("tpool-%d", (int)(intptr_t)number);
    block_stop_signals();
    pthread_mutex_lock(&tpool.lock);
    while (!tpool.stopping) {
        struct green *g = tpool.head;
        if (!g) {
            pthread_cond_wait(&tpool.not_empty, &tpool.lock);
            continue;
        }
        if (!(tpool.head = g->next))
            tpool.tail = NULL;
        pthread_mutex_unlock(&tpool.lock);
        g->job(g->job_arg);
        pthread_mutex_lock(&tpool.lock);
        g->next = tpool.done;
        tpool.done = g;
        uint64_t one = 1;
        (void)!write(tpool.efd, &one, sizeof one);
    }
    pthread_mutex_unlock(&tpool.lock);
    return NULL;
}

void tpool_execute(void (*fn)(void *), void *arg) {
    struct green *g = hub.current;
    if (tpool.count == 0)
        die("tpool_execute without tpool threads");
    g->job = fn;
    g->job_arg = arg;
    g->next = NULL;
    pthread_mutex_lock(&tpool.lock);
    if (tpool.tail)
        tpool.tail->next = g;
    else
        tpool.head = g;
    tpool.tail = g;
    pthread_cond_signal(&tpool.not_empty);
    pthread_mutex_unlock(&tpool.lock);
    park(-1, 0, -1); /* the doorbell wakes us */
}

static void tpool_collect(void) {
    uint64_t count;
    (void)!read(tpool.efd, &count, sizeof count);
    pthread_mutex_lock(&tpool.lock);
    struct green *g = tpool.done;
    tpool.done = NULL;
    pthread_mutex_unlock(&tpool.lock);
    while (g) {
        struct green *next = g->next;
        wake(g);
        g = next;
    }
}

void hub_init(int tpool_threads) {
    if ((hub.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
#ifdef HUB_TSAN
    hub.tsan_fiber = __tsan_get_current_fiber();
#endif
    if (tpool_threads <= 0)
        return;
    if ((tpool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        perror_die("eventfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tpool};
    if (epoll_ctl(hub.epfd, EPOLL_CTL_ADD, tpool.efd, &ev) < 0)
        perror_die("epoll_ctl");
    if (!(tpool.threads = calloc((size_t)tpool_threads, sizeof *tpool.threads)))
        die("out of memory");
    for (; tpool.count < tpool_threads; tpool.count++)
        if (pthread_create(&tpool.threads[tpool.count], NULL, tpool_worker,
                           (void *)(intptr_t)(tpool.count + 1)) != 0)
            die("cannot start tpool thread %d", tpool.count + 1);
}

/* Runs every green thread that was ready when the turn began; each runs until it parks. */
static void run_ready(void) {
    struct green *g = hub.ready_head;
    hub.ready_head = hub.ready_tail = NULL;
    while (g && !stop_requested) { /* stopping: leave the rest parked, hub_free drops them */
        struct green *next = g->next;
        g->ready = false;
        resume(g);
        if (g->done)
            free_green(g);
        g = next;
    }
}

void hub_run(void) {
    trace_thread("hub");
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        run_ready();
        if (stop_requested) /* set while a green thread ran: do not go back to sleep */
            break;
        /* Sleep until a socket is ready or the earliest timer is due, unless someone is ready. */
        int timeout = hub.ready_head ? 0 : heap_wait_ms(&hub.timers, now_ms());
        trace_event("wait", -1, NULL);
        int n = epoll_wait(hub.epfd, events, MAX_EVENTS, timeout);
        trace_event("wake", -1, NULL);
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &tpool)
                tpool_collect();
            else
                wake(events[i].data.ptr);
        }
        struct timer *t;
        int64_t now = now_ms();
        while ((t = heap_pop_due(&hub.timers, now))) {
            struct green *g = (struct green *)((char *)t - offsetof(struct green, timer));
            g->timed_out = true;
            wake(g);
        }
    }
}

void hub_free(void) {
    pthread_mutex_lock(&tpool.lock);
    tpool.stopping = true;
    pthread_cond_broadcast(&tpool.not_empty);
    pthread_mutex_unlock(&tpool.lock);
    for (int i = 0; i < tpool.count; i++)
        join_interrupting(tpool.threads[i]); /* a worker may be in the middle of a long read */
    free(tpool.threads);
    if (tpool.efd >= 0)
        close(tpool.efd);
    while (hub.all)
        free_green(hub.all);
    heap_free(&hub.timers);
    close(hub.epfd);
}
