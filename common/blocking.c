#include "blocking.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "utils.h"

ssize_t read_until(int fd, void *buf, size_t len, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0 || set_recv_timeout(fd, (int)left) < 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR || stop_requested)
            return n < 0 && errno == EAGAIN ? (errno = ETIMEDOUT, -1) : n;
    }
}

enum parse_status read_request(int fd, char *in, size_t *in_len, int deadline_ms,
                               struct request *req, const char **why, read_fn read_some) {
    int64_t deadline = now_ms() + deadline_ms;
    *in_len = 0;
    for (;;) {
        ssize_t n = read_some(fd, in + *in_len, MAX_REQUEST - *in_len, deadline);
        if (n < 0) {
            *why = errno == ETIMEDOUT ? "request took too long to arrive" : strerror(errno);
            return PARSE_BAD;
        }
        *in_len += (size_t)n;
        if (n == 0 && *in_len == 0)
            return PARSE_INCOMPLETE; /* connected, said nothing, left */
        enum parse_status status = parse_request(in, *in_len, n == 0, req, why);
        if (status != PARSE_INCOMPLETE)
            return status;
    }
}
