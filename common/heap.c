#include "heap.h"

#include <stdlib.h>

static void place(struct timer_heap *h, size_t i, struct timer *t) {
    h->items[i] = t;
    t->slot = i + 1;
}

static void sift_up(struct timer_heap *h, size_t i) {
    struct timer *t = h->items[i];
    while (i > 0 && h->items[(i - 1) / 2]->deadline_ms > t->deadline_ms) {
        place(h, i, h->items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, t);
}

static void sift_down(struct timer_heap *h, size_t i) {
    struct timer *t = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && h->items[child + 1]->deadline_ms < h->items[child]->deadline_ms)
            child++;
        if (h->items[child]->deadline_ms >= t->deadline_ms)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
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
    if (!h->len)
        return -1;
    int64_t wait = h->items[0]->deadline_ms - now;
    return wait < 0 ? 0 : wait > 3600000 ? 3600000 : (int)wait;
}

void heap_free(struct timer_heap *h) {
    free(h->items);
    *h = (struct timer_heap){0};
}
