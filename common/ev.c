/* The core loop of ev.h: chapter 04's epoll loop and timer heap, with the chapter's handlers
 * replaced by a callback per descriptor and per timer.
 * An epoll event carries the descriptor, not a pointer: the descriptor finds its callback in a
 * table, so an event for a descriptor unwatched earlier in the same turn finds nothing (or the
 * descriptor's new owner, whose read then finds nothing yet), never freed memory. */
#include "ev.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "signals.h"
#include "trace.h"

#define MAX_EVENTS 256 /* per epoll_wait: more simply wait for the next turn */

struct watched {
    ev_fd_fn fn; /* NULL: not watched */
    void *arg;
    uint32_t events;
};

struct ev {
    int epfd;
    struct watched *fds; /* indexed by fd: descriptors are small integers, reused after close */
    int fds_cap;
    struct timer_heap timers;
    void (*before_wait)(void *arg);
    void *before_wait_arg;
};

struct ev *ev_new(void) {
    struct ev *ev = calloc(1, sizeof *ev);
    if (!ev)
        die("out of memory for a loop");
    ev->fds_cap = (int)raise_fd_limit();
    if (ev->fds_cap <= 0 || !(ev->fds = calloc((size_t)ev->fds_cap, sizeof *ev->fds)))
        die("cannot size the descriptor table");
    if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        perror_die("epoll_create1");
    return ev;
}

int ev_watch(struct ev *ev, int fd, uint32_t events, ev_fd_fn fn, void *arg) {
    if (fd < 0 || fd >= ev->fds_cap) {
        errno = EMFILE;
        return -1;
    }
    struct watched *w = &ev->fds[fd];
    if (!w->fn || w->events != events) {
        struct epoll_event e = {.events = events, .data.fd = fd};
        if (epoll_ctl(ev->epfd, w->fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e) < 0)
            return -1;
    }
    *w = (struct watched){.fn = fn, .arg = arg, .events = events};
    return 0;
}

void ev_unwatch(struct ev *ev, int fd) {
    if (fd < 0 || fd >= ev->fds_cap || !ev->fds[fd].fn)
        return;
    epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    ev->fds[fd] = (struct watched){0};
}

int ev_timer_at(struct ev *ev, struct ev_timer *t, int64_t deadline_ms) {
    return heap_set(&ev->timers, &t->heap, deadline_ms);
}

void ev_timer_stop(struct ev *ev, struct ev_timer *t) {
    heap_remove(&ev->timers, &t->heap);
}

void ev_before_wait(struct ev *ev, void (*fn)(void *arg), void *arg) {
    ev->before_wait = fn;
    ev->before_wait_arg = arg;
}

/* Runs every timer that is due. Each is disarmed first, so its callback may re-arm it. */
static void run_timers(struct ev *ev, int64_t now) {
    struct timer *due;
    while ((due = heap_pop_due(&ev->timers, now))) {
        struct ev_timer *t = (struct ev_timer *)((char *)due - offsetof(struct ev_timer, heap));
        t->fn(ev, t, now);
    }
}

void ev_run(struct ev *ev) {
    struct epoll_event events[MAX_EVENTS];
    while (!stop_requested) {
        if (ev->before_wait)
            ev->before_wait(ev->before_wait_arg);
        /* Sleep until a descriptor is ready or the earliest deadline is due. */
        trace_event("wait", -1, NULL);
        int n = epoll_wait(ev->epfd, events, MAX_EVENTS, heap_wait_ms(&ev->timers, now_ms()));
        trace_event("wake", -1, NULL);
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            struct watched w = ev->fds[fd]; /* a copy: the callback may unwatch fd */
            if (!w.fn)
                continue;
            w.fn(ev, fd, events[i].events, w.arg);
        }
        run_timers(ev, now_ms());
    }
}

void ev_free(struct ev *ev) {
    free(ev->fds);
    heap_free(&ev->timers);
    close(ev->epfd);
    free(ev);
}
