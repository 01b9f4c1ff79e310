/* Several listening sockets on one port, one per event loop (chapter 13). The kernel spreads new
 * connections over them by a hash of each connection's addresses and ports (SO_REUSEPORT). */
#ifndef REUSEPORT_H
#define REUSEPORT_H

/* Binds and listens count non-blocking sockets, all with SO_REUSEPORT, on host:port (port 0 =
 * any free one: the first socket picks it and the others join it), then prints exactly one
 * "listening on HOST:PORT" line with the real port. Fills fds[0..count). Dies on error
 * (start-up only). */
void reuseport_listen(const char *host, int port, int count, int *fds);

#endif
