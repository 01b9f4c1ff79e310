/* chart-svg: draws a small data file as a horizontal bar chart in SVG, for the slides. The data
 * are what a run wrote (a table of bench/REPORT.md, a demo's table), passed through as text: each
 * bar is labelled with its cell exactly as the file wrote it, so the picture quotes its source and
 * never rounds it. Every text is at least FONT px in the SVG's own units, which the slides show
 * at 1:1 or more (tests/slides.bats measures it in a browser).
 *
 * The file is tab-separated: a header "LABEL<TAB>SERIES<TAB>SERIES..." then a row a bar group;
 * '#' lines are comments; an empty cell, "-" or "—" draws no bar. By default each series is a
 * panel with its own scale, side by side (different units: KiB, threads, MiB); with -g they share
 * one axis and each row has a bar per series (the same unit: p99 alone and beside a dying disk).
 * Every value, in a cell or given to -m or -r, is a number from 0 to VALUE_MAX; anything else is
 * bad input, refused before a byte is written. -l puts every axis on a log scale, for values that
 * span decades (latencies of 5 ms and of 5 s side by side), where a linear axis would leave the
 * small ones a sliver each.
 * Exit status: 0, 1 on bad input (the file and line in the message), 64 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SERIES_MAX = 6, ROWS_MAX = 64, CELL_MAX = 96, HIGHLIGHT_MAX = 8 };
/* Sizes in px; the slides show the SVG at about its own size (a 1280 x 720 window draws a slide's
 * px at 1.06 screen px), so FONT is the smallest text a reader gets. */
enum { FONT = 14, LABEL_FONT = 15, TITLE_FONT = 20, ROW_PITCH = 24, GROUP_BAR = 16 };
enum { MARGIN = 12, TOP_TITLE = 30, PANEL_GAP = 28, AXIS_HEIGHT = 26 };
/* The largest value drawn. Its axis stays far from where a double stops holding whole numbers
 * (9e15) or overflows, and no run writes more (10^15 µs is 31 years). Near DBL_MAX the axis
 * would round up to inf, and a tick loop to inf never ends. */
#define VALUE_MAX      1e15
#define VALUE_MAX_TEXT "1e15"

/* Okabe-Ito: colour-blind safe, and the same palette as timeline-svg's pictures. */
static const char *const SERIES_COLOUR[SERIES_MAX] = {"#0072b2", "#e69f00", "#009e73",
                                                      "#cc79a7", "#56b4e9", "#d55e00"};
static const char *const HIGHLIGHT_COLOUR = "#d55e00";

struct cell {
    char text[CELL_MAX]; /* as the file wrote it */
    double value;
    bool has_value;
};

struct chart {
    char series[SERIES_MAX][CELL_MAX];
    int n_series;
    char label[ROWS_MAX][CELL_MAX];
    struct cell cell[ROWS_MAX][SERIES_MAX];
    int n_rows;
};

struct options {
    const char *title, *subtitle, *footnote;
    const char *highlight[HIGHLIGHT_MAX];
    int n_highlight;
    int width;
    bool grouped, log_scale;
    double axis_max[SERIES_MAX]; /* per panel (-m); 0: from the data */
    int n_axis_max;
    double reference; /* a dashed line at this value (-r), when has_reference */
    bool has_reference;
    const char *reference_label;
};

static void usage(FILE *to) {
    fprintf(
        to,
        "usage: chart-svg [-t TITLE] [-s SUBTITLE] [-f FOOTNOTE] [-w WIDTH] [-g]\n"
        "                 [-H LABEL]... [-m MAX[,MAX]...] [-r VALUE[:TEXT]] [-l] [FILE]\n"
        "  FILE          tab-separated: a header LABEL<TAB>SERIES..., then one row a bar group\n"
        "                (else stdin); '#' lines are comments; '-' or an empty cell: no bar\n"
        "  -t, -s, -f    the title, the subtitle, and a footnote under the chart (its source)\n"
        "  -w WIDTH      the SVG's width in px (1100)\n"
        "  -g            grouped: one axis, a bar per series in each row (same unit)\n"
        "  -H LABEL      draw that row's bars in another colour (a reference: nginx)\n"
        "  -m MAX,...    each panel's axis maximum (0: the data's); a longer bar is cut\n"
        "                at it, drawn broken, with its value written beyond\n"
        "  -r VALUE[:TEXT]  a dashed line at VALUE in every panel, labelled TEXT\n"
        "  -l            log scale: each axis runs over whole decades (1, 10, 100, ...) from\n"
        "                below the smallest value to the largest (or MAX); a 0 gets no bar\n");
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("chart-svg: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void put_xml(FILE *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* Characters, not bytes: a UTF-8 "µ" or "÷" is one character wide. */
static int text_chars(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* About how wide s is at size px in a sans-serif face: generous, so that nothing is clipped. */
static double text_width(const char *s, int size) {
    return 0.6 * size * text_chars(s);
}

static void trim(char *s) {
    char *start = s;
    while (*start == ' ')
        start++;
    size_t len = strlen(start);
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\r'))
        len--;
    memmove(s, start, len);
    s[len] = '\0';
}

/* A cell's value: its first number ("about 1200" is 1200, "14,534.9" is 14534.9, "1.5e3" is
 * 1500). false when it holds none, or holds only "-" or "—": no bar. A cell with letters and no
 * digit is an error, and so is a number past VALUE_MAX. */
static bool parse_value(struct cell *c, const char *name, int line) {
    const char *s = c->text;
    if (!*s || strcmp(s, "-") == 0 || strcmp(s, "\xe2\x80\x94") == 0)
        return false;
    const char *digit = strpbrk(s, "0123456789");
    if (!digit)
        fail("%s:%d: not a number: %s", name, line, s);
    char plain[CELL_MAX];
    size_t n = 0;
    const char *p = digit;
    for (; *p && n + 1 < sizeof plain; p++) {
        if (*p == ',' && p[1] >= '0' && p[1] <= '9')
            continue; /* a thousands separator */
        if (!strchr("0123456789.", *p))
            break;
        plain[n++] = *p;
    }
    /* Its exponent too: "1.7e308" must not be drawn as 1.7 under a label that says 1.7e308. */
    size_t sign = (*p == 'e' || *p == 'E') && (p[1] == '+' || p[1] == '-');
    if ((*p == 'e' || *p == 'E') && p[1 + sign] >= '0' && p[1 + sign] <= '9')
        for (size_t len = 1 + sign + strspn(p + 1 + sign, "0123456789");
             len-- && n + 1 < sizeof plain;)
            plain[n++] = *p++;
    plain[n] = '\0';
    char *end;
    errno = 0;
    c->value = strtod(plain, &end);
    if (end == plain || *end)
        fail("%s:%d: not a number: %s", name, line, s);
    if (digit > s && digit[-1] == '-')
        fail("%s:%d: a negative value: %s", name, line, s);
    if (c->value > VALUE_MAX) /* strtod's overflow, inf, is past it too */
        fail("%s:%d: too large to draw: %s (at most " VALUE_MAX_TEXT ")", name, line, s);
    if (errno)
        fail("%s:%d: too small to draw: %s", name, line, s); /* below DBL_MIN */
    return true;
}

/* Splits line at tabs into at most max trimmed fields; the count. */
static int split_tabs(char *line, char fields[][CELL_MAX], int max, const char *name, int lineno) {
    int n = 0;
    for (char *p = line;;) {
        char *tab = strchr(p, '\t');
        size_t len = tab ? (size_t)(tab - p) : strlen(p);
        if (n == max)
            fail("%s:%d: more than %d columns", name, lineno, max);
        if (len >= CELL_MAX)
            fail("%s:%d: a cell longer than %d bytes", name, lineno, CELL_MAX - 1);
        memcpy(fields[n], p, len);
        fields[n][len] = '\0';
        trim(fields[n++]);
        if (!tab)
            return n;
        p = tab + 1;
    }
}

static void load(FILE *in, const char *name, struct chart *ch) {
    char line[4096];
    int lineno = 0;
    bool header = false;
    memset(ch, 0, sizeof *ch);
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(in))
            fail("%s:%d: a line longer than %zu bytes", name, lineno, sizeof line - 2);
        if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
            continue;
        char fields[SERIES_MAX + 1][CELL_MAX];
        int n = split_tabs(line, fields, SERIES_MAX + 1, name, lineno);
        if (!header) {
            if (n < 2)
                fail("%s:%d: the header needs a label and at least one series, tab-separated", name,
                     lineno);
            for (int i = 1; i < n; i++) {
                if (!fields[i][0])
                    fail("%s:%d: series %d has no name", name, lineno, i);
                strcpy(ch->series[i - 1], fields[i]);
            }
            ch->n_series = n - 1;
            header = true;
            continue;
        }
        if (n != ch->n_series + 1)
            fail("%s:%d: %d cells, the header has %d", name, lineno, n, ch->n_series + 1);
        if (ch->n_rows == ROWS_MAX)
            fail("%s:%d: more than %d rows", name, lineno, ROWS_MAX);
        strcpy(ch->label[ch->n_rows], fields[0]);
        for (int i = 0; i < ch->n_series; i++) {
            struct cell *c = &ch->cell[ch->n_rows][i];
            strcpy(c->text, fields[i + 1]);
            c->has_value = parse_value(c, name, lineno);
        }
        ch->n_rows++;
    }
    if (ferror(in))
        fail("%s: %s", name, strerror(errno));
    if (!header)
        fail("%s: no header line", name);
    if (ch->n_rows == 0)
        fail("%s: no rows", name);
}

/* The axis: from 0 to a round maximum at or above max, in steps of 1, 2 or 5 times a power of
 * ten, at most ticks of them. */
static double nice_step(double max, int ticks) {
    double power = pow(10, floor(log10(max / ticks)));
    static const double MANTISSA[] = {1, 2, 5, 10, 20};
    for (int i = 0; i < 5; i++)
        if (max / (power * MANTISSA[i]) <= ticks)
            return power * MANTISSA[i];
    return power * 50;
}

static bool highlighted(const struct options *o, const char *label) {
    for (int i = 0; i < o->n_highlight; i++)
        if (strcmp(o->highlight[i], label) == 0)
            return true;
    return false;
}

static void put_number(FILE *out, double v) {
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(out, "%.0f", v);
    else
        fprintf(out, "%g", v);
}

struct panel {
    double x, width; /* the plot area: bars start at x */
    double max, step;
    int steps;     /* max / step: the ticks are 0, step, ... max */
    int low, high; /* -l: the axis runs from 10^low to 10^high = max, a tick every step decades */
    bool log_axis; /* -l */
};

/* How far along the axis v lies, from 0 (its start) to 1 (its maximum), or past 1 beyond it. */
static double axis_fraction(const struct panel *p, double v) {
    if (!p->log_axis)
        return v / p->max;
    /* In exponents, never 10^high / 10^low: 10^19 / 10^-301 is past a double. */
    return v <= 0 ? 0 : (log10(v) - p->low) / (p->high - p->low);
}

/* The value of tick i: i steps along a linear axis, i x step decades along a log one. */
static double tick_value(const struct panel *p, int i) {
    return p->log_axis ? pow(10, p->low + i * p->step) : i * p->step;
}

/* One panel's grid, its tick labels under it, and the reference line. */
static void draw_axis(FILE *out, const struct panel *p, double top, double bottom,
                      const struct options *o) {
    /* Counted, not summed up to max: a tick loop that adds step until it passes max never ends
     * when max is inf, or when step is too small to change the sum. */
    fprintf(out, "<g stroke=\"#ddd\">\n");
    for (int i = 0; i <= p->steps; i++) {
        double x = p->x + (double)i / p->steps * p->width;
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, top, x,
                bottom);
    }
    fprintf(out, "</g>\n<g font-size=\"%d\" fill=\"#555\" text-anchor=\"middle\">\n", FONT);
    for (int i = 0; i <= p->steps; i++) {
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", p->x + (double)i / p->steps * p->width,
                bottom + FONT + 4);
        put_number(out, tick_value(p, i));
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</g>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            p->x, top, p->x, bottom);
    if (o->has_reference && o->reference <= p->max) {
        double x = p->x + axis_fraction(p, o->reference) * p->width;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
                "stroke-dasharray=\"5 4\"/>\n",
                x, top - 4, x, bottom);
        if (o->reference_label) {
            fprintf(out,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" fill=\"#333\" "
                    "text-anchor=\"end\">",
                    x - 4, top - 6, FONT);
            put_xml(out, o->reference_label);
            fprintf(out, "</text>\n");
        }
    }
}

/* A bar from the axis to the cell's value, the cell's text beyond its end. */
static void draw_bar(FILE *out, const struct panel *p, double y, double height, const char *colour,
                     const char *label, const char *series, const struct cell *c) {
    if (!c->has_value || (p->log_axis && c->value <= 0)) { /* a log axis has no 0 to start at */
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" fill=\"#555\">", p->x + 4,
                y + height / 2 + FONT * 0.35, FONT);
        put_xml(out, c->text[0] ? c->text : "-");
        fprintf(out, "</text>\n");
        return;
    }
    bool cut = c->value > p->max * (1 + 1e-9); /* past a fixed axis (-m): drawn broken */
    double w = axis_fraction(p, cut ? p->max : c->value) * p->width;
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\">", p->x, y,
            w < 1 && c->value > 0 ? 1 : w, height, colour);
    fprintf(out, "<title>");
    put_xml(out, label);
    fprintf(out, ", ");
    put_xml(out, series);
    fprintf(out, ": ");
    put_xml(out, c->text);
    fprintf(out, "</title></rect>\n");
    if (cut) /* two white slants across the bar's end: it goes on past the axis */
        fprintf(out,
                "<path d=\"M%.1f %.1f l6 %.1f M%.1f %.1f l6 %.1f\" stroke=\"white\" "
                "stroke-width=\"2.5\"/>\n",
                p->x + w - 16, y + height, -height, p->x + w - 10, y + height, -height);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" fill=\"#222\">%s", p->x + w + 5,
            y + height / 2 + FONT * 0.35, FONT, cut ? "\xe2\x96\xb8 " : "");
    put_xml(out, c->text);
    fprintf(out, "</text>\n");
}

static double column_max(const struct chart *ch, int first, int count) {
    double max = 0;
    for (int r = 0; r < ch->n_rows; r++)
        for (int s = first; s < first + count; s++)
            if (ch->cell[r][s].has_value && ch->cell[r][s].value > max)
                max = ch->cell[r][s].value;
    return max;
}

/* The smallest value above 0 of series [first, first + count); 0 when there is none. */
static double column_min(const struct chart *ch, int first, int count) {
    double min = 0;
    for (int r = 0; r < ch->n_rows; r++)
        for (int s = first; s < first + count; s++)
            if (ch->cell[r][s].has_value && ch->cell[r][s].value > 0 &&
                (min == 0 || ch->cell[r][s].value < min))
                min = ch->cell[r][s].value;
    return min;
}

static double widest_value(const struct chart *ch, int first, int count) {
    double w = 0;
    for (int r = 0; r < ch->n_rows; r++)
        for (int s = first; s < first + count; s++) {
            double t = text_width(ch->cell[r][s].text, FONT) + 2 * FONT; /* room for a cut's mark */
            if (t > w)
                w = t;
        }
    return w;
}

/* -l: p's axis over whole decades, from the one below the smallest value above 0 (or the
 * reference, if lower) to the one at or above max, a tick every step decades, ticks + 1 ticks
 * at most. Strictly below the smallest value, so that its bar is seen. */
static void scale_log(struct panel *p, const struct chart *ch, int first, int count, double max,
                      int ticks, const struct options *o) {
    double min = column_min(ch, first, count);
    if (o->has_reference && (min == 0 || o->reference < min))
        min = o->reference;
    if (min == 0 || min > max)
        min = max;
    /* Decades as whole numbers, so that 1000 is 10^3 exactly and not 10^2.9999. */
    int low = (int)floor(log10(min) + 1e-9), high = (int)ceil(log10(max) - 1e-9);
    if (pow(10, low) >= min * (1 - 1e-9))
        low--;
    if (high <= low)
        high = low + 1;
    int step = (high - low + ticks - 1) / ticks;
    p->log_axis = true;
    p->step = step;
    p->steps = (high - low + step - 1) / step;
    p->low = low;
    p->high = low + p->steps * step;
    p->max = pow(10, p->high);
}

/* Sets p's scale for the values of series [first, first + count). */
static void scale_panel(struct panel *p, const struct chart *ch, int panel, int first, int count,
                        const struct options *o) {
    double fixed = panel < o->n_axis_max ? o->axis_max[panel] : 0;
    double max = fixed > 0 ? fixed : column_max(ch, first, count);
    if (o->has_reference && o->reference > max && fixed <= 0)
        max = o->reference;
    if (max <= 0)
        max = 1;
    /* Room for the widest value's text past the longest bar. */
    p->width -= widest_value(ch, first, count) + 8;
    if (p->width < 40)
        fail("the chart is too narrow for its values: give it more width (-w)");
    /* As many ticks as their labels leave room for, 5 at most. */
    char widest[32];
    snprintf(widest, sizeof widest, "%.0f", max * 2);
    int ticks = (int)(p->width / (text_width(widest, FONT) + 14));
    ticks = ticks < 1 ? 1 : ticks > 5 ? 5 : ticks;
    if (o->log_scale) {
        scale_log(p, ch, first, count, max, ticks, o);
        return;
    }
    p->step = nice_step(max, ticks);
    p->steps = (int)ceil(max / p->step - 1e-9);
    p->max = p->steps * p->step;
}

/* Where everything goes: the column of row labels, the rows, the panels. */
struct layout {
    double label_w;   /* the row labels' column */
    int groups;       /* panels: one a series, or one for them all (-g) */
    int bars_per_row; /* in each panel */
    double row_pitch, bar_h;
    double legend_top, top, bottom, height; /* the rows run from top to bottom */
    double panel_w;
};

static struct layout lay_out(const struct chart *ch, const struct options *o) {
    struct layout l = {.groups = o->grouped ? 1 : ch->n_series,
                       .bars_per_row = o->grouped ? ch->n_series : 1};
    for (int r = 0; r < ch->n_rows; r++) {
        double t = text_width(ch->label[r], LABEL_FONT);
        if (t > l.label_w)
            l.label_w = t;
    }
    l.label_w += 10;
    /* Many rows pack a little closer, so that a chart of every chapter still fits a slide. */
    double pitch = ch->n_rows > 12 ? ROW_PITCH - 3 : ROW_PITCH;
    l.row_pitch = o->grouped ? ch->n_series * GROUP_BAR + 10 : pitch;
    l.bar_h = o->grouped ? GROUP_BAR - 2 : pitch - 7;
    double header = TOP_TITLE + (o->subtitle ? 22 : 0) + 8;
    l.legend_top = header;
    if (o->grouped)
        header += 24; /* the legend */
    else
        header += LABEL_FONT + 8; /* each panel's name */
    if (o->has_reference && o->reference_label)
        header += FONT + 4;
    l.top = header;
    l.bottom = l.top + l.row_pitch * ch->n_rows;
    l.height = l.bottom + AXIS_HEIGHT + (o->footnote ? 22 : 0) + 6;
    double panels_w = o->width - MARGIN * 2 - l.label_w - PANEL_GAP * (l.groups - 1);
    if (panels_w / l.groups < 120)
        fail("%d panels do not fit in %d px: give it more width (-w)", l.groups, o->width);
    l.panel_w = panels_w / l.groups;
    return l;
}

/* The SVG's start: its size, the title and subtitle, and with -g the legend of the series. */
static void draw_heading(FILE *out, const struct chart *ch, const struct options *o,
                         const struct layout *l) {
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
            "viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            o->width, l->height, o->width, l->height);
    if (o->title) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"%d\" font-weight=\"bold\" fill=\"#111\">",
                MARGIN, TOP_TITLE - 8, TITLE_FONT);
        put_xml(out, o->title);
        fprintf(out, "</text>\n");
    }
    if (o->subtitle) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"%d\" fill=\"#333\">", MARGIN,
                TOP_TITLE + 14, FONT);
        put_xml(out, o->subtitle);
        fprintf(out, "</text>\n");
    }
    if (!o->grouped)
        return;
    double x = MARGIN + l->label_w;
    for (int s = 0; s < ch->n_series; s++) {
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" fill=\"#333\">",
                x, l->legend_top, SERIES_COLOUR[s], x + 19, l->legend_top + 12, FONT);
        put_xml(out, ch->series[s]);
        fprintf(out, "</text>\n");
        x += 19 + text_width(ch->series[s], FONT) + 18;
    }
}

/* The row labels, once, on the left. */
static void draw_row_labels(FILE *out, const struct chart *ch, const struct options *o,
                            const struct layout *l) {
    fprintf(out, "<g font-size=\"%d\" fill=\"#222\" text-anchor=\"end\">\n", LABEL_FONT);
    for (int r = 0; r < ch->n_rows; r++) {
        bool hl = highlighted(o, ch->label[r]);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\"%s>", MARGIN + l->label_w - 8,
                l->top + r * l->row_pitch + l->row_pitch / 2 + LABEL_FONT * 0.35,
                hl ? " font-weight=\"bold\"" : "");
        put_xml(out, ch->label[r]);
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</g>\n");
}

/* Panel g: its name (one series a panel), its axis, and its bars. */
static void draw_panel(FILE *out, const struct chart *ch, const struct options *o,
                       const struct layout *l, int g) {
    struct panel p = {.x = MARGIN + l->label_w + g * (l->panel_w + PANEL_GAP), .width = l->panel_w};
    scale_panel(&p, ch, g, o->grouped ? 0 : g, l->bars_per_row, o);
    if (!o->grouped) {
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" font-weight=\"bold\" "
                "fill=\"#333\">",
                p.x, l->top - 8 - (o->has_reference && o->reference_label ? FONT + 4 : 0),
                LABEL_FONT);
        put_xml(out, ch->series[g]);
        fprintf(out, "</text>\n");
    }
    draw_axis(out, &p, l->top, l->bottom, o);
    int n = l->bars_per_row;
    for (int r = 0; r < ch->n_rows; r++) {
        bool hl = highlighted(o, ch->label[r]);
        for (int b = 0; b < n; b++) {
            int s = o->grouped ? b : g;
            double y = l->top + r * l->row_pitch + (l->row_pitch - n * l->bar_h - (n - 1) * 2) / 2 +
                       b * (l->bar_h + 2);
            const char *colour = o->grouped ? SERIES_COLOUR[s]
                                 : hl       ? HIGHLIGHT_COLOUR
                                            : SERIES_COLOUR[0];
            draw_bar(out, &p, y, l->bar_h, colour, ch->label[r], ch->series[s], &ch->cell[r][s]);
        }
    }
}

static void draw(FILE *out, const struct chart *ch, const struct options *o) {
    struct layout l = lay_out(ch, o);
    draw_heading(out, ch, o, &l);
    draw_row_labels(out, ch, o, &l);
    for (int g = 0; g < l.groups; g++)
        draw_panel(out, ch, o, &l, g);
    if (o->footnote) {
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"%d\" fill=\"#555\">", MARGIN,
                l.height - 8, FONT);
        put_xml(out, o->footnote);
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</svg>\n");
}

static double parse_number(const char *s, int opt) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || (*end && *end != ':') || !isfinite(v) || v <= 0)
        fail("bad value for -%c: %s", opt, s);
    if (v > VALUE_MAX)
        fail("bad value for -%c: %s (at most " VALUE_MAX_TEXT ")", opt, s);
    return v;
}

/* -w WIDTH: px, 300 to 4000. */
static int parse_width(const char *s) {
    char *end;
    long w = strtol(s, &end, 10);
    if (*end || end == s || w < 300 || w > 4000)
        fail("bad value for -w: %s (300 to 4000 px)", s);
    return (int)w;
}

/* -m MAX,MAX...: each panel's axis maximum, 0 for the data's own. */
static void parse_axis_max(const char *arg, struct options *o) {
    o->n_axis_max = 0;
    for (const char *p = arg;; p++) {
        if (o->n_axis_max == SERIES_MAX)
            fail("bad value for -m: more than %d panels", SERIES_MAX);
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || (*end && *end != ',') || !isfinite(v) || v < 0)
            fail("bad value for -m: %s", arg);
        if (v > VALUE_MAX)
            fail("bad value for -m: %s (at most " VALUE_MAX_TEXT ")", arg);
        o->axis_max[o->n_axis_max++] = v;
        if (!*end)
            break;
        p = end;
    }
}

int main(int argc, char **argv) {
    struct options o = {.width = 1100};
    enum { HELP = 256 };
    static const struct option LONG[] = {{"help", no_argument, NULL, HELP}, {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "t:s:f:w:gH:m:r:l", LONG, NULL)) != -1) {
        switch (opt) {
        case 't': o.title = optarg; break;
        case 's': o.subtitle = optarg; break;
        case 'f': o.footnote = optarg; break;
        case 'g': o.grouped = true; break;
        case 'l': o.log_scale = true; break;
        case 'w': o.width = parse_width(optarg); break;
        case 'H':
            if (o.n_highlight == HIGHLIGHT_MAX)
                fail("-H at most %d times", HIGHLIGHT_MAX);
            o.highlight[o.n_highlight++] = optarg;
            break;
        case 'm': parse_axis_max(optarg, &o); break;
        case 'r': {
            o.reference = parse_number(optarg, 'r');
            o.has_reference = true;
            const char *colon = strchr(optarg, ':');
            o.reference_label = colon && colon[1] ? colon + 1 : NULL;
            break;
        }
        case HELP: usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 64;
    }
    const char *name = optind < argc ? argv[optind] : "stdin";
    FILE *in = optind < argc ? fopen(name, "r") : stdin;
    if (!in)
        fail("%s: %s", name, strerror(errno));
    static struct chart ch;
    load(in, name, &ch);
    if (in != stdin)
        fclose(in);
    draw(stdout, &ch, &o);
    if (fflush(stdout) != 0 || ferror(stdout))
        fail("writing the SVG: %s", strerror(errno));
    return 0;
}
