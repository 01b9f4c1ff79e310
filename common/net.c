#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"
#include "trace.h"

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
    stop_shuts_listener(fd); /* a stop wakes every wait on it (signals.c) */
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
    /* EINVAL: the socket no longer listens, shut by a stop (stop_shuts_listener). */
    if (fd >= 0 || errno == EAGAIN || errno == EINTR || errno == EINVAL)
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

long raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    return (long)rl.rlim_cur;
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

bool start_lingering_close(int fd) {
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
