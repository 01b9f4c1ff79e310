/* trace: reads a server's event trace (the -E FILE of every chapter), one JSON object a line:
 *   {"t_ms":12.4,"pid":4242,"thread":"worker-2","event":"read_start","fd":7,"req":"/obj/3"}
 * t_ms, thread and event are required; pid, fd, req, rc and (on trace_start) mono_ms are read
 * when present; other keys and unknown events are skipped, so newer servers stay readable. */
#ifndef TRACE_H
#define TRACE_H

#include <stdbool.h>
#include <stddef.h>

enum trace_kind {
    EV_ACCEPTED,
    EV_REQUEST,
    EV_READ_START,
    EV_READ_DONE,
    EV_REPLY_READY,
    EV_REPLY_SENT,
    EV_CLOSED,
    EV_EXPIRED, /* the queue deadline passed: answered RC 1 without a read */
    EV_REFUSED, /* bad input: answered RC 2 */
    EV_WAIT,    /* the loop goes to sleep in epoll_wait/select */
    EV_WAKE,    /* ... and is back */
    EV_TRACE_START,
    EV_UNKNOWN
};

#define TRACE_NAME_MAX 63   /* bytes in a thread (lane) name */
#define TRACE_REQ_MAX  1024 /* bytes in a req, a request path (MAX_PATH in common/protocol.h) */

/* One line as written, before the trace is put on one clock. */
struct trace_line {
    double t_ms, mono_ms;
    long long pid, fd, rc;
    bool has_pid, has_fd, has_req, has_mono;
    enum trace_kind kind;
    char thread[TRACE_NAME_MAX + 1]; /* printable ASCII, not empty */
    char req[TRACE_REQ_MAX + 1];
    char why[96]; /* what is wrong, when the line is refused */
};

/* Parses s[0..len), one line without its '\n'. Returns NULL for a trace event, else what is
 * wrong with it (a string in out->why). Never reads s[len] or beyond. */
const char *trace_parse_line(const char *s, size_t len, struct trace_line *out);

/* An event on the trace's one clock. */
struct trace_event {
    double t_ms; /* ms since the epoch of the trace's first trace_start */
    enum trace_kind kind;
    int lane;   /* index in trace.lanes: one a thread name */
    int pid;    /* -1 when the line had none */
    int fd;     /* -1 when the line had none */
    long req;   /* the request's id when req is PREFIX + decimal digits; else -1 */
    int prefix; /* which of the comma-separated prefixes it had (0 the first); -1 with no id */
    size_t seq; /* the line number: keeps events of one time in file order */
};

struct trace {
    struct trace_event *events; /* sorted by t_ms */
    size_t n_events;
    char (*lanes)[TRACE_NAME_MAX + 1];
    size_t n_lanes;
    bool has_epoch;  /* there was a trace_start */
    double epoch_ms; /* its mono_ms: CLOCK_MONOTONIC ms at t_ms = 0 */
};

/* Reads every line of buf[0..len) into *tr (zeroed first), linking req to an id through
 * req_prefix (the client's --path, "/obj/" by default; several, comma-separated, for a client run
 * with --slow-path too). Blank lines are skipped. Returns 0, or
 * -1 with "LINE: what is wrong" (or "out of memory") in err and nothing to free. */
int trace_load(const char *buf, size_t len, const char *req_prefix, struct trace *tr, char *err,
               size_t err_len);
void trace_free(struct trace *tr);

/* The name an event has in the trace's lines ("read_start"), or NULL for a kind it does not
 * know. */
const char *trace_event_name(enum trace_kind kind);

/* The whole of the file name ("-": stdin), NUL-terminated, its bytes in *len; NULL with errno
 * set when it cannot be opened or read, or memory runs out. The caller frees it. */
char *trace_read_file(const char *name, size_t *len);

#endif
