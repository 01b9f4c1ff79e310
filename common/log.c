#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t epoch_ms;          /* log lines count from here: set when the flags are parsed */
static const char *log_name = ""; /* a tool's name before each line: "slowdisk " */
static bool log_off;

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void log_start(void) {
    epoch_ms = now_ms();
}

int64_t log_epoch_ms(void) {
    return epoch_ms;
}

void log_msg(const char *fmt, ...) {
    if (log_off)
        return;
    char line[1024];
    int64_t t = now_ms() - epoch_ms;
    int n = snprintf(line, sizeof line, "%s[%3lld.%03lld] ", log_name, (long long)(t / 1000),
                     (long long)(t % 1000));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    /* One write per line, so lines from worker threads never interleave mid-line. */
    size_t len = strlen(line);
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}

void log_as(const char *name, bool off) {
    log_name = name;
    log_off = off;
}

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void perror_die(const char *msg) {
    perror(msg);
    exit(1);
}
