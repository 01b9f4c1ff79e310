/* The dull parts of serving a connection on a thread that may block (chapters 01, 07, 08, and
 * 09's green threads): read a whole request by a deadline, send the reply by a deadline, and
 * close without losing it. */
#ifndef BLOCKING_H
#define BLOCKING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

struct job;

/* How read_request waits for bytes: reads up to len bytes from fd, waiting at most until
 * deadline_ms (on the now_ms() clock). Returns read()'s result, or -1 with errno set (ETIMEDOUT
 * at the deadline). read_until is the blocking one; chapter 09's green_read parks a green thread
 * instead. */
typedef ssize_t (*read_fn)(int fd, void *buf, size_t len, int64_t deadline_ms);

/* How a reply is sent: all of buf, by deadline_ms. Returns 0, or -1 with errno set (ETIMEDOUT
 * at the deadline). write_until is the blocking one; chapter 09's green_write parks instead. */
typedef int (*write_fn)(int fd, const void *buf, size_t len, int64_t deadline_ms);

/* read(2) on a blocking socket, bounded by SO_RCVTIMEO to what is left until deadline_ms; EINTR
 * is retried unless a stop was requested. */
ssize_t read_until(int fd, void *buf, size_t len, int64_t deadline_ms);

/* Reads one whole request from fd into in[0..MAX_REQUEST) with read_some, giving up deadline_ms
 * after the call (a client that never finishes its line must not hold a thread forever). Returns
 * the parse status; PARSE_INCOMPLETE only when the client closed without sending anything. */
/* write(2) of all of buf on a blocking socket, each call bounded by SO_SNDTIMEO to what is left
 * until deadline_ms; EINTR is retried unless a stop was requested. */
int write_until(int fd, const void *buf, size_t len, int64_t deadline_ms);

enum parse_status read_request(int fd, char *in, size_t *in_len, int deadline_ms,
                               struct request *req, const char **why, read_fn read_some);

/* Sends job's reply (len bytes at out) with write_some, then closes its connection without
 * resetting it (see start_lingering_close: reading and dropping what the client still sends until
 * it closes, with read_some). The client has deadline_ms (-T) from now for both; past that it is
 * cut off. Logs a reply that could not be sent. */
void reply_and_close(const struct job *job, const char *out, size_t len, int deadline_ms,
                     write_fn write_some, read_fn read_some);

/* Closes a connection that gets no reply (the client left, or the server is stopping). */
void close_connection(int fd);

#endif
