/* timeline: a client's --timeline file and, when the server traced the run (-E), what happened
 * to each request on the server's side: the model behind timeline-svg's pictures, and the
 * pictures (SVG for the slides, text for a terminal). */
#ifndef TIMELINE_H
#define TIMELINE_H

#include <stdbool.h>
#include <stdio.h>

#include "trace.h"

enum outcome { OUT_OK, OUT_LATE, OUT_TIMEOUT, OUT_ERROR, OUTCOMES };

/* One row of the client's file: "id start_ms end_ms outcome delay_ms rc". */
struct row {
    int id;
    long long start_ms, end_ms; /* since the client's start */
    enum outcome outcome;
};

struct timeline {
    struct row *rows;
    size_t n;
    bool has_epoch;  /* the file's "# mono_ms" line */
    double epoch_ms; /* CLOCK_MONOTONIC ms at start_ms = 0 */
};

/* Reads buf[0..len) into *tl (zeroed first). '#' lines are comments, except "# mono_ms X".
 * Returns 0, or -1 with "LINE: what is wrong" in err and nothing to free. */
int timeline_load(const char *buf, size_t len, struct timeline *tl, char *err, size_t err_len);
void timeline_free(struct timeline *tl);

/* Where a request was, between the client's send and its answer (or its giving up). */
enum phase {
    PH_ACCEPT,      /* sent, not yet accepted by the server */
    PH_WAIT_LOOP,   /* accepted, waiting for the loop (or the one thread that serves it) */
    PH_WAIT_WORKER, /* waiting for a worker thread or process to take its read */
    PH_READ,        /* being read */
    PH_READY,       /* read done (or refused, or expired): the reply waits to be sent */
    PH_SENT,        /* the reply is on its way to the client */
    PHASES
};

struct segment {
    double from_ms, to_ms; /* on the client's clock, within the request's start and end */
    enum phase phase;
    int lane; /* the thread it waited for or that read it (trace.lanes); -1 when unknown */
};

#define SEGMENTS_MAX 8
/* The server's events of one request, on the client's clock (kinds EV_ACCEPTED to EV_REFUSED). */
struct request_view {
    bool traced; /* a server event names it: its bar is split into segments */
    int prefix;  /* which of trace_load's path prefixes its path had; -1 when unknown */
    struct segment seg[SEGMENTS_MAX];
    int n_seg;
    double end_ms; /* the client's end, within its whole ms by the reply's send (split_request) */
    bool has[EV_REFUSED + 1];
    double t_ms[EV_REFUSED + 1];
    int lane[EV_REFUSED + 1];
};

enum lane_state { LS_ASLEEP, LS_HANDLER, LS_READ };

/* The end of a span still open when the trace ends: the picture's right edge. */
#define SPAN_OPEN_MS 1e15

struct span {
    double from_ms, to_ms; /* client's clock */
    enum lane_state state;
    long req;   /* LS_READ: the request's id, or -1 */
    int thread; /* trace.lanes: several threads share a packed lane */
};

/* One row of the picture under the requests: a server thread, or a few rows into which many
 * short-lived threads of one family (chapter 07's conn-FD, 08's proc-PID) are packed. */
struct lane_view {
    char name[TRACE_NAME_MAX + 3]; /* "conn-*" for a packed family */
    bool sleeps;                   /* a loop: it reports wait/wake, so asleep vs handler */
    size_t threads;                /* threads packed into it: 1 for a plain lane */
    struct span *spans;            /* in time order */
    size_t n_spans;
};

struct model {
    const struct timeline *tl;
    const struct trace *tr;   /* NULL: the client's view only */
    struct request_view *req; /* one a row, when tr */
    struct lane_view *lanes;
    size_t n_lanes;
    double end_ms; /* the last moment anything happened, client's clock */
};

/* Links tr's events (may be NULL) to tl's rows. Writes anything the reader should know (a
 * guessed alignment, a trace that names none of the requests) to note, else "". Returns 0, or
 * -1 when out of memory. */
int model_build(const struct timeline *tl, const struct trace *tr, struct model *m, char *note,
                size_t note_len);
void model_free(struct model *m);

struct figure {
    const char *title, *subtitle;
    long long timeout_ms; /* 0: none */
    int width;            /* px; 0 for the default */
    int mark_prefix;      /* rows whose path had this prefix (request_view.prefix) are marked; -1 */
    const char *mark_label; /* ... and the legend names them so */
};

void draw_svg(FILE *out, const struct model *m, const struct figure *f);
/* The terminal's picture, columns characters of time axis wide. */
void draw_text(FILE *out, const struct model *m, int columns);

extern const char *const OUTCOME_NAME[OUTCOMES];

#endif
