/* The io_uring plumbing, on the raw system calls (no liburing): set a ring up, map its two
 * rings and its SQE array, hand SQEs to the kernel, take CQEs back. The kernel and the program
 * share these rings through memory; each side only ever moves its own index (we move the SQ
 * tail and the CQ head, the kernel the SQ head and the CQ tail), so no lock is needed, only the
 * memory ordering in uring.c. Chapter 12 shows what to do with it. */
#ifndef URING_H
#define URING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>

struct uring {
    int fd;
    unsigned features; /* IORING_FEAT_* the kernel reported */
    unsigned sq_entries, cq_entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *sq_flags; /* the kernel's IORING_SQ_* flags: IORING_SQ_CQ_OVERFLOW */
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    unsigned sq_local_tail; /* SQEs filled but not yet published to the kernel */
    void *sq_map, *cq_map;  /* the mappings, for munmap */
    size_t sq_map_len, cq_map_len, sqes_len;
};

/* Sets up a ring with room for sq_entries SQEs and cq_entries CQEs (at least sq_entries; the
 * kernel rounds both up to a power of two and clamps them to its maximum: read r->sq_entries and
 * r->cq_entries) and maps it. Returns 0, or -errno: -ENOSYS (no io_uring in this kernel), -EPERM
 * (refused: the kernel.io_uring_disabled sysctl, a seccomp filter, a container's profile),
 * -EINVAL (a kernel older than 5.18), -ENOMEM... */
int uring_init(struct uring *r, unsigned sq_entries, unsigned cq_entries);

/* Unmaps and closes the ring. The kernel cancels whatever is still in flight. */
void uring_exit(struct uring *r);

/* How many SQEs uring_get_sqe can hand out before the next uring_submit. */
unsigned uring_sq_space(const struct uring *r);

/* A zeroed SQE to fill in, or NULL when the SQ ring is full (call uring_submit, then retry). */
struct io_uring_sqe *uring_get_sqe(struct uring *r);

/* Publishes every SQE filled since the last call and tells the kernel (io_uring_enter, never
 * waiting). Returns how many the kernel took, or -errno (EINTR already retried). */
int uring_submit(struct uring *r);

/* Publishes pending SQEs and sleeps until at least one CQE is there or timeout_ms passes.
 * Returns 0, or -errno (-ETIME when the time ran out, -EINTR on a signal). */
int uring_wait(struct uring *r, int timeout_ms);

/* The oldest unread completion, or NULL when there is none yet. Copy out what you need, then
 * call uring_cqe_seen: after that the kernel may reuse the slot. */
struct io_uring_cqe *uring_peek_cqe(struct uring *r);
void uring_cqe_seen(struct uring *r);

/* True when the CQ ring overflowed: the kernel holds CQEs it had no room for on its own list,
 * and posts every later CQE there too, until uring_get_events moves them into the ring. */
bool uring_cq_overflowed(const struct uring *r);

/* Publishes pending SQEs and has the kernel move its overflowed CQEs into the CQ ring, as far as
 * there is room, without waiting (io_uring_enter with GETEVENTS, the only call that does). Returns
 * 0, or -errno: -EBUSY (older kernels: the ring is full again, reap and call again)... */
int uring_get_events(struct uring *r);

/* io_uring_register(2). Returns its result (>= 0), or -errno. */
int uring_register(struct uring *r, unsigned opcode, void *arg, unsigned nr_args);

/* 1 when the kernel supports opcode (IORING_REGISTER_PROBE), 0 when not, -errno if it cannot
 * tell. */
int uring_opcode_supported(struct uring *r, unsigned opcode);

/* Why the kernel refused io_uring_setup with err (a -errno from uring_init), in words, with the
 * kernel.io_uring_disabled sysctl's value when it explains it. Returns buf. */
const char *uring_refusal(int err, char *buf, size_t len);

#endif
