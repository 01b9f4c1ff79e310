/* Exercise 04 (make exercise-4 checks it): write each TODO(exercise); the README beside
 * this file says what. Made by `make exercises` from common/heap.c. */
#include "heap.h"

#include <stdlib.h>

static void place(struct timer_heap *h, size_t i, struct timer *t) {
    h->items[i] = t;
    t->slot = i + 1;
}

static void sift_up(struct timer_heap *h, size_t i) {
    /* TODO(exercise): the timer at i may be earlier than its parent, (i - 1) / 2: while it is,
     * move the parent down into i and go up, then place the timer where it stopped. */
    place(h, i, h->items[i]);
}

static void sift_down(struct timer_heap *h, size_t i) {
    /* TODO(exercise): the timer at i may be later than the earlier of its children, 2 i + 1 and
     * 2 i + 2 (those below len): while it is, move that child up into i and go down. */
    place(h, i, h->items[i]);
}

int heap_add(struct timer_heap *h, struct timer *t, int64_t deadline_ms) {
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct timer **items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return -1;
        h->items = items;
        h->cap = cap;
    }
    t->deadline_ms = deadline_ms;
    place(h, h->len++, t);
    sift_up(h, h->len - 1);
    return 0;
}

void heap_remove(struct timer_heap *h, struct timer *t) {
    if (t->slot == 0)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct timer *last = h->items[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot - 1);
}

int heap_set(struct timer_heap *h, struct timer *t, int64_t deadline_ms) {
    if (t->slot && t->deadline_ms == deadline_ms)
        return 0;
    heap_remove(h, t);
    return heap_add(h, t, deadline_ms);
}

struct timer *heap_pop_due(struct timer_heap *h, int64_t now) {
    struct timer *t = heap_top(h);
    if (!t || t->deadline_ms > now)
        return NULL;
    heap_remove(h, t);
    return t;
}

struct timer *heap_top(const struct timer_heap *h) {
    return h->len ? h->items[0] : NULL;
}

int heap_wait_ms(const struct timer_heap *h, int64_t now) {
    /* TODO(exercise): the milliseconds from now to the earliest deadline, 0 if it is past, -1
     * only when there is no timer at all. -1 makes epoll_wait sleep until a socket is ready. */
    (void)h;
    (void)now;
    return -1;
}

void heap_free(struct timer_heap *h) {
    free(h->items);
    *h = (struct timer_heap){0};
}
