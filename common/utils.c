#include "utils.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

atomic_int stop_requested = 0;
static int64_t log_epoch_ms; /* log lines count from here: set when the flags are parsed */

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

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void log_msg(const char *fmt, ...) {
    char line[1024];
    int64_t t = now_ms() - log_epoch_ms;
    int n = snprintf(line, sizeof line, "[%3lld.%03lld] ", (long long)(t / 1000),
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

/* Parses a whole decimal number in lo..hi into *out; says what is wrong otherwise. */
static bool parse_long(const char *s, long lo, long hi, const char *what, long *out) {
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    if (errno || end == s || *end || *out < lo || *out > hi) {
        fprintf(stderr, "bad %s '%s' (want %ld..%ld)\n", what, s, lo, hi);
        return false;
    }
    return true;
}

/* The chapter's own flags: letter, usage text, help line. */
static const struct {
    char letter;
    const char *arg, *help;
} extra_flags[] = {
    {'w', " [-w WORKERS]", "  -w WORKERS      worker threads doing the blocking reads (default 4)\n"},
    {'W', " [-W MS]", "  -W MS           log when the loop is blocked longer than MS (default off)\n"},
    {'j', " [-j LOOPS]", "  -j LOOPS        event loops, one per core (default 1)\n"},
    {'D', " [-D DISKS]", "  -D DISKS        simulated disks (default 1)\n"},
    {'m', " [-m MODE]", "  -m MODE         the chapter's variant, see its README\n"},
};

__attribute__((noreturn)) static void usage(const char *prog, const char *extra, const char *about,
                                            int status) {
    FILE *out = status ? stderr : stdout;
    fprintf(out, "usage: %s [-h HOST] [-p PORT] [-T DEADLINE_MS] [-s SEED] [-v]", prog);
    for (size_t i = 0; i < sizeof extra_flags / sizeof *extra_flags; i++)
        if (strchr(extra, extra_flags[i].letter))
            fputs(extra_flags[i].arg, out);
    fprintf(out, "\n%s\n", about);
    fprintf(out, "  -h HOST         address to bind (default 127.0.0.1)\n"
                 "  -p PORT         port to bind; 0 picks a free one (default 0)\n"
                 "  -T DEADLINE_MS  server-side deadline (default 4000)\n"
                 "  -s SEED         seed for the delay model of a bare PATH request (default 1)\n"
                 "  -v              log every reply, not only timeouts and errors\n");
    for (size_t i = 0; i < sizeof extra_flags / sizeof *extra_flags; i++)
        if (strchr(extra, extra_flags[i].letter))
            fputs(extra_flags[i].help, out);
    fprintf(out, "Prints 'listening on HOST:PORT' when ready. Ctrl-C stops it.\n");
    exit(status);
}

void parse_server_flags(int argc, char **argv, struct server_config *cfg, const char *extra,
                        const char *about) {
    log_epoch_ms = now_ms();
    *cfg = (struct server_config){.host = "127.0.0.1", .deadline_ms = 4000, .seed = 1,
                                  .workers = 4, .loops = 1, .disks = 1};
    char optstring[64];
    snprintf(optstring, sizeof optstring, ":h:p:T:s:v%s", extra);
    static const struct option long_opts[] = {{"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    long v = 0;
    bool ok = true;
    int c;
    while (ok && (c = getopt_long(argc, argv, optstring, long_opts, NULL)) != -1) {
        switch (c) {
        case 'h': cfg->host = optarg; break;
        case 'p': ok = parse_long(optarg, 0, 65535, "port", &v), cfg->port = (int)v; break;
        case 'T':
            ok = parse_long(optarg, 1, 3600000, "deadline", &v), cfg->deadline_ms = (int)v;
            break;
        case 's': ok = parse_long(optarg, 0, LONG_MAX, "seed", &v), cfg->seed = (uint64_t)v; break;
        case 'v': cfg->verbose = true; break;
        case 'w': ok = parse_long(optarg, 1, 1024, "worker count", &v), cfg->workers = (int)v; break;
        case 'W': ok = parse_long(optarg, 1, 3600000, "watchdog", &v), cfg->watchdog_ms = (int)v; break;
        case 'j': ok = parse_long(optarg, 1, 256, "loop count", &v), cfg->loops = (int)v; break;
        case 'D': ok = parse_long(optarg, 1, 64, "disk count", &v), cfg->disks = (int)v; break;
        case 'm': cfg->mode = optarg; break;
        case 'H': usage(argv[0], extra, about, 0);
        case ':': fprintf(stderr, "-%c needs a value\n", optopt); ok = false; break;
        default: fprintf(stderr, "unknown flag '%s'\n", argv[optind - 1]); ok = false; break;
        }
    }
    if (!ok)
        usage(argv[0], extra, about, 2);
    if (optind < argc) {
        fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
        usage(argv[0], extra, about, 2);
    }
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

void install_signal_handlers(void) {
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART, on purpose */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        perror_die("sigaction");
    sa.sa_handler = on_wake_signal;
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        perror_die("sigaction");
    signal(SIGPIPE, SIG_IGN);
}

void block_stop_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void interrupt_thread(pthread_t t) {
    pthread_kill(t, SIGUSR1);
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

int accept_client(int listen_fd) {
    static int spare_fd = -1;
    if (spare_fd < 0)
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || spare_fd < 0)
        return fd;
    int saved = errno;
    close(spare_fd);
    fd = accept(listen_fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_msg("accept: %s: closed a new connection at once", strerror(saved));
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
