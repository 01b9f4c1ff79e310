#include "utils.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"

atomic_int stop_requested = 0;
static int64_t epoch_ms; /* log lines count from here: set when the flags are parsed */

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void perror_die(const char *msg) {
    perror(msg);
    exit(1);
}

void log_start(void) {
    epoch_ms = now_ms();
}

int64_t log_epoch_ms(void) {
    return epoch_ms;
}

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *log_name = ""; /* a tool's name before each line: "slowdisk " */
static bool log_off;

void log_as(const char *name, bool off) {
    log_name = name;
    log_off = off;
}

void log_msg(const char *fmt, ...) {
    if (log_off)
        return;
    char line[1024];
    int64_t t = now_ms() - epoch_ms;
    int n = snprintf(line, sizeof line, "%s[%3lld.%03lld] ", log_name, (long long)(t / 1000),
                     (long long)(t % 1000));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    /* One write per line, so lines from worker threads never interleave mid-line. */
    size_t len = strlen(line);
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}

int listen_tcp(const char *host, int port, int flags) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        die("bad host '%s': want an IPv4 address such as 127.0.0.1", host);
    int type = SOCK_STREAM | SOCK_CLOEXEC | (flags & LISTEN_NONBLOCK ? SOCK_NONBLOCK : 0);
    int fd = socket(AF_INET, type, 0);
    if (fd < 0)
        perror_die("socket");
    int one = 1;
    /* Lets a restarted server bind at once while old connections sit in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        perror_die("setsockopt SO_REUSEADDR");
    /* Every socket that sets SO_REUSEPORT, under the same user, may bind the same port; the
     * kernel then hashes each new connection to one of them. */
    if (flags & LISTEN_REUSEPORT && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        perror_die("setsockopt SO_REUSEPORT");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        perror_die("bind");
    /* The kernel caps the backlog at net.core.somaxconn; asking for more is just a hint. */
    if (listen(fd, 65535) < 0)
        perror_die("listen");
    if (!(flags & LISTEN_QUIET))
        announce_listening(host, fd);
    return fd;
}

int local_port(int fd) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        perror_die("getsockname");
    return ntohs(addr.sin_port);
}

void announce_listening(const char *host, int fd) {
    printf("listening on %s:%d\n", host, local_port(fd));
    fflush(stdout);
}

int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int set_recv_timeout(int fd, int ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int set_send_timeout(int fd, int ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

long raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    return (long)rl.rlim_cur;
}

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
    sigaddset(&set, SIGUSR1); /* -L's "print the figures" is for the loop thread too */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void interrupt_thread(pthread_t t) {
    pthread_kill(t, SIGRTMIN);
}

void join_interrupting(pthread_t t) {
    for (;;) {
        interrupt_thread(t); /* a worker may be in the middle of a long read */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
        if (pthread_timedjoin_np(t, NULL, &until) == 0)
            return;
    }
}

int accept_client(int listen_fd, int flags) {
    static int spare_fd = -1;
    if (spare_fd < 0)
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | flags);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && spare_fd >= 0 &&
        !(fcntl(listen_fd, F_GETFL) & O_NONBLOCK)) {
        /* A blocking listener: wait for a connection before shedding one, then try it for real
         * first (by then descriptors may be free again). Shedding at once would wait in accept()
         * for the next connection and close it, however many descriptors were freed meanwhile.
         * A signal ends the poll with EINTR, returned as from accept4. */
        struct pollfd pending = {.fd = listen_fd, .events = POLLIN};
        if (poll(&pending, 1, -1) == 1)
            fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | flags);
    }
    if (fd >= 0)
        trace_event("accepted", fd, NULL);
    if (fd >= 0 || errno == EAGAIN || errno == EINTR)
        return fd;
    int saved = errno;
    if ((saved == EMFILE || saved == ENFILE) && spare_fd >= 0) {
        close(spare_fd);
        int shed = accept(listen_fd, NULL, NULL);
        if (shed >= 0)
            close(shed);
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        log_msg("accept: %s: closed a new connection at once", strerror(saved));
    } else {
        log_msg("accept: %s", strerror(saved));
    }
    errno = saved;
    return -1;
}

int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

bool must_linger(int fd) {
    /* What the kernel still holds for this socket, in one call: the memory of bytes received
     * that nobody has read, and of reply bytes not yet acknowledged (what FIONREAD and SIOCOUTQ
     * tell, in two ioctls; this runs after every reply). */
    uint32_t mem[SK_MEMINFO_VARS] = {0};
    socklen_t len = sizeof mem;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
        return false;
    bool held = mem[SK_MEMINFO_RMEM_ALLOC] > 0 || mem[SK_MEMINFO_WMEM_QUEUED] > 0;
    return held && shutdown(fd, SHUT_WR) == 0;
}

bool drain_input(int fd) {
    char discard[4096];
    for (int reads = 0; reads < 16; reads++) { /* a flood waits for the next turn */
        ssize_t n = read(fd, discard, sizeof discard);
        if (n <= 0)
            return n < 0 && (errno == EAGAIN || errno == EINTR);
    }
    return true;
}

void close_all_but(int keep, int also) {
    int lo = keep < also ? keep : also, hi = keep < also ? also : keep;
    if (lo < 3) /* also is -1: only keep */
        lo = hi;
    if (lo > 3)
        close_range(3, (unsigned)lo - 1, 0);
    if (hi > lo + 1)
        close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0U, 0);
}
