#include "blocking.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "net.h"
#include "protocol.h"
#include "signals.h"
#include "trace.h"

ssize_t read_until(int fd, void *buf, size_t len, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0 || set_recv_timeout(fd, (int)left) < 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (stop_requested) { /* a stop signal before the read interrupts no read: as if it had */
            errno = EINTR;
            return -1;
        }
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR || stop_requested)
            return n < 0 && errno == EAGAIN ? (errno = ETIMEDOUT, -1) : n;
    }
}

int write_until(int fd, const void *buf, size_t len, int64_t deadline_ms) {
    const char *p = buf;
    while (len > 0) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0 || set_send_timeout(fd, (int)left) < 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR && !stop_requested)
            continue;
        if (n < 0)
            return errno == EAGAIN ? (errno = ETIMEDOUT, -1) : -1;
        p += n, len -= (size_t)n;
    }
    return 0;
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
        if (status == PARSE_DONE)
            trace_event("request", fd, req->path);
        if (status != PARSE_INCOMPLETE)
            return status;
    }
}

void reply_and_close(const struct job *job, const char *out, size_t len, int deadline_ms,
                     write_fn write_some, read_fn read_some) {
    int64_t deadline = now_ms() + deadline_ms;
    const char *path = job->req.path[0] ? job->req.path : "-"; /* "-": a bad request */
    if (write_some(job->fd, out, len, deadline) < 0)
        log_msg("reply to %s lost: %s", path, strerror(errno));
    else
        trace_event("reply_sent", job->fd, job->req.path[0] ? job->req.path : NULL);
    char discard[4096];
    if (start_lingering_close(job->fd)) /* the client may still be sending: let it finish first */
        while (read_some(job->fd, discard, sizeof discard, deadline) > 0)
            ;
    close_connection(job->fd);
}

void close_connection(int fd) {
    trace_event("closed", fd, NULL);
    close(fd);
}
