#include "reuseport.h"

#include "net.h"

void reuseport_listen(const char *host, int port, int count, int *fds) {
    int flags = LISTEN_NONBLOCK | LISTEN_REUSEPORT | LISTEN_QUIET;
    /* Port 0 on the first socket: the kernel picks a port no other reuseport group holds (its
     * search ignores SO_REUSEPORT), so we never join a stranger's group; the rest bind to it. */
    fds[0] = listen_tcp(host, port, flags);
    for (int i = 1; i < count; i++)
        fds[i] = listen_tcp(host, local_port(fds[0]), flags);
    announce_listening(host, fds[0]); /* one line, however many sockets */
}
