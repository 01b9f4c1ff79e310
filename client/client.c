/* The load client every chapter, test and benchmark uses.
 * One epoll loop keeps up to -c requests in flight, each on its own connection, like the seed's
 * make_requests.py run N times at once. It counts who was answered in time, prints latency
 * percentiles, and exits non-zero when any request timed out or failed, so scripts can assert.
 * -j runs several such loops, one thread each, when one core cannot keep a fast server busy. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/in.h> /* IP_BIND_ADDRESS_NO_PORT, which glibc's netinet/in.h lacks */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"      /* die, perror_die, now_ms */
#include "net.h"      /* raise_fd_limit */
#include "protocol.h" /* RC_*, MAX_DELAY_MS: constants only, the client links no protocol.c */
#include "stats.h"

enum outcome { PENDING, OK, TIMEOUT, LATE, ERROR };
static const char *outcome_name[] = {"pending", "ok", "timeout", "late", "error"};

enum { EXIT_ALL_OK = 0, EXIT_TIMEOUTS = 1, EXIT_ERRORS = 2, EXIT_OUTPUT = 3, EXIT_USAGE = 64 };

#define SLOW_READ_BYTES    1024 /* a slow reader takes this much ... */
#define SLOW_READ_PAUSE_MS 100  /* ... then pauses this long: 10 KiB/s */

struct req {
    int fd;
    int delay_ms; /* -1: send a bare PATH and let the server draw the delay */
    bool connected, slow_reader, paused;
    char out[1200];
    size_t out_len, out_pos;
    char line[1200]; /* the reply line (after the headers in HTTP) */
    size_t line_len;
    bool line_done;
    long payload; /* bytes after the reply line: 0, or BYTES where a chapter sends them */
    int64_t start_ms, end_ms, resume_ms; /* relative to the run's start */
    enum outcome outcome;
    int rc;
};

static struct {
    const char *host;
    int port, concurrency, count, delay_ms, slow_ms, slow_count, lead_ms, timeout_ms;
    int slow_readers, loops, objects, sources;
    double rate;
    bool http, status_only, json, quiet;
    const char *timeline, *path_prefix, *slow_path_prefix;
} opt = {.host = "127.0.0.1",
         .port = -1,
         .concurrency = 10,
         .count = -1,
         .delay_ms = 300,
         .slow_ms = -1,
         .slow_count = 1,
         .lead_ms = 100,
         .timeout_ms = 5000,
         .path_prefix = "/obj/",
         .loops = 1};

/* One epoll loop of the client. With -j K there are K, each on its own thread, and loop i owns
 * requests i, i + K, i + 2K, ... and its share of -c: the loops share nothing but reqs[], where
 * each touches only its own entries, and the clock's start. */
struct client_loop {
    pthread_t thread;
    int epfd, first, in_flight, concurrency;
    long long bytes_received;
    int bad_replies, first_bad_id; /* replies that broke the protocol, and the lowest id's */
    char first_bad[256];           /* what was wrong with it */
};

/* Request id's path prefix: --slow-path's for the slow requests of the dying-disk mix, so that
 * they can go to another disk (chapter 11's /d0/), else --path's. */
static const char *path_of(int id) {
    bool slow = opt.slow_ms >= 0 && id < opt.slow_count;
    return slow && opt.slow_path_prefix ? opt.slow_path_prefix : opt.path_prefix;
}

/* The PATH request id asks for, and its reply must name: the prefix, then the id (or the object,
 * with --objects). Writes it to path (size bytes); returns its length. */
static int request_path(int id, char *path, size_t size) {
    return snprintf(path, size, "%s%d", path_of(id), opt.objects > 0 ? id % opt.objects : id);
}

static struct req *reqs;
static struct sockaddr_in server_addr;
static int64_t t0;
static FILE *notes;    /* per-request lines: stdout, or stderr when stdout carries JSON */
static FILE *timeline; /* --timeline's, opened before the run so that a bad path costs no run */

__attribute__((noreturn)) static void usage(int status) {
    fprintf(status ? stderr : stdout,
            "usage: client -p PORT [-h HOST] [-c CONCURRENCY] [-n REQUESTS] [-d DELAY_MS|rand]\n"
            "              [--slow MS [--slow-count K] [--lead MS]] [--rate R] [-t TIMEOUT_MS]\n"
            "              [--path PREFIX [--slow-path PREFIX]] [--objects K] [--slow-readers K]\n"
            "              [--http [--status-only]] [--json] [--timeline FILE] [-j THREADS]\n"
            "              [--sources K] [-q]\n"
            "       client --percentiles < numbers\n"
            "  -c N            requests in flight at once (default 10)\n"
            "  -n N            requests in all (default: the concurrency)\n"
            "  -d MS           disk delay each request asks for (default 300); 'rand' sends a\n"
            "                  bare PATH so the server draws the delay from the seed's model\n"
            "  --slow MS       the dying disk: the first request asks for MS and goes first,\n"
            "                  the rest follow 100 ms later (--lead MS to change;\n"
            "                  --slow-count K makes the first K requests slow)\n"
            "  --rate R        open loop: start R requests per second on a fixed schedule,\n"
            "                  whatever is in flight (-c is ignored), and measure each latency\n"
            "                  from its scheduled start, so a stalled server cannot hide it\n"
            "  -t MS           give up on a reply after MS (default 5000, as make_requests.py)\n"
            "  --path PREFIX   request paths are PREFIX<id> (default /obj/)\n"
            "  --slow-path PREFIX  the --slow requests' paths are PREFIX<id> instead\n"
            "  --objects K     ... with <id> counted modulo K: K objects, each asked for again\n"
            "                  and again (default: every request a path of its own)\n"
            "  --slow-readers K  the first K requests read their reply at 10 KiB/s\n"
            "  --http          speak HTTP (GET /DELAY_MS,PATH) instead of the line protocol\n"
            "  --status-only   (implies --http) judge a reply by its HTTP status alone, for a\n"
            "                  server whose body is the object itself (nginx): 200 ok, 408 or\n"
            "                  504 a timeout the server answered, any other status an error;\n"
            "                  the body is read to the end and not looked at\n"
            "  --json          print one JSON summary line on stdout (notes go to stderr)\n"
            "  --timeline FILE write one row per request: id start_ms end_ms outcome delay_ms rc\n"
            "  -j THREADS      run THREADS event loops, each with its share of -c and -n\n"
            "                  (default 1: one thread)\n"
            "  --sources K     connect from K loopback addresses, 127.0.0.1 and up (the host\n"
            "                  must be loopback): with thousands of connections open, finding\n"
            "                  a free port for the next one from a single address costs more\n"
            "                  than the rest of the request\n"
            "  -q              no per-request lines\n"
            "  --percentiles   read numbers from stdin, print their p50 p90 p99 max, exit\n"
            "Latency percentiles cover every request; one that timed out counts as its timeout.\n"
            "A reply is believed only when it is RC,BYTES,ELAPSED_MS,PATH and a newline with\n"
            "RC 0, 1 or 2, BYTES and ELAPSED_MS whole numbers of 0 or more, PATH the one asked\n"
            "for (\"-\" only in RC 2, a refused request) and, in HTTP, a status that says the\n"
            "same (200 for RC 0, 408 for RC 1, another 4xx or 5xx for RC 2); anything else is\n"
            "an error, a bad reply, which the summary counts and shows the first of. With\n"
            "--status-only a reply is believed when it is an HTTP/1.x status line and headers.\n"
            "Exit status: 0 every request answered RC 0 in time; 1 some timed out (client\n"
            "timeout, or the server answered RC 1); 2 some failed (refused, reset, RC 2, a bad\n"
            "reply); 3 the report could not be written (stdout, --timeline); 64 bad usage.\n");
    exit(status ? EXIT_USAGE : 0);
}

#define MANY 100000000 /* the bound of a count or a time that has no natural one */

/* The flag's value s, a whole number from lo to hi, or the usage and exit status 64. */
static int number_arg(const char *s, int lo, int hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "client: bad %s '%s': want %d to %d\n", what, s, lo, hi);
        usage(2);
    }
    return (int)v;
}

/* Flushes f and says whether everything written to it arrived (a full disk, a closed pipe: a
 * report nobody gets must not pass for one that was written). Says so on stderr when not. */
static bool output_ok(FILE *f, const char *name) {
    errno = 0;
    if (fflush(f) == 0 && !ferror(f))
        return true;
    if (f != stderr)
        fprintf(stderr, "client: cannot write %s: %s\n", name,
                errno ? strerror(errno) : "a write failed");
    return false;
}

static int percentiles_from_stdin(void) {
    size_t n = 0, cap = 1024;
    double *v = malloc(cap * sizeof *v);
    while (v && scanf("%lf", &v[n]) == 1)
        if (++n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
    if (!v || n == 0) {
        fprintf(stderr, "client: no numbers on stdin\n");
        free(v);
        return EXIT_USAGE;
    }
    struct latency_summary s = summarize(v, n);
    printf("n %zu p50 %g p90 %g p99 %g max %g\n", n, s.p50, s.p90, s.p99, s.max);
    free(v);
    return output_ok(stdout, "stdout") ? 0 : EXIT_OUTPUT;
}

/* The long options, numbered past every character getopt can return. */
enum long_option {
    SLOW = 256,
    LEAD,
    SLOW_COUNT,
    HTTP,
    JSON,
    TIMELINE,
    HELP,
    PERCENTILES,
    RATE,
    PATH,
    SLOW_READERS,
    OBJECTS,
    SOURCES,
    SLOW_PATH,
    STATUS_ONLY
};
static const struct option long_options[] = {
    {"slow", required_argument, NULL, SLOW},
    {"lead", required_argument, NULL, LEAD},
    {"slow-count", required_argument, NULL, SLOW_COUNT},
    {"http", no_argument, NULL, HTTP},
    {"json", no_argument, NULL, JSON},
    {"timeline", required_argument, NULL, TIMELINE},
    {"help", no_argument, NULL, HELP},
    {"percentiles", no_argument, NULL, PERCENTILES},
    {"rate", required_argument, NULL, RATE},
    {"path", required_argument, NULL, PATH},
    {"slow-readers", required_argument, NULL, SLOW_READERS},
    {"objects", required_argument, NULL, OBJECTS},
    {"sources", required_argument, NULL, SOURCES},
    {"slow-path", required_argument, NULL, SLOW_PATH},
    {"status-only", no_argument, NULL, STATUS_ONLY},
    {0, 0, 0, 0}};

/* What the flags imply, once all are read: refused together, or derived. Exits 2 on a conflict. */
static void settle_args(bool extra) {
    if (extra || opt.port < 0) {
        fprintf(stderr, "client: %s\n", opt.port < 0 ? "-p PORT is required" : "extra argument");
        usage(2);
    }
    if (opt.count < 0)
        opt.count = opt.concurrency;
    if (opt.rate > 0)
        opt.concurrency = opt.count; /* open loop: nothing waits for a free slot */
    if (opt.loops > 256 || opt.loops > opt.concurrency || opt.loops > opt.count) {
        fprintf(stderr, "client: -j %d: want at most 256 threads, and no more than -c or -n\n",
                opt.loops);
        usage(2);
    }
    if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1) {
        fprintf(stderr, "client: bad host '%s': want an IPv4 address\n", opt.host);
        usage(2);
    }
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)opt.port);
    if (opt.sources > 0 &&
        ((ntohl(server_addr.sin_addr.s_addr) >> 24) != 127 || opt.sources > 254)) {
        fprintf(stderr, "client: --sources wants a loopback host (127.x.x.x) and at most 254\n");
        usage(2);
    }
}

static void parse_args(int argc, char **argv) {
    int c;
    while ((c = getopt_long(argc, argv, "h:p:c:n:d:t:j:q", long_options, NULL)) != -1) {
        switch (c) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = number_arg(optarg, 1, 65535, "port"); break;
        case 'c': opt.concurrency = number_arg(optarg, 1, MANY, "concurrency"); break;
        case 'n': opt.count = number_arg(optarg, 1, MANY, "request count"); break;
        case 'd':
            opt.delay_ms =
                strcmp(optarg, "rand") == 0 ? -1 : number_arg(optarg, 0, MAX_DELAY_MS, "delay");
            break;
        case 't': opt.timeout_ms = number_arg(optarg, 1, MANY, "timeout"); break;
        case 'j': opt.loops = number_arg(optarg, 1, 256, "thread count"); break;
        case 'q': opt.quiet = true; break;
        case SLOW: opt.slow_ms = number_arg(optarg, 0, MAX_DELAY_MS, "slow delay"); break;
        case LEAD: opt.lead_ms = number_arg(optarg, 0, MANY, "lead"); break;
        case SLOW_COUNT: opt.slow_count = number_arg(optarg, 1, MANY, "slow count"); break;
        case HTTP: opt.http = true; break;
        case STATUS_ONLY: opt.http = opt.status_only = true; break;
        case JSON: opt.json = true; break;
        case TIMELINE: opt.timeline = optarg; break;
        case PERCENTILES: exit(percentiles_from_stdin());
        case HELP: usage(0);
        case RATE: opt.rate = number_arg(optarg, 1, MANY, "rate"); break;
        case PATH:
        case SLOW_PATH:
            *(c == PATH ? &opt.path_prefix : &opt.slow_path_prefix) = optarg;
            if (strlen(optarg) > 900 || strpbrk(optarg, " ,\r\n")) {
                fprintf(stderr, "client: bad path prefix '%s'\n", optarg);
                usage(2);
            }
            break;
        case SLOW_READERS:
            opt.slow_readers = number_arg(optarg, 1, MANY, "slow reader count");
            break;
        case OBJECTS: opt.objects = number_arg(optarg, 1, MANY, "object count"); break;
        case SOURCES: opt.sources = number_arg(optarg, 1, 254, "source address count"); break;
        default: usage(2);
        }
    }
    settle_args(optind < argc);
}

static int64_t rel_now(void) {
    return now_ms() - t0;
}

static void finish(struct client_loop *lp, struct req *r, int id, enum outcome outcome,
                   const char *why) {
    r->outcome = outcome;
    r->end_ms = rel_now();
    if (r->fd >= 0)
        close(r->fd); /* close also removes it from the epoll set */
    r->fd = -1;
    lp->in_flight--;
    if (opt.quiet)
        return;
    if (outcome == TIMEOUT)
        fprintf(notes, "***client timeout %d (%s%d: no reply after %lld ms)\n", id, path_of(id), id,
                (long long)(r->end_ms - r->start_ms));
    else if (outcome != OK)
        fprintf(notes, "***client %s %d (%s%d: %s)\n", outcome_name[outcome], id, path_of(id), id,
                why);
}

/* Opens request id's connection and sends the request at once: on loopback the handshake is
 * over by the time connect() returns, so the request goes without waiting a turn for EPOLLOUT.
 * If it is not over, the write says EAGAIN, and EPOLLOUT tells when it is. */
static void start_request(struct client_loop *lp, int id, int64_t scheduled_ms) {
    struct req *r = &reqs[id];
    r->start_ms = scheduled_ms;
    r->slow_reader = id < opt.slow_readers;
    lp->in_flight++;
    char path[1000], target[1100];
    request_path(id, path, sizeof path);
    if (r->delay_ms < 0)
        snprintf(target, sizeof target, "%s", path);
    else
        snprintf(target, sizeof target, "%d,%s", r->delay_ms, path);
    if (opt.http)
        r->out_len = (size_t)snprintf(r->out, sizeof r->out, "GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n",
                                      target, opt.host);
    else
        r->out_len = (size_t)snprintf(r->out, sizeof r->out, "%s\n", target);
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        finish(lp, r, id, ERROR, strerror(errno));
        return;
    }
    if (r->slow_reader) { /* a small window, so the server's sends really do fill up */
        int size = 4096;
        setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (opt.sources > 0) {
        /* connect() looks for a free local port by walking the range: from one address, with
         * 20,000 connections open, that walk is most of the client's time. From K addresses a
         * port is free for this one as long as the pair of addresses and ports is; binding with
         * IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), which checks exactly that. */
        struct sockaddr_in from = {.sin_family = AF_INET,
                                   .sin_addr.s_addr =
                                       htonl(0x7f000001u + (uint32_t)(id % opt.sources))};
        int one = 1;
        setsockopt(r->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(r->fd, (struct sockaddr *)&from, sizeof from) < 0) {
            finish(lp, r, id, ERROR, strerror(errno));
            return;
        }
    }
    if (connect(r->fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 &&
        errno != EINPROGRESS) {
        finish(lp, r, id, ERROR, strerror(errno));
        return;
    }
    /* A refused connection fails here, with the error SO_ERROR would have given. */
    ssize_t n = write(r->fd, r->out, r->out_len);
    if (n < 0 && errno != EAGAIN) {
        finish(lp, r, id, ERROR, strerror(errno));
        return;
    }
    r->connected = n >= 0;
    r->out_pos = n > 0 ? (size_t)n : 0;
    struct epoll_event ev = {.events = r->out_pos == r->out_len ? EPOLLIN : EPOLLOUT,
                             .data.u32 = (uint32_t)id};
    if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
        finish(lp, r, id, ERROR, strerror(errno));
}

/* A whole number of 0 or more, digits only (no sign, no space), that fits a long: its value, or
 * -1. Sets *rest past it. */
static long whole_number(const char *s, const char **rest) {
    size_t digits = strspn(s, "0123456789");
    *rest = s + digits;
    if (digits == 0 || digits > 18)
        return -1;
    return strtol(s, NULL, 10);
}

/* The status of an HTTP reply, "HTTP/1.x NNN ...": NNN, or -1 when line does not start so. */
static int http_status(const char *line) {
    if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
        strspn(line + 9, "0123456789") != 3 || (line[12] != ' ' && line[12] != '\r'))
        return -1;
    return atoi(line + 9);
}

/* Whether an HTTP status says what the RC says: format_reply's 200 for RC 0 and 408 for RC 1;
 * for RC 2 any other 4xx or 5xx (500 for a failed read, 400 or 414 for a refused request). */
static bool status_agrees(int status, int rc) {
    if (rc == RC_OK || rc == RC_TIMEOUT)
        return status == (rc == RC_OK ? 200 : 408);
    return status >= 400 && status <= 599 && status != 408;
}

/* What a reply says, once check_reply has found it to be one. */
struct reply {
    int rc;
    long bytes;
    bool refused; /* RC 2 and PATH "-": the server refused the request as bad */
};

/* Checks reply body (the line after any HTTP headers; status: the HTTP status, or 0) against
 * request id, field by field. Returns NULL and fills *reply when
 * it is a reply the protocol allows; else what is wrong with it (perhaps written in why). */
static const char *check_reply(int id, int status, const char *body, struct reply *reply, char *why,
                               size_t why_size) {
    const char *nl = strchr(body, '\n'), *p;
    if (!nl)
        return "no newline after the reply line";
    if (body[0] < '0' || body[0] > '2' || body[1] != ',')
        return "RC is not 0, 1 or 2";
    int rc = reply->rc = body[0] - '0';
    if ((reply->bytes = whole_number(body + 2, &p)) < 0 || *p != ',')
        return "BYTES is not a whole number of 0 or more";
    /* Not compared with our own latency: a loop stamps a whole turn's accepts with the turn's
     * clock, so ELAPSED_MS can exceed what we measured by as long as that turn ran. */
    if (whole_number(p + 1, &p) < 0 || *p != ',')
        return "ELAPSED_MS is not a whole number of 0 or more";
    char asked[1000];
    int asked_len = request_path(id, asked, sizeof asked);
    const char *path = p + 1;
    size_t path_len = (size_t)(nl - path);
    reply->refused = rc == RC_FAIL && path_len == 1 && path[0] == '-';
    if (!reply->refused && (path_len != (size_t)asked_len || memcmp(path, asked, path_len) != 0)) {
        snprintf(why, why_size, "its PATH is not %s", asked);
        return why;
    }
    if (status && !status_agrees(status, rc)) {
        snprintf(why, why_size, "HTTP %d with RC %d", status, rc);
        return why;
    }
    return NULL;
}

/* Appends s[0..len) to out (size bytes, kept NUL-terminated) in C's escapes, so that a line end
 * or a stray byte shows as what it is: \r, \n, \x01. */
static void append_escaped(char *out, size_t size, const char *s, size_t len) {
    size_t n = strlen(out);
    for (size_t i = 0; i < len && n + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r' || c == '\\')
            n += (size_t)snprintf(out + n, size - n, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : c);
        else if (c < 0x20 || c >= 0x7f)
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else
            out[n++] = (char)c, out[n] = '\0';
    }
}

/* Request id got a reply that breaks the protocol: an error, counted, and the first one kept for
 * the summary, with what the server sent: its first bytes (in HTTP, the status line and, after
 * "...", the body). */
static void bad_reply(struct client_loop *lp, struct req *r, int id, const char *what) {
    char seen[120] = "", detail[sizeof lp->first_bad], why[sizeof detail + 16];
    const char *status_end = strchr(r->line, '\r'), *body = strstr(r->line, "\r\n\r\n");
    if (opt.http && status_end && body) {
        append_escaped(seen, 48, r->line, (size_t)(status_end - r->line));
        strcat(seen, " ... ");
        append_escaped(seen, sizeof seen, body + 4, strlen(body + 4));
    } else {
        append_escaped(seen, sizeof seen, r->line, r->line_len);
    }
    snprintf(detail, sizeof detail, "%s: '%s'", what, seen);
    snprintf(why, sizeof why, "bad reply: %s", detail);
    if (lp->bad_replies++ == 0 || id < lp->first_bad_id) {
        lp->first_bad_id = id;
        memcpy(lp->first_bad, detail, sizeof detail);
    }
    finish(lp, r, id, ERROR, why);
}

/* --status-only: the status alone says what happened, as wrk and ab judge a reply. 408 is what
 * our servers answer past their deadline, 504 what a proxy answers for an upstream too slow. */
static void judge_status(struct client_loop *lp, struct req *r, int id, int status) {
    char why[64];
    r->rc = status == 200 ? RC_OK : status == 408 || status == 504 ? RC_TIMEOUT : RC_FAIL;
    if (r->rc == RC_OK) {
        finish(lp, r, id, OK, "");
        return;
    }
    snprintf(why, sizeof why, "server answered HTTP %d", status);
    finish(lp, r, id, r->rc == RC_TIMEOUT ? LATE : ERROR, why);
}

/* The server has closed: is what it sent a true answer to the request? Sets the outcome. */
static void parse_reply(struct client_loop *lp, struct req *r, int id) {
    r->line[r->line_len] = '\0';
    if (r->line_len == 0) {
        finish(lp, r, id, ERROR, "closed without a reply");
        return;
    }
    const char *body = r->line;
    int status = 0;
    if (opt.http) {
        const char *end = strstr(r->line, "\r\n\r\n");
        if ((status = http_status(r->line)) < 0 || !end) {
            bad_reply(lp, r, id, "not an HTTP/1.x reply");
            return;
        }
        body = end + 4;
    }
    if (opt.status_only) {
        judge_status(lp, r, id, status);
        return;
    }
    struct reply reply;
    char why[1100];
    const char *wrong = check_reply(id, status, body, &reply, why, sizeof why);
    if (wrong) {
        bad_reply(lp, r, id, wrong);
        return;
    }
    r->rc = reply.rc;
    if (r->payload != 0 && r->payload != reply.bytes) {
        bad_reply(lp, r, id, "payload shorter or longer than BYTES");
        return;
    }
    if (reply.rc == RC_OK) {
        finish(lp, r, id, OK, "");
        return;
    }
    if (reply.rc == RC_TIMEOUT) {
        finish(lp, r, id, LATE, "server answered RC 1 (its deadline passed)");
        return;
    }
    finish(lp, r, id, ERROR,
           reply.refused ? "server answered RC 2: it refused the request as bad"
                         : "server answered RC 2: I/O failure");
}

/* Keeps the reply line (after the headers, in HTTP; with --status-only the headers alone) in
 * r->line; what follows is payload. */
static void take_bytes(struct client_loop *lp, struct req *r, const char *buf, size_t n) {
    lp->bytes_received += (long long)n;
    size_t i = 0;
    while (i < n && !r->line_done && r->line_len < sizeof r->line - 1) {
        char ch = buf[i++];
        r->line[r->line_len++] = ch;
        r->line[r->line_len] = '\0';
        if (ch == '\n') {
            const char *headers_end = strstr(r->line, "\r\n\r\n");
            /* --status-only keeps the headers: the body is the object, counted as payload. */
            r->line_done =
                !opt.http || (headers_end && (opt.status_only || strchr(headers_end + 4, '\n')));
        }
    }
    r->payload += (long)(n - i);
}

static void on_event(struct client_loop *lp, int id, uint32_t events) {
    struct req *r = &reqs[id];
    if (!r->connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            finish(lp, r, id, ERROR, strerror(err));
            return;
        }
        r->connected = true;
    }
    if (r->out_pos < r->out_len && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        ssize_t n = write(r->fd, r->out + r->out_pos, r->out_len - r->out_pos);
        if (n < 0 && errno != EAGAIN) {
            finish(lp, r, id, ERROR, strerror(errno));
            return;
        }
        if (n > 0 && (r->out_pos += (size_t)n) == r->out_len) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)id};
            epoll_ctl(lp->epfd, EPOLL_CTL_MOD, r->fd, &ev);
        }
        return;
    }
    char buf[65536];
    ssize_t n = read(r->fd, buf, r->slow_reader ? SLOW_READ_BYTES : sizeof buf);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n < 0) {
        finish(lp, r, id, ERROR, strerror(errno));
        return;
    }
    if (n == 0) {
        parse_reply(lp, r, id);
        return; /* the server closes after its reply */
    }
    take_bytes(lp, r, buf, (size_t)n);
    if (r->slow_reader) { /* stop reading for a while: let the server's send buffer fill */
        struct epoll_event ev = {.events = 0, .data.u32 = (uint32_t)id};
        epoll_ctl(lp->epfd, EPOLL_CTL_MOD, r->fd, &ev);
        r->paused = true;
        r->resume_ms = rel_now() + SLOW_READ_PAUSE_MS;
    }
}

/* When request id should start: at once (closed loop), or on the --rate schedule. */
static int64_t scheduled_start(int id) {
    if (opt.rate > 0)
        return (int64_t)(id * 1000.0 / opt.rate);
    if (opt.slow_ms >= 0 && id >= opt.slow_count)
        return opt.lead_ms; /* the dying-disk mix: the slow requests go first, alone */
    return 0;
}

/* One loop: its requests (ids first, first + step, ...) until every one has an outcome. */
static void *run(void *arg) {
    struct client_loop *lp = arg;
    int step = opt.loops, next = lp->first, oldest = lp->first;
    struct epoll_event events[256];
    while (next < opt.count || lp->in_flight > 0) {
        int64_t now = rel_now();
        while (next < opt.count && lp->in_flight < lp->concurrency &&
               scheduled_start(next) <= now) {
            /* Closed loop: latency from the actual start. Open loop: from the scheduled one. */
            start_request(lp, next, opt.rate > 0 ? scheduled_start(next) : now);
            next += step;
        }
        if (next >= opt.count && lp->in_flight == 0)
            break; /* the last ones failed at once (a refused connect): nothing to wait for */
        while (oldest < next && reqs[oldest].outcome != PENDING)
            oldest += step;
        /* Requests start in order with one timeout, so the oldest open one expires first. */
        int64_t wake = oldest < next ? reqs[oldest].start_ms + opt.timeout_ms : now + 1000;
        if (next < opt.count && lp->in_flight < lp->concurrency && scheduled_start(next) < wake)
            wake = scheduled_start(next);
        for (int id = lp->first; id < opt.slow_readers && id < next; id += step)
            if (reqs[id].paused && reqs[id].resume_ms < wake)
                wake = reqs[id].resume_ms;
        int64_t wait = wake - rel_now();
        int n = epoll_wait(lp->epfd, events, 256, wait < 0 ? 0 : (int)wait);
        if (n < 0 && errno != EINTR)
            perror_die("epoll_wait");
        for (int i = 0; i < n; i++)
            if (reqs[events[i].data.u32].outcome == PENDING)
                on_event(lp, (int)events[i].data.u32, events[i].events);
        now = rel_now();
        for (int id = lp->first; id < opt.slow_readers && id < next; id += step) {
            struct req *r = &reqs[id];
            if (r->outcome == PENDING && r->paused && r->resume_ms <= now) {
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)id};
                epoll_ctl(lp->epfd, EPOLL_CTL_MOD, r->fd, &ev);
                r->paused = false;
            }
        }
        for (int id = oldest; id < next; id += step)
            if (reqs[id].outcome == PENDING && now >= reqs[id].start_ms + opt.timeout_ms)
                finish(lp, &reqs[id], id, TIMEOUT, "");
            else if (reqs[id].outcome == PENDING)
                break; /* start times rise with id (open loop and the slow mix too) */
    }
    return NULL;
}

/* s as a JSON string's contents: its quotes and backslashes escaped (it holds no control byte). */
static void put_json_text(FILE *out, const char *s) {
    for (; *s; s++)
        fprintf(out, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
}

/* What all the loops saw. */
struct totals {
    long long bytes_received;
    int bad_replies, first_bad_id;
    const char *first_bad;
};

/* Prints the summary and writes --timeline's rows. Returns false when the timeline could not be
 * written. */
static bool report(const struct totals *t) {
    int count[5] = {0};
    double *latency = malloc((size_t)opt.count * sizeof *latency);
    int64_t wall = rel_now();
    if (timeline) /* t0 on CLOCK_MONOTONIC, so timeline-svg can line this file up with a trace */
        fprintf(timeline, "# mono_ms %lld.000\n# id start_ms end_ms outcome delay_ms rc\n",
                (long long)t0);
    for (int i = 0; i < opt.count; i++) {
        struct req *r = &reqs[i];
        count[r->outcome]++;
        latency[i] = (double)(r->end_ms - r->start_ms);
        if (timeline)
            fprintf(timeline, "%d %lld %lld %s %d %d\n", i, (long long)r->start_ms,
                    (long long)r->end_ms, outcome_name[r->outcome], r->delay_ms, r->rc);
    }
    bool written = true;
    if (timeline) {
        written = output_ok(timeline, opt.timeline);
        if (fclose(timeline) != 0 && written) {
            fprintf(stderr, "client: cannot write %s: %s\n", opt.timeline, strerror(errno));
            written = false;
        }
    }
    struct latency_summary s = summarize(latency, (size_t)opt.count);
    double rps = wall > 0 ? opt.count * 1000.0 / (double)wall : 0;
    char first_path[1000] = "";
    if (t->bad_replies)
        request_path(t->first_bad_id, first_path, sizeof first_path);
    if (opt.json) {
        printf("{\"requests\":%d,\"concurrency\":%d,\"delay_ms\":%d,\"timeout_ms\":%d,"
               "\"ok\":%d,\"timeouts\":%d,\"client_timeouts\":%d,\"server_timeouts\":%d,"
               "\"errors\":%d,\"p50_ms\":%.0f,\"p90_ms\":%.0f,\"p99_ms\":%.0f,\"max_ms\":%.0f,"
               "\"wall_ms\":%lld,\"rps\":%.1f,\"bytes\":%lld,\"bad_replies\":%d",
               opt.count, opt.concurrency, opt.delay_ms, opt.timeout_ms, count[OK],
               count[TIMEOUT] + count[LATE], count[TIMEOUT], count[LATE], count[ERROR], s.p50,
               s.p90, s.p99, s.max, (long long)wall, rps, t->bytes_received, t->bad_replies);
        if (t->bad_replies) {
            printf(",\"first_bad_reply\":\"request %d (", t->first_bad_id);
            put_json_text(stdout, first_path);
            printf("): ");
            put_json_text(stdout, t->first_bad);
            printf("\"");
        }
        printf("}\n");
    } else {
        printf("ok %d   timeouts %d   errors %d", count[OK], count[TIMEOUT] + count[LATE],
               count[ERROR]);
        if (count[LATE])
            printf("   (%d of the timeouts answered RC 1 by the server)", count[LATE]);
        if (t->bad_replies)
            printf("\nbad replies %d, the first: request %d (%s): %s", t->bad_replies,
                   t->first_bad_id, first_path, t->first_bad);
        printf("\nlatency ms   p50 %.0f   p90 %.0f   p99 %.0f   max %.0f\n", s.p50, s.p90, s.p99,
               s.max);
        printf("%d requests in %.2f s: %.1f requests/s\n", opt.count, (double)wall / 1000, rps);
    }
    free(latency);
    return written;
}

/* The client's loops (-j), each with its share of the concurrency, and every request's slot. */
static struct client_loop *start_loops(void) {
    struct client_loop *loops = calloc((size_t)opt.loops, sizeof *loops);
    for (int i = 0; loops && i < opt.loops; i++) {
        loops[i].first = i;
        loops[i].concurrency = opt.concurrency / opt.loops + (i < opt.concurrency % opt.loops);
        if ((loops[i].epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
            perror_die("epoll_create1");
    }
    reqs = calloc((size_t)opt.count, sizeof *reqs);
    if (!reqs || !loops)
        die("out of memory for %d requests", opt.count);
    for (int i = 0; i < opt.count; i++) {
        reqs[i].fd = -1;
        reqs[i].delay_ms = (i < opt.slow_count && opt.slow_ms >= 0) ? opt.slow_ms : opt.delay_ms;
    }
    return loops;
}

/* Runs every loop, the first on this thread, until each has its requests done; their totals. */
static struct totals run_loops(struct client_loop *loops) {
    t0 = now_ms();
    for (int i = 1; i < opt.loops; i++)
        if (pthread_create(&loops[i].thread, NULL, run, &loops[i]) != 0)
            die("cannot start client thread %d of %d", i + 1, opt.loops);
    run(&loops[0]);
    struct totals totals = {0};
    for (int i = 0; i < opt.loops; i++) {
        struct client_loop *lp = &loops[i];
        if (i > 0)
            pthread_join(lp->thread, NULL);
        totals.bytes_received += lp->bytes_received;
        if (lp->bad_replies && (!totals.bad_replies || lp->first_bad_id < totals.first_bad_id)) {
            totals.first_bad_id = lp->first_bad_id;
            totals.first_bad = lp->first_bad;
        }
        totals.bad_replies += lp->bad_replies;
    }
    return totals;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    notes = opt.json ? stderr : stdout;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is then a write error that output_ok reports */
    if (opt.timeline && !(timeline = fopen(opt.timeline, "w"))) {
        fprintf(stderr, "client: cannot write %s: %s\n", opt.timeline, strerror(errno));
        return EXIT_OUTPUT;
    }
    if (opt.concurrency + 16 > raise_fd_limit())
        fprintf(stderr, "client: warning: the descriptor limit is below -c %d\n", opt.concurrency);
    struct client_loop *loops = start_loops();
    if (!opt.quiet && !opt.json) {
        if (opt.rate > 0)
            printf("%d requests at %.0f per second (open loop)", opt.count, opt.rate);
        else
            printf("%d requests, %d at a time", opt.count, opt.concurrency);
        printf(", %s reads, client timeout %d ms%s\n",
               opt.slow_ms >= 0 ? "one slow read among fast" : "equal", opt.timeout_ms,
               opt.http ? ", HTTP" : "");
    }
    struct totals totals = run_loops(loops);
    bool written = report(&totals);
    int result = EXIT_ALL_OK;
    for (int i = 0; i < opt.count; i++)
        if (reqs[i].outcome == ERROR)
            result = EXIT_ERRORS;
        else if (reqs[i].outcome != OK && result == EXIT_ALL_OK)
            result = EXIT_TIMEOUTS;
    /* A lost report outranks what it would have said: the caller must not take silence for
     * success. stdout and stderr both, since the notes may have gone to either. */
    bool out_ok = output_ok(stdout, "stdout");
    if (!output_ok(stderr, "stderr") || !out_ok || !written)
        result = EXIT_OUTPUT;
    for (int i = 0; i < opt.loops; i++)
        close(loops[i].epfd);
    free(loops);
    free(reqs);
    return result;
}
