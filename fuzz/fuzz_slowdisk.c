/* libFuzzer target for slowdisk's request decoder: tools/slowdisk.c, included whole without its
 * main, so serve_request is fed bytes instead of /dev/fuse and its replies are caught instead
 * of written. The input's first byte picks the server (bit 0: FUSE_INIT already answered, bit 1:
 * -m seed, bit 2: -x, bit 4: -O, bit 5: -P); the rest is a run of requests, each cut at its
 * header's len, as read(2) of /dev/fuse hands them over; bit 3 ends the run with fail_pending
 * (the shutdown) rather than by letting every delay fall due. The first OPEN answered gets fh 0,
 * as the seeds' READs name it. Beyond "no crash, no sanitizer report" it checks the
 * contract with the kernel:
 *   - serve_request never reads outside the request: each sits in a heap buffer of exactly its
 *     length, so ASan reports the first byte read beyond it;
 *   - every reply's header states its true length, an error of 0 or -1..-511 (anything else the
 *     kernel rejects), and an error reply has no body;
 *   - FORGET, BATCH_FORGET, INTERRUPT and NOTIFY_REPLY get no reply; every other request that is
 *     not refused gets exactly one, at once or when its delay is due;
 *   - a READ's reply holds at most the bytes asked for, and they are the file's own lines. */
#define SLOWDISK_NO_MAIN
#include "../tools/slowdisk.c"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_REQUESTS 512

/* What was asked, to check what is answered. The fuzzer rewrites each request's unique id to
 * its index + 1, so that every reply names exactly one request. */
static struct asked {
    uint32_t opcode;
    bool wants_reply;
    int replies;
    uint64_t nodeid, offset;
    uint32_t size; /* READ: bytes asked for */
} asked[MAX_REQUESTS];
static size_t n_asked;
static char expected[MAX_READ];

static int capture(struct server *s, const struct iovec *iov, int iovcnt) {
    (void)s;
    CHECK(iovcnt >= 1 && iovcnt <= 2 && iov[0].iov_len == sizeof(struct fuse_out_header));
    struct fuse_out_header out;
    memcpy(&out, iov[0].iov_base, sizeof out);
    size_t body = iovcnt == 2 ? iov[1].iov_len : 0;
    CHECK(out.len == sizeof out + body);
    CHECK(out.error <= 0 && out.error > -512);
    CHECK(out.error == 0 || body == 0);
    CHECK(out.unique >= 1 && out.unique <= n_asked);
    struct asked *a = &asked[out.unique - 1];
    CHECK(a->wants_reply);
    CHECK(++a->replies == 1);
    if (a->opcode == FUSE_READ && out.error == 0 && body > 0) {
        CHECK(body <= a->size && body <= MAX_READ);
        file_content(a->nodeid, a->offset, expected, body);
        CHECK(memcmp(iov[1].iov_base, expected, body) == 0);
    }
    return 0;
}

/* The INIT the kernel sends first, for inputs that start past it. */
static void send_init(struct server *s) {
    struct {
        struct fuse_in_header h;
        struct fuse_init_in in;
    } init = {.h = {.len = sizeof init, .opcode = FUSE_INIT},
              .in = {.major = 7, .minor = 45, .max_readahead = 131072, .flags = 0xffffffff}};
    init.h.unique = n_asked + 1;
    asked[n_asked++] = (struct asked){.opcode = FUSE_INIT, .wants_reply = true};
    CHECK(serve_request(s, (const char *)&init, sizeof init, 0) == 0);
    CHECK(s->initialized);
}

static void feed(struct server *s, const uint8_t *data, size_t size, int64_t now) {
    char *buf = malloc(size ? size : 1); /* exactly size bytes: one more read is an ASan report */
    if (!buf)
        return;
    memcpy(buf, data, size);
    struct asked a = {0};
    struct fuse_in_header h;
    bool whole = size >= sizeof h && (memcpy(&h, buf, sizeof h), h.len == size);
    if (whole && n_asked < MAX_REQUESTS) {
        h.unique = n_asked + 1;
        memcpy(buf, &h, sizeof h);
        a.opcode = h.opcode;
        a.nodeid = h.nodeid;
        a.wants_reply = h.opcode != FUSE_FORGET && h.opcode != FUSE_BATCH_FORGET &&
                        h.opcode != FUSE_INTERRUPT && h.opcode != FUSE_NOTIFY_REPLY;
        struct fuse_read_in in;
        if (h.opcode == FUSE_READ && size >= sizeof h + sizeof in) {
            memcpy(&in, buf + sizeof h, sizeof in);
            a.offset = in.offset, a.size = in.size;
        }
        asked[n_asked++] = a;
    } else if (whole) {
        free(buf);
        return; /* no room to track its reply */
    }
    int rc = serve_request(s, buf, size, now);
    CHECK(rc == (whole ? 0 : -1)); /* refused exactly when it is not a whole request */
    free(buf);
}

/* A LOOKUP of /hold stops slowdisk with SIGSTOP: here it would stop the fuzzer for good (make
 * check hung so, 18 minutes into a 20 s run). The READ it holds is answered as any other. */
static void held(void) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char body[MAX_READ];
    if (size == 0)
        return 0;
    log_as("", true);
    struct server s = {.seed_model = data[0] & 2,
                       .direct_io = data[0] & 4,
                       .slow_open = data[0] & 16,
                       .per_io = data[0] & 32,
                       .rng = {1},
                       .data = body,
                       .send = capture,
                       .hold = held};
    n_asked = 0;
    if (data[0] & 1)
        send_init(&s);
    size_t pos = 1;
    int64_t now = 0;
    while (pos < size) {
        size_t left = size - pos, len = left;
        struct fuse_in_header h;
        if (left >= sizeof h) {
            memcpy(&h, data + pos, sizeof h);
            if (h.len >= sizeof h && h.len <= left)
                len = h.len;
        }
        feed(&s, data + pos, len, now);
        pos += len;
        now += 100; /* time passes between requests: some delays fall due in the middle */
        serve_due(&s, now);
    }
    if (data[0] & 8)
        fail_pending(&s);
    else
        serve_due(&s, INT64_MAX);
    CHECK(heap_top(&s.reads) == NULL);
    for (size_t i = 0; i < n_asked; i++)
        CHECK(asked[i].replies == (asked[i].wants_reply ? 1 : 0));
    heap_free(&s.reads);
    handles_free(&s.handles);
    return 0;
}
