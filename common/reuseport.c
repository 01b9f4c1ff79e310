#include "reuseport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "utils.h"

static int bind_reuseport(const struct sockaddr_in *addr) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        perror_die("socket");
    int one = 1;
    /* SO_REUSEPORT: every socket that sets it, under the same user, may bind the same port; the
     * kernel then hashes each new connection to one of them. SO_REUSEADDR as in listen_tcp. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        perror_die("setsockopt SO_REUSEPORT");
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0)
        perror_die("bind");
    if (listen(fd, 65535) < 0)
        perror_die("listen");
    return fd;
}

void reuseport_listen(const char *host, int port, int count, int *fds) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        die("bad host '%s': want an IPv4 address such as 127.0.0.1", host);
    /* Port 0 on the first socket: the kernel picks a port no other reuseport group holds (its
     * search ignores SO_REUSEPORT), so we never join a stranger's group; the rest bind to it. */
    for (int i = 0; i < count; i++) {
        fds[i] = bind_reuseport(&addr);
        socklen_t len = sizeof addr;
        if (i == 0 && getsockname(fds[0], (struct sockaddr *)&addr, &len) < 0)
            perror_die("getsockname");
    }
    printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    fflush(stdout);
}
