/* Stopping cleanly. A stop signal (Ctrl-C, SIGTERM, ...) only sets stop_requested; every loop and
 * every blocking call checks it, so a server shuts down between requests rather than dying in the
 * middle of one. The loop thread takes the signals; a worker thread blocks them, and is woken out
 * of a long blocking call to stop when it is joined. */
#ifndef SIGNALS_H
#define SIGNALS_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

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

/* Makes listen_fd, made by this process, the listening socket the first stop signal shuts for
 * reading: every wait on it (a blocking accept, select, poll, epoll_wait) returns then, or at once
 * if it starts later. That is the stop of a signal that came between a loop's test of
 * stop_requested and its wait, which it interrupted nothing of. listen_tcp calls it; a process
 * keeps its first listening socket, and a forked child shuts none (it shares its parent's)
 * unless it calls this with a socket of its own (chapter 13's reuseport loops). */
void stop_shuts_listener(int listen_fd);

/* For worker threads: blocks the stop signals and SIGUSR1 in the calling thread, so they reach
 * the loop thread, and leaves SIGRTMIN to join_interrupting. */
void block_stop_signals(void);

/* Joins thread t, interrupting its blocking call (nanosleep, read) with SIGRTMIN every 50 ms
 * until it has seen stop_requested and exited. Used at shutdown. */
void join_interrupting(pthread_t t);

#endif
