/* The request protocol (README.md, "The protocol"): parsing a request, formatting a reply.
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

/* Writes the reply to a bad request (RC 2, no path) to out (MAX_REPLY bytes): in HTTP, 400 Bad
 * Request, or 414 URI Too Long when req->too_long. Returns its length. */
size_t format_bad_request(char *out, const struct request *req);

#endif
