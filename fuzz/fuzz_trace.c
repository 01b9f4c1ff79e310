/* libFuzzer target for the event-trace reader (tools/trace.c) and everything timeline-svg builds
 * on what it accepts (tools/timeline.c, tools/timeline-draw.c). Beyond "no crash, no sanitizer
 * report" it checks what timeline-svg promises:
 *   - trace_load and trace_parse_line never read past len: the input sits in a heap buffer of
 *     exactly len bytes, so ASan reports the first byte read beyond it;
 *   - a refused trace says where: "LINE: why", LINE one of the input's lines, why not empty;
 *   - an accepted trace's events are in time order and name lanes that exist;
 *   - the model, the SVG and the text picture of an accepted trace, against a chapter-05-like
 *     client timeline, never crash and never draw a segment outside its request's bar. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"
#include "trace.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char CLIENT_TIMELINE[] = "# mono_ms 1000.000\n"
                                      "0 0 1508 timeout 300 0\n1 0 1508 timeout 300 0\n"
                                      "2 0 300 ok 300 0\n3 100 700 late 300 1\n"
                                      "4 0 0 error 0 2\n5 0 1508 timeout 300 0\n";

static FILE *sink;
static struct timeline timeline;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[256];
    sink = fopen("/dev/null", "w");
    CHECK(sink != NULL);
    CHECK(timeline_load(CLIENT_TIMELINE, strlen(CLIENT_TIMELINE), &timeline, err, sizeof err) == 0);
    return 0;
}

static void check_model(const struct model *m) {
    for (size_t i = 0; i < timeline.n; i++) {
        const struct row *r = &timeline.rows[i];
        const struct request_view *v = &m->req[i];
        CHECK(v->n_seg >= 0 && v->n_seg <= SEGMENTS_MAX);
        for (int k = 0; k < v->n_seg; k++) {
            CHECK(v->seg[k].from_ms >= (double)r->start_ms);
            CHECK(v->seg[k].to_ms <= (double)r->end_ms);
            CHECK(v->seg[k].from_ms < v->seg[k].to_ms);
            CHECK(k == 0 || v->seg[k].from_ms >= v->seg[k - 1].to_ms);
        }
    }
    for (size_t i = 0; i < m->n_lanes; i++)
        for (size_t k = 0; k < m->lanes[i].n_spans; k++)
            CHECK(m->lanes[i].spans[k].from_ms >= 0 &&
                  m->lanes[i].spans[k].from_ms < m->lanes[i].spans[k].to_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1); /* exactly size bytes: one more read is an ASan report */
    if (!buf)
        return 0;
    memcpy(buf, data, size);

    /* The first line alone, through the line parser. */
    const char *nl = memchr(buf, '\n', size);
    struct trace_line *line = malloc(sizeof *line);
    CHECK(line != NULL);
    const char *why = trace_parse_line(buf, nl ? (size_t)(nl - buf) : size, line);
    CHECK(why == NULL || why[0] != '\0');
    free(line);

    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += buf[i] == '\n';
    struct trace tr;
    char err[256] = "";
    if (trace_load(buf, size, "/obj/", &tr, err, sizeof err) < 0) {
        char *rest;
        unsigned long at = strtoul(err, &rest, 10);
        CHECK(strcmp(err, "out of memory") == 0 ||
              (at >= 1 && at <= lines && rest[0] == ':' && rest[1] == ' ' && rest[2] != '\0'));
        CHECK(tr.events == NULL && tr.n_events == 0);
        free(buf);
        return 0;
    }
    for (size_t i = 0; i < tr.n_events; i++) {
        CHECK(tr.events[i].lane >= 0 && (size_t)tr.events[i].lane < tr.n_lanes);
        CHECK(i == 0 || tr.events[i - 1].t_ms <= tr.events[i].t_ms);
        CHECK(tr.events[i].seq >= 1 && tr.events[i].seq <= lines);
    }

    struct model m;
    char note[256];
    if (model_build(&timeline, &tr, &m, note, sizeof note) == 0) {
        check_model(&m);
        struct figure fig = {.title = "fuzz", .subtitle = "", .timeout_ms = 1500};
        draw_svg(sink, &m, &fig);
        draw_text(sink, &m, 60);
        model_free(&m);
    }
    trace_free(&tr);
    free(buf);
    return 0;
}
