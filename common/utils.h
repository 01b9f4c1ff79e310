/* The dull parts every server shares: dying, logging, the clock, flags, the listening socket,
 * signals. None of this is a lesson; it lives here once so each chapter's server.c shows only
 * its own idea. */
#ifndef UTILS_H
#define UTILS_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "flags.h" /* every server takes the same flags */

/* Prints "fatal: <message>" to stderr and exits 1. Start-up and impossible states only. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Like perror(msg), then exits 1. Start-up and impossible states only. */
void perror_die(const char *msg) __attribute__((noreturn));

/* One line to stderr, stamped with milliseconds since the server started: "[  1.234] text". */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For a tool that shares a terminal with the servers: each line starts with name ("slowdisk "),
 * or none at all when off (a fuzzer's). */
void log_as(const char *name, bool off);

/* Makes now the log's [0.000] (parse_server_flags calls it), and says when that was, on the
 * now_ms() clock. */
void log_start(void);
int64_t log_epoch_ms(void);

/* Milliseconds on CLOCK_MONOTONIC: immune to wall-clock jumps, only differences mean anything. */
int64_t now_ms(void);

/* listen_tcp's options. */
enum {
    LISTEN_NONBLOCK = 1,  /* for an event loop: accept never blocks */
    LISTEN_REUSEPORT = 2, /* SO_REUSEPORT: other sockets may listen on the same port (chapter 13) */
    LISTEN_QUIET = 4,     /* do not print the "listening on" line (announce_listening does) */
};

/* Binds and listens on host:port (port 0 = any free one), then prints exactly
 * "listening on HOST:PORT" with the real port to stdout and flushes it, unless LISTEN_QUIET.
 * Returns the fd; dies on error. */
int listen_tcp(const char *host, int port, int flags);

/* The port listening socket fd is bound to. Dies on error. */
int local_port(int fd);

/* Prints "listening on HOST:PORT" for listening socket fd and flushes stdout: the one line tests
 * and scripts wait for. */
void announce_listening(const char *host, int fd);

/* Sets O_NONBLOCK on fd. Returns 0, or -1 with errno set. */
int set_nonblocking(int fd);

/* Bounds each blocking read (write) on fd to ms milliseconds: SO_RCVTIMEO (SO_SNDTIMEO).
 * Returns 0 or -1. */
int set_recv_timeout(int fd, int ms);
int set_send_timeout(int fd, int ms);

/* Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit. */
long raise_fd_limit(void);

/* Set by a stop signal (see stop_signals); the loop checks it and shuts down. Atomic rather than
 * the classic volatile sig_atomic_t, because worker threads read it too (a lock-free atomic is also
 * safe to write from a signal handler). */
extern atomic_int stop_requested;

/* The signals that stop a server cleanly: SIGINT (Ctrl-C), SIGTERM, and SIGHUP, SIGUSR2 and
 * SIGALRM, whose default action would kill it mid-request and leave its files behind. */
void stop_signals(sigset_t *set);

/* Installs handlers for the stop signals that set stop_requested (without SA_RESTART, so a
 * blocked accept/read/sleep returns EINTR and the loop notices) and ignores SIGPIPE, so a client
 * that vanishes makes write() fail with EPIPE instead of killing the server. */
void install_signal_handlers(void);

/* Accepts one pending connection: accept4 with SOCK_CLOEXEC | flags (SOCK_NONBLOCK for an event
 * loop, 0 for a blocking server). Returns its fd, or -1 with errno set: EAGAIN (none pending),
 * EINTR (a signal), or an error it has already logged. Out of descriptors (EMFILE/ENFILE), it
 * sheds the pending connection (accepts it with a descriptor kept spare for this, closes it, logs
 * it) so that a level-triggered loop does not spin on a listening socket it cannot empty, and a
 * blocking server does not spin on an accept that fails at once. */
int accept_client(int listen_fd, int flags);

/* For worker threads: blocks the stop signals and SIGUSR1 (-L's) in the calling thread, so they
 * reach the loop thread, and leaves SIGRTMIN to interrupt_thread(). */
void block_stop_signals(void);

/* Interrupts a blocking call (nanosleep, read) in thread t with SIGRTMIN, so it sees
 * stop_requested. Used at shutdown. (SIGRTMIN, not SIGUSR1: that asks -L for its figures.) */
void interrupt_thread(pthread_t t);

/* Joins thread t, interrupting its blocking calls every 50 ms until it has exited. */
void join_interrupting(pthread_t t);

/* After the last byte of a reply is written: true when closing fd now could reset the connection
 * and destroy the reply in flight, because the client sent bytes the server has not read (a
 * second request, a stray byte: close() answers unread input with a RST, which can overtake the
 * reply) or the reply is not all acknowledged yet (a RST then discards the rest). Then it has shut
 * down the sending side, so the client sees the reply end, and the caller must drain fd until the
 * client closes (drain_input) or a deadline passes, and only then close it: nginx's lingering
 * close. False: close fd now (a shutdown that fails means the connection is gone anyway). */
bool must_linger(int fd);

/* Reads and discards what non-blocking fd holds. True while the client is still connected and
 * quiet (EAGAIN): wait for more; false at EOF or an error: close fd now. */
bool drain_input(int fd);

/* In a forked child: closes every descriptor above stderr except keep and also (-1: none), so the
 * child holds nothing of its parent's it does not use (clients, the listening socket). */
void close_all_but(int keep, int also);

/* Writes all of buf to a blocking fd, retrying short writes and EINTR. Returns 0 or -1. */
int write_all(int fd, const char *buf, size_t len);

#endif
