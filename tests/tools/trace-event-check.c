/* trace-event-check FILE: is FILE a Chrome Trace Event file that Perfetto and chrome://tracing
 * can open? A strict JSON parser (RFC 8259: no trailing commas, no comments, strings of valid
 * escapes and no raw control bytes, numbers in JSON's grammar), then the format's rules: the
 * top level is an array of events or an object whose "traceEvents" is one; every event is an
 * object with "name" (a string), "ph" (a string), "ts" (a number, µs), "pid" and "tid"
 * (numbers); a "X" (complete) event has a "dur" number of 0 or more; an "i" (instant) event's
 * "s", when present, is "t", "p" or "g". Metadata ("M") events need no "ts".
 * Prints "ok: N events (X complete, I instant, M metadata)" or the first thing wrong, with its
 * byte offset. Exit status: 0 ok, 1 not valid, 64 usage. For tests/trace.bats. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *text, *at, *end;
static char why[256];

static bool bad(const char *what) {
    if (!why[0])
        snprintf(why, sizeof why, "byte %ld: %s", (long)(at - text), what);
    return false;
}

static void space(void) {
    while (at < end && (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r'))
        at++;
}

static bool literal(const char *word) {
    size_t n = strlen(word);
    if ((size_t)(end - at) < n || memcmp(at, word, n) != 0)
        return bad("not a JSON value");
    at += n;
    return true;
}

/* A string; its contents (escapes kept as written, enough to compare short ASCII keys) into
 * out when out is not NULL. */
static bool string(char *out, size_t cap) {
    size_t n = 0;
    if (at >= end || *at != '"')
        return bad("a string was expected");
    for (at++; at < end && *at != '"'; at++) {
        unsigned char c = (unsigned char)*at;
        if (c < 0x20)
            return bad("a raw control byte in a string");
        if (c == '\\') {
            if (++at >= end || !strchr("\"\\/bfnrtu", *at))
                return bad("a bad escape in a string");
            if (*at == 'u')
                for (int i = 0; i < 4; i++)
                    if (++at >= end || !strchr("0123456789abcdefABCDEF", *at))
                        return bad("a bad \\u escape");
        }
        if (out && n + 1 < cap)
            out[n++] = *at;
    }
    if (at >= end)
        return bad("a string that never ends");
    at++;
    if (out)
        out[n] = '\0';
    return true;
}

static bool digits(void) {
    if (at >= end || *at < '0' || *at > '9')
        return bad("a digit was expected");
    while (at < end && *at >= '0' && *at <= '9')
        at++;
    return true;
}

/* A number in JSON's grammar; its value in *v. */
static bool number(double *v) {
    const char *start = at;
    if (at < end && *at == '-')
        at++;
    if (at < end && *at == '0')
        at++;
    else if (!digits())
        return false;
    if (at < end && *at == '.' && (at++, !digits()))
        return false;
    if (at < end && (*at == 'e' || *at == 'E')) {
        at++;
        if (at < end && (*at == '+' || *at == '-'))
            at++;
        if (!digits())
            return false;
    }
    char buf[64];
    size_t n = (size_t)(at - start) < sizeof buf - 1 ? (size_t)(at - start) : sizeof buf - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    return true;
}

static bool value(int depth);

/* What an event object held, of the keys the format requires. */
struct event {
    bool name, ph, ts, pid, tid, dur, s;
    char ph_text[8], s_text[8];
    double dur_value;
};

/* An object; when ev is not NULL, the format's keys are noted in it. */
static bool object(int depth, struct event *ev) {
    at++; /* '{' */
    space();
    if (at < end && *at == '}')
        return at++, true;
    for (;;) {
        char key[32];
        space();
        if (!string(key, sizeof key))
            return false;
        space();
        if (at >= end || *at != ':')
            return bad("':' was expected after a key");
        at++;
        space();
        double v;
        if (ev && at < end && *at == '"' &&
            (!strcmp(key, "name") || !strcmp(key, "ph") || !strcmp(key, "s"))) {
            char *into = !strcmp(key, "ph") ? ev->ph_text : !strcmp(key, "s") ? ev->s_text : NULL;
            if (!string(into, sizeof ev->ph_text))
                return false;
            *(!strcmp(key, "name") ? &ev->name : !strcmp(key, "ph") ? &ev->ph : &ev->s) = true;
        } else if (ev && at < end && (*at == '-' || (*at >= '0' && *at <= '9')) &&
                   (!strcmp(key, "ts") || !strcmp(key, "pid") || !strcmp(key, "tid") ||
                    !strcmp(key, "dur"))) {
            if (!number(&v))
                return false;
            if (!strcmp(key, "dur"))
                ev->dur = true, ev->dur_value = v;
            else
                *(!strcmp(key, "ts") ? &ev->ts : !strcmp(key, "pid") ? &ev->pid : &ev->tid) = true;
        } else if (!value(depth + 1)) {
            return false;
        }
        space();
        if (at < end && *at == ',') {
            at++;
            continue;
        }
        if (at < end && *at == '}')
            return at++, true;
        return bad("',' or '}' was expected in an object");
    }
}

static long events, complete, instant, metadata;

static bool event(int depth) {
    struct event ev = {0};
    const char *start = at;
    space();
    if (at >= end || *at != '{')
        return bad("an event must be an object");
    if (!object(depth, &ev))
        return false;
    const char *after = at;
    at = start; /* what is wrong is reported at the event's start */
    space();
    events++;
    if (!ev.name || !ev.ph)
        return bad("an event without a \"name\" or \"ph\" string");
    bool meta = !strcmp(ev.ph_text, "M");
    if (!ev.pid || !ev.tid || (!ev.ts && !meta))
        return bad("an event without a \"ts\", \"pid\" or \"tid\" number");
    if (!strcmp(ev.ph_text, "X") && !(ev.dur && ev.dur_value >= 0))
        return bad("a complete event (\"X\") without a \"dur\" of 0 or more");
    if (!strcmp(ev.ph_text, "i") && ev.s && strcmp(ev.s_text, "t") && strcmp(ev.s_text, "p") &&
        strcmp(ev.s_text, "g"))
        return bad("an instant event whose \"s\" is not t, p or g");
    complete += !strcmp(ev.ph_text, "X");
    instant += !strcmp(ev.ph_text, "i") || !strcmp(ev.ph_text, "I");
    metadata += meta;
    at = after;
    return true;
}

/* An array; of events when events_array. */
static bool array(int depth, bool events_array) {
    at++; /* '[' */
    space();
    if (at < end && *at == ']')
        return at++, true;
    for (;;) {
        space();
        if (!(events_array ? event(depth + 1) : value(depth + 1)))
            return false;
        space();
        if (at < end && *at == ',') {
            at++;
            continue;
        }
        if (at < end && *at == ']')
            return at++, true;
        return bad("',' or ']' was expected in an array");
    }
}

static bool value(int depth) {
    if (depth > 64)
        return bad("nested too deep");
    space();
    if (at >= end)
        return bad("a value was expected");
    double v;
    switch (*at) {
    case '{': return object(depth, NULL);
    case '[': return array(depth, false);
    case '"': return string(NULL, 0);
    case 't': return literal("true");
    case 'f': return literal("false");
    case 'n': return literal("null");
    default: return number(&v);
    }
}

/* The top level: [events...] or {..., "traceEvents": [events...], ...}. */
static bool top(void) {
    space();
    if (at < end && *at == '[')
        return array(0, true);
    if (at >= end || *at != '{')
        return bad("the top level is neither an array nor an object");
    bool found = false;
    at++;
    space();
    while (at < end && *at != '}') {
        char key[32];
        space();
        if (!string(key, sizeof key))
            return false;
        space();
        if (at >= end || *at != ':')
            return bad("':' was expected after a key");
        at++;
        space();
        if (!strcmp(key, "traceEvents")) {
            if (at >= end || *at != '[')
                return bad("\"traceEvents\" is not an array");
            if (!array(1, true))
                return false;
            found = true;
        } else if (!value(1)) {
            return false;
        }
        space();
        if (at < end && *at == ',') {
            at++;
            space();
            if (at < end && *at == '}')
                return bad("a trailing ',' in an object");
        } else if (at >= end || *at != '}') {
            return bad("',' or '}' was expected in an object");
        }
    }
    if (at >= end)
        return bad("an object that never ends");
    at++;
    return found || bad("an object without \"traceEvents\"");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: trace-event-check FILE\n", stderr);
        return 64;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        fprintf(stderr, "trace-event-check: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, in)) > 0;)
        if ((len += got) == cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    fclose(in);
    if (!buf) {
        fputs("trace-event-check: out of memory\n", stderr);
        return 1;
    }
    text = at = buf, end = buf + len;
    bool ok = top();
    space();
    if (ok && at != end)
        ok = bad("text after the top-level value");
    if (ok)
        printf("ok: %ld events (%ld complete, %ld instant, %ld metadata)\n", events, complete,
               instant, metadata);
    else
        printf("%s: not a trace event file: %s\n", argv[1], why);
    free(buf);
    return ok ? 0 : 1;
}
