#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/time_types.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libc has no wrappers for these three: syscall(2) is the whole interface. */
static int sys_setup(unsigned entries, struct io_uring_params *p) {
    return (int)syscall(__NR_io_uring_setup, entries, p);
}
static int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, void *arg,
                     size_t argsz) {
    return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz);
}

/* The kernel reads our SQ tail and writes its CQ tail from another CPU: an acquire load pairs
 * with the other side's release store, so the entries behind an index are seen before it. */
#define load_acquire(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int uring_init(struct uring *r, unsigned sq_entries, unsigned cq_entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    memset(r, 0, sizeof *r);
    /* CQSIZE: our CQ size, not twice the SQ's. SUBMIT_ALL: an SQE that fails does not stop the
     * kernel taking the ones after it, so no linked chain is ever left half in the SQ. */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = cq_entries;
    r->fd = sys_setup(sq_entries, &p);
    if (r->fd < 0)
        return -errno;
    r->features = p.features;
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;
    r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    /* Since 5.4 both rings live in one mapping (IORING_FEAT_SINGLE_MMAP). */
    if (p.features & IORING_FEAT_SINGLE_MMAP && r->cq_map_len > r->sq_map_len)
        r->sq_map_len = r->cq_map_len;
    r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                     IORING_OFF_SQ_RING);
    r->cq_map = p.features & IORING_FEAT_SINGLE_MMAP
                    ? r->sq_map
                    : mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                           r->fd, IORING_OFF_CQ_RING);
    r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                   IORING_OFF_SQES);
    if (r->sq_map == MAP_FAILED || r->cq_map == MAP_FAILED || r->sqes == MAP_FAILED) {
        int err = errno;
        uring_exit(r);
        return -err;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    /* The SQ ring holds indexes into the SQE array; slot i always names SQE i here. */
    for (unsigned i = 0; i < p.sq_entries; i++)
        r->sq_array[i] = i;
    r->sq_local_tail = *r->sq_tail;
    return 0;
}

void uring_exit(struct uring *r) {
    if (r->sqes && r->sqes != MAP_FAILED)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map && r->sq_map != MAP_FAILED)
        munmap(r->sq_map, r->sq_map_len);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

unsigned uring_sq_space(const struct uring *r) {
    return r->sq_entries - (r->sq_local_tail - load_acquire(r->sq_head));
}

struct io_uring_sqe *uring_get_sqe(struct uring *r) {
    if (uring_sq_space(r) == 0)
        return NULL; /* every slot holds an SQE the kernel has not consumed yet */
    struct io_uring_sqe *sqe = &r->sqes[r->sq_local_tail & *r->sq_mask];
    r->sq_local_tail++;
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

static int enter(struct uring *r, unsigned min_complete, unsigned flags, void *arg, size_t argsz) {
    store_release(r->sq_tail, r->sq_local_tail); /* publish the SQEs filled so far */
    unsigned pending = r->sq_local_tail - load_acquire(r->sq_head);
    int n;
    do
        n = sys_enter(r->fd, pending, min_complete, flags, arg, argsz);
    while (n < 0 && errno == EINTR && min_complete == 0);
    return n < 0 ? -errno : n;
}

/* The kernel may take fewer SQEs than offered. With SUBMIT_ALL it stops early only when it cannot
 * allocate a request (out of memory: -EAGAIN if it took none); a full CQ does not stop it on the
 * kernels SUBMIT_ALL needs (5.18+), whose CQEs wait on the overflow list instead. What it took it
 * has issued, a linked chain cut short too; the rest stay in the SQ for the next call, where a
 * LINK_TIMEOUT left without its head fails with -EINVAL and cancels what is linked behind it.
 * Calling again at once could not mend that chain, and every SQE still posts its one CQE: the
 * count is all there is to return. */
int uring_submit(struct uring *r) {
    if (r->sq_local_tail == load_acquire(r->sq_head))
        return 0; /* nothing to say: skip the system call */
    return enter(r, 0, 0, NULL, 0);
}

int uring_wait(struct uring *r, int timeout_ms) {
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                   .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    struct io_uring_getevents_arg arg = {.ts = (unsigned long long)(uintptr_t)&ts};
    int n = enter(r, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
    return n < 0 ? n : 0;
}

struct io_uring_cqe *uring_peek_cqe(struct uring *r) {
    unsigned head = *r->cq_head; /* only we write the head */
    if (head == load_acquire(r->cq_tail))
        return NULL;
    return &r->cqes[head & *r->cq_mask];
}

void uring_cqe_seen(struct uring *r) {
    store_release(r->cq_head, *r->cq_head + 1); /* the kernel may now reuse that slot */
}

bool uring_cq_overflowed(const struct uring *r) {
    return load_acquire(r->sq_flags) & IORING_SQ_CQ_OVERFLOW;
}

int uring_get_events(struct uring *r) {
    int n = enter(r, 0, IORING_ENTER_GETEVENTS, NULL, 0);
    return n < 0 ? n : 0;
}

int uring_register(struct uring *r, unsigned opcode, void *arg, unsigned nr_args) {
    int n = (int)syscall(__NR_io_uring_register, r->fd, opcode, arg, nr_args);
    return n < 0 ? -errno : n;
}

int uring_opcode_supported(struct uring *r, unsigned opcode) {
    size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *probe = calloc(1, size);
    if (!probe)
        return -ENOMEM;
    int ret = uring_register(r, IORING_REGISTER_PROBE, probe, 256);
    if (ret >= 0)
        ret = opcode <= probe->last_op && opcode < probe->ops_len &&
              (probe->ops[opcode].flags & IO_URING_OP_SUPPORTED);
    free(probe);
    return ret;
}

const char *uring_refusal(int err, char *buf, size_t len) {
    int disabled = -1;
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    if (f) {
        if (fscanf(f, "%d", &disabled) != 1)
            disabled = -1;
        fclose(f);
    }
    if (err == -ENOSYS)
        snprintf(buf, len,
                 "this kernel has no io_uring (too old, built without CONFIG_IO_URING, "
                 "or a sandbox that hides the system call)");
    else if (err == -EPERM && disabled == 2)
        snprintf(buf, len, "io_uring is switched off for everyone (kernel.io_uring_disabled = 2)");
    else if (err == -EPERM && disabled == 1)
        snprintf(buf, len,
                 "io_uring is switched off outside kernel.io_uring_group "
                 "(kernel.io_uring_disabled = 1)");
    else if (err == -EINVAL)
        snprintf(buf, len,
                 "io_uring_setup refused CQSIZE, CLAMP or SUBMIT_ALL: this kernel is "
                 "older than 5.18");
    else if (err == -EPERM)
        snprintf(buf, len,
                 "io_uring_setup was refused (EPERM): most likely a seccomp filter, as "
                 "in the default profiles of Docker and other container runtimes");
    else
        snprintf(buf, len, "io_uring_setup failed: %s", strerror(-err));
    return buf;
}
