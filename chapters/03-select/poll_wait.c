/* Chapter 03's -m poll. poll() has no FD_SETSIZE: it takes an array of one struct pollfd per
 * watched descriptor, any number of them. But like select() it is stateless, so the array is
 * rebuilt and passed on every turn, and the kernel and then the loop scan it entry by entry:
 * O(n) per wait still, which is what chapter 04's epoll does away with. */
#include "poll_wait.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "log.h"

static struct pollfd *pfds; /* the array poll() takes: one entry per watched descriptor */

void poll_wait_init(int cap) {
    if (!(pfds = calloc((size_t)cap, sizeof *pfds)))
        die("cannot size poll()'s array");
}

int wait_poll(struct watch *watch, int top, int timeout_ms) {
    nfds_t n = 0;
    for (int fd = 0; fd <= top; fd++)
        if (watch[fd].read || watch[fd].write)
            pfds[n++] = (struct pollfd){.fd = fd, .events = watch[fd].read ? POLLIN : POLLOUT};
    if (poll(pfds, n, timeout_ms) < 0) {
        if (errno != EINTR)
            perror_die("poll");
        return -1;
    }
    /* A hang-up or an error counts as ready either way: the read or write that follows fails and
     * says why. */
    for (nfds_t i = 0; i < n; i++) {
        watch[pfds[i].fd].readable = pfds[i].revents & (POLLIN | POLLHUP | POLLERR);
        watch[pfds[i].fd].writable = pfds[i].revents & (POLLOUT | POLLHUP | POLLERR);
    }
    return 0;
}
