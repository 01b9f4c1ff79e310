/* The request protocol (README.md, "The protocol"), the simulated disk and the seed's server-side
 * deadline.
 *
 *   request  DELAY_MS,PATH\n   | PATH\n (delay drawn from the seed's model) | RC,DELAY_MS,PATH\n
 *            | GET /DELAY_MS,PATH HTTP/1.1\r\n...\r\n\r\n   (lines end in CRLF or LF)
 *   reply    RC,BYTES,ELAPSED_MS,PATH\n   (as an HTTP body for an HTTP request), then close.
 *   RC       0 read done, 1 timeout, 2 I/O failure or bad request.
 *   ELAPSED_MS  from the moment the server accepted the connection to the moment its reply was
 *            ready: the request's arrival, its wait in the server and its disk read. Not the
 *            time it waited in the kernel's accept queue, which no server sees: the client's
 *            latency minus ELAPSED_MS is that time (plus the network's).
 */
#ifndef PROTOCOL_H
#define PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RC_OK = 0, RC_TIMEOUT = 1, RC_FAIL = 2 };

#define MAX_REQUEST  4096    /* bytes before the end of a request; more is a bad request */
#define MAX_PATH     1024    /* bytes in PATH */
#define MAX_DELAY_MS 3600000 /* an hour: a longer "read" is refused as absurd */
#define MAX_REPLY    1400    /* room for the longest reply, HTTP headers included */

enum parse_status { PARSE_INCOMPLETE, PARSE_DONE, PARSE_BAD };

struct request {
    bool http;     /* came as GET /...: answer in HTTP */
    bool too_long; /* bad because its line or PATH is longer than we take: HTTP says 414 */
    int delay_ms;  /* -1: a bare PATH, the delay model decides */
    char path[MAX_PATH + 1];
};

/* Parses the request at the start of buf[0..len). PARSE_INCOMPLETE: wait for more bytes (never
 * returned when at_eof, the peer has stopped sending). PARSE_BAD: *why says what is wrong, and
 * req->http says whether to answer it in HTTP. Never reads past len. */
enum parse_status parse_request(const char *buf, size_t len, bool at_eof, struct request *req,
                                const char **why);

/* Writes the reply to out (at least MAX_REPLY bytes) and returns its length. path may be NULL
 * (a bad request), which is written as "-". */
size_t format_reply(char *out, int rc, long bytes, int64_t elapsed_ms, const char *path, bool http);

/* A small deterministic PRNG (splitmix64), so `-s SEED` gives the same delays on every libc. */
struct prng {
    uint64_t state;
};
uint64_t prng_next(struct prng *rng);

/* One simulated disk read: what the request asked for, planned once when it arrives. */
struct disk_read {
    int delay_ms; /* how long the disk takes */
    bool io_fail; /* the disk answers with an error after delay_ms */
    long bytes;   /* the size read */
};

/* Plans the read for req: its own delay, or for a bare PATH one drawn from the seed's model
 * (0.1% I/O failures of 300-3000 ms, 10% slow reads of 6-20 s, the rest 75-400 ms). */
struct disk_read plan_disk_read(const struct request *req, struct prng *rng);

/* A request in the server, from the moment its connection was accepted to its reply. The job_*
 * functions below also write the request's events to the trace (-E, trace.h). */
struct job {
    int fd; /* the connection it came on, to name it in the trace */
    struct request req;
    struct disk_read disk;
    int64_t arrived_ms; /* when the connection was accepted: ELAPSED and the queue deadline count
                           from here */
    int64_t started_ms; /* when its disk read began */
    int rc;             /* set by job_expired_in_queue / job_finish */
};

/* The seed's queue deadline: true (and logs "timeout (queue)", sets RC 1) when the job waited
 * deadline_ms or more before its read could start at now. */
bool job_expired_in_queue(struct job *job, int64_t now, int deadline_ms);

/* Its read starts now (on whichever thread makes it). */
void job_start_read(struct job *job, int64_t now);

/* Decides the RC of a read that ended at now: "io fail" (RC 2) for a failed read,
 * "timeout (service)" (RC 1) for one that ran past deadline_ms, else RC 0. Logs the first two. */
int job_finish(struct job *job, int64_t now, int deadline_ms);

/* Formats the job's reply into out (MAX_REPLY bytes), ELAPSED measured from arrival to now,
 * and logs it when verbose. Returns the length. */
size_t job_reply(const struct job *job, char *out, int64_t now, bool verbose);

/* Formats the reply to the job's bad request (req.http says in which form: 400 Bad Request, or
 * 414 URI Too Long when req.too_long) and logs "bad request: why". Returns the length. */
size_t bad_request_reply(const struct job *job, char *out, const char *why);

/* Blocks the calling thread for ms milliseconds, the way a read from a dying disk does.
 * Returns early only when a stop signal arrives. Returns 0, or -1 with errno set when the sleep
 * itself fails (EPERM: strict mode, -S, refused it on a loop thread). */
int sleep_ms(int ms);

#endif
