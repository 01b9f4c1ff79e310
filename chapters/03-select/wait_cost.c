/* wait-cost: what one wait costs with select(), poll() and epoll_wait() when N descriptors are
 * open and idle and one is ready: the sum chapter 03 does every turn, measured.
 * select() and poll() hand the kernel the whole set on every call and the kernel asks every
 * descriptor in it whether it is ready, so a wait costs O(N); epoll keeps the set in the kernel
 * and hands back only what is ready, so a wait costs O(ready). select() also cannot name a
 * descriptor >= FD_SETSIZE at all, so it is measured only while N fits below it.
 *
 *   bin/wait-cost [N...]   (default 100 1000 10000; make bench runs it)
 *
 * The idle descriptors are both ends of N/2 Unix socketpairs (nothing is ever written to them,
 * so neither end is readable); the ready one is one end of another pair with a byte waiting in
 * it, never read, so every wait returns at once with exactly one descriptor ready. Each figure
 * is the best of 5 timed batches of waits, so that a burst of other work on the machine shows
 * as a slower batch that is thrown away, not as a slower figure. libc only. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCHES   5
#define BATCH_NS  20000000L /* each timed batch runs about this long (20 ms) */
#define FD_MARGIN 16        /* descriptors besides the N: stdio, the ready pair, epoll, ... */

enum method { SELECT, POLL, EPOLL, METHODS };
static const char *const method_names[METHODS] = {"select", "poll", "epoll"};

static int *fds;     /* the watched descriptors: the idle ones, then the ready one last */
static int watched;  /* how many: N + 1 */
static int spare[2]; /* open but not watched: closing a pair's end makes the other readable */
static int spares;
static int epfd = -1;
static struct pollfd *pollfds;
static fd_set select_set;
static int select_max; /* the highest descriptor in select_set */

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* One wait; returns how many descriptors it found ready (1), or -1. */
static int wait_once(enum method m) {
    switch (m) {
    case SELECT: {
        fd_set readable = select_set; /* select overwrites its sets: they are rebuilt every call */
        struct timeval one_second = {.tv_sec = 1};
        return select(select_max + 1, &readable, NULL, NULL, &one_second);
    }
    case POLL: return poll(pollfds, (nfds_t)watched, 1000);
    default: {
        struct epoll_event ready[16];
        return epoll_wait(epfd, ready, 16, 1000);
    }
    }
}

/* Microseconds per wait: the best of BATCHES batches, each sized to run about BATCH_NS. */
static double time_waits(enum method m) {
    long batch = 1;
    for (;;) { /* find a batch size that takes long enough to time */
        long long t0 = now_ns();
        for (long i = 0; i < batch; i++)
            if (wait_once(m) != 1)
                return -1;
        if (now_ns() - t0 >= BATCH_NS / 4 || batch > (1L << 30))
            break;
        batch *= 2;
    }
    batch *= 4;
    double best = -1;
    for (int b = 0; b < BATCHES; b++) {
        long long t0 = now_ns();
        for (long i = 0; i < batch; i++)
            if (wait_once(m) != 1)
                return -1;
        double us = (double)(now_ns() - t0) / 1000.0 / (double)batch;
        if (best < 0 || us < best)
            best = us;
    }
    return best;
}

static void close_all(void) {
    for (int i = 0; i < watched; i++)
        close(fds[i]);
    for (int i = 0; i < spares; i++)
        close(spare[i]);
    watched = spares = 0;
    if (epfd >= 0)
        close(epfd);
    epfd = -1;
}

/* Opens n idle descriptors and one ready one, and the sets each method waits on. */
static int open_set(int n) {
    fds = realloc(fds, (size_t)(n + 1) * sizeof *fds);
    pollfds = realloc(pollfds, (size_t)(n + 1) * sizeof *pollfds);
    if (!fds || !pollfds)
        return -1;
    int pair[2];
    while (watched < n) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
            return -1;
        fds[watched++] = pair[0];
        if (watched < n)
            fds[watched++] = pair[1];
        else
            spare[spares++] = pair[1]; /* an odd n: the last pair's other end stays open */
    }
    /* The ready one: a byte waits in pair[0], never read. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return -1;
    fds[watched++] = pair[0];
    spare[spares++] = pair[1];
    if (write(pair[1], "x", 1) != 1 || (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    FD_ZERO(&select_set);
    select_max = -1;
    for (int i = 0; i < watched; i++) {
        pollfds[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
            return -1;
        if (fds[i] < FD_SETSIZE) {
            FD_SET(fds[i], &select_set);
            if (fds[i] > select_max)
                select_max = fds[i];
        }
    }
    return 0;
}

/* N from an argument: a whole number from 1 to 1,000,000, or 0 for a bad one. */
static long count_arg(const char *arg) {
    char *end;
    long n = strtol(arg, &end, 10);
    return end != arg && !*end && n >= 1 && n <= 1000000 ? n : 0;
}

int main(int argc, char **argv) {
    long ns[64] = {100, 1000, 10000};
    int nargs = argc > 1 ? argc - 1 : 3;
    for (int a = 1; a < argc; a++)
        if (argc > 64 || !(ns[a - 1] = count_arg(argv[a]))) {
            fprintf(stderr, "usage: wait-cost [N...]\n"
                            "Times one select(), poll() and epoll_wait() with N idle descriptors "
                            "and one ready\n(N from 1 to 1000000, at most 63 of them; default "
                            "100 1000 10000).\n");
            return 2;
        }
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) { /* the hard limit is ours to take */
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    printf("%-8s %10s %10s %10s   (microseconds per wait, best of %d batches)\n", "N",
           method_names[SELECT], method_names[POLL], method_names[EPOLL], BATCHES);
    for (int a = 0; a < nargs; a++) {
        long n = ns[a];
        if ((rlim_t)n + FD_MARGIN > lim.rlim_cur) {
            printf("%-8ld skipped: needs %ld descriptors, the limit (ulimit -n) is %ld\n", n,
                   n + FD_MARGIN, (long)lim.rlim_cur);
            continue;
        }
        if (open_set((int)n) < 0) {
            fprintf(stderr, "wait-cost: cannot open %ld descriptors: %s\n", n, strerror(errno));
            close_all();
            return 1;
        }
        printf("%-8ld", n);
        for (int m = 0; m < METHODS; m++) {
            /* select can watch the whole set only while every descriptor is below FD_SETSIZE. */
            if (m == SELECT && fds[n] >= FD_SETSIZE) {
                printf(" %10s", "-");
                continue;
            }
            errno = 0;
            double us = time_waits((enum method)m);
            if (us < 0) {
                fprintf(stderr, "\nwait-cost: %s with N = %ld: %s\n", method_names[m], n,
                        errno ? strerror(errno) : "did not find the one ready descriptor");
                close_all();
                return 1;
            }
            printf(" %10.2f", us);
        }
        printf("\n");
        fflush(stdout);
        close_all();
    }
    printf("select: - where a descriptor is >= FD_SETSIZE (%d): select() cannot watch it.\n",
           FD_SETSIZE);
    free(fds);
    free(pollfds);
    return 0;
}
