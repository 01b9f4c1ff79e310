/* slowdisk: a disk that really dies. A read-only FUSE file system, served from user space by
 * speaking the kernel's protocol (<linux/fuse.h>) on /dev/fuse directly: no libfuse, no
 * fusermount. A read of MOUNTPOINT/300/a really blocks in the kernel for 300 ms, exactly as a
 * read from a dying disk does, so a server can be caught making the blocking call for real.
 *
 * How FUSE works. mount(2) ties a mount point to an open /dev/fuse descriptor. From then on the
 * kernel turns every VFS call on that file system (a path walk, a stat, an open, a read) into a
 * request: a struct fuse_in_header (length, opcode, a unique id, the node it is about) and the
 * opcode's arguments. The server read(2)s one request at a time from /dev/fuse and answers it by
 * write(2)ing a struct fuse_out_header (length, -errno or 0, the same unique id) and the reply's
 * body. The process that made the call sleeps in the kernel (request_wait_answer) until that
 * reply arrives. The first request is FUSE_INIT, where both sides agree on a protocol version.
 *
 * Replies may come in any order and at any time: the unique id, not the order, matches a reply
 * to its request. So a slow read needs no thread: serve_request answers a READ by putting its
 * reply on a timer heap, due DELAY_MS later, and the loop in serve() writes each reply when it
 * is due, while it goes on answering every other request at once. One thread serves them all:
 * a thousand slow reads cost a thousand small structs, not a thousand sleeping threads, and
 * there is no pool whose N sleeping threads would make the (N+1)th slow read wait. The disk
 * follows the advice of chapter 04: a delay is a deadline, not a sleep. A reader killed while it
 * waits sends FUSE_INTERRUPT, and its read is answered at once (do_interrupt). With -O an OPEN
 * waits its delay on the same heap: a dying disk is slow to open a file too (it must read the
 * inode), and an open(2) is what no readiness API and no RWF_NOWAIT can help with (chapter 15).
 *
 * What the delay means: one read of the object, as a reader counts it: open(2), read(2) to the
 * end, close, takes DELAY_MS, however the kernel cuts that read into READ requests. It cuts it
 * often. Readahead starts small for a reader that asks 4 KiB at a time and grows (a 64 KiB file
 * went out as 3 READs); a read that is interrupted leaves the file's pages in the page cache
 * unread, and the next reader fetches them one page per READ; an mmap fault reads around the page
 * it needs. Charged per READ, a 64 KiB file under /300/ took 300 ms to cat, 900 ms to read 4 KiB
 * at a time, and 4.8 s (16 READs of a page) for the reader after one that was killed; one signal
 * in the middle of a pread of a 26 KiB file made it take 7 delays. So the delay belongs to the
 * open file (the fh that OPEN hands out; struct handle): its first READ starts it, and every READ
 * of that open is answered when it is paid (at once, once it is). An interrupted READ leaves it
 * running, so the retry ends when the first try would have. A READ of bytes this open has had
 * already (a second pass under -x, a page evicted and faulted in again) starts a new one: the disk
 * reads them again. What else follows: a page-cache hit never reaches us and costs nothing; two
 * readers of a cold file through the page cache share the first one's READ (the second waits on
 * the page lock), while under -x each open pays its own delay, side by side; an object read whole
 * with nothing interrupting it is one READ either way. -P puts the delay back on every READ: a
 * disk that is dying is slow per I/O, and then readahead's pieces and the page-by-page retry of
 * an interrupted read each pay it in full (in appendix A1 a signal makes one 3 s read take 21 s).
 *
 * The names. The node id of each name is ours to choose, and ours carry the whole node (is it a
 * directory, its delay, a hash of its path; see node_id): the server keeps no table of names,
 * and FORGET has nothing to forget. The top level holds directories only: a delay in milliseconds
 * (0..3600000), or eio/ (with -m seed, any name). One name there is a request, not a file:
 * looking up MNT/hold (ENOENT) makes slowdisk stop itself (SIGSTOP) as soon as it has logged the
 * next READ, so that a test can signal that READ's reader while it is surely pending; SIGCONT
 * goes on. Below them every name exists: a directory if
 * it ends in ".d", else a file. The kernel asks for a name's type in the LOOKUP, before it knows
 * whether the path goes on, so the type has to be in the name. Each file is 1 KiB to 64 KiB (from
 * its path hash) of 32-byte lines "NODEID OFFSET\n": the node id in hex (the file's inode number)
 * and the line's own offset in decimal, so a reader can check every byte it got.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"
#include "heap.h"
#include "log.h"
#include "protocol.h"

#define EXIT_NO_FUSE     69   /* EX_UNAVAILABLE: no /dev/fuse, or the kernel refuses the mount */
#define CACHE_TIMEOUT_S  3600 /* how long the kernel may trust a name and its attributes */
#define MAX_READ         (128 * 1024) /* the most one READ asks: the kernel's 32 pages per request */
#define REQUEST_BUF      (MAX_READ + 4096) /* room for any request (and FUSE_MIN_READ_BUFFER) */
#define LINE_LEN         32                /* "%016x %014u\n": one line of a file's content */
#define MIN_KERNEL_MINOR 23                /* fuse_init_out as we send it; Linux 3.15 and later */

/* ---- The nodes: a node id holds the whole node ------------------------------------------- */

/* bits 0-21 delay in ms (MAX_DELAY_MS < 2^22), 22-23 kind, 24 directory, 25-63 path hash. */
enum kind { KIND_ROOT, KIND_DELAY, KIND_EIO, KIND_SEED };
#define DELAY_MASK ((1ULL << 22) - 1)
#define KIND_SHIFT 22
#define DIR_BIT    (1ULL << 24)
#define HASH_SHIFT 25

struct node {
    bool dir;
    enum kind kind;
    int delay_ms;  /* KIND_DELAY: what each read of a file below takes */
    uint64_t hash; /* 39 bits, of the path from the root */
};

static const struct node root_node = {.dir = true, .kind = KIND_ROOT, .hash = 0x2325};

/* The root is FUSE_ROOT_ID (1); no other node has kind 0, so no other id is 1 (or 0, which
 * FUSE reserves for "no such name"). */
static uint64_t node_id(const struct node *n) {
    if (n->kind == KIND_ROOT)
        return FUSE_ROOT_ID;
    return n->hash << HASH_SHIFT | (n->dir ? DIR_BIT : 0) | (uint64_t)n->kind << KIND_SHIFT |
           (uint64_t)n->delay_ms;
}

/* False for an id we never handed out (the kernel only sends ours; the fuzzer sends any). */
static bool node_from_id(uint64_t id, struct node *n) {
    if (id == FUSE_ROOT_ID) {
        *n = root_node;
        return true;
    }
    *n = (struct node){.dir = (id & DIR_BIT) != 0,
                       .kind = (enum kind)(id >> KIND_SHIFT & 3),
                       .delay_ms = (int)(id & DELAY_MASK),
                       .hash = id >> HASH_SHIFT};
    if (n->kind == KIND_ROOT || n->delay_ms > MAX_DELAY_MS)
        return false;
    return n->kind == KIND_DELAY || n->delay_ms == 0;
}

/* FNV-1a over the parent's hash, '/' and the name, cut to the 39 bits a node id has room for. */
static uint64_t hash_name(uint64_t parent, const char *name) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (parent >> (8 * i) & 0xff)) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h & ((1ULL << 39) - 1);
}

/* A top-level name as a delay: 0..MAX_DELAY_MS, or -ENOENT (not a number), -EINVAL (absurd). */
static long parse_delay_name(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || strspn(name, "0123456789") != len)
        return -ENOENT;
    if (len > 7)
        return -EINVAL;
    long v = strtol(name, NULL, 10);
    return v <= MAX_DELAY_MS ? v : -EINVAL;
}

/* What `name` in directory `parent` is. Returns 0, or an errno for a name that does not exist. */
static int node_child(const struct node *parent, const char *name, bool seed_model,
                      struct node *child) {
    if (!parent->dir)
        return ENOTDIR;
    *child = *parent;
    child->hash = hash_name(parent->hash, name);
    if (parent->kind != KIND_ROOT) {
        size_t len = strlen(name);
        child->dir = len > 2 && strcmp(name + len - 2, ".d") == 0;
        return 0;
    }
    child->dir = true; /* the top level: delays, eio/, and in seed mode any name */
    if (strcmp(name, "eio") == 0) {
        child->kind = KIND_EIO;
    } else if (seed_model) {
        child->kind = KIND_SEED;
    } else {
        long delay = parse_delay_name(name);
        if (delay < 0)
            return (int)-delay;
        child->kind = KIND_DELAY, child->delay_ms = (int)delay;
    }
    return 0;
}

/* 1 KiB to 64 KiB in whole lines, from the path hash: the same file always has the same size. */
static uint64_t file_size(const struct node *n) {
    return LINE_LEN * (32 + n->hash % 2017);
}

/* Writes bytes [offset, offset+len) of file `id` to out. */
static void file_content(uint64_t id, uint64_t offset, char *out, size_t len) {
    char line[48]; /* LINE_LEN + 1 for any offset in a file; room for any 64-bit one */
    while (len > 0) {
        uint64_t start = offset - offset % LINE_LEN;
        snprintf(line, sizeof line, "%016" PRIx64 " %014" PRIu64 "\n", id, start);
        size_t skip = (size_t)(offset - start), n = LINE_LEN - skip;
        if (n > len)
            n = len;
        memcpy(out, line + skip, n);
        out += n, offset += n, len -= n;
    }
}

/* ---- The opens: what each open file has paid ---------------------------------------------- */

/* One open file, from its OPEN to its RELEASE: the one delay its READs share (see the top). */
struct handle {
    uint32_t gen;        /* bumped at each RELEASE: a stale fh finds no handle */
    uint32_t next_free;  /* while free: the next free slot + 1 (0: none) */
    bool in_use;         /* between OPEN and RELEASE */
    bool charged;        /* a READ has started this open's delay */
    int error;           /* what the delay ends in: 0, or EIO (-m seed's draw) */
    int delay_ms;        /* the delay, for the log */
    uint64_t started_by; /* the unique id of the READ that started it */
    int64_t due_ms;      /* when it is paid: every READ under it is answered then, or at once */
    uint64_t done_lo, done_hi; /* the bytes answered under it; asked again, they pay again */
};

#define MAX_HANDLES (1u << 20) /* files open at once (56 MiB of table); more fail with ENFILE */

/* The open files, a slot each; fh = gen << 32 | slot. A free list reuses the slots, so the table
 * is as long as the most files ever open at once. */
struct handles {
    struct handle *items;
    uint32_t len, cap;
    uint32_t free_head; /* the first free slot + 1 (0: none) */
};

/* A new open file. Returns 0 and its fh, or ENFILE / ENOMEM. */
static int handle_open(struct handles *t, uint64_t *fh) {
    uint32_t slot;
    if (t->free_head) {
        slot = t->free_head - 1;
        t->free_head = t->items[slot].next_free;
    } else {
        if (t->len == MAX_HANDLES)
            return ENFILE;
        if (t->len == t->cap) {
            uint32_t cap = t->cap ? 2 * t->cap : 64;
            struct handle *items = realloc(t->items, cap * sizeof *items);
            if (!items)
                return ENOMEM;
            t->items = items, t->cap = cap;
        }
        slot = t->len++;
        t->items[slot].gen = 0;
    }
    struct handle *h = &t->items[slot];
    *h = (struct handle){.gen = h->gen, .in_use = true};
    *fh = (uint64_t)h->gen << 32 | slot;
    return 0;
}

/* The open file fh names, or NULL: one we never gave, or one released since. */
static struct handle *handle_find(struct handles *t, uint64_t fh) {
    uint32_t slot = (uint32_t)fh;
    if (slot >= t->len || !t->items[slot].in_use || t->items[slot].gen != fh >> 32)
        return NULL;
    return &t->items[slot];
}

static void handle_close(struct handles *t, uint64_t fh) {
    struct handle *h = handle_find(t, fh);
    if (!h)
        return;
    h->in_use = false;
    h->gen++;
    h->next_free = t->free_head;
    t->free_head = (uint32_t)fh + 1;
}

static void handles_free(struct handles *t) {
    free(t->items);
    *t = (struct handles){0};
}

/* ---- The server: decode one request, answer it now or put its answer on the heap ---------- */

/* A READ (or, with -O, an OPEN) whose answer is due later: only what it takes to make the
 * answer then. */
struct pending_read {
    struct timer timer; /* first: a struct timer * from the heap is a struct pending_read * */
    uint64_t unique, nodeid, offset;
    uint64_t fh, charge; /* its open file, and the READ that started the delay it waits out */
    uint32_t len;
    int error; /* 0, or EIO: the disk fails this read when it is due */
    bool open; /* an OPEN's answer, not a READ's */
};

struct server {
    bool direct_io;   /* -x */
    bool slow_open;   /* -O: an OPEN under a delay directory waits that delay too */
    bool per_io;      /* -P: every READ pays the whole delay, not one per open */
    bool seed_model;  /* -m seed */
    bool verbose;     /* -v: log every request */
    bool hold_next;   /* a LOOKUP of /hold asked: stop (SIGSTOP) once the next READ is logged */
    bool initialized; /* FUSE_INIT answered: the mount is usable */
    uint32_t uid, gid;
    int64_t mtime; /* every node's times: the server's start, so the page cache stays valid */
    struct prng rng;
    struct timer_heap reads; /* pending_read, by due time */
    struct handles handles;  /* the open files */
    char *data;              /* MAX_READ bytes: the body of one READ reply */
    /* Writes one reply. Returns 0 or -errno; ENOENT means the kernel no longer waits for it. */
    int (*send)(struct server *s, const struct iovec *iov, int iovcnt);
    /* Stops the server until SIGCONT (a LOOKUP of /hold asked it): stop_until_continued. */
    void (*hold)(void);
    int fd; /* /dev/fuse, for send_to_kernel */
};

/* One request, decoded: its header and the arguments after it. */
struct request_in {
    struct fuse_in_header h;
    const char *arg;
    size_t arg_len;
    int64_t now;
};

static int reply(struct server *s, uint64_t unique, int error, const void *body, size_t len) {
    struct fuse_out_header out = {
        .len = (uint32_t)(sizeof out + len), .error = -error, .unique = unique};
    struct iovec iov[2] = {{&out, sizeof out}, {(void *)body, len}};
    int err = s->send(s, iov, len ? 2 : 1);
    /* ENOENT: the kernel stopped waiting (an interrupted request); ENODEV: the mount is gone. */
    if (err < 0 && (s->verbose || (err != -ENOENT && err != -ENODEV)))
        log_msg("reply to %" PRIu64 " failed: %s", unique, strerror(-err));
    return err;
}

/* The handlers' way to answer with a body; they return an errno to answer with an error. */
static int answer(struct server *s, const struct request_in *rq, const void *body, size_t len) {
    reply(s, rq->h.unique, 0, body, len);
    return 0;
}

/* Copies the opcode's fixed arguments out of the request (no alignment assumed). */
static bool take_arg(const struct request_in *rq, void *out, size_t size) {
    if (rq->arg_len < size)
        return false;
    memcpy(out, rq->arg, size);
    return true;
}

static void fill_attr(const struct server *s, const struct node *n, struct fuse_attr *a) {
    memset(a, 0, sizeof *a);
    a->ino = node_id(n);
    a->mode = n->dir ? S_IFDIR | 0555 : S_IFREG | 0444;
    a->nlink = n->dir ? 2 : 1;
    a->size = n->dir ? 0 : file_size(n);
    a->blocks = (a->size + 511) / 512;
    a->blksize = 4096;
    a->atime = a->mtime = a->ctime = (uint64_t)s->mtime;
    a->uid = s->uid, a->gid = s->gid;
}

/* FUSE_INIT: the kernel offers its version and features; we answer with ours. A major version
 * newer than ours is answered with our major alone, and the kernel asks again in that one. */
static int do_init(struct server *s, const struct request_in *rq) {
    struct fuse_init_in in = {0};
    if (rq->arg_len < offsetof(struct fuse_init_in, flags2))
        return EINVAL;
    memcpy(&in, rq->arg, rq->arg_len < sizeof in ? rq->arg_len : sizeof in);
    struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION};
    if (in.major > FUSE_KERNEL_VERSION)
        return answer(s, rq, &out, FUSE_COMPAT_INIT_OUT_SIZE);
    if (in.major < FUSE_KERNEL_VERSION || in.minor < MIN_KERNEL_MINOR) {
        log_msg("the kernel speaks FUSE %u.%u; slowdisk needs 7.%d or later", in.major, in.minor,
                MIN_KERNEL_MINOR);
        return EPROTO;
    }
    if (s->initialized)
        return EPROTO; /* the kernel sends INIT once */
    if (in.minor < out.minor)
        out.minor = in.minor; /* we speak the older of the two */
    /* Not FUSE_ASYNC_READ: with it, readahead goes out as background requests, of which the
     * kernel keeps at most max_background (12) in flight, so slow reads of other files queue
     * behind them (twenty 1 s reads of twenty files took 3 s), and the reader waits on a page
     * lock (folio_wait_bit_common), not on FUSE. Without it each reader sends its own READ and
     * waits in request_wait_answer for its own answer. PARALLEL_DIROPS: lookups in one
     * directory need not take turns. */
    out.flags = in.flags & FUSE_PARALLEL_DIROPS;
    out.max_readahead = in.max_readahead < MAX_READ ? in.max_readahead : MAX_READ;
    out.max_write = 4096; /* nothing is ever written: this only sizes the kernel's checks */
    out.time_gran = 1;
    s->initialized = true;
    log_msg("FUSE %u.%u (the kernel's %u.%u), max_readahead %u", out.major, out.minor, in.major,
            in.minor, out.max_readahead);
    return answer(s, rq, &out, sizeof out);
}

/* FUSE_LOOKUP: one step of a path walk, a name in a directory. The entry's timeouts let the
 * kernel keep the name and its attributes in its caches, as it does for a real disk. */
static int do_lookup(struct server *s, const struct request_in *rq) {
    const char *name = rq->arg;
    const char *nul = memchr(name, '\0', rq->arg_len);
    if (!nul || nul == name)
        return EINVAL;
    if (nul - name > NAME_MAX)
        return ENAMETOOLONG;
    struct node parent, child;
    if (!node_from_id(rq->h.nodeid, &parent))
        return ESTALE;
    /* A test that must signal a reader while slowdisk holds its READ cannot win that race from
     * outside against a 100 ms delay on a loaded machine: it asks for the hold instead. */
    if (parent.kind == KIND_ROOT && strcmp(name, "hold") == 0) {
        s->hold_next = true;
        return ENOENT;
    }
    int err = node_child(&parent, name, s->seed_model, &child);
    if (err)
        return err;
    struct fuse_entry_out out = {
        .nodeid = node_id(&child), .entry_valid = CACHE_TIMEOUT_S, .attr_valid = CACHE_TIMEOUT_S};
    fill_attr(s, &child, &out.attr);
    return answer(s, rq, &out, sizeof out);
}

/* FUSE_GETATTR: stat(2), once the cached attributes have timed out. */
static int do_getattr(struct server *s, const struct request_in *rq) {
    struct node n;
    if (!node_from_id(rq->h.nodeid, &n))
        return ESTALE;
    struct fuse_attr_out out = {.attr_valid = CACHE_TIMEOUT_S};
    fill_attr(s, &n, &out.attr);
    return answer(s, rq, &out, sizeof out);
}

/* Answers an OPEN with a new open file, whose READs will share one delay. */
static int answer_open(struct server *s, uint64_t unique) {
    struct fuse_open_out out = {.open_flags = s->direct_io ? FOPEN_DIRECT_IO : FOPEN_KEEP_CACHE};
    int err = handle_open(&s->handles, &out.fh);
    if (err) {
        reply(s, unique, err, NULL, 0);
        return 0;
    }
    if (reply(s, unique, 0, &out, sizeof out) < 0)
        handle_close(&s->handles, out.fh); /* the opener has gone: no RELEASE will come */
    return 0;
}

/* FUSE_OPEN: here the server chooses how the kernel caches the file. FOPEN_KEEP_CACHE keeps
 * what it has read across opens (without it every open empties the file's page cache);
 * FOPEN_DIRECT_IO (-x) sends every read(2) to us, past the page cache. With -O the answer waits
 * the delay on the heap, as a READ's does. The kernel sends an OPEN for every open(2) (it caches
 * names and attributes, never opens), so each open pays it, while a stat stays instant. */
static int do_open(struct server *s, const struct request_in *rq) {
    struct fuse_open_in in;
    struct node n;
    if (!take_arg(rq, &in, sizeof in))
        return EINVAL;
    if (!node_from_id(rq->h.nodeid, &n))
        return ESTALE;
    if (n.dir)
        return EISDIR;
    if ((in.flags & O_ACCMODE) != O_RDONLY || in.flags & O_TRUNC)
        return EROFS;
    if (s->slow_open && n.kind == KIND_DELAY && n.delay_ms > 0) {
        struct pending_read *later = malloc(sizeof *later);
        if (later)
            *later = (struct pending_read){.unique = rq->h.unique, .open = true};
        if (!later || heap_add(&s->reads, &later->timer, rq->now + n.delay_ms) < 0) {
            free(later);
            return ENOMEM;
        }
        if (s->verbose)
            log_msg("OPEN %" PRIu64 ": node %016" PRIx64 " in %d ms", rq->h.unique, rq->h.nodeid,
                    n.delay_ms);
        return 0;
    }
    return answer_open(s, rq->h.unique);
}

/* FUSE_RELEASE: the last close of an open file. */
static int do_release(struct server *s, const struct request_in *rq) {
    struct fuse_release_in in;
    if (!take_arg(rq, &in, sizeof in))
        return EINVAL;
    handle_close(&s->handles, in.fh);
    return answer(s, rq, NULL, 0);
}

static void answer_read(struct server *s, const struct pending_read *r) {
    if (r->open) {
        answer_open(s, r->unique);
        return;
    }
    if (r->error) {
        reply(s, r->unique, r->error, NULL, 0);
        return;
    }
    file_content(r->nodeid, r->offset, s->data, r->len);
    struct handle *h = handle_find(&s->handles, r->fh);
    if (reply(s, r->unique, 0, s->data, r->len) < 0 || !h || !h->charged ||
        h->started_by != r->charge)
        return;
    /* Delivered under its delay: the bytes this open has had, which a later READ pays again. */
    if (h->done_hi == h->done_lo)
        h->done_lo = r->offset, h->done_hi = r->offset + r->len;
    else if (r->offset < h->done_lo)
        h->done_lo = r->offset;
    if (r->offset + r->len > h->done_hi)
        h->done_hi = r->offset + r->len;
}

/* Starts open file h's delay at READ `unique`: the number in the path, or -m seed's draw. */
static void start_delay(struct server *s, struct handle *h, const struct node *n,
                        const struct request_in *rq) {
    h->charged = true;
    h->started_by = rq->h.unique;
    h->done_lo = h->done_hi = 0;
    h->delay_ms = n->delay_ms, h->error = 0;
    if (n->kind == KIND_SEED) {
        struct request model = {.delay_ms = -1}; /* a bare PATH: the seed's model decides */
        struct disk_plan d = plan_disk_read(&model, &s->rng);
        h->delay_ms = d.delay_ms, h->error = d.io_fail ? EIO : 0;
    }
    h->due_ms = rq->now + h->delay_ms;
}

/* FUSE_READ: the disk read. Past the end of the file it is answered at once, with no bytes (a
 * file system knows a file's size without asking its disk); eio/ fails at once with EIO. Any
 * other READ waits out its open file's delay (the top of this file says why one per open): the
 * first READ starts it, later ones are answered when it is paid, or at once if it is; a READ of
 * bytes this open has already had starts it again, and so does every READ under -P. Through
 * the page cache the kernel retries a failed readahead once, with a READ of one page: it fails
 * too, as the delay it joins does (under -P, -m seed draws again for it). */
static int do_read(struct server *s, const struct request_in *rq) {
    struct fuse_read_in in;
    struct node n;
    if (!take_arg(rq, &in, sizeof in))
        return EINVAL;
    if (!node_from_id(rq->h.nodeid, &n))
        return ESTALE;
    if (n.dir)
        return EISDIR;
    struct handle *h = handle_find(&s->handles, in.fh);
    if (!h)
        return EBADF;
    uint64_t size = file_size(&n), want = in.size < MAX_READ ? in.size : MAX_READ;
    struct pending_read r = {
        .unique = rq->h.unique, .nodeid = rq->h.nodeid, .offset = in.offset, .fh = in.fh};
    r.len = in.offset >= size ? 0 : (uint32_t)(size - in.offset < want ? size - in.offset : want);
    int64_t due = rq->now;
    bool joined = false; /* this READ waits out a delay an earlier READ of this open started */
    if (r.len > 0 && n.kind == KIND_EIO) {
        r.error = EIO;
    } else if (r.len > 0) {
        bool again =
            h->done_lo < h->done_hi && r.offset < h->done_hi && r.offset + r.len > h->done_lo;
        if (s->per_io || !h->charged || again)
            start_delay(s, h, &n, rq);
        r.charge = h->started_by, r.error = h->error;
        joined = r.charge != r.unique;
        if (h->due_ms > due)
            due = h->due_ms;
    }
    if (s->verbose) {
        char what[32] = "EIO";
        if (!r.error)
            snprintf(what, sizeof what, "%u bytes", r.len);
        if (joined)
            log_msg("READ %" PRIu64 ": node %016" PRIx64 " offset %" PRIu64
                    " size %u: %s in %" PRId64 " ms, the rest of READ %" PRIu64 "'s %d ms",
                    r.unique, r.nodeid, r.offset, in.size, what, due - rq->now, r.charge,
                    h->delay_ms);
        else
            log_msg("READ %" PRIu64 ": node %016" PRIx64 " offset %" PRIu64
                    " size %u: %s in %" PRId64 " ms",
                    r.unique, r.nodeid, r.offset, in.size, what, due - rq->now);
    }
    if (s->hold_next) { /* the READ is ours and unanswered: its reader waits until SIGCONT */
        s->hold_next = false;
        log_msg("holding READ %" PRIu64 " (a LOOKUP of /hold asked): stopped until SIGCONT",
                r.unique);
        s->hold();
    }
    if (due <= rq->now) {
        answer_read(s, &r);
        return 0;
    }
    struct pending_read *later = malloc(sizeof *later);
    if (later)
        *later = r;
    if (!later || heap_add(&s->reads, &later->timer, due) < 0) {
        free(later);
        return ENOMEM;
    }
    return 0;
}

/* FUSE_INTERRUPT: the process waiting for request `unique` got a signal (Ctrl-C, SIGKILL). A
 * killed reader cannot die until its READ is answered, so a pending read is answered EINTR now,
 * not after its delay. No reply to the INTERRUPT itself. The search is O(pending reads), which
 * is cheap for the hundreds a test makes; a hash by unique id would make it O(1). */
static void do_interrupt(struct server *s, const struct request_in *rq) {
    struct fuse_interrupt_in in;
    if (!take_arg(rq, &in, sizeof in))
        return;
    for (size_t i = 0; i < s->reads.len; i++) {
        struct pending_read *r = (struct pending_read *)s->reads.items[i];
        if (r->unique == in.unique) {
            heap_remove(&s->reads, &r->timer);
            if (s->verbose)
                log_msg("%s %" PRIu64 " interrupted", r->open ? "OPEN" : "READ", r->unique);
            reply(s, r->unique, EINTR, NULL, 0);
            free(r);
            return;
        }
    }
    /* not found: answered already, nothing to do */
}

/* FUSE_OPENDIR: a directory needs no state either. */
static int do_opendir(struct server *s, const struct request_in *rq) {
    struct node n;
    if (!node_from_id(rq->h.nodeid, &n))
        return ESTALE;
    if (!n.dir)
        return ENOTDIR;
    struct fuse_open_out out = {0};
    return answer(s, rq, &out, sizeof out);
}

/* FUSE_READDIR: every name exists, so no listing can hold them all: each directory lists only
 * "." and "..". in.offset is where the last call stopped (the `off` of its last entry). */
static int do_readdir(struct server *s, const struct request_in *rq) {
    struct fuse_read_in in;
    struct node n;
    if (!take_arg(rq, &in, sizeof in))
        return EINVAL;
    if (!node_from_id(rq->h.nodeid, &n))
        return ESTALE;
    if (!n.dir)
        return ENOTDIR;
    static const char *const names[] = {".", ".."};
    char buf[2 * FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + 2)];
    size_t len = 0;
    for (uint64_t i = in.offset; i < 2; i++) {
        struct fuse_dirent d = {.ino = i == 0 ? rq->h.nodeid : FUSE_ROOT_ID,
                                .off = i + 1,
                                .namelen = (uint32_t)strlen(names[i]),
                                .type = S_IFDIR >> 12};
        size_t size = FUSE_DIRENT_SIZE(&d);
        if (len + size > in.size)
            break;
        memset(buf + len, 0, size);
        memcpy(buf + len, &d, FUSE_NAME_OFFSET);
        memcpy(buf + len + FUSE_NAME_OFFSET, names[i], d.namelen);
        len += size;
    }
    return answer(s, rq, buf, len);
}

/* The requests the kernel expects no reply to, whatever is wrong with them. */
static bool never_answered(uint32_t opcode) {
    return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT ||
           opcode == FUSE_NOTIFY_REPLY;
}

/* One function per request type. Returns 0 when answered, or the errno to answer with. */
static int dispatch(struct server *s, const struct request_in *rq) {
    if (rq->h.opcode == FUSE_INIT)
        return do_init(s, rq);
    if (!s->initialized)
        return EIO; /* the kernel sends nothing before INIT */
    switch (rq->h.opcode) {
    case FUSE_LOOKUP: return do_lookup(s, rq);
    case FUSE_GETATTR: return do_getattr(s, rq);
    case FUSE_OPEN: return do_open(s, rq);
    case FUSE_READ: return do_read(s, rq);
    case FUSE_OPENDIR: return do_opendir(s, rq);
    case FUSE_READDIR: return do_readdir(s, rq);
    case FUSE_RELEASE: return do_release(s, rq);
    case FUSE_RELEASEDIR: return answer(s, rq, NULL, 0); /* OPENDIR allocated nothing */
    case FUSE_SETATTR:
    case FUSE_SYMLINK:
    case FUSE_MKNOD:
    case FUSE_MKDIR:
    case FUSE_UNLINK:
    case FUSE_RMDIR:
    case FUSE_RENAME:
    case FUSE_RENAME2:
    case FUSE_LINK:
    case FUSE_WRITE:
    case FUSE_CREATE:
    case FUSE_TMPFILE:
    case FUSE_SETXATTR:
    case FUSE_REMOVEXATTR:
    case FUSE_FALLOCATE:
    case FUSE_COPY_FILE_RANGE: return EROFS;
    /* The rest (FLUSH, STATFS, GETXATTR, LSEEK, ...). The kernel remembers an ENOSYS and stops
     * sending that request, or does without: FLUSH then costs nothing at each close. */
    default: return ENOSYS;
    }
}

/* Decodes and answers one request: buf holds exactly the len bytes one read(2) of /dev/fuse
 * returned. Answers it (now, or later through the heap), or refuses it with a log line when it
 * is too broken to answer; never reads outside buf. Returns 0, or -1 when refused. */
static int serve_request(struct server *s, const char *buf, size_t len, int64_t now) {
    struct request_in rq = {.now = now};
    if (len < sizeof rq.h) {
        log_msg("refused: a request of %zu bytes is shorter than its header", len);
        return -1;
    }
    memcpy(&rq.h, buf, sizeof rq.h);
    if (rq.h.len != len) {
        log_msg("refused: request %" PRIu64 " says %u bytes, came with %zu", rq.h.unique, rq.h.len,
                len);
        return -1;
    }
    rq.arg = buf + sizeof rq.h;
    rq.arg_len = len - sizeof rq.h;
    /* The FORGETs: the kernel drops a node, and ours live in their ids: nothing to forget. */
    if (never_answered(rq.h.opcode)) {
        if (rq.h.opcode == FUSE_INTERRUPT)
            do_interrupt(s, &rq);
        return 0;
    }
    size_t extensions = (size_t)rq.h.total_extlen * 8; /* after the arguments; we ask for none */
    int err = EINVAL;
    if (extensions <= rq.arg_len) {
        rq.arg_len -= extensions;
        err = dispatch(s, &rq);
    }
    if (err)
        reply(s, rq.h.unique, err, NULL, 0);
    return 0;
}

/* Answers every pending read due by now. */
static void serve_due(struct server *s, int64_t now) {
    struct timer *t;
    while ((t = heap_pop_due(&s->reads, now))) {
        struct pending_read *r = (struct pending_read *)t;
        answer_read(s, r);
        free(r);
    }
}

/* Answers every pending read with EIO at once: the disk is going away. */
static void fail_pending(struct server *s) {
    struct timer *t;
    while ((t = heap_top(&s->reads))) {
        struct pending_read *r = (struct pending_read *)t;
        heap_remove(&s->reads, t);
        reply(s, r->unique, EIO, NULL, 0);
        free(r);
    }
}

#ifndef SLOWDISK_NO_MAIN /* the fuzzer (fuzz/fuzz_slowdisk.c) brings its own main */

/* Prints "slowdisk: text" to stderr, one line, and exits with status. */
__attribute__((format(printf, 2, 3), noreturn)) static void fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("slowdisk: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

/* ---- The mount: /dev/fuse, mount(2), and the mounts a killed run left behind -------------- */

/* The absolute path of mount point `arg`, found without stat-ing the mount point itself (as
 * realpath would): a dead FUSE mount may answer that with ENOTCONN. */
static int mountpoint_path(const char *arg, char *out, size_t size) {
    char dir[PATH_MAX], parent_real[PATH_MAX];
    size_t len = strlen(arg);
    while (len > 1 && arg[len - 1] == '/')
        len--;
    if (len >= sizeof dir)
        return errno = ENAMETOOLONG, -1;
    memcpy(dir, arg, len);
    dir[len] = '\0';
    const char *parent = ".", *base = dir;
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        base = slash + 1;
        parent = slash == dir ? "/" : dir;
    }
    if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return realpath(arg, out) ? 0 : -1; /* "/", "." or "..": not a mount we could take down */
    if (!realpath(parent, parent_real))
        return -1;
    if (snprintf(out, size, "%s/%s", strcmp(parent_real, "/") == 0 ? "" : parent_real, base) >=
        (int)size)
        return errno = ENAMETOOLONG, -1;
    return 0;
}

/* Undoes /proc/self/mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s) {
    char *out = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* The file system type of the topmost mount at path ("" if none) into type[size]. */
static void mount_type_at(const char *path, char *type, size_t size) {
    type[0] = '\0';
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return;
    char line[4096 + 2 * PATH_MAX];
    while (fgets(line, sizeof line, f)) {
        char point[PATH_MAX + 1], fstype[256];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4096s", point) != 1 ||
            sscanf(dash, " - %255s", fstype) != 1)
            continue;
        unescape(point);
        if (strcmp(point, path) == 0)
            snprintf(type, size, "%s", fstype); /* later lines are mounted on top */
    }
    fclose(f);
}

/* Takes down every slowdisk mount stacked at path, lazily (MNT_DETACH): a stale mount cannot
 * be unmounted any other way while a killed reader still holds a file in it. Returns how many,
 * or -1 with errno set. */
static int unmount_ours(const char *path) {
    char type[256];
    int n = 0;
    for (mount_type_at(path, type, sizeof type); strcmp(type, "fuse.slowdisk") == 0;
         mount_type_at(path, type, sizeof type)) {
        if (umount2(path, MNT_DETACH) < 0)
            return -1;
        n++;
    }
    return n;
}

/* Readies path for a new mount: an existing directory, not already served by a live slowdisk;
 * a stale slowdisk mount on it (its server was killed) is taken down. A plain stat(2) cannot
 * tell a stale mount: the kernel answers it from the attributes it cached, for up to
 * CACHE_TIMEOUT_S. AT_STATX_FORCE_SYNC makes it ask the server, and a dead one is ENOTCONN. */
static void prepare_mountpoint(const char *path) {
    struct statx stx;
    char type[256];
    if (statx(AT_FDCWD, path, AT_STATX_FORCE_SYNC, STATX_TYPE, &stx) < 0 && errno == ENOTCONN) {
        mount_type_at(path, type, sizeof type);
        if (strcmp(type, "fuse.slowdisk") != 0)
            fail(1, "%s: a dead %s mount, not ours to take down", path, type[0] ? type : "FUSE");
        if (unmount_ours(path) < 0)
            fail(1, "%s: cannot take down the stale mount: %s", path, strerror(errno));
        log_msg("took down the stale slowdisk mount on %s", path);
    }
    if (statx(AT_FDCWD, path, AT_STATX_FORCE_SYNC, STATX_TYPE, &stx) < 0)
        fail(1, "%s: %s (the mount point must be an existing directory)", path, strerror(errno));
    if (!S_ISDIR(stx.stx_mode))
        fail(1, "%s: not a directory", path);
    mount_type_at(path, type, sizeof type);
    if (strcmp(type, "fuse.slowdisk") == 0)
        fail(1, "%s: a running slowdisk serves it already (slowdisk -u %s takes it down)", path,
             path);
}

/* Opens /dev/fuse and mounts it on path. Exits EXIT_NO_FUSE with the reason where there is no
 * FUSE (no /dev/fuse, no permission, a container that forbids the mount). Returns the fd. */
static int mount_fuse(const char *path) {
    int fd = open("/dev/fuse", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    int err = errno;
    if (fd < 0)
        fail(err == ENOENT || err == ENXIO || err == ENODEV || err == EACCES || err == EPERM
                 ? EXIT_NO_FUSE
                 : 1,
             "FUSE unavailable: /dev/fuse: %s", strerror(err));
    /* rootmode: the root's type (a directory); user_id/group_id: who mounted it; allow_other:
     * other users may read it too; default_permissions: the kernel checks modes itself. */
    char opts[256];
    snprintf(opts, sizeof opts,
             "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions,"
             "max_read=%d",
             fd, getuid(), getgid(), MAX_READ);
    if (mount("slowdisk", path, "fuse.slowdisk", MS_NOSUID | MS_NODEV | MS_RDONLY, opts) < 0) {
        err = errno;
        fail(err == EPERM || err == EACCES || err == ENODEV ? EXIT_NO_FUSE : 1,
             "FUSE unavailable: mount %s: %s", path, strerror(err));
    }
    return fd;
}

/* Takes the mount down: a plain umount when nothing holds it, else lazily. */
static void unmount_fuse(const char *path) {
    if (umount2(path, 0) == 0)
        return;
    if (errno == EBUSY && umount2(path, MNT_DETACH) == 0)
        log_msg("%s is busy: unmounted lazily, it goes when the last file in it is closed", path);
    else if (errno != EINVAL) /* EINVAL: not mounted any more (slowdisk -u got there first) */
        log_msg("umount %s: %s", path, strerror(errno));
}

static int send_to_kernel(struct server *s, const struct iovec *iov, int iovcnt) {
    ssize_t n;
    do
        n = writev(s->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

static void stop_until_continued(void) {
    raise(SIGSTOP);
}

/* ---- The loop ------------------------------------------------------------------------------ */

/* Reads and answers requests until a signal arrives on sig_fd or the mount goes away. Prints
 * "mounted on MOUNTPOINT" (as_given) once FUSE_INIT is answered: from then on the mount works.
 * Returns the signal that stopped it, or 0 when the mount went away. */
static int serve(struct server *s, int sig_fd, const char *path, const char *as_given) {
    static char buf[REQUEST_BUF];
    bool announced = false;
    for (;;) {
        struct pollfd fds[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = sig_fd, .events = POLLIN}};
        if (poll(fds, 2, heap_wait_ms(&s->reads, now_ms())) < 0 && errno != EINTR)
            fail(1, "poll: %s", strerror(errno));
        struct signalfd_siginfo si;
        if (fds[1].revents && read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
            return (int)si.ssi_signo;
        /* A batch at a time, then the due replies, so a flood of requests cannot starve them. */
        for (int i = 0; i < 64 && fds[0].revents; i++) {
            ssize_t n = read(s->fd, buf, sizeof buf);
            if (n < 0 && errno == ENODEV) {
                log_msg("%s was unmounted", path);
                return 0;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOENT))
                break; /* ENOENT: a request interrupted before we could read it */
            if (n < 0)
                fail(1, "read /dev/fuse: %s", strerror(errno));
            serve_request(s, buf, (size_t)n, now_ms());
        }
        if (s->initialized && !announced) {
            printf("mounted on %s\n", as_given);
            fflush(stdout);
            announced = true;
        }
        serve_due(s, now_ms());
    }
}

/* The signals whose default action ends the process, all of which must unmount first: dying
 * without it leaves a dead mount (ENOTCONN) until slowdisk -u or the next start takes it down.
 * Not SIGPIPE: a reader of our stdout that went away is no reason to stop (it is ignored). Not
 * the faults (SIGSEGV, SIGBUS, SIGABRT, ...): a crash cannot be put off. */
static void ending_signals(sigset_t *set) {
    static const int ends_us[] = {SIGHUP,  SIGINT,  SIGQUIT,   SIGTERM,  SIGUSR1,
                                  SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,  SIGXCPU,
                                  SIGXFSZ, SIGPWR,  SIGIO,     SIGSTKFLT};
    sigemptyset(set);
    for (size_t i = 0; i < sizeof ends_us / sizeof *ends_us; i++)
        sigaddset(set, ends_us[i]);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
        sigaddset(set, sig);
}

__attribute__((noreturn)) static void usage(FILE *out, int status) {
    fprintf(out,
            "usage: slowdisk [-x] [-O] [-P] [-m MODEL] [-s SEED] [-v] MOUNTPOINT\n"
            "       slowdisk -u MOUNTPOINT\n"
            "Mounts a read-only FUSE file system on MOUNTPOINT (an existing directory) in which\n"
            "every path exists and reading MOUNTPOINT/DELAY_MS/NAME takes DELAY_MS (0..3600000):\n"
            "one delay for what one open file reads, however the kernel splits it into read\n"
            "requests (bytes it reads again pay again). Names ending in .d are directories,\n"
            "other names are files of 1-64 KiB of 32-byte lines \"NODEID OFFSET\\n\". Reads\n"
            "under MOUNTPOINT/eio/ fail at once with EIO. A lookup of MOUNTPOINT/hold fails\n"
            "(ENOENT) and stops slowdisk (SIGSTOP) once it has received the next read request,\n"
            "unanswered, until SIGCONT: a test's way to signal a reader surely mid-read.\n"
            "Prints \"mounted on MOUNTPOINT\" when ready. SIGTERM, SIGINT, SIGHUP and every\n"
            "other signal that would end it unmount it first (SIGPIPE is ignored). A stale\n"
            "mount a killed slowdisk left there is taken down first.\n"
            "  -x        direct I/O: every open's read pays its delay, the page cache is\n"
            "            bypassed (default: the page cache works as for a real disk)\n"
            "  -O        opens are slow too: each open(2) of a file below MOUNTPOINT/DELAY_MS/\n"
            "            waits DELAY_MS for its answer (lookups and stat stay instant)\n"
            "  -P        per I/O: every read request the kernel sends pays the whole delay, as\n"
            "            on a disk that is slow per I/O (readahead's pieces and the page-by-page\n"
            "            retry after an interrupted read each pay it)\n"
            "  -m MODEL  delay (default): the delay directory sets each read's delay;\n"
            "            seed: every top-level name is a directory, and each read draws its\n"
            "            delay from the seed's model (0.1%% fail with EIO after 300-3000 ms,\n"
            "            10%% take 6-20 s, the rest 75-400 ms)\n"
            "  -s SEED   seed for -m seed's draws (default 1)\n"
            "  -v        log every read request to stderr\n"
            "  -u        take down the slowdisk mount on MOUNTPOINT (stale or live), and exit\n"
            "Exit status: 0 after a clean unmount, 1 on error, 2 on bad usage,\n"
            "%d when FUSE is unavailable (no /dev/fuse, or the mount is refused).\n",
            EXIT_NO_FUSE);
    exit(status);
}

/* The flags, into s; true for -u (unmount only). Bad usage exits 2, --help 0. */
static bool parse_flags(int argc, char **argv, struct server *s) {
    bool unmount_only = false;
    static const struct option longopts[] = {{"help", no_argument, NULL, 'H'}, {0}};
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "xOPm:s:vu", longopts, NULL)) != -1) {
        switch (opt) {
        case 'x': s->direct_io = true; break;
        case 'O': s->slow_open = true; break;
        case 'P': s->per_io = true; break;
        case 'm':
            if (strcmp(optarg, "seed") != 0 && strcmp(optarg, "delay") != 0) {
                fprintf(stderr, "slowdisk: unknown model '%s' (delay or seed)\n", optarg);
                usage(stderr, 2);
            }
            s->seed_model = strcmp(optarg, "seed") == 0;
            break;
        case 's':
            errno = 0;
            s->rng.state = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "slowdisk: bad seed '%s'\n", optarg);
                usage(stderr, 2);
            }
            break;
        case 'v': s->verbose = true; break;
        case 'u': unmount_only = true; break;
        case 'H': usage(stdout, 0);
        default: usage(stderr, 2);
        }
    }
    if (optind != argc - 1)
        usage(stderr, 2);
    return unmount_only;
}

int main(int argc, char **argv) {
    log_start();
    log_as("slowdisk ", false);
    struct server s = {.uid = getuid(), .gid = getgid(), .mtime = time(NULL), .rng = {1}};
    bool unmount_only = parse_flags(argc, argv, &s);
    char path[PATH_MAX];
    if (mountpoint_path(argv[optind], path, sizeof path) < 0)
        fail(1, "%s: %s", argv[optind], strerror(errno));

    if (unmount_only) {
        int n = unmount_ours(path);
        if (n < 0)
            fail(1, "umount %s: %s", path, strerror(errno));
        fprintf(stderr, n ? "slowdisk: unmounted %s\n" : "slowdisk: no slowdisk mount on %s\n",
                path);
        return 0;
    }

    /* The stop signals arrive on a descriptor the loop polls, never in the middle of a reply. */
    sigset_t stop;
    ending_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    int sig_fd = signalfd(-1, &stop, SFD_CLOEXEC);
    if (sig_fd < 0)
        fail(1, "signalfd: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN); /* a test may stop reading our stdout: printf fails, we live */

    prepare_mountpoint(path);
    s.fd = mount_fuse(path);
    s.send = send_to_kernel;
    s.hold = stop_until_continued;
    s.data = malloc(MAX_READ);
    if (!s.data)
        fail(1, "out of memory");
    int sig = serve(&s, sig_fd, path, argv[optind]);
    if (sig)
        log_msg("stopped by signal %d (%s): unmounting %s", sig, strsignal(sig), path);
    fail_pending(&s);
    if (sig)
        unmount_fuse(path);
    close(s.fd);
    close(sig_fd);
    heap_free(&s.reads);
    handles_free(&s.handles);
    free(s.data);
    log_msg("stopped");
    return 0;
}

#endif
