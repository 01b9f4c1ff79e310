/* Chapter 13: one event loop per core, each with its own worker pool.
 * Chapter 06's loop (common/loop.c) and pool (common/pool.c), forked into -j processes. By
 * default each has its own listening socket on the same port (SO_REUSEPORT, reuseport.c) and the
 * kernel hashes every new connection to one of them; with -m exclusive they share one socket, each
 * epoll holding it with EPOLLEXCLUSIVE. What breaks: a connection hashed to a loop that is blocked
 * waits for it, though the others are idle: with a request under /block/ (read on the loop, chapter
 * 05's bug) 1/N of clients stall. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "reuseport.h"
#include "signals.h"
#include "trace.h"

static struct server_config cfg;
static struct prng rng;
static struct pool *pool; /* this process's: each loop has its own */
static int loop_id;       /* 0 is the parent process, 1..N-1 the children it forked */

/* A request under /block/ is read on the loop itself: the one call somebody forgot to offload.
 * This loop stops for its whole length, and so does every connection the kernel gives it. */
static enum want read_on_loop(struct conn *c, int64_t now) {
    if (c->job.disk.delay_ms > 0)
        log_msg("loop %d blocked for %d ms by %s", loop_id, c->job.disk.delay_ms, c->job.req.path);
    job_start_read(&c->job, now);
    disk_read(c->job.req.path, &c->job.disk);
    job_finish(&c->job, now_ms(), cfg.deadline_ms);
    return conn_reply(c, now_ms());
}

/* The whole request is in: queue its read for this loop's workers, as chapter 06 does. */
static enum want on_request(struct conn *c, int64_t now) {
    c->job.disk = plan_disk_read(&c->job.req, &rng);
    if (strncmp(c->job.req.path, "/block/", 7) == 0)
        return read_on_loop(c, now);
    return pool_submit(pool, c, now);
}

/* One event loop: chapter 06's main, run in every process on its own listening socket (or, with
 * exclusive, on the shared one). Returns when a stop signal arrives. */
static void run_loop(int listen_fd, bool exclusive) {
    struct loop *loop = loop_new(&(struct loop_spec){.cfg = &cfg,
                                                     .listen_fd = listen_fd,
                                                     .shared_listener = exclusive,
                                                     .on_request = on_request});
    /* Started after fork(), in each process: threads do not survive it. */
    pool = pool_start(loop,
                      &(struct pool_spec){.workers = cfg.workers, .deadline_ms = cfg.deadline_ms});
    loop_run(loop);
    log_msg("loop %d (pid %d) stopping; connections accepted: %ld", loop_id, (int)getpid(),
            loop_accepted(loop));
    pool_stop(pool);
    loop_free(loop);
}

/* Forks loops 1..N-1; each keeps only its own listening socket, so none holds one it never
 * accepts from (the kernel would keep hashing connections to it). Returns the child pids. */
static void fork_loops(int *listen_fds, bool exclusive, pid_t *pids) {
    pid_t parent = getpid();
    for (int i = 1; i < cfg.loops; i++) {
        if ((pids[i] = fork()) < 0)
            perror_die("fork");
        if (pids[i] > 0)
            continue;
        loop_id = i;
        trace_process("core-%d", i + 1); /* its lanes: core-2/loop, core-2/worker-1, ... */
        rng.state = cfg.seed + (uint64_t)i;
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* the parent died, even by SIGKILL: stop too */
        if (getppid() != parent)
            exit(0);
        for (int j = 0; j < cfg.loops && !exclusive; j++)
            if (j != i)
                close(listen_fds[j]);
        /* Its own socket, for a stop to shut (signals.c), as the parent's first stop shuts its
         * own; never the shared one, which every loop waits on. */
        if (!exclusive)
            stop_shuts_listener(listen_fds[i]);
        run_loop(listen_fds[exclusive ? 0 : i], exclusive);
        close(listen_fds[exclusive ? 0 : i]);
        exit(0);
    }
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 13: one event loop per core (-j), each "
                                         "with its own worker pool;\n-m reuseport: a "
                                         "listening socket per loop on one port;\n-m "
                                         "exclusive: one shared listening socket, woken "
                                         "with EPOLLEXCLUSIVE.",
                                .extra = "w:j:",
                                .modes = (const char *[]){"reuseport", "exclusive", NULL}});
    bool exclusive = cfg.mode == 1;
    install_signal_handlers();
    rng.state = cfg.seed;
    int listen_fds[256]; /* -j is at most 256 */
    pid_t pids[256];
    if (exclusive)
        listen_fds[0] = listen_tcp(cfg.host, cfg.port, LISTEN_NONBLOCK);
    else
        reuseport_listen(cfg.host, cfg.port, cfg.loops, listen_fds);
    fork_loops(listen_fds, exclusive, pids);
    for (int i = 1; i < cfg.loops && !exclusive; i++)
        close(listen_fds[i]);

    if (cfg.loops > 1)
        trace_process("core-1");
    run_loop(listen_fds[0], exclusive);
    for (int i = 1; i < cfg.loops; i++) /* Ctrl-C reached them too; SIGTERM may not have */
        kill(pids[i], SIGTERM);
    for (int i = 1; i < cfg.loops; i++) {
        int status = 0;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            log_msg("loop %d (pid %d) ended badly: status %d", i, (int)pids[i], status);
    }
    close(listen_fds[0]);
    return 0;
}
