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

/* For worker threads: blocks the stop signals and SIGUSR1 in the calling thread, so they reach
 * the loop thread, and leaves SIGRTMIN to join_interrupting. */
void block_stop_signals(void);

/* Joins thread t, interrupting its blocking call (nanosleep, read) with SIGRTMIN every 50 ms
 * until it has seen stop_requested and exited. Used at shutdown. */
void join_interrupting(pthread_t t);

#endif
