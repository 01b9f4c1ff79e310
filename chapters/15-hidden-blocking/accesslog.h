/* Chapter 15's access log: one line per request, written to a pipe whose reader is another
 * process, the log shipper, which copies it to stderr (as Swift's logs go to a syslog daemon, a
 * container's to its log driver, a service's to journald). Freeze the shipper (kill -STOP PID)
 * and the pipe fills: it holds 64 KiB, and then every write(2) to it blocks until the shipper
 * reads again. A line goes in one of two ways, and server.c says which. */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include <stddef.h>

#define ACCESS_LINE_MAX 512 /* the longest line; a pipe takes a write of this size whole */

/* Starts the shipper process and logs its pid, then starts the logger thread. Call before any
 * other thread and before any socket is opened (the shipper is a fork). Dies on failure. */
void access_log_start(void);

/* Writes the line to the pipe now, on the calling thread, blocking while the pipe is full.
 * Gives up, and drops the line, only when a stop signal arrives. */
void access_log_write(const char *line, size_t len);

/* Hands the line to the logger thread, which writes it: never blocks. When the logger's queue is
 * full (the pipe is full and the logger waits on it) the line is dropped and counted. */
void access_log_queue(const char *line, size_t len);

/* Stops the logger thread (interrupting a write the full pipe holds), logs how many lines were
 * dropped, and closes the pipe; waits up to a second for the shipper to copy what is left and
 * exit, then kills it, so a frozen shipper is never left behind. */
void access_log_stop(void);

#endif
