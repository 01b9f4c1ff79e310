/* Why an event loop cannot wait for a disk: ask epoll and poll about a regular file.
 * usage: epoll-file [FILE]   (default: this program's own binary)
 * epoll refuses regular files outright (EPERM), and poll/select call them always ready, because
 * a read from the page cache or the disk is not something the kernel can report readiness for:
 * the read itself is the wait. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/proc/self/exe";
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "epoll-file: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        printf("epoll_ctl(ADD, %s): %s (errno %d)\n", path, strerror(errno), errno);
    else
        printf("epoll_ctl(ADD, %s): accepted\n", path);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    printf("poll(%s, POLLIN, timeout 0): %d ready, revents%s\n", path, n,
           p.revents & POLLIN ? " POLLIN: always ready, even if the disk is dying" : " none");
    close(epfd);
    close(fd);
    return 0;
}
