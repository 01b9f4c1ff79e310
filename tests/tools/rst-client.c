/* rst-client: the misbehaving clients that nc cannot play, for tests/reliability.bats.
 *   rst-client reset PORT TEXT [MS]  sends TEXT, waits MS ms (default 0), then closes with
 *                                    SO_LINGER 0: the kernel sends a reset instead of a FIN, as a
 *                                    crashed or impatient peer does.
 *   rst-client half PORT TEXT        sends TEXT, shuts down its sending side (FIN), then reads
 *                                    and prints the whole answer.
 *   rst-client slow PORT TEXT MS     slowloris: sends TEXT one byte every MS ms, stops once the
 *                                    server answers or closes, prints the answer.
 *   rst-client more PORT TEXT MS MORE  sends TEXT, MS ms later sends MORE (a second request, a
 *                                    stray byte) while the server is busy with the first, then
 *                                    reads the whole answer, shutting down its sending side
 *                                    only once the answer has ended. Prints the answer, and on
 *                                    stderr "ended fin" when the server closed cleanly or "ended
 *                                    reset" when it reset the connection (which can destroy a
 *                                    reply in flight: clients such as nc then show nothing).
 * TEXT takes the escapes \n \r \\, \xHH and printf's octal \NNN (\000 is a NUL). Prints "elapsed_ms
 * N" on stderr; exits 0, or 1 when a system call fails (the error on stderr), 64 on bad usage.
 * Connects to 127.0.0.1 only. Bounded to 10 s, as `timeout 10 nc` would be: SIGALRM then ends
 * it, and what the server had said is already on stdout (written unbuffered for that reason). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

/* The tests' own client, not what they test: under SAN= its leak check at exit (LeakSanitizer,
 * about 40 ms of CPU a run on a small VM, where the run itself takes 2) is off, 1,200 runs a
 * suite. ASan and UBSan still watch it; ASAN_OPTIONS in the environment still wins. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "detect_leaks=0";
}

/* Decodes the escapes in s in place; returns the length (the text may hold NULs). */
static size_t unescape(char *s) {
    size_t out = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\' || !s[i + 1]) {
            s[out++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n')
            s[out++] = '\n';
        else if (c == 'r')
            s[out++] = '\r';
        else if (c == 'x' && s[i + 1] && s[i + 2]) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            s[out++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else if (c >= '0' && c <= '7') { /* one to three octal digits, as printf reads them */
            int value = c - '0';
            for (int digits = 1; digits < 3 && s[i + 1] >= '0' && s[i + 1] <= '7'; digits++)
                value = value * 8 + (s[++i] - '0');
            s[out++] = (char)value;
        } else
            s[out++] = c;
    }
    return out;
}

static int connect_to(int port) {
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        perror_die("connect");
    return fd;
}

/* Copies everything the server sends to stdout until it closes (or resets) the connection. */
static void print_answer(int fd) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
            perror_die("write stdout");
}

/* Like print_answer, but says how the answer ended: 0 at a clean close (FIN), -1 at a reset. */
static int print_answer_until_end(int fd) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
                perror_die("write stdout");
        } else if (n == 0)
            return 0;
        else if (errno != EINTR)
            return errno == ECONNRESET ? -1 : (perror_die("read"), -1);
    }
}

/* One byte every ms; stops early when the server has something to say (an answer or a close). */
static void send_slowly(int fd, const char *text, size_t len, int ms) {
    for (size_t i = 0; i < len; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, ms) > 0)
            return;
        if (write(fd, text + i, 1) < 0)
            return; /* the server has gone: print_answer shows what it said */
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "slow") == 0 && argc < 5) ||
        (strcmp(argv[1], "more") == 0 && argc < 6)) {
        fprintf(stderr, "usage: rst-client reset PORT TEXT [MS] | half PORT TEXT | slow PORT TEXT "
                        "MS | more PORT TEXT MS MORE\n");
        return 64;
    }
    alarm(10); /* a test never waits on a server that stopped answering for more than 10 s */
    size_t len = unescape(argv[3]);
    int64_t start = now_ms();
    int fd = connect_to(atoi(argv[2]));
    if (strcmp(argv[1], "reset") == 0) {
        if (write_all(fd, argv[3], len) < 0)
            perror_die("write");
        struct linger hard = {.l_onoff = 1, .l_linger = 0};
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) < 0)
            perror_die("setsockopt SO_LINGER");
        if (argc > 4)
            poll(NULL, 0, atoi(argv[4]));
    } else if (strcmp(argv[1], "half") == 0) {
        if (write_all(fd, argv[3], len) < 0 || shutdown(fd, SHUT_WR) < 0)
            perror_die("write");
        print_answer(fd);
    } else if (strcmp(argv[1], "more") == 0) {
        size_t more_len = unescape(argv[5]);
        if (write_all(fd, argv[3], len) < 0)
            perror_die("write");
        poll(NULL, 0, atoi(argv[4]));
        if (write_all(fd, argv[5], more_len) < 0)
            perror_die("write more");
        int end = print_answer_until_end(fd);
        fprintf(stderr, "ended %s\n", end == 0 ? "fin" : "reset");
        shutdown(fd, SHUT_WR); /* the answer is over: now we go too */
    } else if (strcmp(argv[1], "slow") == 0) {
        send_slowly(fd, argv[3], len, atoi(argv[4]));
        print_answer(fd);
    } else {
        fprintf(stderr, "unknown mode '%s'\n", argv[1]);
        return 64;
    }
    close(fd);
    fprintf(stderr, "elapsed_ms %lld\n", (long long)(now_ms() - start));
    return 0;
}
