#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"

#define LANE 48

static int trace_fd = -1;
static char process_lane[LANE]; /* "" in the first process */
static _Thread_local char thread_lane[LANE] = "main";

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

bool trace_enabled(void) {
    return trace_fd >= 0;
}

void trace_thread(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_lane, sizeof thread_lane, fmt, ap);
    va_end(ap);
}

void trace_process(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(process_lane, sizeof process_lane, fmt, ap);
    va_end(ap);
}

/* Appends s to line as a JSON string. Paths are printable ASCII (parse_request refuses the
 * rest), so quotes and backslashes are all there is to escape. */
static int json_string(char *line, size_t size, const char *s) {
    size_t n = 0;
    if (n < size)
        line[n++] = '"';
    for (; *s && n + 3 < size; s++) {
        if (*s == '"' || *s == '\\')
            line[n++] = '\\';
        line[n++] = *s;
    }
    line[n++] = '"';
    return (int)n;
}

static void emit(const char *event, int fd, const char *req, int rc, bool has_rc, const char *key,
                 double value) {
    char line[1400];
    int n = snprintf(line, sizeof line,
                     "{\"t_ms\":%.3f,\"pid\":%d,\"thread\":\"%s%s%s\","
                     "\"event\":\"%s\"",
                     mono_ms() - (double)log_epoch_ms(), (int)getpid(), process_lane,
                     process_lane[0] ? "/" : "", thread_lane, event);
    if (fd >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"fd\":%d", fd);
    if (req && *req) { /* "": no path yet, or a bad request */
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"req\":");
        n += json_string(line + n, sizeof line - (size_t)n - 16, req);
    }
    if (has_rc)
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"rc\":%d", rc);
    if (key)
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"%s\":%.3f", key, value);
    n += snprintf(line + n, sizeof line - (size_t)n, "}\n");
    (void)!write(trace_fd, line, (size_t)n); /* one write: lines never interleave */
}

void trace_event(const char *event, int fd, const char *req) {
    if (trace_fd >= 0)
        emit(event, fd, req, 0, false, NULL, 0);
}

void trace_reply(int fd, const char *req, int rc) {
    if (trace_fd >= 0)
        emit("reply_ready", fd, req, rc, true, NULL, 0);
}

void trace_number(const char *event, const char *key, double value) {
    if (trace_fd >= 0)
        emit(event, -1, NULL, 0, false, key, value);
}

int trace_open(const char *path) {
    trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (trace_fd < 0)
        return -1;
    char line[160];
    int n = snprintf(line, sizeof line,
                     "{\"t_ms\":0.000,\"pid\":%d,\"thread\":\"main\",\"event\":\"trace_start\","
                     "\"mono_ms\":%lld.000}\n",
                     (int)getpid(), (long long)log_epoch_ms());
    if (write(trace_fd, line, (size_t)n) != n) {
        int err = errno;
        close(trace_fd);
        trace_fd = -1;
        errno = err;
        return -1;
    }
    return 0;
}
