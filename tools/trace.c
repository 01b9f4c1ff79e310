/* trace: the parser for the servers' event trace (trace.h). A small strict JSON reader: one
 * object a line, its known keys checked for type and range, any other JSON value skipped. It
 * must refuse garbage with a reason rather than crash, so fuzz/fuzz_trace.c feeds it. */
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NESTING_MAX 16 /* objects and arrays inside an unknown key's value */

struct cursor {
    const char *p, *end;
    struct trace_line *out; /* for out->why */
};

static const char *refuse(struct cursor *c, const char *fmt, const char *arg) {
    snprintf(c->out->why, sizeof c->out->why, fmt, arg);
    return c->out->why;
}

static void skip_space(struct cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u"; -1 if they are not there. */
static long hex4(struct cursor *c) {
    if (c->end - c->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(c->p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    c->p += 4;
    return v;
}

/* Appends code point cp as UTF-8 to dst (cap bytes, *len used), noting overflow. */
static void put_utf8(char *dst, size_t cap, size_t *len, bool *overflow, long cp) {
    char bytes[4];
    size_t n;
    if (cp < 0x80) {
        bytes[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        bytes[0] = (char)(0xc0 | cp >> 6), bytes[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (char)(0xe0 | cp >> 12), bytes[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        bytes[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        bytes[0] = (char)(0xf0 | cp >> 18), bytes[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        bytes[2] = (char)(0x80 | (cp >> 6 & 0x3f)), bytes[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    for (size_t i = 0; i < n; i++) {
        if (dst && *len + 1 < cap)
            dst[*len] = bytes[i];
        else
            *overflow = true;
        (*len)++;
    }
}

/* A JSON string at c->p (which is '"'), unescaped into dst (NUL-terminated, at most cap - 1
 * bytes; *overflow when it had more), or only checked when dst is NULL. */
static const char *parse_string(struct cursor *c, char *dst, size_t cap, bool *overflow) {
    size_t len = 0;
    *overflow = false;
    for (c->p++;; c->p++) {
        if (c->p >= c->end)
            return refuse(c, "unterminated string%s", "");
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"')
            break;
        if (ch < 0x20)
            return refuse(c, "a control character in a string%s", "");
        long cp = ch;
        if (ch == '\\') {
            if (++c->p >= c->end)
                return refuse(c, "unterminated string%s", "");
            switch (*c->p) {
            case '"':
            case '\\':
            case '/': cp = *c->p; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                c->p++;
                cp = hex4(c);
                if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair: one code point */
                    long low = -1;
                    if (c->end - c->p >= 2 && c->p[0] == '\\' && c->p[1] == 'u') {
                        c->p += 2;
                        low = hex4(c);
                    }
                    if (low < 0xdc00 || low > 0xdfff)
                        return refuse(c, "a lone surrogate in a \\u escape%s", "");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return refuse(c, "a lone surrogate in a \\u escape%s", "");
                }
                if (cp < 0)
                    return refuse(c, "a \\u escape without four hex digits%s", "");
                if (cp == 0)
                    return refuse(c, "a NUL (\\u0000) in a string%s", "");
                c->p--; /* the loop steps past the last hex digit */
                break;
            default: return refuse(c, "an unknown escape in a string%s", "");
            }
            put_utf8(dst, cap, &len, overflow, cp);
        } else if (dst && len + 1 < cap) {
            dst[len++] = (char)ch;
        } else {
            *overflow = true;
            len++;
        }
    }
    c->p++;
    if (dst)
        dst[len < cap ? len : cap - 1] = '\0';
    return NULL;
}

/* A JSON number at c->p into *v; *integer when it has no fraction and no exponent. */
static const char *parse_number(struct cursor *c, const char *key, double *v, bool *integer) {
    const char *start = c->p, *p = c->p;
    *integer = true;
    if (p < c->end && *p == '-')
        p++;
    if (p < c->end && *p == '0')
        p++;
    else if (p < c->end && *p >= '1' && *p <= '9')
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    else
        return refuse(c, "\"%s\" is not a number", key);
    if (p < c->end && *p == '.') {
        *integer = false;
        if (++p >= c->end || *p < '0' || *p > '9')
            return refuse(c, "\"%s\": a bad number (no digit after '.')", key);
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        *integer = false;
        if (++p < c->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= c->end || *p < '0' || *p > '9')
            return refuse(c, "\"%s\": a bad number (no digit in the exponent)", key);
        while (p < c->end && *p >= '0' && *p <= '9')
            p++;
    }
    char text[64];
    if ((size_t)(p - start) >= sizeof text)
        return refuse(c, "\"%s\": a number with too many digits", key);
    memcpy(text, start, (size_t)(p - start));
    text[p - start] = '\0';
    *v = strtod(text, NULL); /* the grammar is checked: strtod takes all of it */
    if (!isfinite(*v))
        return refuse(c, "\"%s\": a number out of range", key);
    c->p = p;
    return NULL;
}

static const char *skip_value(struct cursor *c, int depth);

/* The members of an object or the items of an array after its '{' or '['. */
static const char *skip_container(struct cursor *c, int depth, char close) {
    if (depth > NESTING_MAX)
        return refuse(c, "values nested more than 16 deep%s", "");
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return NULL;
    }
    for (;;) {
        const char *why;
        bool overflow;
        if (close == '}') {
            if (c->p >= c->end || *c->p != '"')
                return refuse(c, "a key that is not a string%s", "");
            if ((why = parse_string(c, NULL, 0, &overflow)))
                return why;
            skip_space(c);
            if (c->p >= c->end || *c->p != ':')
                return refuse(c, "no ':' after a key%s", "");
            c->p++;
            skip_space(c);
        }
        if ((why = skip_value(c, depth + 1)))
            return why;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            skip_space(c);
        } else if (c->p < c->end && *c->p == close) {
            c->p++;
            return NULL;
        } else {
            return refuse(c, "an unterminated object or array%s", "");
        }
    }
}

/* Any JSON value: what an unknown key holds. */
static const char *skip_value(struct cursor *c, int depth) {
    static const char *const LITERALS[] = {"true", "false", "null"};
    bool overflow, integer;
    double v;
    if (c->p >= c->end)
        return refuse(c, "a key without a value%s", "");
    switch (*c->p) {
    case '"': return parse_string(c, NULL, 0, &overflow);
    case '{': return skip_container(c, depth, '}');
    case '[': return skip_container(c, depth, ']');
    }
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(LITERALS[i]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, LITERALS[i], n) == 0) {
            c->p += n;
            return NULL;
        }
    }
    return parse_number(c, "a value", &v, &integer);
}

static const char *const EVENT_NAME[] = {
    [EV_ACCEPTED] = "accepted",
    [EV_REQUEST] = "request",
    [EV_READ_START] = "read_start",
    [EV_READ_DONE] = "read_done",
    [EV_REPLY_READY] = "reply_ready",
    [EV_REPLY_SENT] = "reply_sent",
    [EV_CLOSED] = "closed",
    [EV_EXPIRED] = "expired",
    [EV_REFUSED] = "refused",
    [EV_WAIT] = "wait",
    [EV_WAKE] = "wake",
    [EV_TRACE_START] = "trace_start",
};

enum key { K_T_MS, K_MONO_MS, K_PID, K_FD, K_RC, K_THREAD, K_EVENT, K_REQ, KEYS };
static const char *const KEY_NAME[KEYS] = {"t_ms", "mono_ms", "pid",   "fd",
                                           "rc",   "thread",  "event", "req"};

/* The value of known key k, checked for type and range. */
/* The value of a key whose value is a string: thread, event or req. */
static const char *parse_string_key(struct cursor *c, enum key k) {
    struct trace_line *out = c->out;
    const char *why;
    bool overflow;
    if (c->p >= c->end || *c->p != '"')
        return refuse(c, "\"%s\" is not a string", KEY_NAME[k]);
    char event[16];
    char *dst = k == K_THREAD ? out->thread : k == K_REQ ? out->req : event;
    size_t cap = k == K_THREAD ? sizeof out->thread : k == K_REQ ? sizeof out->req : sizeof event;
    if ((why = parse_string(c, dst, cap, &overflow)))
        return why;
    if (k == K_THREAD) {
        if (overflow)
            return refuse(c, "\"thread\" is longer than 63 bytes%s", "");
        if (out->thread[0] == '\0')
            return refuse(c, "\"thread\" is empty%s", "");
        for (const char *s = out->thread; *s; s++)
            if (*s < 0x20 || *s > 0x7e)
                return refuse(c, "\"thread\" is not printable ASCII%s", "");
    } else if (k == K_REQ) {
        if (overflow)
            return refuse(c, "\"req\" is longer than 1024 bytes%s", "");
        out->has_req = true;
    } else {
        out->kind = EV_UNKNOWN; /* a newer server's event: read, then ignored */
        for (int e = 0; e < EV_UNKNOWN && !overflow; e++)
            if (strcmp(event, EVENT_NAME[e]) == 0)
                out->kind = (enum trace_kind)e;
    }
    return NULL;
}

static const char *parse_known(struct cursor *c, enum key k) {
    if (k == K_THREAD || k == K_EVENT || k == K_REQ)
        return parse_string_key(c, k);
    struct trace_line *out = c->out;
    const char *name = KEY_NAME[k], *why;
    bool integer;
    double v;
    if ((why = parse_number(c, name, &v, &integer)))
        return why;
    switch (k) {
    case K_T_MS:
        /* Ten days of trace in either direction: beyond that it is a broken clock. */
        if (fabs(v) > 864e6)
            return refuse(c, "\"t_ms\" is out of range%s", "");
        out->t_ms = v;
        break;
    case K_MONO_MS:
        if (v < 0 || v > 1e15)
            return refuse(c, "\"mono_ms\" is out of range%s", "");
        out->mono_ms = v, out->has_mono = true;
        break;
    default: /* pid, fd, rc: integers that fit an int */
        if (!integer || v < -1 || v > INT32_MAX)
            return refuse(c, "\"%s\" is not an integer from -1 to 2^31-1", name);
        if (k == K_PID)
            out->pid = (long long)v, out->has_pid = true;
        else if (k == K_FD)
            out->fd = (long long)v, out->has_fd = true;
        else
            out->rc = (long long)v;
    }
    return NULL;
}

const char *trace_parse_line(const char *s, size_t len, struct trace_line *out) {
    memset(out, 0, sizeof *out);
    out->kind = EV_UNKNOWN;
    struct cursor c = {s, s + len, out};
    unsigned seen = 0;
    const char *why;
    skip_space(&c);
    if (c.p >= c.end || *c.p != '{')
        return refuse(&c, "not a JSON object (it does not start with '{')%s", "");
    c.p++;
    skip_space(&c);
    bool empty = c.p < c.end && *c.p == '}';
    if (empty)
        c.p++;
    while (!empty) {
        char key[16];
        bool overflow;
        if (c.p >= c.end || *c.p != '"')
            return refuse(&c, "%s",
                          c.p >= c.end ? "an unterminated object" : "a key that is not a string");
        if ((why = parse_string(&c, key, sizeof key, &overflow)))
            return why;
        skip_space(&c);
        if (c.p >= c.end || *c.p != ':')
            return refuse(&c, "no ':' after a key%s", "");
        c.p++;
        skip_space(&c);
        int k = 0;
        while (k < KEYS && (overflow || strcmp(key, KEY_NAME[k]) != 0))
            k++;
        if (k < KEYS && (seen & 1u << k))
            return refuse(&c, "\"%s\" appears twice", KEY_NAME[k]);
        if (k < KEYS)
            seen |= 1u << k;
        if ((why = k < KEYS ? parse_known(&c, (enum key)k) : skip_value(&c, 1)))
            return why;
        skip_space(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            skip_space(&c);
        } else if (c.p < c.end && *c.p == '}') {
            c.p++;
            break;
        } else {
            return refuse(&c, "%s",
                          c.p >= c.end ? "an unterminated object" : "no ',' or '}' after a value");
        }
    }
    skip_space(&c);
    if (c.p < c.end)
        return refuse(&c, "text after the closing '}'%s", "");
    static const enum key REQUIRED[] = {K_T_MS, K_THREAD, K_EVENT};
    for (size_t i = 0; i < sizeof REQUIRED / sizeof REQUIRED[0]; i++)
        if (!(seen & 1u << REQUIRED[i]))
            return refuse(&c, "no \"%s\"", KEY_NAME[REQUIRED[i]]);
    if (out->kind == EV_TRACE_START && !out->has_mono)
        return refuse(&c, "a trace_start without \"mono_ms\"%s", "");
    return NULL;
}

/* The id in req when it is one of the comma-separated prefixes followed by decimal digits only;
 * else -1. *which is that prefix's index in the list (-1 with no id). */
static long request_id(const char *req, const char *prefixes, int *which) {
    size_t n = 0;
    int index = 0;
    *which = -1;
    for (const char *p = prefixes; *p; p += n + (p[n] == ','), index++) {
        n = strcspn(p, ",");
        if (n > 0 && strncmp(req, p, n) == 0 && req[n] != '\0' && req[n] >= '0' && req[n] <= '9')
            break;
        if (!p[n]) {
            n = 0;
            break;
        }
    }
    if (n == 0)
        return -1;
    long id = 0;
    for (const char *s = req + n; *s; s++) {
        if (*s < '0' || *s > '9' || id > (INT32_MAX - 9) / 10)
            return -1;
        id = id * 10 + (*s - '0');
    }
    *which = index;
    return id;
}

/* Lane names are interned in an open-addressing table: a trace of chapter 07 has a thread name
 * for every connection, and each of its lines looks one up. */
struct lane_table {
    struct trace *tr;
    int *slot; /* index in tr->lanes + 1; 0 is empty */
    size_t cap, lanes_cap;
};

static uint32_t hash_name(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The index of lane name, added when new; -1 when out of memory. */
static int lane_of(struct lane_table *t, const char *name) {
    if (2 * (t->tr->n_lanes + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        int *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t i = 0; i < t->tr->n_lanes; i++) {
            size_t at = hash_name(t->tr->lanes[i]) & (cap - 1);
            while (slot[at])
                at = (at + 1) & (cap - 1);
            slot[at] = (int)i + 1;
        }
        free(t->slot);
        t->slot = slot, t->cap = cap;
    }
    size_t at = hash_name(name) & (t->cap - 1);
    for (; t->slot[at]; at = (at + 1) & (t->cap - 1))
        if (strcmp(t->tr->lanes[t->slot[at] - 1], name) == 0)
            return t->slot[at] - 1;
    if (t->tr->n_lanes == t->lanes_cap) {
        size_t cap = t->lanes_cap ? 2 * t->lanes_cap : 16;
        void *lanes = realloc(t->tr->lanes, cap * sizeof *t->tr->lanes);
        if (!lanes)
            return -1;
        t->tr->lanes = lanes, t->lanes_cap = cap;
    }
    strcpy(t->tr->lanes[t->tr->n_lanes], name);
    t->slot[at] = (int)++t->tr->n_lanes;
    return t->slot[at] - 1;
}

static int by_time(const void *a, const void *b) {
    const struct trace_event *x = a, *y = b;
    if (x->t_ms != y->t_ms)
        return x->t_ms < y->t_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A process's own trace_start, when it wrote one. */
struct epoch {
    int pid;
    double mono_ms;
};

/* The epoch of pid's lines: its own trace_start's, else the last one before it in the file
 * (a forked child shares its parent's epoch and writes none). */
static double epoch_of(const struct epoch *epochs, size_t n, int pid, double current) {
    for (size_t i = 0; i < n; i++)
        if (epochs[i].pid == pid && pid >= 0)
            return epochs[i].mono_ms;
    return current;
}

/* What trace_load keeps while it reads, besides the trace itself. */
struct loader {
    struct trace *tr;
    struct lane_table table;
    struct epoch *epochs; /* one a trace_start line, in order */
    size_t n_epochs, events_cap;
    double *raw_t; /* each event's t_ms as written, until the epochs are known */
};

/* Adds line's event, the seq-th line of the file. Returns 0, or -1 when out of memory. */
static int add_event(struct loader *ld, const struct trace_line *line, size_t seq,
                     const char *req_prefix) {
    struct trace *tr = ld->tr;
    if (line->kind == EV_TRACE_START) {
        if (!tr->has_epoch)
            tr->has_epoch = true, tr->epoch_ms = line->mono_ms;
        void *more = realloc(ld->epochs, (ld->n_epochs + 1) * sizeof *ld->epochs);
        if (!more)
            return -1;
        ld->epochs = more;
        ld->epochs[ld->n_epochs++] =
            (struct epoch){line->has_pid ? (int)line->pid : -1, line->mono_ms};
    }
    if (tr->n_events == ld->events_cap) {
        ld->events_cap = ld->events_cap ? 2 * ld->events_cap : 256;
        void *more = realloc(tr->events, ld->events_cap * sizeof *tr->events);
        void *more_t = realloc(ld->raw_t, ld->events_cap * sizeof *ld->raw_t);
        if (more)
            tr->events = more;
        if (more_t)
            ld->raw_t = more_t;
        if (!more || !more_t)
            return -1;
    }
    int lane = lane_of(&ld->table, line->thread);
    if (lane < 0)
        return -1;
    ld->raw_t[tr->n_events] = line->t_ms;
    int prefix = -1;
    long req = line->has_req ? request_id(line->req, req_prefix, &prefix) : -1;
    tr->events[tr->n_events++] = (struct trace_event){
        .kind = line->kind,
        .lane = lane,
        .pid = line->has_pid ? (int)line->pid : -1,
        .fd = line->has_fd ? (int)line->fd : -1,
        .req = req,
        .prefix = prefix,
        .seq = seq,
    };
    return 0;
}

/* One clock: each event's t_ms measured from the first trace_start's epoch, not its own. */
static void settle_clock(struct loader *ld) {
    struct trace *tr = ld->tr;
    double current = tr->epoch_ms;
    size_t next_start = 0;
    for (size_t i = 0; i < tr->n_events; i++) {
        struct trace_event *e = &tr->events[i];
        if (e->kind == EV_TRACE_START)
            current = ld->epochs[next_start++].mono_ms;
        e->t_ms =
            ld->raw_t[i] + (epoch_of(ld->epochs, ld->n_epochs, e->pid, current) - tr->epoch_ms);
    }
}

static void loader_free(struct loader *ld) {
    free(ld->table.slot);
    free(ld->epochs);
    free(ld->raw_t);
}

int trace_load(const char *buf, size_t len, const char *req_prefix, struct trace *tr, char *err,
               size_t err_len) {
    memset(tr, 0, sizeof *tr);
    struct loader ld = {.tr = tr, .table = {.tr = tr}};
    struct trace_line *line = malloc(sizeof *line);
    size_t line_no = 0;
    const char *why = NULL;
    if (!line)
        goto out_of_memory;
    for (const char *p = buf, *end = buf + len; p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
        const char *s = p;
        p = nl ? nl + 1 : end;
        while (s < stop && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s == stop)
            continue;
        if (memchr(s, '\0', (size_t)(stop - s))) {
            why = "a NUL byte in the line";
        } else {
            why = trace_parse_line(s, (size_t)(stop - s), line);
        }
        if (why) {
            snprintf(err, err_len, "%zu: %s", line_no + 1, why);
            goto fail;
        }
        if (add_event(&ld, line, line_no + 1, req_prefix) < 0)
            goto out_of_memory;
    }
    settle_clock(&ld);
    if (tr->n_events > 1) /* qsort wants a pointer even for nothing */
        qsort(tr->events, tr->n_events, sizeof *tr->events, by_time);
    loader_free(&ld);
    free(line);
    return 0;
out_of_memory:
    snprintf(err, err_len, "out of memory");
fail:
    loader_free(&ld);
    free(line);
    trace_free(tr);
    return -1;
}

void trace_free(struct trace *tr) {
    free(tr->events);
    free(tr->lanes);
    memset(tr, 0, sizeof *tr);
}

const char *trace_event_name(enum trace_kind kind) {
    return kind < sizeof EVENT_NAME / sizeof *EVENT_NAME ? EVENT_NAME[kind] : NULL;
}

char *trace_read_file(const char *name, size_t *len) {
    FILE *in = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!in)
        return NULL;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    *len = 0;
    for (size_t got; buf && (got = fread(buf + *len, 1, cap - *len - 1, in)) > 0;) {
        *len += got;
        if (cap - *len - 1 == 0) {
            char *more = cap < (SIZE_MAX >> 1) ? realloc(buf, cap *= 2) : NULL;
            if (!more)
                free(buf);
            buf = more;
        }
    }
    int failed = !buf ? ENOMEM : ferror(in) ? errno : 0;
    if (in != stdin)
        fclose(in);
    if (failed) {
        free(buf);
        errno = failed;
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}
