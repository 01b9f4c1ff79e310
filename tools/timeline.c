/* timeline: the client's rows and the model that splits each request by the server's events
 * (timeline.h; timeline-draw.c draws it). The model in one paragraph:
 *   a request's bar runs from the client's send to its answer or its giving up, cut where the
 *   server's events say it moved on: sent -> accepted (waiting to be accepted) -> request and
 *   read_start (waiting for whoever logged the next event: the loop, or a worker) -> read_done,
 *   reply_ready, expired or refused (the reply is ready) -> reply_sent -> the client's end;
 *   a server thread's lane shows its reads, and a loop's (one that logs wait/wake) also when it
 *   slept and when it was awake in a handler. */
#include "timeline.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const OUTCOME_NAME[OUTCOMES] = {"ok", "late", "timeout", "error"};

static int outcome_of(const char *name) {
    for (int i = 0; i < OUTCOMES; i++)
        if (strcmp(name, OUTCOME_NAME[i]) == 0)
            return i;
    return -1;
}

int timeline_load(const char *buf, size_t len, struct timeline *tl, char *err, size_t err_len) {
    memset(tl, 0, sizeof *tl);
    size_t cap = 0;
    char line[512];
    int line_no = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p) < sizeof line - 1 ? (size_t)(stop - p) : sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl ? nl + 1 : end;
        line_no++;
        double epoch;
        char tail;
        if (strncmp(line, "# mono_ms", 9) == 0) {
            if (sscanf(line + 9, "%lf %c", &epoch, &tail) != 1 || !(epoch >= 0 && epoch < 1e15)) {
                snprintf(err, err_len, "%d: a bad \"# mono_ms\" line: %s", line_no, line);
                goto fail;
            }
            tl->has_epoch = true, tl->epoch_ms = epoch;
            continue;
        }
        if (line[0] == '#' || strspn(line, " \t\r") == strlen(line))
            continue;
        struct row r;
        char outcome[16];
        int o = -1;
        long long start, stop_ms;
        if (sscanf(line, "%d %lld %lld %15s", &r.id, &start, &stop_ms, outcome) != 4 ||
            (o = outcome_of(outcome)) < 0 || start < 0 || stop_ms < start || stop_ms > 864000000) {
            snprintf(err, err_len, "%d: not a timeline row (id start_ms end_ms outcome ...): %s",
                     line_no, line);
            goto fail;
        }
        r.start_ms = start, r.end_ms = stop_ms, r.outcome = (enum outcome)o;
        if (tl->n == cap) {
            cap = cap ? 2 * cap : 64;
            void *more = realloc(tl->rows, cap * sizeof *tl->rows);
            if (!more) {
                snprintf(err, err_len, "out of memory");
                goto fail;
            }
            tl->rows = more;
        }
        tl->rows[tl->n++] = r;
    }
    return 0;
fail:
    timeline_free(tl);
    return -1;
}

void timeline_free(struct timeline *tl) {
    free(tl->rows);
    memset(tl, 0, sizeof *tl);
}

/* ---- The model ---- */

/* Events of a request up to this much before its client's start are clock rounding (the client
 * counts whole ms); earlier ones are another run's that reused the trace file. */
#define SLACK_MS 2.0
/* A family of short-lived threads (conn-7, conn-9, ...) with more lanes than this is packed. */
#define FAMILY_LANES_MAX 8

struct id_index {
    int id;
    size_t row;
};

static int by_id(const void *a, const void *b) {
    const struct id_index *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* A connection accepted and not yet matched with its request line. */
struct pending {
    int pid, fd, lane;
    double t_ms;
};

/* Compares names with runs of digits by value: worker-2 before worker-10. */
static int natural_cmp(const char *a, const char *b) {
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c)
                return c;
            a += la, b += lb;
        } else if (*a != *b) {
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        } else {
            a++, b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

/* The family of a thread name: without its trailing number ("conn-12" -> "conn"). */
static void family_of(const char *name, char *family, size_t cap) {
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9')
        n--;
    while (n > 0 && name[n - 1] == '-')
        n--;
    if (n == 0)
        n = strlen(name);
    if (n >= cap)
        n = cap - 1;
    memcpy(family, name, n);
    family[n] = '\0';
}

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct lane_info {
    bool sleeps, loopish, reads, shown;
    size_t first, n; /* its events: by_lane[first .. first + n) */
};

struct builder {
    const struct timeline *tl;
    const struct trace *tr;
    struct model *m;
    double offset_ms; /* client's clock = trace's + offset */
    struct lane_info *info;
    size_t *by_lane; /* event indices, grouped by lane, each group in time order */
    bool reads_on_workers;
    bool linked;           /* some event names some request: the trace covers this run */
    size_t orphan_accepts; /* accepted connections no request was linked to */
    double trace_end_ms;   /* the last event, on the client's clock */
};

/* The trace's events on the client's clock: offset from the two epochs, else a guess. */
static double clock_offset(const struct timeline *tl, const struct trace *tr, char *note,
                           size_t note_len) {
    if (tr->has_epoch && tl->has_epoch)
        return tr->epoch_ms - tl->epoch_ms;
    long long first_start = tl->n ? tl->rows[0].start_ms : 0;
    for (size_t i = 1; i < tl->n; i++)
        if (tl->rows[i].start_ms < first_start)
            first_start = tl->rows[i].start_ms;
    for (size_t i = 0; i < tr->n_events; i++)
        if (tr->events[i].kind == EV_ACCEPTED || tr->events[i].kind == EV_REQUEST) {
            snprintf(note, note_len,
                     "%s has no epoch: the first connection the server saw is put at the first "
                     "request's start",
                     tl->has_epoch ? "the trace" : "the timeline");
            return (double)first_start - tr->events[i].t_ms;
        }
    return 0;
}

static void record(struct request_view *v, enum trace_kind kind, double t_ms, int lane) {
    if (!v->has[kind]) {
        v->has[kind] = true, v->t_ms[kind] = t_ms, v->lane[kind] = lane;
        v->traced = true;
    }
}

/* The accepted connection a request line came in on: the same process's on that fd, else (a
 * forked child serves what its parent accepted) the latest one on that fd. */
static ssize_t take_pending(struct pending *p, size_t *n, int pid, int fd, double t_ms) {
    ssize_t best = -1;
    for (size_t i = 0; i < *n; i++) {
        if (p[i].fd != fd || p[i].t_ms > t_ms)
            continue;
        if (p[i].pid == pid) {
            best = (ssize_t)i;
            break;
        }
        if (best < 0 || p[i].t_ms > p[best].t_ms)
            best = (ssize_t)i;
    }
    return best;
}

/* The accepted connections no request has been linked to yet. */
struct pendings {
    struct pending *at;
    size_t n, cap;
};

/* An accepted event: kept for the request that comes on its descriptor. A descriptor accepted
 * again before any request came on it had a connection that never sent one. Returns 0, or -1
 * when out of memory. */
static int note_accept(struct builder *b, struct pendings *p, const struct trace_event *e) {
    size_t at = 0;
    while (at < p->n && !(p->at[at].pid == e->pid && p->at[at].fd == e->fd))
        at++;
    if (at == p->n && p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        void *more = realloc(p->at, p->cap * sizeof *p->at);
        if (!more)
            return -1;
        p->at = more;
    }
    if (at == p->n)
        p->n++;
    else
        b->orphan_accepts++; /* that descriptor's last connection never had a request */
    p->at[at] = (struct pending){e->pid, e->fd, e->lane, e->t_ms};
    return 0;
}

/* The first entry of index (n of them, sorted by id) with this id, or NULL. */
static const struct id_index *find_id(const struct id_index *index, size_t n, int id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (index[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && index[lo].id == id ? &index[lo] : NULL;
}

/* Gives each request its server events. */
static int link_events(struct builder *b) {
    const struct timeline *tl = b->tl;
    const struct trace *tr = b->tr;
    struct id_index *index = malloc((tl->n ? tl->n : 1) * sizeof *index);
    struct pendings pend = {0};
    if (!index)
        return -1;
    for (size_t i = 0; i < tl->n; i++)
        index[i] = (struct id_index){tl->rows[i].id, i};
    qsort(index, tl->n, sizeof *index, by_id);
    for (size_t i = 0; i < tr->n_events; i++) {
        const struct trace_event *e = &tr->events[i];
        double t = e->t_ms + b->offset_ms;
        if (e->kind == EV_ACCEPTED && e->fd >= 0) {
            if (note_accept(b, &pend, e) < 0) {
                free(index);
                free(pend.at);
                return -1;
            }
            continue;
        }
        if (e->req < 0 || e->kind > EV_REFUSED || e->kind == EV_CLOSED)
            continue;
        const struct id_index *hit = find_id(index, tl->n, (int)e->req);
        if (!hit)
            continue;
        const struct row *r = &tl->rows[hit->row];
        struct request_view *v = &b->m->req[hit->row];
        if (t < (double)r->start_ms - SLACK_MS)
            continue;
        if (e->kind == EV_REQUEST && e->fd >= 0 && !v->has[EV_ACCEPTED]) {
            ssize_t at = take_pending(pend.at, &pend.n, e->pid, e->fd, e->t_ms);
            if (at >= 0) {
                double ta = pend.at[at].t_ms + b->offset_ms;
                if (ta >= (double)r->start_ms - SLACK_MS)
                    record(v, EV_ACCEPTED, ta, pend.at[at].lane);
                pend.at[at] = pend.at[--pend.n];
            }
        }
        record(v, e->kind, t, e->lane);
        if (v->prefix < 0)
            v->prefix = e->prefix;
    }
    b->orphan_accepts += pend.n;
    free(index);
    free(pend.at);
    return 0;
}

struct point {
    double t_ms;
    int order; /* the phase order, for events of one time */
    enum phase phase;
    int lane;
    bool wait; /* a wait whose kind (loop or worker) is the next point's thread's */
};

static int by_point(const void *a, const void *b) {
    const struct point *x = a, *y = b;
    if (x->t_ms != y->t_ms)
        return x->t_ms < y->t_ms ? -1 : 1;
    return x->order - y->order;
}

/* Cuts request i's bar at its events. */
static void split_request(struct builder *b, size_t i) {
    const struct row *r = &b->tl->rows[i];
    struct request_view *v = &b->m->req[i];
    v->n_seg = 0;
    v->end_ms = (double)r->end_ms;
    /* No event names it, though the server traced this run until after the client gave up and
     * every connection it accepted is accounted for: it was never accepted (a loop blocked with
     * it in its accept queue, say). A request that failed at once has no bar to draw. */
    if (!v->traced && b->linked && !b->orphan_accepts && b->trace_end_ms >= (double)r->end_ms &&
        r->end_ms > r->start_ms) {
        v->seg[v->n_seg++] =
            (struct segment){(double)r->start_ms, (double)r->end_ms, PH_ACCEPT, -1};
        return;
    }
    if (!v->traced) /* nothing to cut by: its bar stays whole, the client's view */
        return;
    static const struct {
        enum trace_kind kind;
        enum phase phase;
        bool wait;
    } CUTS[] = {
        {EV_ACCEPTED, PH_WAIT_LOOP, true}, {EV_REQUEST, PH_WAIT_LOOP, true},
        {EV_READ_START, PH_READ, false},   {EV_READ_DONE, PH_READY, false},
        {EV_REPLY_READY, PH_READY, false}, {EV_EXPIRED, PH_READY, false},
        {EV_REFUSED, PH_READY, false},     {EV_REPLY_SENT, PH_SENT, false},
    };
    struct point p[1 + sizeof CUTS / sizeof CUTS[0]];
    int n = 0;
    p[n++] = (struct point){(double)r->start_ms, 0, PH_ACCEPT, -1, false};
    for (size_t k = 0; k < sizeof CUTS / sizeof CUTS[0]; k++) {
        if (!v->has[CUTS[k].kind])
            continue;
        /* An event up to SLACK_MS before the start is the client's rounding: at the start. */
        double t = v->t_ms[CUTS[k].kind] > p[0].t_ms ? v->t_ms[CUTS[k].kind] : p[0].t_ms;
        p[n++] = (struct point){t, (int)k + 1, CUTS[k].phase, v->lane[CUTS[k].kind], CUTS[k].wait};
    }
    qsort(p, (size_t)n, sizeof *p, by_point);
    for (int k = 0; k < n; k++) {
        if (!p[k].wait)
            continue;
        /* Waiting for whoever logged what came next; if nothing did, for whoever does this
         * server's reads. */
        int next = k + 1 < n ? p[k + 1].lane : -1;
        bool worker = next >= 0 ? !b->info[next].loopish : b->reads_on_workers;
        p[k].phase = worker ? PH_WAIT_WORKER : PH_WAIT_LOOP;
        p[k].lane = next;
    }
    /* The client counts whole ms, down: its answer came within the ms after end_ms. A reply the
     * server sent in that ms was answered then, so the bar runs to it: else a request answered
     * under a ms after its send (a page-cache hit on the loop) was 0 ms long, and no row. */
    double end = (double)r->end_ms;
    if (v->has[EV_REPLY_SENT] && v->t_ms[EV_REPLY_SENT] > end && v->t_ms[EV_REPLY_SENT] < end + 1)
        end = v->t_ms[EV_REPLY_SENT];
    v->end_ms = end;
    for (int k = 0; k < n; k++) {
        double from = p[k].t_ms, to = k + 1 < n && p[k + 1].t_ms < end ? p[k + 1].t_ms : end;
        if (to <= from)
            continue;
        struct segment *last = v->n_seg ? &v->seg[v->n_seg - 1] : NULL;
        if (last && last->phase == p[k].phase && last->to_ms == from)
            last->to_ms = to;
        else if (v->n_seg < SEGMENTS_MAX)
            v->seg[v->n_seg++] = (struct segment){from, to, p[k].phase, p[k].lane};
    }
}

static int add_span(struct lane_view *l, size_t *cap, struct span s) {
    if (s.from_ms < 0) /* before the client started: off the picture */
        s.from_ms = 0;
    if (s.to_ms <= s.from_ms)
        return 0;
    if (l->n_spans == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        void *more = realloc(l->spans, *cap * sizeof *l->spans);
        if (!more)
            return -1;
        l->spans = more;
    }
    l->spans[l->n_spans++] = s;
    return 0;
}

static int by_span(const void *a, const void *b) {
    const struct span *x = a, *y = b;
    if (x->from_ms != y->from_ms)
        return x->from_ms < y->from_ms ? -1 : 1;
    return (int)x->state - (int)y->state;
}

/* Thread lane's spans into l: its reads and, for a loop, its sleep and its handlers. A state
 * still open when the trace ends lasts to the end of the picture (SPAN_OPEN_MS): the server
 * lives at least as long as its client, and a thread blocked in a read logs nothing. */
static int lane_spans(struct builder *b, int lane, struct lane_view *l, size_t *cap) {
    const struct lane_info *in = &b->info[lane];
    const double end = SPAN_OPEN_MS;
    double since = -1, read_since = -1;
    long read_req = -1;
    int awake = -1; /* unknown until its first wait or wake */
    double first = b->tr->events[b->by_lane[in->first]].t_ms + b->offset_ms;
    for (size_t k = 0; k < in->n; k++) {
        const struct trace_event *e = &b->tr->events[b->by_lane[in->first + k]];
        double t = e->t_ms + b->offset_ms;
        if (in->sleeps && (e->kind == EV_WAIT || e->kind == EV_WAKE)) {
            int now_awake = e->kind == EV_WAKE;
            if (awake < 0) /* before its first wait/wake it was in the other state */
                awake = !now_awake, since = first;
            if (awake != now_awake) {
                struct span s = {since, t, awake ? LS_HANDLER : LS_ASLEEP, -1, lane};
                if (add_span(l, cap, s) < 0)
                    return -1;
                awake = now_awake, since = t;
            }
        } else if (e->kind == EV_READ_START || e->kind == EV_READ_DONE) {
            if (read_since >= 0) {
                struct span s = {read_since, t, LS_READ, read_req, lane};
                if (add_span(l, cap, s) < 0)
                    return -1;
            }
            read_since = e->kind == EV_READ_START ? t : -1;
            read_req = e->req;
        }
    }
    if (awake >= 0 &&
        add_span(l, cap, (struct span){since, end, awake ? LS_HANDLER : LS_ASLEEP, -1, lane}) < 0)
        return -1;
    if (read_since >= 0 &&
        add_span(l, cap, (struct span){read_since, end, LS_READ, read_req, lane}) < 0)
        return -1;
    if (l->n_spans > 1) /* qsort wants a pointer even for nothing */
        qsort(l->spans, l->n_spans, sizeof *l->spans, by_span);
    return 0;
}

static struct lane_view *new_lane(struct model *m, size_t *cap) {
    if (m->n_lanes == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        void *more = realloc(m->lanes, *cap * sizeof *m->lanes);
        if (!more)
            return NULL;
        m->lanes = more;
    }
    struct lane_view *l = &m->lanes[m->n_lanes++];
    memset(l, 0, sizeof *l);
    l->threads = 1;
    return l;
}

/* The time span a packed thread occupies, to fit it in a row of its family. */
struct extent {
    double from_ms, to_ms;
    int lane;
};

static int by_extent(const void *a, const void *b) {
    const struct extent *x = a, *y = b;
    if (x->from_ms != y->from_ms)
        return x->from_ms < y->from_ms ? -1 : 1;
    return x->lane - y->lane;
}

/* The lanes of family, each taken out of the lanes drawn alone, with the time its spans cover:
 * into ext, *n of them. Returns 0, or -1 when out of memory. */
static int family_extents(struct builder *b, const char *family, struct extent *ext, size_t *n) {
    const struct trace *tr = b->tr;
    for (size_t l = 0; l < tr->n_lanes; l++) {
        char f[TRACE_NAME_MAX + 1];
        family_of(tr->lanes[l], f, sizeof f);
        if (!b->info[l].shown || b->info[l].sleeps || strcmp(f, family) != 0)
            continue;
        b->info[l].shown = false; /* drawn here, not as its own lane */
        struct lane_view one = {0};
        size_t one_cap = 0;
        if (lane_spans(b, (int)l, &one, &one_cap) < 0) {
            free(one.spans);
            return -1;
        }
        if (one.n_spans) {
            double to = one.spans[0].to_ms;
            for (size_t s = 1; s < one.n_spans; s++)
                if (one.spans[s].to_ms > to)
                    to = one.spans[s].to_ms;
            ext[(*n)++] = (struct extent){one.spans[0].from_ms, to, (int)l};
        }
        free(one.spans);
    }
    return 0;
}

/* Packs the threads of family (more than FAMILY_LANES_MAX) into as few lanes as hold them
 * without overlap: the first lane free when a thread starts takes it. */
static int pack_family(struct builder *b, const char *family, size_t *lanes_cap) {
    struct model *m = b->m;
    size_t n = 0, first_lane = m->n_lanes, *caps = NULL, n_rows = 0;
    struct extent *ext = malloc(b->tr->n_lanes * sizeof *ext);
    double *row_end = NULL;
    int rc = -1;
    if (!ext)
        return -1;
    if (family_extents(b, family, ext, &n) < 0)
        goto out;
    qsort(ext, n, sizeof *ext, by_extent);
    for (size_t k = 0; k < n; k++) {
        size_t row = 0;
        while (row < n_rows && row_end[row] > ext[k].from_ms)
            row++;
        if (row == n_rows) {
            void *more_end = realloc(row_end, (n_rows + 1) * sizeof *row_end);
            void *more_caps = realloc(caps, (n_rows + 1) * sizeof *caps);
            if (more_end)
                row_end = more_end;
            if (more_caps)
                caps = more_caps;
            struct lane_view *l = more_end && more_caps ? new_lane(m, lanes_cap) : NULL;
            if (!l)
                goto out;
            snprintf(l->name, sizeof l->name, "%s-*", family);
            l->threads = 0;
            caps[n_rows++] = 0;
        }
        struct lane_view *l = &m->lanes[first_lane + row];
        if (lane_spans(b, ext[k].lane, l, &caps[row]) < 0)
            goto out;
        l->threads++;
        row_end[row] = ext[k].to_ms;
    }
    rc = 0;
out:
    free(ext);
    free(row_end);
    free(caps);
    return rc;
}

static int by_lane_order(const void *a, const void *b) {
    const struct lane_view *x = a, *y = b;
    if (x->sleeps != y->sleeps)
        return x->sleeps ? -1 : 1;
    int c = natural_cmp(x->name, y->name);
    if (c)
        return c;
    /* Packed rows of one family keep their order: the earliest threads first. */
    return x->spans && y->spans ? (x->spans[0].from_ms > y->spans[0].from_ms) -
                                      (x->spans[0].from_ms < y->spans[0].from_ms)
                                : 0;
}

static int by_family(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

/* One lane per server thread that did something worth drawing. */
static int build_lanes(struct builder *b) {
    const struct trace *tr = b->tr;
    struct model *m = b->m;
    size_t lanes_cap = 0, n = 0;
    char(*family)[TRACE_NAME_MAX + 1] = malloc((tr->n_lanes ? tr->n_lanes : 1) * sizeof *family);
    if (!family)
        return -1;
    for (size_t l = 0; l < tr->n_lanes; l++) {
        struct lane_info *in = &b->info[l];
        in->shown = in->sleeps || in->reads;
        if (in->shown && !in->sleeps) /* the ones a family may pack */
            family_of(tr->lanes[l], family[n++], sizeof *family);
    }
    /* Families too many to draw one lane each: runs of one name in the sorted list. */
    qsort(family, n, sizeof *family, by_family);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(family[i], family[j]) == 0;)
            j++;
        if (j - i > FAMILY_LANES_MAX && pack_family(b, family[i], &lanes_cap) < 0) {
            free(family);
            return -1;
        }
    }
    free(family);
    for (size_t l = 0; l < tr->n_lanes; l++) {
        if (!b->info[l].shown)
            continue;
        size_t cap = 0;
        struct lane_view *v = new_lane(m, &lanes_cap);
        if (!v)
            return -1;
        snprintf(v->name, sizeof v->name, "%s", tr->lanes[l]);
        v->sleeps = b->info[l].sleeps;
        if (lane_spans(b, (int)l, v, &cap) < 0)
            return -1;
    }
    if (m->n_lanes > 1)
        qsort(m->lanes, m->n_lanes, sizeof *m->lanes, by_lane_order);
    return 0;
}

/* What each thread is: a loop (wait/wake, or named so), a reader; its events grouped. */
static int classify_lanes(struct builder *b) {
    const struct trace *tr = b->tr;
    b->info = calloc(tr->n_lanes ? tr->n_lanes : 1, sizeof *b->info);
    b->by_lane = malloc((tr->n_events ? tr->n_events : 1) * sizeof *b->by_lane);
    if (!b->info || !b->by_lane)
        return -1;
    for (size_t i = 0; i < tr->n_events; i++) {
        const struct trace_event *e = &tr->events[i];
        struct lane_info *in = &b->info[e->lane];
        in->n++;
        in->sleeps |= e->kind == EV_WAIT || e->kind == EV_WAKE;
        in->reads |= e->kind == EV_READ_START;
    }
    size_t at = 0;
    for (size_t l = 0; l < tr->n_lanes; l++) {
        struct lane_info *in = &b->info[l];
        in->first = at, at += in->n, in->n = 0;
        in->loopish =
            in->sleeps || starts_with(tr->lanes[l], "loop") || starts_with(tr->lanes[l], "hub");
        b->reads_on_workers |= in->reads && !in->loopish;
    }
    for (size_t i = 0; i < tr->n_events; i++) {
        struct lane_info *in = &b->info[tr->events[i].lane];
        b->by_lane[in->first + in->n++] = i;
    }
    return 0;
}

int model_build(const struct timeline *tl, const struct trace *tr, struct model *m, char *note,
                size_t note_len) {
    memset(m, 0, sizeof *m);
    note[0] = '\0';
    m->tl = tl, m->tr = tr;
    for (size_t i = 0; i < tl->n; i++)
        if ((double)tl->rows[i].end_ms > m->end_ms)
            m->end_ms = (double)tl->rows[i].end_ms;
    if (!tr)
        return 0;
    struct builder b = {.tl = tl, .tr = tr, .m = m};
    b.offset_ms = clock_offset(tl, tr, note, note_len);
    m->req = calloc(tl->n ? tl->n : 1, sizeof *m->req);
    if (!m->req)
        goto fail;
    for (size_t i = 0; i < tl->n; i++)
        m->req[i].prefix = -1;
    if (classify_lanes(&b) < 0 || link_events(&b) < 0)
        goto fail;
    bool linked = false;
    for (size_t i = 0; i < tl->n; i++)
        linked |= m->req[i].traced;
    for (size_t i = 0; i < tr->n_events; i++) {
        double t = tr->events[i].t_ms + b.offset_ms;
        if (tr->events[i].kind <= EV_REFUSED && t > m->end_ms)
            m->end_ms = t;
        if (t > b.trace_end_ms)
            b.trace_end_ms = t;
    }
    b.linked = linked;
    if (!linked && !note[0])
        snprintf(note, note_len,
                 "no event of the trace names a request of the timeline (was the client run "
                 "with --path? then give -p PREFIX)");
    for (size_t i = 0; i < tl->n; i++)
        split_request(&b, i);
    if (build_lanes(&b) < 0)
        goto fail;
    free(b.info);
    free(b.by_lane);
    return 0;
fail:
    free(b.info);
    free(b.by_lane);
    model_free(m);
    return -1;
}

void model_free(struct model *m) {
    for (size_t i = 0; i < m->n_lanes; i++)
        free(m->lanes[i].spans);
    free(m->lanes);
    free(m->req);
    memset(m, 0, sizeof *m);
}
