/* timeline-svg: draws a client --timeline file as an SVG picture, one horizontal bar a request
 * from the moment it was sent to the moment it was answered (or given up), on a shared time axis,
 * coloured by outcome. A serial server draws a staircase; a concurrent one draws a flat block.
 * Usage: timeline-svg [-t TITLE] [-s SUBTITLE] [-d TIMEOUT_MS] [-w WIDTH] [FILE]  (else stdin)
 * Rows: "id start_ms end_ms outcome delay_ms rc", outcome ok|late|timeout|error; '#' comments. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OK, LATE, TIMEOUT, ERROR, OUTCOMES };
static const char *const OUTCOME_NAME[OUTCOMES] = {"ok", "late", "timeout", "error"};
static const char *const OUTCOME_LABEL[OUTCOMES] = {"ok", "late (server said RC 1)",
                                                    "timeout (client gave up)", "error"};
/* Colour-blind safe (Okabe-Ito): green, orange, vermilion, purple. */
static const char *const OUTCOME_COLOUR[OUTCOMES] = {"#009e73", "#e69f00", "#d55e00", "#6a3d9a"};

enum { MARGIN_LEFT = 56, MARGIN_RIGHT = 64, MARGIN_TOP = 80, MARGIN_BOTTOM = 44 };
/* Rows share PLOT_HEIGHT_MAX pixels, at most ROW_MAX each: a run of thousands of requests still
 * makes a picture of the same size, its bars thinner than a pixel but its shape intact. */
enum { PLOT_HEIGHT_MAX = 320, ROW_MAX = 22 };

struct row {
    int id;
    long long start_ms, end_ms;
    int outcome;
};

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

static int outcome_of(const char *name) {
    for (int i = 0; i < OUTCOMES; i++)
        if (strcmp(name, OUTCOME_NAME[i]) == 0)
            return i;
    return -1;
}

/* Reads every row of in into *rows; returns how many. Dies with the line number on a bad row. */
static size_t read_rows(FILE *in, const char *name, struct row **rows) {
    size_t n = 0, cap = 0;
    char line[512];
    for (int line_no = 1; fgets(line, sizeof line, in); line_no++) {
        if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
            continue;
        struct row r;
        char outcome[16];
        if (sscanf(line, "%d %lld %lld %15s", &r.id, &r.start_ms, &r.end_ms, outcome) != 4 ||
            (r.outcome = outcome_of(outcome)) < 0 || r.start_ms < 0 || r.end_ms < r.start_ms)
            fail("%s:%d: not a timeline row (id start_ms end_ms outcome ...): %s", name, line_no,
                 line);
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            *rows = realloc(*rows, cap * sizeof **rows);
            if (!*rows)
                fail("out of memory");
        }
        (*rows)[n++] = r;
    }
    if (ferror(in))
        fail("%s: %s", name, strerror(errno));
    return n;
}

/* The tick step: 1, 2 or 5 times a power of ten, so that [0, span] gets at most 10 ticks. */
static long long tick_step(long long span) {
    static const int MANTISSA[] = {1, 2, 5};
    for (long long power = 1;; power *= 10)
        for (int i = 0; i < 3; i++)
            if (span / (power * MANTISSA[i]) <= 10)
                return power * MANTISSA[i];
}

/* Writes s with the five XML special characters escaped. */
static void put_xml(const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", stdout); break;
        case '>': fputs("&gt;", stdout); break;
        case '&': fputs("&amp;", stdout); break;
        case '"': fputs("&quot;", stdout); break;
        case '\'': fputs("&apos;", stdout); break;
        default: putchar(*s);
        }
    }
}

struct frame {
    int width, height, plot_width;
    double row_pitch;
    long long axis_ms; /* the right edge of the axis */
    long long step_ms; /* between ticks */
};

static double x_of(const struct frame *f, long long ms) {
    return MARGIN_LEFT + (double)ms * f->plot_width / (double)f->axis_ms;
}

static void draw_axis(const struct frame *f, double plot_height) {
    int bottom = MARGIN_TOP + (int)plot_height;
    printf("<g stroke=\"#ddd\">\n");
    for (long long t = 0; t <= f->axis_ms; t += f->step_ms)
        printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x_of(f, t), MARGIN_TOP,
               x_of(f, t), bottom);
    printf("</g>\n<g font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">\n");
    for (long long t = 0; t <= f->axis_ms; t += f->step_ms)
        printf("<text x=\"%.1f\" y=\"%d\">%lld</text>\n", x_of(f, t), bottom + 15, t);
    printf("<text x=\"%.1f\" y=\"%d\">time since the client started (ms)</text>\n</g>\n",
           x_of(f, f->axis_ms / 2), bottom + 32);
    printf("<line x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", MARGIN_LEFT,
           bottom, x_of(f, f->axis_ms), bottom);
}

/* The client's timeout as a dashed line, on top of the bars. Only when every request started at
 * the same moment: otherwise each has its own deadline and one line would mislead. */
static void draw_timeout(const struct frame *f, double plot_height, long long timeout_ms,
                         const struct row *rows, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (rows[i].start_ms != rows[0].start_ms)
            return;
    long long at = rows[0].start_ms + timeout_ms;
    printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" "
           "stroke-dasharray=\"4 3\"/>\n<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
           "fill=\"#333\" text-anchor=\"middle\">client timeout %lld ms</text>\n",
           x_of(f, at), MARGIN_TOP - 4, x_of(f, at), MARGIN_TOP + (int)plot_height, x_of(f, at),
           MARGIN_TOP - 7, timeout_ms);
}

static void draw_legend(const struct row *rows, size_t n) {
    int count[OUTCOMES] = {0};
    for (size_t i = 0; i < n; i++)
        count[rows[i].outcome]++;
    printf("<g font-size=\"12\" fill=\"#333\">\n");
    int x = MARGIN_LEFT;
    for (int o = 0; o < OUTCOMES; o++) {
        char text[64];
        int len = snprintf(text, sizeof text, "%s: %d", OUTCOME_LABEL[o], count[o]);
        printf("<rect x=\"%d\" y=\"46\" width=\"11\" height=\"11\" fill=\"%s\"/>"
               "<text x=\"%d\" y=\"56\">%s</text>\n",
               x, OUTCOME_COLOUR[o], x + 15, text);
        x += 15 + 13 * len / 2 + 16; /* about 6.5 px a character at 12 px */
    }
    printf("</g>\n");
}

/* One bar a request; its id on the left and its latency on the right when the rows are tall
 * enough to read. */
static void draw_bars(const struct frame *f, const struct row *rows, size_t n) {
    double bar = f->row_pitch > 4 ? f->row_pitch * 0.75 : f->row_pitch;
    int labelled = f->row_pitch >= 10;
    printf("<g font-size=\"%d\" fill=\"#333\">\n", f->row_pitch >= 14 ? 11 : 9);
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        double y = MARGIN_TOP + (double)i * f->row_pitch + (f->row_pitch - bar) / 2;
        double x0 = x_of(f, r->start_ms), x1 = x_of(f, r->end_ms);
        printf("<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\">"
               "<title>request %d: %lld to %lld ms, %s</title></rect>\n",
               x0, y, x1 - x0 < 1 ? 1 : x1 - x0, bar, OUTCOME_COLOUR[r->outcome], r->id,
               r->start_ms, r->end_ms, OUTCOME_NAME[r->outcome]);
        if (labelled)
            printf("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>"
                   "<text x=\"%.1f\" y=\"%.1f\">%lld ms</text>\n",
                   MARGIN_LEFT - 6, y + bar - 2, r->id, x1 + 4, y + bar - 2,
                   r->end_ms - r->start_ms);
    }
    printf("</g>\n");
}

static void draw(const char *title, const char *subtitle, long long timeout_ms, int width,
                 const struct row *rows, size_t n) {
    struct frame f = {.width = width, .plot_width = width - MARGIN_LEFT - MARGIN_RIGHT};
    long long end = timeout_ms;
    for (size_t i = 0; i < n; i++)
        if (rows[i].end_ms > end)
            end = rows[i].end_ms;
    f.step_ms = tick_step(end > 0 ? end : 1);
    f.axis_ms = (end / f.step_ms + 1) * f.step_ms;
    f.row_pitch = (double)PLOT_HEIGHT_MAX / (double)n;
    if (f.row_pitch > ROW_MAX)
        f.row_pitch = ROW_MAX;
    double plot_height = f.row_pitch * (double)n;
    f.height = MARGIN_TOP + (int)plot_height + MARGIN_BOTTOM;

    printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
           "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
           f.width, f.height, f.width, f.height);
    printf("<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    printf("<text x=\"%d\" y=\"18\" font-size=\"15\" font-weight=\"bold\" fill=\"#111\">",
           MARGIN_LEFT);
    put_xml(title);
    printf("</text>\n<text x=\"%d\" y=\"36\" font-size=\"12\" fill=\"#333\">", MARGIN_LEFT);
    put_xml(subtitle);
    printf("</text>\n");
    draw_legend(rows, n);
    draw_axis(&f, plot_height);
    draw_bars(&f, rows, n);
    if (timeout_ms > 0)
        draw_timeout(&f, plot_height, timeout_ms, rows, n);
    printf("</svg>\n");
}

int main(int argc, char **argv) {
    const char *title = "Request timeline", *subtitle = "";
    long long timeout_ms = 0;
    int width = 760, opt;
    while ((opt = getopt(argc, argv, "t:s:d:w:")) != -1) {
        char *end = NULL;
        switch (opt) {
        case 't': title = optarg; break;
        case 's': subtitle = optarg; break;
        case 'd': timeout_ms = strtoll(optarg, &end, 10); break;
        case 'w': width = (int)strtol(optarg, &end, 10); break;
        default:
            fprintf(
                stderr,
                "usage: timeline-svg [-t TITLE] [-s SUBTITLE] [-d TIMEOUT_MS] [-w WIDTH] [FILE]\n");
            return 64;
        }
        if (end && (*end || timeout_ms < 0 || width < 300 || width > 10000))
            fail("bad value for -%c: %s", opt, optarg);
    }
    if (argc - optind > 1)
        fail("one FILE at most");
    const char *name = optind < argc ? argv[optind] : "stdin";
    FILE *in = optind < argc ? fopen(name, "r") : stdin;
    if (!in)
        fail("%s: %s", name, strerror(errno));
    struct row *rows = NULL;
    size_t n = read_rows(in, name, &rows);
    if (in != stdin)
        fclose(in);
    if (n == 0)
        fail("%s: no requests in the timeline", name);
    draw(title, subtitle, timeout_ms, width, rows, n);
    free(rows);
    if (fflush(stdout) != 0 || ferror(stdout))
        fail("writing the SVG: %s", strerror(errno));
    return 0;
}
