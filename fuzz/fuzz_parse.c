/* libFuzzer target for the one request parser (common/protocol.c) and the reply it leads to.
 * Beyond "no crash, no sanitizer report" it checks what the servers rely on:
 *   - parse_request never reads past len: the input sits in a heap buffer of exactly len bytes,
 *     so ASan reports the first byte read beyond it;
 *   - at EOF it never answers PARSE_INCOMPLETE, and a verdict reached before EOF stands at EOF;
 *   - PARSE_BAD always says why; PARSE_DONE means a non-empty path of printable ASCII of at most
 *     MAX_PATH bytes and a delay of -1 or 0..MAX_DELAY_MS;
 *   - format_reply fits in MAX_REPLY bytes and ends in '\n', whatever numbers it is given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_request(enum parse_status status, const struct request *req, const char *why) {
    if (status == PARSE_BAD)
        CHECK(why != NULL && why[0] != '\0');
    if (status != PARSE_DONE)
        return;
    CHECK(why == NULL);
    size_t len = strnlen(req->path, sizeof req->path);
    CHECK(len >= 1 && len <= MAX_PATH);
    for (size_t i = 0; i < len; i++)
        CHECK(req->path[i] >= 0x21 && req->path[i] <= 0x7e);
    CHECK(req->delay_ms == -1 || (req->delay_ms >= 0 && req->delay_ms <= MAX_DELAY_MS));
}

static void check_reply(int rc, long bytes, int64_t elapsed, const char *path, bool http) {
    char out[MAX_REPLY + 1];
    memset(out, 0, sizeof out);
    size_t n = format_reply(out, rc, bytes, elapsed, path, http);
    CHECK(n >= 2 && n <= MAX_REPLY);
    CHECK(out[n - 1] == '\n');
    CHECK(out[MAX_REPLY] == 0); /* nothing written past MAX_REPLY */
}

/* Pulls a number out of the input's last bytes, so the fuzzer steers the reply's fields too. */
static uint64_t tail_number(const uint8_t *data, size_t size, size_t skip) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && skip + i < size; i++)
        v = v << 8 | data[size - 1 - skip - i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1); /* exactly size bytes: one more read is an ASan report */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct request req, req_eof;
    const char *why, *why_eof;
    enum parse_status status = parse_request(buf, size, false, &req, &why);
    enum parse_status status_eof = parse_request(buf, size, true, &req_eof, &why_eof);
    check_request(status, &req, why);
    check_request(status_eof, &req_eof, why_eof);
    CHECK(status_eof != PARSE_INCOMPLETE);
    if (status != PARSE_INCOMPLETE)
        CHECK(status == status_eof && memcmp(&req, &req_eof, sizeof req) == 0);
    if (status == PARSE_INCOMPLETE)
        CHECK(size < MAX_REQUEST);

    int rc = (int)tail_number(data, size, 16);
    long bytes = (long)tail_number(data, size, 8);
    int64_t elapsed = (int64_t)tail_number(data, size, 0);
    bool ok = status_eof == PARSE_DONE;
    check_reply(rc, bytes, elapsed, ok ? req_eof.path : NULL, req_eof.http);
    check_reply(RC_FAIL, 0, 0, NULL, !req_eof.http);
    free(buf);
    return 0;
}
