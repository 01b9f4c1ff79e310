/* timeline-svg: draws a client --timeline file as an SVG picture, one horizontal bar a request
 * from the moment it was sent to the moment it was answered (or given up), on a shared time axis.
 * Alone it shows the client's view, each bar coloured by its outcome: a serial server draws a
 * staircase, a concurrent one a flat block. With the server's event trace (-e, from a server's
 * -E) it shows why: each bar cut where the server accepted, queued, read and answered it, and a
 * lane per server thread (the loop asleep, in a handler or blocked in a read; each worker's reads).
 * --text draws the same for a terminal (scripts/timeline.sh).
 * Exit status: 0, 1 on bad input (the file and line in the message), 64 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"
#include "trace.h"

static void usage(FILE *to) {
    fprintf(to,
            "usage: timeline-svg [-t TITLE] [-s SUBTITLE] [-d TIMEOUT_MS] [-w WIDTH] [-e TRACE]\n"
            "                    [-p PREFIX] [-m PREFIX=LABEL] [--text] [FILE]\n"
            "  FILE          the client's --timeline file (else stdin)\n"
            "  -t, -s        the figure's title and subtitle\n"
            "  -d MS         the client's timeout, drawn as a dashed line\n"
            "  -w WIDTH      the SVG's width in px (760, or 580 with a trace); with --text the\n"
            "                time axis in characters (60)\n"
            "  -e TRACE      the server's event trace (its -E FILE): split each bar by what the\n"
            "                server did, and draw a lane per server thread\n"
            "  -p PREFIX     the client's --path: a trace's req PREFIX+ID is request ID (/obj/);\n"
            "                several, comma-separated, for a client run with --slow-path too\n"
            "  -m PREFIX=LABEL  mark the rows whose path the trace gives as PREFIX+ID (one of\n"
            "                -p's; added to them if not), and name them LABEL in the legend\n"
            "  --text        draw for a terminal instead of SVG\n");
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("timeline-svg: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The whole of name ("-": stdin), NUL-terminated; *len its bytes. Dies when it cannot. */
static char *read_file(const char *name, size_t *len) {
    char *buf = trace_read_file(name, len);
    if (!buf)
        fail("%s: %s", name, strerror(errno));
    return buf;
}

/* The index of want[0..n) in the comma-separated list, or -1. */
static int prefix_index(const char *list, const char *want, size_t n) {
    int index = 0;
    for (const char *p = list;; index++) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, want, n) == 0)
            return index;
        if (!p[len])
            return -1;
        p += len + 1;
    }
}

/* -m PREFIX=LABEL: the rows whose path starts with PREFIX are marked LABEL. A PREFIX that is not
 * one of -p's becomes one more: then *prefix is the longer list, returned for the caller to
 * free; else NULL. */
static char *parse_mark(const char *mark, const char **prefix, struct figure *fig) {
    const char *eq = strchr(mark, '=');
    if (!eq || eq == mark || !eq[1] || memchr(mark, ',', (size_t)(eq - mark)))
        fail("bad value for -m: %s (PREFIX=LABEL)", mark);
    size_t n = (size_t)(eq - mark), have = strlen(*prefix);
    fig->mark_label = eq + 1;
    fig->mark_prefix = prefix_index(*prefix, mark, n);
    if (fig->mark_prefix >= 0)
        return NULL;
    char *prefixes = malloc(have + 1 + n + 1);
    if (!prefixes)
        fail("out of memory");
    snprintf(prefixes, have + 2 + n, "%s,%.*s", *prefix, (int)n, mark);
    fig->mark_prefix = prefix_index(prefixes, mark, n);
    *prefix = prefixes;
    return prefixes;
}

/* The client's timeline, from name ("-": stdin). Fails on bad input, and on one with no requests
 * unless the picture is text. */
static void load_timeline(const char *name, struct timeline *tl, bool text) {
    char err[256];
    size_t len;
    char *buf = read_file(name, &len);
    if (timeline_load(buf, len, tl, err, sizeof err) < 0)
        fail("%s:%s", strcmp(name, "-") ? name : "stdin", err);
    free(buf);
    if (tl->n == 0 && !text)
        fail("%s: no requests in the timeline", strcmp(name, "-") ? name : "stdin");
}

/* The server's trace (-e), its paths cut at prefix. False, with a note, when it holds no events
 * (a server that does not trace yet): the picture is then the client's view only. */
static bool load_trace(const char *name, const char *prefix, struct trace *tr) {
    char err[256];
    size_t len;
    char *buf = read_file(name, &len);
    if (trace_load(buf, len, prefix, tr, err, sizeof err) < 0)
        fail("%s:%s", name, err);
    free(buf);
    if (tr->n_events > 0)
        return true;
    fprintf(stderr, "timeline-svg: %s: no events: the client's view only\n", name);
    trace_free(tr);
    return false;
}

int main(int argc, char **argv) {
    struct figure fig = {.title = "Request timeline", .subtitle = "", .mark_prefix = -1};
    const char *trace_name = NULL, *prefix = "/obj/", *mark = NULL;
    bool text = false;
    long width = 0;
    enum { TEXT = 256, HELP };
    static const struct option LONG[] = {
        {"text", no_argument, NULL, TEXT}, {"help", no_argument, NULL, HELP}, {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "t:s:d:w:e:p:m:", LONG, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 't': fig.title = optarg; break;
        case 's': fig.subtitle = optarg; break;
        case 'd': fig.timeout_ms = strtoll(optarg, &end, 10); break;
        case 'w': width = strtol(optarg, &end, 10); break;
        case 'e': trace_name = optarg; break;
        case 'p': prefix = optarg; break;
        case 'm': mark = optarg; break;
        case TEXT: text = true; break;
        case HELP: usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
        if (end && (*end || end == optarg || fig.timeout_ms < 0 || fig.timeout_ms > 864000000))
            fail("bad value for -%c: %s", opt, optarg);
    }
    if (width && (text ? width < 10 || width > 1000 : width < 300 || width > 10000))
        fail("bad value for -w: %ld (%s)", width, text ? "10 to 1000 columns" : "300 to 10000 px");
    if (argc - optind > 1)
        fail("one FILE at most");
    if (mark && !trace_name)
        fail("-m needs -e: a row's path is in the trace");
    char *prefixes = mark ? parse_mark(mark, &prefix, &fig) : NULL;
    struct timeline tl;
    load_timeline(optind < argc ? argv[optind] : "-", &tl, text);
    struct trace tr;
    if (trace_name && !load_trace(trace_name, prefix, &tr))
        trace_name = NULL;
    struct model m;
    char note[256];
    if (model_build(&tl, trace_name ? &tr : NULL, &m, note, sizeof note) < 0)
        fail("out of memory");
    if (note[0])
        fprintf(stderr, "timeline-svg: %s: %s\n", trace_name, note);
    fig.width = (int)width;
    if (text)
        draw_text(stdout, &m, width ? (int)width : 60);
    else
        draw_svg(stdout, &m, &fig);
    model_free(&m);
    if (trace_name)
        trace_free(&tr);
    timeline_free(&tl);
    free(prefixes);
    if (fflush(stdout) != 0 || ferror(stdout))
        fail("writing the %s: %s", text ? "picture" : "SVG", strerror(errno));
    return 0;
}
