/* timeline-draw: the pictures of a timeline model (timeline.h). Without a trace, the client's
 * view as it always was: a bar a request, coloured by outcome. With one, each bar in segments by
 * phase, a lane a server thread, a legend; every text at least 12 px when the figure is drawn
 * half a slide wide. And the same for a terminal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

/* ---- Shared by both SVG pictures ---- */

/* The tick step: 1, 2 or 5 times a power of ten, so that [0, span] gets at most 10 ticks. */
static long long tick_step(long long span) {
    static const int MANTISSA[] = {1, 2, 5};
    for (long long power = 1;; power *= 10)
        for (int i = 0; i < 3; i++)
            if (span / (power * MANTISSA[i]) <= 10)
                return power * MANTISSA[i];
}

/* Writes s with the five XML special characters escaped. */
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

/* Every request started at the same moment: then one timeout line means one deadline. */
static bool one_start(const struct timeline *tl) {
    for (size_t i = 1; i < tl->n; i++)
        if (tl->rows[i].start_ms != tl->rows[0].start_ms)
            return false;
    return tl->n > 0;
}

/* ---- The client's view: one bar a request, coloured by its outcome ---- */

static const char *const OUTCOME_LABEL[OUTCOMES] = {"ok", "late (server said RC 1)",
                                                    "timeout (client gave up)", "error"};
/* Colour-blind safe (Okabe-Ito): green, orange, vermilion, purple. */
static const char *const OUTCOME_COLOUR[OUTCOMES] = {"#009e73", "#e69f00", "#d55e00", "#6a3d9a"};

enum { MARGIN_LEFT = 56, MARGIN_RIGHT = 64, MARGIN_TOP = 80, MARGIN_BOTTOM = 44 };
/* Rows share PLOT_HEIGHT_MAX pixels, at most ROW_MAX each: a run of thousands of requests still
 * makes a picture of the same size, its bars thinner than a pixel but its shape intact. */
enum { PLOT_HEIGHT_MAX = 320, ROW_MAX = 22 };

struct frame {
    int width, height, plot_width, left;
    double row_pitch;
    long long axis_ms; /* the right edge of the axis */
    long long step_ms; /* between ticks */
};

static double x_of(const struct frame *f, double ms) {
    return f->left + ms * f->plot_width / (double)f->axis_ms;
}

static void client_axis(FILE *out, const struct frame *f, double plot_height) {
    int bottom = MARGIN_TOP + (int)plot_height;
    fprintf(out, "<g stroke=\"#ddd\">\n");
    for (long long t = 0; t <= f->axis_ms; t += f->step_ms)
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x_of(f, (double)t),
                MARGIN_TOP, x_of(f, (double)t), bottom);
    fprintf(out, "</g>\n<g font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">\n");
    for (long long t = 0; t <= f->axis_ms; t += f->step_ms)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\">%lld</text>\n", x_of(f, (double)t), bottom + 15, t);
    fprintf(out, "<text x=\"%.1f\" y=\"%d\">time since the client started (ms)</text>\n</g>\n",
            x_of(f, (double)(f->axis_ms / 2)), bottom + 32);
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", MARGIN_LEFT,
            bottom, x_of(f, (double)f->axis_ms), bottom);
}

/* The client's timeout as a dashed line, on top of the bars. Only when every request started at
 * the same moment: otherwise each has its own deadline and one line would mislead. */
static void client_timeout(FILE *out, const struct frame *f, double plot_height,
                           long long timeout_ms, const struct timeline *tl) {
    if (!one_start(tl))
        return;
    double at = (double)(tl->rows[0].start_ms + timeout_ms);
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" "
            "stroke-dasharray=\"4 3\"/>\n<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
            "fill=\"#333\" text-anchor=\"middle\">client timeout %lld ms</text>\n",
            x_of(f, at), MARGIN_TOP - 4, x_of(f, at), MARGIN_TOP + (int)plot_height, x_of(f, at),
            MARGIN_TOP - 7, timeout_ms);
}

static void client_legend(FILE *out, const struct timeline *tl) {
    int count[OUTCOMES] = {0};
    for (size_t i = 0; i < tl->n; i++)
        count[tl->rows[i].outcome]++;
    fprintf(out, "<g font-size=\"12\" fill=\"#333\">\n");
    int x = MARGIN_LEFT;
    for (int o = 0; o < OUTCOMES; o++) {
        char text[64];
        int len = snprintf(text, sizeof text, "%s: %d", OUTCOME_LABEL[o], count[o]);
        fprintf(out,
                "<rect x=\"%d\" y=\"46\" width=\"11\" height=\"11\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"56\">%s</text>\n",
                x, OUTCOME_COLOUR[o], x + 15, text);
        x += 15 + 13 * len / 2 + 16; /* about 6.5 px a character at 12 px */
    }
    fprintf(out, "</g>\n");
}

/* One bar a request; its id on the left and its latency on the right when the rows are tall
 * enough to read. */
static void client_bars(FILE *out, const struct frame *f, const struct timeline *tl) {
    double bar = f->row_pitch > 4 ? f->row_pitch * 0.75 : f->row_pitch;
    int labelled = f->row_pitch >= 10;
    fprintf(out, "<g font-size=\"%d\" fill=\"#333\">\n", f->row_pitch >= 14 ? 11 : 9);
    for (size_t i = 0; i < tl->n; i++) {
        const struct row *r = &tl->rows[i];
        double y = MARGIN_TOP + (double)i * f->row_pitch + (f->row_pitch - bar) / 2;
        double x0 = x_of(f, (double)r->start_ms), x1 = x_of(f, (double)r->end_ms);
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\">"
                "<title>request %d: %lld to %lld ms, %s</title></rect>\n",
                x0, y, x1 - x0 < 1 ? 1 : x1 - x0, bar, OUTCOME_COLOUR[r->outcome], r->id,
                r->start_ms, r->end_ms, OUTCOME_NAME[r->outcome]);
        if (labelled)
            fprintf(out,
                    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>"
                    "<text x=\"%.1f\" y=\"%.1f\">%lld ms</text>\n",
                    MARGIN_LEFT - 6, y + bar - 2, r->id, x1 + 4, y + bar - 2,
                    r->end_ms - r->start_ms);
    }
    fprintf(out, "</g>\n");
}

static void svg_header(FILE *out, int width, int height, int font_size) {
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\"",
            width, height, width, height);
    if (font_size)
        fprintf(out, " font-size=\"%d\"", font_size);
    fprintf(out, ">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
}

static void draw_client_view(FILE *out, const struct model *m, const struct figure *fig) {
    const struct timeline *tl = m->tl;
    struct frame f = {.width = fig->width ? fig->width : 760, .left = MARGIN_LEFT};
    f.plot_width = f.width - MARGIN_LEFT - MARGIN_RIGHT;
    long long end = fig->timeout_ms;
    for (size_t i = 0; i < tl->n; i++)
        if (tl->rows[i].end_ms > end)
            end = tl->rows[i].end_ms;
    f.step_ms = tick_step(end > 0 ? end : 1);
    f.axis_ms = (end / f.step_ms + 1) * f.step_ms;
    f.row_pitch = (double)PLOT_HEIGHT_MAX / (double)(tl->n ? tl->n : 1);
    if (f.row_pitch > ROW_MAX)
        f.row_pitch = ROW_MAX;
    double plot_height = f.row_pitch * (double)tl->n;
    f.height = MARGIN_TOP + (int)plot_height + MARGIN_BOTTOM;

    svg_header(out, f.width, f.height, 0);
    fprintf(out, "<text x=\"%d\" y=\"18\" font-size=\"15\" font-weight=\"bold\" fill=\"#111\">",
            MARGIN_LEFT);
    put_xml(out, fig->title);
    fprintf(out, "</text>\n<text x=\"%d\" y=\"36\" font-size=\"12\" fill=\"#333\">", MARGIN_LEFT);
    put_xml(out, fig->subtitle);
    fprintf(out, "</text>\n");
    client_legend(out, tl);
    client_axis(out, &f, plot_height);
    client_bars(out, &f, tl);
    if (fig->timeout_ms > 0)
        client_timeout(out, &f, plot_height, fig->timeout_ms, tl);
    fprintf(out, "</svg>\n");
}

/* ---- The traced view: each bar cut by the server's events, a lane a server thread ---- */

static const char *const PHASE_CLASS[PHASES] = {"ph-accept", "ph-wait-loop", "ph-wait-worker",
                                                "ph-read",   "ph-ready",     "ph-sent"};
static const char *const PHASE_LABEL[PHASES] = {"not yet accepted",     "waiting for the loop",
                                                "waiting for a worker", "being read",
                                                "ready, not sent",      "sent"};
/* Okabe-Ito, and a grey for the time before the server saw the request at all. */
static const char *const PHASE_COLOUR[PHASES] = {"#bbbbbb", "#e69f00", "#cc79a7",
                                                 "#0072b2", "#d55e00", "#009e73"};
static const char *const LANE_CLASS[] = {"ln-asleep", "ln-handler", "ln-read"};
/* A read on a lane is drawn as the request's "being read", so the legend needs no third entry. */
static const char *const LANE_LABEL[] = {"loop asleep", "loop running a handler"};
static const char *const LANE_COLOUR[] = {"#e4e4e4", "#56b4e9", "#0072b2"};
static const char *const OUTCOME_SHORT[OUTCOMES] = {"ok", "RC 1", "timeout", "error"};

/* Every text is FONT px (the title a little more): at least 12 px on a slide when the figure is
 * drawn DEFAULT_WIDTH px wide or more (half of a 1280 px slide is 586 to 640 px). */
enum { FONT = 12, TITLE_FONT = 15, DEFAULT_WIDTH = 580 };
enum { ROW_PITCH_MAX = 13, LANE_PITCH_MAX = 14, LABEL_PITCH_MIN = 13, LEGEND_PITCH = 17 };
/* Requests share ROWS_HEIGHT px and lanes LANES_HEIGHT px at most, as in the client's view;
 * but up to ROWS_LABELLED_MAX rows each get LABEL_PITCH_MIN, so each carries its id and outcome. */
enum { ROWS_HEIGHT = 168, LANES_HEIGHT = 208, ROWS_LABELLED_MAX = 20 };
/* A character's width in ems, DejaVu Sans's digits (the widest characters we draw): generous. */
#define CHAR_EM 0.62
/* A phase gets a legend key when some bar shows it at least this wide (px); thinner segments
 * are still drawn (their tooltips, a zoom), but a key for a colour no one can see misleads. A
 * lane's spans are drawn 1 px wide at least, so each of their states is keyed. */
#define KEY_MIN_PX 1.0
/* Spans closer than this (px) merge, so that a trace of a long run still makes a small file. */
#define MERGE_PX 0.5

static double text_width(const char *s) {
    return (double)strlen(s) * CHAR_EM * FONT;
}

/* Words are narrower than digits: DejaVu Sans's lowercase averages 0.5 em, Arial's less. */
static double words_width(const char *s) {
    return (double)strlen(s) * 0.55 * FONT;
}

struct layout {
    double width, height, left, plot_width;
    double legend_y, plot_top, row_pitch, lanes_top, lane_pitch, bottom;
    long long axis_ms, step_ms;
    bool has_untraced, has_mark;
    bool has_phase[PHASES];      /* some bar has a segment of it KEY_MIN_PX wide or more */
    bool has_state[LS_READ + 1]; /* some lane has a span of it */
    bool span_titles;            /* few enough spans that each read gets a tooltip */
    const struct figure *fig;
};

/* A width as the SVG gives it, to 0.01 px: what a reader, and figures.sh --check, measure. A key
 * decided on the width before rounding left a segment of 0.996 px, drawn "1.00", unkeyed. */
static double px_as_drawn(double px) {
    char s[32];
    snprintf(s, sizeof s, "%.2f", px);
    return strtod(s, NULL);
}

static double lx(const struct layout *g, double ms) {
    if (ms < 0)
        ms = 0;
    if (ms > (double)g->axis_ms)
        ms = (double)g->axis_ms;
    return g->left + ms * g->plot_width / (double)g->axis_ms;
}

/* The mark beside a row whose path had the figure's mark prefix (the dying disk's, say). */
#define MARK_COLOUR "#111111"

/* The legend in a grid of as many columns as fit, an entry for each colour the figure uses and
 * no other; draws it when out is not NULL. Returns its last baseline. Each key's class is the
 * class of what it explains, so a test can tell that the figure uses it. */
static double legend(FILE *out, const struct layout *g) {
    struct entry {
        const char *label, *colour, *class;
    } e[PHASES + 4];
    int n = 0;
    for (int p = 0; p < PHASES; p++) /* a read on a lane is drawn as the request's "being read" */
        if (g->has_phase[p] || (p == PH_READ && g->has_state[LS_READ]))
            e[n++] = (struct entry){PHASE_LABEL[p], PHASE_COLOUR[p], PHASE_CLASS[p]};
    for (int state = LS_ASLEEP; state <= LS_HANDLER; state++)
        if (g->has_state[state])
            e[n++] = (struct entry){LANE_LABEL[state], LANE_COLOUR[state], LANE_CLASS[state]};
    if (g->has_untraced)
        e[n++] = (struct entry){"no server events", "white", "ph-none"};
    if (g->has_mark)
        e[n++] = (struct entry){g->fig->mark_label, MARK_COLOUR, "mark"};
    double column = 0;
    for (int i = 0; i < n; i++)
        if (16 + words_width(e[i].label) + 12 > column)
            column = 16 + words_width(e[i].label) + 12;
    int columns = column > 0 ? (int)((g->width - 16 + 12) / column) : 1;
    if (columns < 1)
        columns = 1;
    if (out)
        fprintf(out, "<g class=\"legend\" fill=\"#333\">\n");
    for (int i = 0; out && i < n; i++) {
        double x = 8 + (i % columns) * column, y = g->legend_y + (i / columns) * LEGEND_PITCH;
        fprintf(out,
                "<rect class=\"key %s\" x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" "
                "fill=\"%s\" stroke=\"#888\" stroke-width=\"0.5\"/><text x=\"%.1f\" "
                "y=\"%.1f\">",
                e[i].class, x, y - 10, e[i].colour, x + 16, y);
        put_xml(out, e[i].label);
        fprintf(out, "</text>\n");
    }
    if (out)
        fprintf(out, "</g>\n");
    return g->legend_y + (n > 0 ? (n - 1) / columns : 0) * LEGEND_PITCH;
}

static bool marked(const struct figure *fig, const struct request_view *v) {
    return fig->mark_label && fig->mark_prefix >= 0 && v->prefix == fig->mark_prefix;
}

static void layout_of(struct layout *g, const struct model *m, const struct figure *fig) {
    const struct timeline *tl = m->tl;
    memset(g, 0, sizeof *g);
    g->width = fig->width ? fig->width : DEFAULT_WIDTH;
    double longest = 0, end = m->end_ms;
    char id[16];
    g->fig = fig;
    for (size_t i = 0; i < tl->n; i++) {
        const struct request_view *v = &m->req[i];
        snprintf(id, sizeof id, "%d", tl->rows[i].id);
        if (text_width(id) > longest)
            longest = text_width(id);
        g->has_untraced |= !v->traced && !v->n_seg;
        g->has_mark |= marked(fig, v);
    }
    size_t spans = 0;
    for (size_t i = 0; i < m->n_lanes; i++) {
        spans += m->lanes[i].n_spans;
        if (text_width(m->lanes[i].name) > longest)
            longest = text_width(m->lanes[i].name);
        for (size_t k = 0; k < m->lanes[i].n_spans; k++)
            g->has_state[m->lanes[i].spans[k].state] = true;
    }
    g->span_titles = spans <= 300;
    g->left = 10 + (longest < 18 ? 18 : longest > 140 ? 140 : longest);
    g->plot_width = g->width - g->left - (8 + text_width("timeout"));
    if (fig->timeout_ms > 0 && one_start(tl) &&
        (double)(tl->rows[0].start_ms + fig->timeout_ms) > end)
        end = (double)(tl->rows[0].start_ms + fig->timeout_ms);
    long long end_ms = (long long)ceil(end);
    g->step_ms = tick_step(end_ms > 0 ? end_ms : 1);
    g->axis_ms = (end_ms / g->step_ms + 1) * g->step_ms;
    for (size_t i = 0; i < tl->n; i++) /* a sliver no one can see needs no key */
        for (int k = 0; k < m->req[i].n_seg; k++) {
            const struct segment *s = &m->req[i].seg[k];
            if (px_as_drawn(lx(g, s->to_ms) - lx(g, s->from_ms)) >= KEY_MIN_PX)
                g->has_phase[s->phase] = true;
        }
    g->legend_y = 53;
    g->plot_top = legend(NULL, g) + 25; /* room for the timeout's label */
    g->row_pitch = (double)ROWS_HEIGHT / (double)(tl->n ? tl->n : 1);
    if (g->row_pitch > ROW_PITCH_MAX)
        g->row_pitch = ROW_PITCH_MAX;
    if (tl->n <= ROWS_LABELLED_MAX && g->row_pitch < LABEL_PITCH_MIN)
        g->row_pitch = LABEL_PITCH_MIN; /* every row's id and outcome can be read and counted */
    g->lanes_top = g->plot_top + g->row_pitch * (double)tl->n + (m->n_lanes ? 8 : 0);
    g->lane_pitch = m->n_lanes ? (double)LANES_HEIGHT / (double)m->n_lanes : 0;
    if (g->lane_pitch > LANE_PITCH_MAX)
        g->lane_pitch = LANE_PITCH_MAX;
    g->bottom = g->lanes_top + g->lane_pitch * (double)m->n_lanes + 2;
    g->height = ceil(g->bottom + 36);
}

/* Every how many rows of this pitch a label fits: 1, 2 or 5 times a power of ten, so that the
 * labels of a thousand rows read 0, 100, 200. */
static size_t label_every(double pitch) {
    if (!(pitch > 0.001)) /* no rows at all */
        return 1;
    size_t need = pitch >= LABEL_PITCH_MIN ? 1 : (size_t)ceil(LABEL_PITCH_MIN / pitch);
    for (size_t power = 1;; power *= 10)
        for (size_t m = 1; m <= 5; m += m == 1 ? 1 : 3)
            if (power * m >= need)
                return power * m;
}

static const char *lane_name(const struct model *m, int lane) {
    return lane >= 0 && (size_t)lane < m->tr->n_lanes ? m->tr->lanes[lane] : "?";
}

/* The request's story in words, for the bar's tooltip. */
static void request_title(FILE *out, const struct model *m, size_t i) {
    const struct row *r = &m->tl->rows[i];
    const struct request_view *v = &m->req[i];
    fprintf(out, "<title>request %d, %s: ", r->id, OUTCOME_NAME[r->outcome]);
    for (int k = 0; k < v->n_seg; k++) {
        const struct segment *s = &v->seg[k];
        fprintf(out, "%s%s", k ? "; " : "", PHASE_LABEL[s->phase]);
        if (s->lane >= 0 && s->phase != PH_ACCEPT) {
            fprintf(out, s->phase == PH_READ ? " by " : " (");
            put_xml(out, lane_name(m, s->lane));
            fprintf(out, s->phase == PH_READ ? "" : ")");
        }
        fprintf(out, " %.1f-%.1f ms", s->from_ms, s->to_ms);
    }
    if (v->has[EV_REPLY_SENT] && v->t_ms[EV_REPLY_SENT] > v->end_ms)
        fprintf(out, "; reply sent at %.1f ms, after the client's end", v->t_ms[EV_REPLY_SENT]);
    if (!v->traced && !v->n_seg)
        fprintf(out, "%lld-%lld ms, no server events", r->start_ms, r->end_ms);
    fprintf(out, "</title>");
}

static void traced_rows(FILE *out, const struct model *m, const struct layout *g) {
    const struct timeline *tl = m->tl;
    double bar = g->row_pitch > 4 ? g->row_pitch * 0.72 : g->row_pitch;
    size_t every = label_every(g->row_pitch);
    bool titles = tl->n <= 500; /* beyond, tooltips would make the file large */
    for (size_t i = 0; i < tl->n; i++) {
        const struct row *r = &tl->rows[i];
        const struct request_view *v = &m->req[i];
        double y = g->plot_top + (double)i * g->row_pitch + (g->row_pitch - bar) / 2;
        fprintf(out, "<g class=\"req\" data-id=\"%d\" data-outcome=\"%s\"", r->id,
                OUTCOME_NAME[r->outcome]);
        if (marked(g->fig, v)) {
            fprintf(out, " data-mark=\"");
            put_xml(out, g->fig->mark_label);
            fprintf(out, "\"");
        }
        fputc('>', out);
        if (titles)
            request_title(out, m, i);
        fputc('\n', out);
        if (!v->traced && !v->n_seg) {
            double x0 = lx(g, (double)r->start_ms), x1 = lx(g, (double)r->end_ms);
            fprintf(out,
                    "<rect class=\"ph-none\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"white\" stroke=\"#555\"/>\n",
                    x0, y, x1 - x0 < 1 ? 1 : x1 - x0, bar);
        }
        for (int k = 0; k < v->n_seg; k++) {
            const struct segment *s = &v->seg[k];
            double x0 = lx(g, s->from_ms), x1 = lx(g, s->to_ms);
            fprintf(out,
                    "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"%s\"/>\n",
                    PHASE_CLASS[s->phase], x0, y, x1 - x0, bar, PHASE_COLOUR[s->phase]);
        }
        if (marked(g->fig, v))
            fprintf(out,
                    "<rect class=\"mark\" x=\"%.1f\" y=\"%.2f\" width=\"3\" height=\"%.2f\" "
                    "fill=\"" MARK_COLOUR "\"/>\n",
                    g->left - 4, y, bar);
        if (i % every == 0)
            fprintf(out,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>"
                    "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                    g->left - 7, y + bar / 2 + 4.2, r->id, g->left + g->plot_width + 6,
                    y + bar / 2 + 4.2, OUTCOME_SHORT[r->outcome]);
        fprintf(out, "</g>\n");
    }
}

/* One rect: a run of merged spans, or one span (a read: with its request's id when it fits). */
static void lane_rect(FILE *out, const struct model *m, const struct layout *g, double x0,
                      double x1, double y, double h, enum lane_state state,
                      const struct span *one) {
    fprintf(out,
            "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"",
            LANE_CLASS[state], x0, y, x1 - x0 < 1 ? 1 : x1 - x0, h, LANE_COLOUR[state]);
    if (one && state == LS_READ && !g->span_titles) {
        fprintf(out, " data-req=\"%ld\"/>\n", one->req);
    } else if (one && state == LS_READ) {
        fprintf(out, " data-req=\"%ld\"><title>", one->req);
        put_xml(out, lane_name(m, one->thread));
        if (one->to_ms >= SPAN_OPEN_MS)
            fprintf(out, " reads request %ld: from %.1f ms until the trace ends</title></rect>\n",
                    one->req, one->from_ms);
        else
            fprintf(out, " reads request %ld: %.1f-%.1f ms</title></rect>\n", one->req,
                    one->from_ms, one->to_ms);
    } else {
        fprintf(out, "/>\n");
    }
    if (one && state == LS_READ) {
        char id[24];
        snprintf(id, sizeof id, "%ld", one->req);
        if (one->req >= 0 && x1 - x0 >= text_width(id) + 4 && h >= 10)
            fprintf(out,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"white\">%s</text>\n",
                    (x0 + x1) / 2, y + h / 2 + 4.2, id);
    }
}

/* A lane's spans of one state, neighbours closer than MERGE_PX merged. */
static void lane_state_spans(FILE *out, const struct model *m, const struct layout *g,
                             const struct lane_view *l, enum lane_state state, double y, double h) {
    double x0 = 0, x1 = -1;
    const struct span *one = NULL;
    for (size_t k = 0; k <= l->n_spans; k++) {
        const struct span *s = k < l->n_spans ? &l->spans[k] : NULL;
        if (s && (s->state != state || s->from_ms >= (double)g->axis_ms))
            continue;
        double a = s ? lx(g, s->from_ms) : 0, b = s ? lx(g, s->to_ms) : 0;
        if (s && x1 >= 0 && a - x1 < MERGE_PX && (b - a < 2 || x1 - x0 < 2)) {
            if (b > x1)
                x1 = b;
            one = NULL;
            continue;
        }
        if (x1 >= 0)
            lane_rect(out, m, g, x0, x1, y, h, state, one);
        if (s)
            x0 = a, x1 = b, one = s;
    }
}

static void traced_lanes(FILE *out, const struct model *m, const struct layout *g) {
    double h = g->lane_pitch > 4 ? g->lane_pitch * 0.8 : g->lane_pitch;
    size_t every = label_every(g->lane_pitch);
    for (size_t i = 0; i < m->n_lanes; i++) {
        const struct lane_view *l = &m->lanes[i];
        double y = g->lanes_top + (double)i * g->lane_pitch + (g->lane_pitch - h) / 2;
        fprintf(out, "<g class=\"lane\" data-name=\"");
        put_xml(out, l->name);
        fprintf(out, "\">");
        if (l->threads > 1)
            fprintf(out, "<title>%zu threads, one at a time</title>", l->threads);
        fprintf(out,
                "\n<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"0.6\" fill=\"#bbb\"/>\n",
                g->left, y + h / 2, g->plot_width);
        for (int state = LS_ASLEEP; state <= LS_READ; state++)
            lane_state_spans(out, m, g, l, (enum lane_state)state, y, h);
        if (i % every == 0) {
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", g->left - 6,
                    y + h / 2 + 4.2);
            char name[sizeof l->name];
            size_t fit = (size_t)((g->left - 10) / (CHAR_EM * FONT));
            snprintf(name, sizeof name, "%s", l->name);
            if (strlen(l->name) > fit && fit >= 2 && fit < sizeof name)
                name[fit - 1] = '\0', put_xml(out, name), fputs("\u2026", out);
            else
                put_xml(out, name);
            fprintf(out, "</text>\n");
        }
        fprintf(out, "</g>\n");
    }
}

static void traced_axis(FILE *out, const struct layout *g, const struct figure *fig,
                        const struct timeline *tl) {
    fprintf(out, "<g class=\"axis\" text-anchor=\"middle\" fill=\"#333\">\n");
    for (long long t = 0; t <= g->axis_ms; t += g->step_ms)
        fprintf(out, "<text class=\"tick\" x=\"%.2f\" y=\"%.1f\">%lld</text>\n", lx(g, (double)t),
                g->bottom + 15, t);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">time since the client started (ms)</text>\n</g>\n",
            g->left + g->plot_width / 2, g->bottom + 31);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            g->left, g->bottom, g->left + g->plot_width, g->bottom);
    if (fig->timeout_ms <= 0 || !one_start(tl))
        return;
    double x = lx(g, (double)(tl->rows[0].start_ms + fig->timeout_ms));
    char label[48];
    snprintf(label, sizeof label, "client timeout %lld ms", fig->timeout_ms);
    const char *anchor = x + text_width(label) / 2 > g->width - 2 ? "end"
                         : x - text_width(label) / 2 < 2          ? "start"
                                                                  : "middle";
    fprintf(
        out,
        "<line class=\"timeout\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#111\" "
        "stroke-dasharray=\"4 3\"/>\n<text x=\"%.2f\" y=\"%.1f\" fill=\"#111\" "
        "text-anchor=\"%s\">%s</text>\n",
        x, g->plot_top - 3, x, g->bottom, x, g->plot_top - 6, anchor, label);
}

static void draw_traced(FILE *out, const struct model *m, const struct figure *fig) {
    struct layout g;
    layout_of(&g, m, fig);
    svg_header(out, (int)g.width, (int)g.height, FONT);
    fprintf(out, "<text x=\"8\" y=\"18\" font-size=\"%d\" font-weight=\"bold\" fill=\"#111\">",
            TITLE_FONT);
    put_xml(out, fig->title);
    fprintf(out, "</text>\n<text x=\"8\" y=\"35\" fill=\"#333\">");
    put_xml(out, fig->subtitle);
    fprintf(out, "</text>\n");
    legend(out, &g);
    fprintf(out, "<g stroke=\"#e4e4e4\">\n");
    for (long long t = 0; t <= g.axis_ms; t += g.step_ms)
        fprintf(out, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>\n", lx(&g, (double)t),
                g.plot_top, lx(&g, (double)t), g.bottom);
    fprintf(out, "</g>\n<g fill=\"#333\">\n");
    traced_rows(out, m, &g);
    traced_lanes(out, m, &g);
    fprintf(out, "</g>\n");
    traced_axis(out, &g, fig, m->tl);
    fprintf(out, "</svg>\n");
}

void draw_svg(FILE *out, const struct model *m, const struct figure *f) {
    if (m->tr)
        draw_traced(out, m, f);
    else
        draw_client_view(out, m, f);
}

/* ---- The terminal's picture ---- */

static const char PHASE_CHAR[PHASES] = {'.', '-', '~', '=', '!', '>'};

/* The columns [a, b) a time span takes, at least one. */
static void columns_of(double from, double to, double tmax, int width, int *a, int *b) {
    double fa = from * width / tmax, fb = to * width / tmax;
    *a = fa < 0 ? 0 : fa > width ? width : (int)fa;
    *b = fb < 0 ? 0 : fb > width ? width : (int)fb;
    if (*b <= *a)
        *b = *a + 1;
}

/* Today's picture without a trace: a bar a request, one mark by outcome. */
static void text_client_view(FILE *out, const struct timeline *tl, int width) {
    static const char MARK[OUTCOMES] = {'=', 'L', 'x', '!'};
    double tmax = 0;
    for (size_t i = 0; i < tl->n; i++)
        if ((double)tl->rows[i].end_ms > tmax)
            tmax = (double)tl->rows[i].end_ms;
    if (tmax < 1)
        tmax = 1;
    char *bar = malloc((size_t)width + 2);
    if (!bar)
        return;
    for (size_t i = 0; i < tl->n; i++) {
        const struct row *r = &tl->rows[i];
        int a, b;
        columns_of((double)r->start_ms, (double)r->end_ms, tmax, width, &a, &b);
        for (int c = 0; c < b; c++)
            bar[c] = c < a ? ' ' : MARK[r->outcome];
        bar[b] = '\0';
        fprintf(out, "%4d |%-*s| %5lld ms %s\n", r->id, width, bar, r->end_ms - r->start_ms,
                OUTCOME_NAME[r->outcome]);
    }
    fprintf(out, "     0%*s%.0f ms\n", width - 1, "", tmax);
    free(bar);
}

/* The phase of request v at time t: the last segment begun by then. */
static int phase_at(const struct request_view *v, double t) {
    int k = 0;
    while (k + 1 < v->n_seg && v->seg[k + 1].from_ms <= t)
        k++;
    return v->n_seg ? (int)v->seg[k].phase : -1;
}

static void text_lane(FILE *out, const struct lane_view *l, int name_width, int width, double tmax,
                      char *bar) {
    static const char STATE_CHAR[] = {'_', 'h', '='};
    memset(bar, ' ', (size_t)width);
    bar[width] = '\0';
    for (int state = LS_ASLEEP; state <= LS_READ; state++)
        for (size_t k = 0; k < l->n_spans; k++) {
            const struct span *s = &l->spans[k];
            if ((int)s->state != state || s->from_ms >= tmax)
                continue;
            int a, b;
            columns_of(s->from_ms, s->to_ms, tmax, width, &a, &b);
            if (a >= width)
                continue;
            memset(bar + a, STATE_CHAR[state], (size_t)(b - a));
            char id[24];
            int n = snprintf(id, sizeof id, "%ld", s->req);
            if (state == LS_READ && s->req >= 0 && n <= b - a)
                memcpy(bar + a, id, (size_t)n);
        }
    fprintf(out, "%*.*s |%s|\n", name_width, name_width, l->name, bar);
}

static void text_traced(FILE *out, const struct model *m, int width) {
    const struct timeline *tl = m->tl;
    double tmax = m->end_ms < 1 ? 1 : m->end_ms;
    int name_width = 4;
    bool untraced = false;
    for (size_t i = 0; i < m->n_lanes; i++)
        if ((int)strlen(m->lanes[i].name) > name_width)
            name_width = (int)strlen(m->lanes[i].name);
    if (name_width > 16)
        name_width = 16;
    for (size_t i = 0; i < tl->n; i++)
        untraced |= !m->req[i].traced;
    char *bar = malloc((size_t)width + 1);
    if (!bar)
        return;
    fprintf(out,
            "%*s waiting: . accept  - loop  ~ worker   = read  ! ready, unsent  > sent  "
            "x gave up%s\n",
            name_width, "", untraced ? "  # no server events" : "");
    for (size_t i = 0; i < tl->n; i++) {
        const struct row *r = &tl->rows[i];
        const struct request_view *v = &m->req[i];
        int a, b;
        columns_of((double)r->start_ms, (double)r->end_ms, tmax, width, &a, &b);
        memset(bar, ' ', (size_t)width);
        for (int c = a; c < b && c < width; c++) {
            double t = (c + 0.5) * tmax / width;
            if (t >= (double)r->end_ms)
                t = (double)r->end_ms - 1e-9;
            int p = v->traced ? phase_at(v, t) : -1;
            bar[c] = p >= 0 ? PHASE_CHAR[p] : '#';
        }
        if (r->outcome == OUT_TIMEOUT && b <= width)
            bar[b - 1] = 'x';
        bar[width] = '\0';
        fprintf(out, "%*d |%s| %5lld ms %s\n", name_width, r->id, bar, r->end_ms - r->start_ms,
                OUTCOME_NAME[r->outcome]);
    }
    if (m->n_lanes)
        fprintf(out, "%*s threads: _ asleep  h running a handler  =N reading request N\n",
                name_width, "");
    for (size_t i = 0; i < m->n_lanes; i++)
        text_lane(out, &m->lanes[i], name_width, width, tmax, bar);
    fprintf(out, "%*s0%*s%.0f ms\n", name_width + 1, "", width - 1, "", tmax);
    free(bar);
}

void draw_text(FILE *out, const struct model *m, int columns) {
    if (m->tl->n == 0)
        return;
    if (m->tr)
        text_traced(out, m, columns);
    else
        text_client_view(out, m->tl, columns);
}
