/* A binary min-heap of timers, keyed by deadline: the structure libevent and libuv use for
 * timeouts. The earliest deadline is at the top (O(1) to read), adding or removing one is
 * O(log n). Each timer remembers its slot, so it can be removed from the middle when its
 * connection closes early. Embed a struct timer in whatever needs a deadline. */
#ifndef HEAP_H
#define HEAP_H

#include <stddef.h>
#include <stdint.h>

struct timer {
    int64_t deadline_ms;
    size_t slot; /* index in the heap + 1; 0 = not in a heap */
};

struct timer_heap {
    struct timer **items;
    size_t len, cap;
};

/* Adds t (not already in a heap) with deadline_ms. Returns 0, or -1 when out of memory. */
int heap_add(struct timer_heap *h, struct timer *t, int64_t deadline_ms);

/* Arms t for deadline_ms: adds it, or moves it there when it is in h already. Returns 0, or -1
 * when out of memory (t is then in no heap). */
int heap_set(struct timer_heap *h, struct timer *t, int64_t deadline_ms);

/* Removes t if it is in h; harmless otherwise. */
void heap_remove(struct timer_heap *h, struct timer *t);

/* Removes and returns the timer with the earliest deadline if it is due at now, else NULL: call
 * it until NULL to run every timer that is due. */
struct timer *heap_pop_due(struct timer_heap *h, int64_t now);

/* The timer with the earliest deadline, or NULL when h is empty. */
struct timer *heap_top(const struct timer_heap *h);

/* Milliseconds from now until the earliest deadline (0 if past), or -1 when h is empty: the
 * timeout to give epoll_wait/select. */
int heap_wait_ms(const struct timer_heap *h, int64_t now);

void heap_free(struct timer_heap *h);

#endif
