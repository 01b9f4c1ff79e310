#include "utils.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* What parse_server_flags was given, for usage() and flag_error() later. */
static struct {
    const char *prog;
    const struct chapter_flags *chapter;
    char given[64]; /* the letters seen on the command line */
} flags;

/* The chapter's own flags: letter, usage text, help line. */
static const struct {
    char letter;
    const char *arg, *help;
} extra_flags[] = {
    {'w', " [-w WORKERS]", NULL}, /* the chapter says what its workers are */
    {'W', " [-W MS]",
     "  -W MS           log when the loop is blocked longer than MS (default off)\n"},
    {'j', " [-j LOOPS]", "  -j LOOPS        event loops, one per core (default 1)\n"},
    {'d', " [-d DISKS]", "  -d DISKS        simulated disks (default 1)\n"},
};

static bool has_extra(char letter) {
    return flags.chapter->extra && strchr(flags.chapter->extra, letter) != NULL;
}

__attribute__((noreturn)) static void usage(int status) {
    const struct chapter_flags *ch = flags.chapter;
    FILE *out = status ? stderr : stdout;
    fprintf(out, "usage: %s [-h HOST] [-p PORT] [-T DEADLINE_MS] [-s SEED] [-v]", flags.prog);
    for (size_t i = 0; i < sizeof extra_flags / sizeof *extra_flags; i++)
        if (has_extra(extra_flags[i].letter))
            fputs(extra_flags[i].arg, out);
    fprintf(out, "%s\n%s\n", ch->modes ? " [-m MODE]" : "", ch->about);
    fprintf(out, "  -h HOST         IPv4 address to bind (default 127.0.0.1)\n"
                 "  -p PORT         port to bind; 0 picks a free one (default 0)\n"
                 "  -T DEADLINE_MS  server-side deadline (default 4000)\n"
                 "  -s SEED         seed for the delay model of a bare PATH request (default 1)\n"
                 "  -v              log every reply, not only timeouts and errors\n");
    for (size_t i = 0; i < sizeof extra_flags / sizeof *extra_flags; i++)
        if (has_extra(extra_flags[i].letter) && extra_flags[i].help)
            fputs(extra_flags[i].help, out);
        else if (has_extra(extra_flags[i].letter))
            fprintf(out, "  -w WORKERS      %s (default 4)\n",
                    ch->workers ? ch->workers : "worker threads doing the blocking reads");
    if (ch->modes) {
        fprintf(out, "  -m MODE         one of:");
        for (const char *const *m = ch->modes; *m; m++)
            fprintf(out, "%s %s%s", m == ch->modes ? "" : ",", *m,
                    m == ch->modes ? " (default)" : "");
        fputc('\n', out);
    }
    fprintf(out, "Prints 'listening on HOST:PORT' when ready. Ctrl-C stops it.\n");
    exit(status);
}

void flag_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", flags.prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    usage(2);
}

bool flag_given(char letter) {
    return letter && strchr(flags.given, letter) != NULL;
}

/* -X VALUE as a whole decimal number in lo..hi: digits only, so " 80", "+80" and "80x" are
 * refused rather than read as 80. */
static long number_flag(char letter, const char *what, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(optarg, &end, 10);
    bool digits = optarg[0] >= '0' && optarg[0] <= '9';
    if (!digits || errno || *end || v < lo || v > hi)
        flag_error("bad -%c '%s': want %s, a number from %ld to %ld", letter, optarg, what, lo, hi);
    return v;
}

static int mode_flag(const char *const *modes) {
    for (int i = 0; modes[i]; i++)
        if (strcmp(optarg, modes[i]) == 0)
            return i;
    char want[256] = "";
    for (int i = 0; modes[i]; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
                 i == 0         ? ""
                 : modes[i + 1] ? ", "
                                : " or ",
                 modes[i]);
    flag_error("bad -m '%s': want %s", optarg, want);
}

void parse_server_flags(int argc, char **argv, struct server_config *cfg,
                        const struct chapter_flags *chapter) {
    log_epoch_ms = now_ms();
    flags.prog = argv[0];
    flags.chapter = chapter;
    *cfg = (struct server_config){
        .host = "127.0.0.1", .deadline_ms = 4000, .seed = 1, .workers = 4, .loops = 1, .disks = 1};
    if (chapter->modes)
        cfg->mode_name = chapter->modes[0];
    char optstring[64];
    snprintf(optstring, sizeof optstring, ":h:p:T:s:v%s%s", chapter->extra ? chapter->extra : "",
             chapter->modes ? "m:" : "");
    static const struct option long_opts[] = {{"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    struct in_addr ignored;
    int c;
    while ((c = getopt_long(argc, argv, optstring, long_opts, NULL)) != -1) {
        size_t seen = strlen(flags.given);
        if (c != '?' && c != ':' && seen + 1 < sizeof flags.given)
            flags.given[seen] = (char)c;
        switch (c) {
        case 'h':
            if (inet_pton(AF_INET, optarg, &ignored) != 1)
                flag_error("bad -h '%s': want an IPv4 address such as 127.0.0.1", optarg);
            cfg->host = optarg;
            break;
        case 'p': cfg->port = (int)number_flag('p', "a port", 0, 65535); break;
        case 'T': cfg->deadline_ms = (int)number_flag('T', "milliseconds", 1, 3600000); break;
        case 's': cfg->seed = (uint64_t)number_flag('s', "a seed", 0, LONG_MAX); break;
        case 'v': cfg->verbose = true; break;
        case 'w': cfg->workers = (int)number_flag('w', "a worker count", 1, 1024); break;
        case 'W': cfg->watchdog_ms = (int)number_flag('W', "milliseconds", 1, 3600000); break;
        case 'j': cfg->loops = (int)number_flag('j', "a loop count", 1, 256); break;
        case 'd': cfg->disks = (int)number_flag('d', "a disk count", 1, 64); break;
        case 'm':
            cfg->mode = mode_flag(chapter->modes);
            cfg->mode_name = chapter->modes[cfg->mode];
            break;
        case 'H': usage(0);
        case ':': flag_error("-%c needs a value", optopt);
        default: flag_error("unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        flag_error("unexpected argument '%s'", argv[optind]);
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
    sa.sa_handler = on_wake_signal;
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        perror_die("sigaction");
    signal(SIGPIPE, SIG_IGN);
}

void block_stop_signals(void) {
    sigset_t set;
    stop_signals(&set);
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

int accept_client(int listen_fd, int flags) {
    static int spare_fd = -1;
    if (spare_fd < 0)
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | flags);
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
    int unread = 0, unsent = 0;
    if (ioctl(fd, FIONREAD, &unread) < 0 || ioctl(fd, SIOCOUTQ, &unsent) < 0)
        return false;
    return (unread > 0 || unsent > 0) && shutdown(fd, SHUT_WR) == 0;
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
