#include "job.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "trace.h"

bool job_time_out_in_queue(struct job *job, int64_t now, int deadline_ms) {
    int64_t waited = now - job->arrived_ms;
    if (waited < deadline_ms)
        return false;
    log_msg("timeout (queue) %s waited %lld ms before its read could start", job->req.path,
            (long long)waited);
    trace_event("expired", job->fd, job->req.path);
    job->rc = RC_TIMEOUT;
    return true;
}

void job_start_read(struct job *job, int64_t now) {
    job->started_ms = now;
    trace_event("read_start", job->fd, job->req.path);
}

int job_finish(struct job *job, int64_t now, int deadline_ms) {
    int64_t took = now - job->started_ms;
    trace_event("read_done", job->fd, job->req.path);
    if (job->disk.io_fail) {
        log_msg("io fail %s after %lld ms", job->req.path, (long long)took);
        job->rc = RC_FAIL;
    } else if (took > deadline_ms) {
        log_msg("timeout (service) %s: the read took %lld ms, over the %d ms deadline",
                job->req.path, (long long)took, deadline_ms);
        job->rc = RC_TIMEOUT;
    } else {
        job->rc = RC_OK;
    }
    return job->rc;
}

size_t job_reply(const struct job *job, char *out, int64_t now, bool verbose) {
    int64_t elapsed = now - job->arrived_ms;
    long bytes = job->rc == RC_OK ? job->disk.bytes : 0;
    if (verbose)
        log_msg("reply ready: %d %s, %lld ms after it arrived", job->rc, job->req.path,
                (long long)elapsed);
    trace_reply(job->fd, job->req.path, job->rc);
    return format_reply(out, job->rc, bytes, elapsed, job->req.path, job->req.http);
}

int job_send_reply(const struct job *job, const char *out, size_t len, size_t *pos) {
    ssize_t n = write(job->fd, out + *pos, len - *pos);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0) {
        log_msg("reply to %s lost: %s", job->req.path[0] ? job->req.path : "-", strerror(errno));
        return -1;
    }
    *pos += (size_t)n;
    if (*pos < len)
        return 0;
    trace_event("reply_sent", job->fd, job->req.path);
    return 1;
}

size_t job_reply_bad(const struct job *job, char *out, const char *why) {
    log_msg("bad request: %s", why);
    trace_event("refused", job->fd, NULL);
    return format_bad_request(out, &job->req);
}
