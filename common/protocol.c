#include "protocol.h"

#include <stdio.h>
#include <string.h>

/* Parses a whole decimal number 0..max from s[0..len). Returns -1 if it is not one. */
static long parse_number(const char *s, size_t len, long max) {
    if (len == 0 || len > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* Parses the body of a request, line form: "DELAY_MS,PATH", "RC,DELAY_MS,PATH" or "PATH". */
static const char *parse_fields(const char *s, size_t len, struct request *req) {
    if (len == 0)
        return "empty request";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return "request has a byte that is not printable ASCII";
    const char *comma = memchr(s, ',', len);
    req->delay_ms = -1;
    if (comma) {
        const char *second = memchr(comma + 1, ',', len - (size_t)(comma + 1 - s));
        /* The seed's three-field form: a leading RC we accept and ignore. */
        if (second && parse_number(s, (size_t)(comma - s), 9) >= 0 &&
            parse_number(comma + 1, (size_t)(second - comma - 1), MAX_DELAY_MS) >= 0) {
            len -= (size_t)(comma + 1 - s);
            s = comma + 1;
            comma = second;
        }
        long delay = parse_number(s, (size_t)(comma - s), MAX_DELAY_MS);
        if (delay < 0)
            return "delay is not a number of milliseconds from 0 to 3600000";
        req->delay_ms = (int)delay;
        len -= (size_t)(comma + 1 - s);
        s = comma + 1;
    }
    if (len == 0)
        return "empty path";
    if (len > MAX_PATH) {
        req->too_long = true;
        return "path longer than 1024 bytes";
    }
    memcpy(req->path, s, len);
    req->path[len] = '\0';
    return NULL;
}

/* Parses "GET /TARGET HTTP/1.x" (line without its end); the target after '/' is the line form. */
static const char *parse_http_line(const char *s, size_t len, struct request *req) {
    const char *sp1 = memchr(s, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - s)) : NULL;
    if (!sp2 || (size_t)(s + len - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return "malformed HTTP request line";
    if (sp1 - s != 3 || memcmp(s, "GET", 3) != 0)
        return "HTTP method is not GET";
    const char *target = sp1 + 1;
    size_t target_len = (size_t)(sp2 - target);
    if (target_len < 2 || target[0] != '/')
        return "HTTP target is not /DELAY_MS,PATH";
    /* "/300,/a" carries a delay; "/a" alone is a bare PATH and keeps its slash. */
    if (memchr(target, ',', target_len))
        target++, target_len--;
    return parse_fields(target, target_len, req);
}

/* An HTTP request line starts with its method, capitals and a space ("GET /..."), and ends
 * with its version; a line-form request has no space at all. The start decides, so that a
 * request line too long to read whole is still known, and answered, as HTTP. */
static bool looks_like_http(const char *s, size_t len) {
    const char *nl = memchr(s, '\n', len);
    size_t line_len = nl ? (size_t)(nl - s) : len, method = 0;
    while (method < line_len && s[method] >= 'A' && s[method] <= 'Z')
        method++;
    if (method > 0 && method < line_len && s[method] == ' ')
        return true;
    return memmem(s, line_len, " HTTP/", 6) != NULL;
}

/* Where the HTTP headers end: just past the first empty line after the request line. A line
 * ends with LF or CRLF, either, mixed as they come, as nginx and curl read them. NULL: not yet. */
static const char *headers_end(const char *buf, size_t len) {
    const char *end = buf + len, *line = memchr(buf, '\n', len);
    while (line && ++line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl && (nl == line || (nl == line + 1 && *line == '\r')))
            return nl + 1;
        line = nl;
    }
    return NULL;
}

enum parse_status parse_request(const char *buf, size_t len, bool at_eof, struct request *req,
                                const char **why) {
    memset(req, 0, sizeof *req);
    req->http = looks_like_http(buf, len);
    *why = NULL;
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len >= MAX_REQUEST) {
            req->too_long = true;
            *why = req->http ? "HTTP request line longer than 4096 bytes"
                             : "no newline within 4096 bytes";
        } else if (at_eof)
            *why = "connection ended before a newline";
        return *why ? PARSE_BAD : PARSE_INCOMPLETE;
    }
    size_t line_len = (size_t)(nl - buf);
    if (line_len > 0 && buf[line_len - 1] == '\r')
        line_len--;
    if (!req->http) {
        *why = parse_fields(buf, line_len, req);
        return *why ? PARSE_BAD : PARSE_DONE;
    }
    /* HTTP: answer only once the headers have ended, so closing never discards unread bytes
     * (which would make the kernel send a reset that can destroy our reply in flight). */
    if (!headers_end(buf, len)) {
        if (len >= MAX_REQUEST)
            *why = "HTTP headers longer than 4096 bytes";
        else if (at_eof)
            *why = "connection ended inside the HTTP headers";
        return *why ? PARSE_BAD : PARSE_INCOMPLETE;
    }
    *why = parse_http_line(buf, line_len, req);
    return *why ? PARSE_BAD : PARSE_DONE;
}

/* format_reply with the HTTP status given (NULL: the one rc says). */
static size_t format_reply_status(char *out, int rc, long bytes, int64_t elapsed_ms,
                                  const char *path, bool http, const char *status) {
    char body[MAX_PATH + 64];
    int body_len = snprintf(body, sizeof body, "%d,%ld,%lld,%s\n", rc, bytes, (long long)elapsed_ms,
                            path ? path : "-");
    if (!http) {
        memcpy(out, body, (size_t)body_len);
        return (size_t)body_len;
    }
    if (!status)
        status = rc == RC_OK        ? "200 OK"
                 : rc == RC_TIMEOUT ? "408 Request Timeout"
                 : path             ? "500 Internal Server Error"
                                    : "400 Bad Request";
    return (size_t)snprintf(out, MAX_REPLY,
                            "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                            "Connection: close\r\n\r\n%s",
                            status, body_len, body);
}

size_t format_reply(char *out, int rc, long bytes, int64_t elapsed_ms, const char *path,
                    bool http) {
    return format_reply_status(out, rc, bytes, elapsed_ms, path, http, NULL);
}

size_t format_bad_request(char *out, const struct request *req) {
    return format_reply_status(out, RC_FAIL, 0, 0, NULL, req->http,
                               req->too_long ? "414 URI Too Long" : NULL);
}
