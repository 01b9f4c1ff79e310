/* The event trace (-E FILE): what each server thread did to each request, one JSON object a
 * line, so that tools/timeline-svg can draw who waited for whom:
 *   {"t_ms":301.250,"pid":4242,"thread":"worker-2","event":"read_done","fd":7,"req":"/obj/3"}
 * t_ms counts from the same start as the log's [s.mmm] stamps, on CLOCK_MONOTONIC; the first line,
 * trace_start, gives that start as mono_ms, so a client's timeline can be laid beside it. Writes
 * to the file, opened O_APPEND, hold whole lines only (a loop's events of one turn go together),
 * so threads and forked processes can share it without locks or torn lines. Off by default, and
 * then each call here is one test of a global. */
#ifndef TRACE_H
#define TRACE_H

#include <stdbool.h>

/* Opens path for appending and writes trace_start. Returns 0, or -1 with errno set; the caller
 * must not go on without it (a trace asked for and silently missing would make a picture lie).
 * parse_server_flags calls it for -E. */
int trace_open(const char *path);

/* The trace file's descriptor, -1 when off: a process that closes what it inherited must keep
 * it. */
int trace_descriptor(void);

/* Names the calling thread's lane in the trace ("loop", "worker-3"); a thread that never calls it
 * is "main". A forked process names its own with trace_process ("disk-1", "proc-4243"): its
 * threads then show as "disk-1/loop", "disk-1/worker-3". */
void trace_thread(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void trace_process(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One event on the calling thread's lane: accepted, request, read_start, read_done, reply_ready,
 * reply_sent, closed, expired, refused; wait and wake around a loop's sleep. fd is the
 * connection's (-1: none); req its path (NULL or "": none, or not yet). */
void trace_event(const char *event, int fd, const char *req);

/* The same, with the reply's RC (reply_ready). */
void trace_reply(int fd, const char *req, int rc);

#endif
