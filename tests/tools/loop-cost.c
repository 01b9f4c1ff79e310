/* loop-cost: what loopwatch costs a loop (make debug-cost, appendix A1). Runs a million empty
 * turns, each an epoll_wait that finds nothing ready, then a million getppid() system calls, and
 * prints the time each took (the best of five rounds). Run alone, then under bin/loopwatch with
 * each flag: the turns measure the wrappers around the wait (-W, -L, -C), the system calls
 * strict mode's filter, which the kernel runs at every call a loop thread makes (-S, -R). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define TURNS  1000000
#define CALLS  1000000
#define ROUNDS 5

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *label = argc > 1 ? argv[1] : "(alone)";
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event ev;
    epoll_wait(ep, &ev, 1, 0); /* the first wait: loopwatch finds the loop here */
    /* The best of ROUNDS rounds: the machine may be busy with something else for some of them. */
    double turn_ns = 1e18, call_ns = 1e18;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (int i = 0; i < TURNS; i++)
            epoll_wait(ep, &ev, 1, 0);
        double t1 = now_ns();
        for (int i = 0; i < CALLS; i++)
            getppid();
        double t2 = now_ns();
        turn_ns = (t1 - t0) / TURNS < turn_ns ? (t1 - t0) / TURNS : turn_ns;
        call_ns = (t2 - t1) / CALLS < call_ns ? (t2 - t1) / CALLS : call_ns;
    }
    printf("%-14s %7.1f ns an empty turn, %6.1f ns a system call\n", label, turn_ns, call_ns);
    close(ep);
    return 0;
}
