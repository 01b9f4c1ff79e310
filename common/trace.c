#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LANE 48

static int trace_fd = -1;
static int trace_pid;           /* getpid() is a system call: ask once a process */
static char process_lane[LANE]; /* "" in the first process */
static _Thread_local char thread_lane[LANE] = "main";

/* Microseconds since the log's [0.000]. */
static long long elapsed_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - (long long)log_epoch_ms() * 1000;
}

int trace_descriptor(void) {
    return trace_fd;
}

void trace_thread(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_lane, sizeof thread_lane, fmt, ap);
    va_end(ap);
}

void trace_process(const char *fmt, ...) {
    trace_pid = (int)getpid(); /* a new process: forked since trace_open */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(process_lane, sizeof process_lane, fmt, ap);
    va_end(ap);
}

/* The line is built by hand, not by snprintf: a loop emits about eight events a request, and
 * formatting was most of what the trace cost. */
struct line {
    char text[1400];
    size_t len;
};

static void put(struct line *l, const char *s) {
    size_t n = strlen(s);
    if (l->len + n < sizeof l->text - 8) {
        memcpy(l->text + l->len, s, n);
        l->len += n;
    }
}

static void put_number(struct line *l, long long v) {
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        digits[n++] = '-';
    while (n > 0 && l->len < sizeof l->text - 8)
        l->text[l->len++] = digits[--n];
}

/* A path as a JSON string. Paths are printable ASCII (parse_request refuses the rest), so quotes
 * and backslashes are all there is to escape. */
static void put_json_string(struct line *l, const char *s) {
    l->text[l->len++] = '"';
    for (; *s && l->len < sizeof l->text - 12; s++) {
        if (*s == '"' || *s == '\\')
            l->text[l->len++] = '\\';
        l->text[l->len++] = *s;
    }
    l->text[l->len++] = '"';
}

/* A loop's events of one turn, written together when it goes back to sleep: a write per event
 * would cost a loop more than its requests do (27-50 % of chapter 04's CPU per request). Every
 * write still holds whole lines only, so processes sharing the file never tear one. Any other
 * thread writes each event as it comes. */
static _Thread_local struct {
    char buf[16384];
    size_t len;
    bool batch; /* this thread has gone to sleep in a loop's wait at least once */
} turn;

static void flush_turn(void) {
    if (turn.len > 0 && trace_fd >= 0)
        (void)!write(trace_fd, turn.buf, turn.len);
    turn.len = 0;
}

/* A number of microseconds as milliseconds with three decimals. */
static void put_ms(struct line *l, long long us) {
    put_number(l, us / 1000);
    l->text[l->len++] = '.';
    l->text[l->len++] = (char)('0' + us / 100 % 10);
    l->text[l->len++] = (char)('0' + us / 10 % 10);
    l->text[l->len++] = (char)('0' + us % 10);
}

static void emit(const char *event, int fd, const char *req, int rc, bool has_rc) {
    struct line l = {.len = 0};
    long long us = elapsed_us();
    put(&l, "{\"t_ms\":");
    put_ms(&l, us);
    put(&l, ",\"pid\":");
    put_number(&l, trace_pid);
    put(&l, ",\"thread\":\"");
    if (process_lane[0]) {
        put(&l, process_lane);
        put(&l, "/");
    }
    put(&l, thread_lane);
    put(&l, "\",\"event\":\"");
    put(&l, event);
    l.text[l.len++] = '"';
    if (fd >= 0) {
        put(&l, ",\"fd\":");
        put_number(&l, fd);
    }
    if (req && *req) { /* "": no path yet, or a bad request */
        put(&l, ",\"req\":");
        put_json_string(&l, req);
    }
    if (has_rc) {
        put(&l, ",\"rc\":");
        put_number(&l, rc);
    }
    put(&l, "}\n");
    const char *line = l.text;
    size_t n = l.len;
    bool wait = strcmp(event, "wait") == 0;
    turn.batch |= wait;
    if (!turn.batch) {
        (void)!write(trace_fd, line, n); /* one write: lines never interleave */
        return;
    }
    if (turn.len + n > sizeof turn.buf)
        flush_turn();
    memcpy(turn.buf + turn.len, line, n);
    turn.len += n;
    if (wait) /* the turn is over: the loop sleeps now */
        flush_turn();
}

void trace_event(const char *event, int fd, const char *req) {
    if (trace_fd >= 0)
        emit(event, fd, req, 0, false);
}

void trace_reply(int fd, const char *req, int rc) {
    if (trace_fd >= 0)
        emit("reply_ready", fd, req, rc, true);
}

int trace_open(const char *path) {
    trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (trace_fd < 0)
        return -1;
    trace_pid = (int)getpid();
    atexit(flush_turn); /* the loop's last turn: exit runs on the loop's thread in every chapter */
    char line[160];
    int n = snprintf(line, sizeof line,
                     "{\"t_ms\":0.000,\"pid\":%d,\"thread\":\"main\",\"event\":\"trace_start\","
                     "\"mono_ms\":%lld.000}\n",
                     trace_pid, (long long)log_epoch_ms());
    if (write(trace_fd, line, (size_t)n) != n) {
        int err = errno;
        close(trace_fd);
        trace_fd = -1;
        errno = err;
        return -1;
    }
    return 0;
}
