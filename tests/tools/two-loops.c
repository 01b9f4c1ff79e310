/* two-loops: two event loops in one process, for loopwatch's tests (tests/loopwatch.bats). Each
 * thread waits in its own epoll set, 20 ms a turn, for 1.2 s; 300 ms in, the one named "loop-b"
 * makes one 600 ms blocking call (a sleep) in a turn. loopwatch must find both loops and report
 * the stall in loop-b alone, while loop-a goes on turning. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static void *run(void *arg) {
    const char *name = arg;
    pthread_setname_np(pthread_self(), name);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    for (int turn = 0; turn < 60; turn++) {
        epoll_wait(ep, &ev, 1, 20);
        if (turn == 15 && strcmp(name, "loop-b") == 0)
            nanosleep(&(struct timespec){.tv_nsec = 600000000}, NULL);
    }
    close(ep);
    return NULL;
}

int main(void) {
    pthread_t a, b;
    if (pthread_create(&a, NULL, run, "loop-a") != 0 || pthread_create(&b, NULL, run, "loop-b"))
        return 1;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    puts("both loops done");
    return 0;
}
