/* The sockets: listening, accepting, bounding a blocking socket's calls in time, and closing a
 * connection without losing the reply in flight. None of it is a lesson; every server needs it. */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stddef.h>

/* listen_tcp's options. */
enum {
    LISTEN_NONBLOCK = 1,  /* for an event loop: accept never blocks */
    LISTEN_REUSEPORT = 2, /* SO_REUSEPORT: other sockets may listen on the same port (chapter 13) */
    LISTEN_QUIET = 4,     /* do not print the "listening on" line (announce_listening does) */
};

/* Binds and listens on host:port (port 0 = any free one), then prints exactly
 * "listening on HOST:PORT" with the real port to stdout and flushes it, unless LISTEN_QUIET.
 * The process's first such socket is the one a stop shuts (stop_shuts_listener, signals.h).
 * Returns the fd; dies on error. */
int listen_tcp(const char *host, int port, int flags);

/* The port listening socket fd is bound to. Dies on error. */
int local_port(int fd);

/* Prints "listening on HOST:PORT" for listening socket fd and flushes stdout: the one line tests
 * and scripts wait for. */
void announce_listening(const char *host, int fd);

/* Accepts one pending connection: accept4 with SOCK_CLOEXEC | flags (SOCK_NONBLOCK for an event
 * loop, 0 for a blocking server). Returns its fd, or -1 with errno set: EAGAIN (none pending),
 * EINTR (a signal), EINVAL (a stop shut the socket: stop_shuts_listener), or an error it has
 * already logged. Out of descriptors (EMFILE/ENFILE), it sheds the pending connection (accepts
 * it with a descriptor kept spare for this, closes it, logs it) so that a level-triggered loop
 * does not spin on a listening socket it cannot empty, and a blocking server does not spin on an
 * accept that fails at once. */
int accept_client(int listen_fd, int flags);

/* Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit: the size of a
 * table indexed by descriptor. */
long raise_fd_limit(void);

/* Sets O_NONBLOCK on fd. Returns 0, or -1 with errno set. */
int set_nonblocking(int fd);

/* Bounds each blocking read (write) on fd to ms milliseconds: SO_RCVTIMEO (SO_SNDTIMEO).
 * Returns 0 or -1. */
int set_recv_timeout(int fd, int ms);
int set_send_timeout(int fd, int ms);

/* Writes all of buf to a blocking fd, retrying short writes and EINTR. Returns 0 or -1. */
int write_all(int fd, const char *buf, size_t len);

/* After the last byte of a reply is written, starts nginx's lingering close if closing fd now
 * could reset the connection and destroy the reply in flight: if the client sent bytes the server
 * has not read (a second request, a stray byte: close() answers unread input with a RST, which
 * can overtake the reply) or the reply is not all acknowledged yet (a RST then discards the
 * rest). Then it shuts down the sending side, so the client sees the reply end, and returns true:
 * drain fd (drain_input) until the client closes or a deadline passes, and only then close it.
 * False: close fd now (a shutdown that fails means the connection is gone anyway). */
bool start_lingering_close(int fd);

/* Reads and discards what non-blocking fd holds. True while the client is still connected and
 * quiet (EAGAIN): wait for more; false at EOF or an error: close fd now. */
bool drain_input(int fd);

#endif
