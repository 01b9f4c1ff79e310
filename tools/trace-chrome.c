/* trace-chrome: a server's event trace (its -E FILE, tools/trace.h) in the Chrome Trace Event
 * format, so that it opens where people already look: ui.perfetto.dev or chrome://tracing.
 *   one track a server thread: pid the server's process, tid one a thread name;
 *   complete events ("ph":"X", ts and dur in µs) for what lasts on a thread: a loop asleep
 *   (wait -> wake), a loop running its handlers (wake -> wait), a read (read_start ->
 *   read_done); instant events ("ph":"i") for the moments: accepted, request, reply_ready,
 *   reply_sent, closed, expired, refused; the request's path, fd and rc as each one's args.
 * A span still open when the trace ends (a loop blocked in a read logs nothing) ends with the
 * trace, its args saying so. The times are the trace's one clock (trace_load's), from 0.
 * Exit status: 0, 1 on bad input (the line and what is wrong with it), 64 on bad usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("trace-chrome: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* s as the contents of a JSON string: quotes, backslashes and control bytes escaped; a byte
 * that is not part of valid UTF-8 becomes U+FFFD, so the output is always valid JSON. */
static void put_json_string(FILE *out, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        size_t ok = n;
        for (size_t i = 1; i < n && ok; i++)
            if ((p[i] & 0xc0) != 0x80)
                ok = 0;
        if (n == 1 && (*p == '"' || *p == '\\'))
            fprintf(out, "\\%c", *p);
        else if (n == 1 && *p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else if (ok)
            fwrite(p, 1, n, out);
        else
            fputs("\\ufffd", out);
        p += ok ? n : 1;
    }
}

/* What a thread has open: its loop state since a time, and a read. */
struct track {
    int pid, lane;
    double first_ms;    /* its first event */
    int awake;          /* -1 unknown (no wait or wake yet), 0 asleep, 1 in a handler */
    double state_since; /* ... since when */
    bool reading;       /* a read_start without its read_done yet */
    double read_since;
    long long read_fd;
    char read_req[TRACE_REQ_MAX + 1];
};

struct tracks {
    struct track *slot; /* open addressing on (pid, lane); lane < 0: free */
    size_t cap, n;
};

static struct track *track_of(struct tracks *t, int pid, int lane, double t_ms) {
    if (2 * (t->n + 1) > t->cap) {
        struct tracks bigger = {.cap = t->cap ? 2 * t->cap : 64};
        bigger.slot = malloc(bigger.cap * sizeof *bigger.slot);
        if (!bigger.slot)
            fail("out of memory");
        for (size_t i = 0; i < bigger.cap; i++)
            bigger.slot[i].lane = -1;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slot[i].lane >= 0)
                *track_of(&bigger, t->slot[i].pid, t->slot[i].lane, 0) = t->slot[i];
        free(t->slot);
        *t = bigger;
        t->n = 0;
        for (size_t i = 0; i < t->cap; i++)
            t->n += t->slot[i].lane >= 0;
    }
    size_t i = ((size_t)(unsigned)pid * 2654435761u + (size_t)lane) & (t->cap - 1);
    while (t->slot[i].lane >= 0 && !(t->slot[i].pid == pid && t->slot[i].lane == lane))
        i = (i + 1) & (t->cap - 1);
    if (t->slot[i].lane < 0) {
        t->slot[i] = (struct track){.pid = pid, .lane = lane, .first_ms = t_ms, .awake = -1};
        t->n++;
    }
    return &t->slot[i];
}

static bool first_event = true;

/* Opens one event's object: its name, phase, time, track; the caller adds the rest and "}". */
static void begin(FILE *out, const char *name, char ph, double ts_ms, const struct track *k) {
    fprintf(out, "%s{\"name\":\"%s\",\"ph\":\"%c\",\"ts\":%.3f,\"pid\":%d,\"tid\":%d",
            first_event ? "" : ",\n", name, ph, ts_ms * 1000, k->pid, k->lane + 1);
    first_event = false;
}

/* A complete event from since to until, with the request's args when it has any. */
static void span(FILE *out, const char *name, const struct track *k, double since, double until,
                 const char *req, long long fd, long long rc, bool open) {
    begin(out, name, 'X', since, k);
    fprintf(out, ",\"dur\":%.3f,\"args\":{", (until - since) * 1000);
    const char *sep = "";
    if (req && req[0]) {
        fputs("\"req\":\"", out);
        put_json_string(out, req);
        fputc('"', out);
        sep = ",";
    }
    if (fd >= 0)
        fprintf(out, "%s\"fd\":%lld", sep, fd), sep = ",";
    if (rc >= 0)
        fprintf(out, "%s\"rc\":%lld", sep, rc), sep = ",";
    if (open)
        fprintf(out, "%s\"open\":\"still open when the trace ended\"", sep);
    fputs("}}", out);
}

/* One event of the trace; line is its line as parsed (req, fd, rc). */
static void convert(FILE *out, struct track *k, const struct trace_event *e,
                    const struct trace_line *line) {
    const char *req = line->has_req ? line->req : NULL;
    long long fd = line->has_fd ? line->fd : -1, rc = line->rc;
    if (e->kind == EV_WAIT || e->kind == EV_WAKE) {
        int now_awake = e->kind == EV_WAKE;
        if (k->awake < 0) /* before its first wait or wake it was in the other state */
            k->awake = !now_awake, k->state_since = k->first_ms;
        if (k->awake != now_awake) {
            span(out, k->awake ? "handler" : "asleep", k, k->state_since, e->t_ms, NULL, -1, -1,
                 false);
            k->awake = now_awake, k->state_since = e->t_ms;
        }
        return;
    }
    if (e->kind == EV_READ_START) {
        k->reading = true, k->read_since = e->t_ms, k->read_fd = fd;
        snprintf(k->read_req, sizeof k->read_req, "%s", req ? req : "");
        return;
    }
    if (e->kind == EV_READ_DONE && k->reading) {
        span(out, "read", k, k->read_since, e->t_ms, k->read_req, k->read_fd, rc, false);
        k->reading = false;
        return;
    }
    const char *moment = trace_event_name(e->kind);
    if (!moment)
        return; /* an event this reader does not know: skipped, as trace_load does */
    begin(out, moment, 'i', e->t_ms, k);
    fputs(",\"s\":\"t\",\"args\":{", out);
    const char *sep = "";
    if (req) {
        fputs("\"req\":\"", out);
        put_json_string(out, req);
        fputc('"', out);
        sep = ",";
    }
    if (fd >= 0)
        fprintf(out, "%s\"fd\":%lld", sep, fd), sep = ",";
    if (e->kind == EV_READ_DONE || e->kind == EV_REPLY_READY || e->kind == EV_EXPIRED ||
        e->kind == EV_REFUSED || rc != 0)
        fprintf(out, "%s\"rc\":%lld", sep, rc);
    fputs("}}", out);
}

/* Where each line of buf starts, to read an event's req, fd and rc again from its own line. */
static const char **line_starts(const char *buf, size_t len) {
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    const char **line_at = malloc(lines * sizeof *line_at);
    if (!line_at)
        fail("out of memory");
    line_at[0] = buf;
    for (size_t i = 0, n = 1; i < len; i++)
        if (buf[i] == '\n')
            line_at[n++] = buf + i + 1;
    return line_at;
}

/* The process an event with no pid of its own belongs to: the first trace_start's, else 1. */
static int first_pid(const struct trace *tr) {
    for (size_t i = 0; i < tr->n_events; i++)
        if (tr->events[i].kind == EV_TRACE_START && tr->events[i].pid >= 0)
            return tr->events[i].pid;
    return 1;
}

/* What is still open ends with the trace, at end_ms; then each track's and process's name. */
static void end_tracks(FILE *out, const struct tracks *t, const struct trace *tr, double end_ms) {
    for (size_t i = 0; i < t->cap; i++) {
        struct track *k = &t->slot[i];
        if (k->lane < 0)
            continue;
        if (k->awake >= 0 && end_ms > k->state_since)
            span(out, k->awake ? "handler" : "asleep", k, k->state_since, end_ms, NULL, -1, -1,
                 true);
        if (k->reading)
            span(out, "read", k, k->read_since, end_ms, k->read_req, k->read_fd, -1, true);
        begin(out, "thread_name", 'M', 0, k);
        fputs(",\"args\":{\"name\":\"", out);
        put_json_string(out, tr->lanes[k->lane]);
        fputs("\"}}", out);
    }
    for (size_t i = 0; i < t->cap; i++) {
        struct track *k = &t->slot[i];
        bool first = k->lane >= 0;
        for (size_t j = 0; first && j < i; j++) /* once per process */
            first = !(t->slot[j].lane >= 0 && t->slot[j].pid == k->pid);
        if (first) {
            begin(out, "process_name", 'M', 0, k);
            fprintf(out, ",\"args\":{\"name\":\"server %d\"}}", k->pid);
        }
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        puts("usage: trace-chrome TRACE > out.json   (TRACE: a server's -E FILE, or - for stdin)\n"
             "The Chrome Trace Event format: open it in ui.perfetto.dev or chrome://tracing.");
        return 0;
    }
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
        fputs("usage: trace-chrome TRACE > out.json\n", stderr);
        return 64;
    }
    size_t len;
    char *buf = trace_read_file(argv[1], &len), err[256];
    if (!buf)
        fail("%s: %s", argv[1], strerror(errno));
    struct trace tr;
    if (trace_load(buf, len, "", &tr, err, sizeof err) < 0)
        fail("%s:%s", argv[1], err);
    const char **line_at = line_starts(buf, len);
    struct trace_line *line = malloc(sizeof *line);
    if (!line)
        fail("out of memory");

    FILE *out = stdout;
    struct tracks tracks = {0};
    int default_pid = first_pid(&tr);
    double end_ms = tr.n_events ? tr.events[tr.n_events - 1].t_ms : 0;
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", out);
    for (size_t i = 0; i < tr.n_events; i++) {
        const struct trace_event *e = &tr.events[i];
        const char *s = line_at[e->seq - 1], *stop = strchr(s, '\n');
        if (!stop)
            stop = buf + len;
        while (s < stop && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        const char *why = trace_parse_line(s, (size_t)(stop - s), line);
        if (why) /* trace_load read this very line */
            fail("%s:%zu: %s", argv[1], e->seq, why);
        int pid = e->pid >= 0 ? e->pid : default_pid;
        struct track *k = track_of(&tracks, pid, e->lane, e->t_ms);
        convert(out, k, e, line);
    }
    end_tracks(out, &tracks, &tr, end_ms);
    fputs("\n]}\n", out);
    free(tracks.slot);
    free(line_at);
    free(line);
    trace_free(&tr);
    free(buf);
    if (fflush(out) != 0 || ferror(out))
        fail("writing the JSON: %s", strerror(errno));
    return 0;
}
