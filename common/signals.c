#include "signals.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

atomic_int stop_requested = 0;

/* The listening socket the first stop shuts, and the process that made it: a child forked after
 * shares the socket, and its own stop must not shut it under the others. */
static pid_t stop_listener_owner;
static volatile sig_atomic_t stop_listener = -1;

void stop_shuts_listener(int listen_fd) {
    if (stop_listener >= 0 && stop_listener_owner == getpid())
        return; /* the process's first: chapter 13's own loop's, not its children's */
    /* A handler that runs between these stores shuts nothing, not the parent's socket. */
    stop_listener = -1;
    stop_listener_owner = getpid();
    stop_listener = listen_fd;
}

static void on_stop_signal(int sig) {
    (void)sig;
    if (atomic_exchange(&stop_requested, 1))
        return; /* not the first */
    /* A loop tests stop_requested, then waits. A signal that comes between the two interrupts
     * no call, and the wait would last until its next event: forever, for an idle server. Every
     * such wait watches the listening socket, and a listening socket shut for reading wakes all
     * of them at once (accept fails with EINVAL, select, poll and epoll see it readable), now and
     * later. shutdown is async-signal-safe; errno is the interrupted code's. */
    int saved = errno;
    if (stop_listener >= 0 && stop_listener_owner == getpid())
        shutdown(stop_listener, SHUT_RD);
    errno = saved;
}

static void on_wake_signal(int sig) {
    (void)sig; /* its only job is to make a blocking call return EINTR */
}

static const int stop_signal_list[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR2, SIGALRM};

void stop_signals(sigset_t *set) {
    sigemptyset(set);
    for (size_t i = 0; i < sizeof stop_signal_list / sizeof *stop_signal_list; i++)
        sigaddset(set, stop_signal_list[i]);
}

void install_signal_handlers(void) {
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART, on purpose */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signal_list / sizeof *stop_signal_list; i++)
        if (sigaction(stop_signal_list[i], &sa, NULL) < 0)
            perror_die("sigaction");
    sa.sa_handler = on_wake_signal; /* SIGUSR1 too: a stray kill -USR1 is harmless */
    if (sigaction(SIGRTMIN, &sa, NULL) < 0 || sigaction(SIGUSR1, &sa, NULL) < 0)
        perror_die("sigaction");
    signal(SIGPIPE, SIG_IGN);
}

void block_stop_signals(void) {
    sigset_t set;
    stop_signals(&set);
    sigaddset(&set, SIGUSR1); /* a stray kill -USR1 is the loop thread's to ignore */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void join_interrupting(pthread_t t) {
    for (;;) {
        pthread_kill(t, SIGRTMIN); /* a worker may be in the middle of a long read */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
        if (pthread_timedjoin_np(t, NULL, &until) == 0)
            return;
    }
}
