/* A request's life in the server, from the moment its connection was accepted to its reply, and
 * the seed's deadline on it: the read may not start -T after arrival or later, nor take longer
 * than -T. Every server tells it the same way: the job_* functions log what the seed logs
 * ("timeout (queue)", "timeout (service)", "io fail", "bad request") and write each step to the
 * event trace (-E, trace.h). */
#ifndef JOB_H
#define JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk.h"
#include "protocol.h"

struct job {
    int fd; /* the connection it came on, to name it in the trace */
    struct request req;
    struct disk_plan disk;
    int64_t arrived_ms; /* when the connection was accepted: ELAPSED and the queue deadline count
                           from here */
    int64_t started_ms; /* when its disk read began */
    int rc;             /* set by job_time_out_in_queue, job_finish or the chapter */
    struct job *next;   /* on a worker pool's done list (a job carries its link, as libuv's
                           uv__work does, so handing it back allocates nothing) */
};

/* The seed's queue deadline: times the job out (RC 1, "timeout (queue)" logged) when at now it
 * has waited deadline_ms or more for its read to start. Returns true if it did: do not read. */
bool job_time_out_in_queue(struct job *job, int64_t now, int deadline_ms);

/* Its read starts now (on whichever thread makes it). */
void job_start_read(struct job *job, int64_t now);

/* Decides the RC of a read that ended at now: "io fail" (RC 2) for a failed read,
 * "timeout (service)" (RC 1) for one that ran past deadline_ms, else RC 0. Logs the first two. */
int job_finish(struct job *job, int64_t now, int deadline_ms);

/* Formats the job's reply into out (MAX_REPLY bytes), ELAPSED measured from arrival to now,
 * and logs it when verbose. Returns the length. */
size_t job_reply(const struct job *job, char *out, int64_t now, bool verbose);

/* On its non-blocking socket: writes what the socket takes of the reply still to go,
 * out[*pos..len), and moves *pos on. Returns 1 once all of it is out (traced: "reply_sent"), 0
 * while the socket is full (wait until it is writable), -1 when the client is gone (logged:
 * "reply to PATH lost"). */
int job_send_reply(const struct job *job, const char *out, size_t len, size_t *pos);

/* Formats the reply to the job's bad request (req.http says in which form: 400 Bad Request, or
 * 414 URI Too Long when req.too_long) and logs "bad request: why". Returns the length. */
size_t job_reply_bad(const struct job *job, char *out, const char *why);

#endif
