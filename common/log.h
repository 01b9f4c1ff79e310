/* The clock and the log. Every line a server says goes to stderr in one write, stamped with the
 * time since it started, so the lines of several threads never interleave and read as one story
 * with the trace (-E, trace.h), which counts from the same start. */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: immune to wall-clock jumps, only differences mean anything. */
int64_t now_ms(void);

/* Makes now the log's [0.000] (parse_server_flags calls it). */
void log_start(void);

/* When log_start ran, on the now_ms() clock. */
int64_t log_epoch_ms(void);

/* One line to stderr, stamped with milliseconds since log_start: "[  1.234] text". */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For a tool that shares a terminal with the servers: each line starts with name ("slowdisk "),
 * or none at all when off (a fuzzer's). */
void log_as(const char *name, bool off);

/* Prints "fatal: <message>" to stderr and exits 1. Start-up and impossible states only. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Like perror(msg), then exits 1. Start-up and impossible states only. */
void perror_die(const char *msg) __attribute__((noreturn));

#endif
