#include "signals.h"

#include <stddef.h>
#include <time.h>

#include "log.h"

atomic_int stop_requested = 0;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
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
