/* bad-server: a server that gives every request the same reply, right or wrong, so that
 * tests/client.bats can check which replies the client believes.
 *   bad-server [-p PORT] REPLY   listens on 127.0.0.1:PORT (0, the default: a free port) and
 *                      prints "listening on 127.0.0.1:PORT" as the chapters do, so start_server
 *                      starts it as it starts them; then answers each connection in turn:
 *                      reads its request (either form, with parse_request), writes REPLY with
 *                      each "%p" replaced by the PATH the request named ("-" for a bad one) and
 *                      "%%" by "%", and closes. REPLY is written as given: bash's $'...' makes
 *                      its bytes.
 * SIGTERM stops it, exit status 0; 64 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "protocol.h"
#include "signals.h"

/* REPLY with its %p and %% expanded, into out (cap bytes, truncated there). Returns the length. */
static size_t expand(const char *reply, const char *path, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = reply; *p && n < cap; p++) {
        if (p[0] == '%' && (p[1] == 'p' || p[1] == '%')) {
            const char *with = *++p == 'p' ? path : "%";
            size_t len = strlen(with) < cap - n ? strlen(with) : cap - n;
            memcpy(out + n, with, len);
            n += len;
        } else {
            out[n++] = *p;
        }
    }
    return n;
}

/* Reads fd's request until parse_request has a verdict, 2 s at most. Returns its PATH, or "-". */
static const char *read_request_path(int fd, struct request *req) {
    char in[MAX_REQUEST];
    size_t len = 0;
    const char *why;
    set_recv_timeout(fd, 2000);
    for (;;) {
        ssize_t n = read(fd, in + len, sizeof in - len);
        if (n < 0)
            return "-";
        len += (size_t)n;
        switch (parse_request(in, len, n == 0, req, &why)) {
        case PARSE_DONE: return req->path;
        case PARSE_BAD: return "-";
        case PARSE_INCOMPLETE: break;
        }
    }
}

int main(int argc, char **argv) {
    int port = 0;
    if (argc == 4 && strcmp(argv[1], "-p") == 0)
        port = atoi(argv[2]), argc -= 2, argv += 2;
    if (argc != 2) {
        fprintf(stderr, "usage: bad-server [-p PORT] REPLY   (%%p: the PATH asked for)\n");
        return 64;
    }
    install_signal_handlers();
    int listen_fd = listen_tcp("127.0.0.1", port, 0);
    while (!stop_requested) {
        int fd = accept_client(listen_fd, 0);
        if (fd < 0)
            continue; /* EINTR: a stop signal, or an error accept_client has logged */
        struct request req;
        char out[8192];
        size_t len = expand(argv[1], read_request_path(fd, &req), out, sizeof out);
        if (write_all(fd, out, len) < 0)
            log_msg("bad-server: write: %s", strerror(errno));
        close(fd); /* the request was read whole: close sends a FIN, not a reset */
    }
    close(listen_fd);
    return 0;
}
