/* Chapter 07: one thread per connection, the seeds' C/Java/Go/Rust answer.
 * Chapter 01's blocking serve_connection, unchanged, but main() hands each accepted connection to
 * a new thread, so a slow read blocks only its own thread and the kernel schedules the rest.
 * What breaks: every waiting request costs a whole thread (a stack, a kernel task); at the
 * thread limit pthread_create fails with EAGAIN and the server must refuse the connection. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blocking.h"
#include "disk.h"
#include "flags.h"
#include "job.h"
#include "log.h"
#include "net.h"
#include "protocol.h"
#include "signals.h"
#include "trace.h"

/* A thread needs ~8 KiB here (two buffers, a job, log_msg's line); the default 8 MiB stack
 * is address space it never touches. 64 KiB keeps 10,000 threads inside 640 MiB of mappings. */
#define THREAD_STACK (64 * 1024)

static struct server_config cfg;
static struct prng rng;
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER; /* threads share the delay model */
static atomic_int in_flight; /* connection threads running: only for the log at shutdown */

/* Chapter 01's handler, line for line: it may block as long as it likes, it blocks only itself. */
static void serve_connection(int fd) {
    char in[MAX_REQUEST], out[MAX_REPLY];
    size_t in_len, out_len;
    struct job job = {.fd = fd, .arrived_ms = now_ms()}; /* accepted just now */
    const char *why;

    enum parse_status status =
        read_request(fd, in, &in_len, cfg.deadline_ms, &job.req, &why, read_until);
    if (status == PARSE_INCOMPLETE) {
        log_msg("client closed without a request");
        close_connection(fd);
        return;
    }
    if (status == PARSE_BAD) {
        out_len = job_reply_bad(&job, out, why);
    } else {
        pthread_mutex_lock(&rng_lock);
        job.disk = plan_disk_read(&job.req, &rng);
        pthread_mutex_unlock(&rng_lock);
        job_start_read(&job, now_ms());
        disk_read(job.req.path, &job.disk); /* the disk read: only this thread waits */
        job_finish(&job, now_ms(), cfg.deadline_ms);
        out_len = job_reply(&job, out, now_ms(), cfg.verbose);
    }
    reply_and_close(&job, out, out_len, cfg.deadline_ms, write_until, read_until);
}

static void *connection_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    trace_thread("thread-%d", (int)gettid());
    serve_connection(fd); /* and closes it */
    atomic_fetch_sub(&in_flight, 1);
    return NULL;
}

/* Starts a detached thread for fd. Returns 0, or the pthread_create error (EAGAIN at the
 * thread limit: RLIMIT_NPROC, kernel.threads-max, or no memory for another stack). */
static int spawn_connection_thread(int fd, const pthread_attr_t *attr) {
    /* The new thread inherits this mask: stop signals must reach main(), whose accept() they
     * interrupt, and never a connection thread, which would swallow them. */
    sigset_t stop, old;
    stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    pthread_t t;
    atomic_fetch_add(&in_flight, 1);
    int err = pthread_create(&t, attr, connection_main, (void *)(intptr_t)fd);
    if (err != 0)
        atomic_fetch_sub(&in_flight, 1);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

int main(int argc, char **argv) {
    parse_server_flags(argc, argv, &cfg,
                       &(struct chapter_flags){.about = "Chapter 07: one thread per connection."});
    install_signal_handlers();
    trace_thread("accept");
    rng.state = cfg.seed;
    raise_fd_limit();
    int listen_fd = listen_tcp(cfg.host, cfg.port, 0);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED); /* nobody joins: it just ends */
    if (pthread_attr_setstacksize(&attr, THREAD_STACK) != 0)
        die("cannot set a %d-byte thread stack", THREAD_STACK);

    while (!stop_requested) {
        int fd = accept_client(listen_fd, 0);
        if (fd < 0)
            continue; /* a signal, or an error accept_client has logged */
        int err = spawn_connection_thread(fd, &attr);
        if (err != 0) {
            /* Out of threads: refuse this one connection; the ones already running go on. */
            log_msg("refusing connection: cannot start a thread: %s", strerror(err));
            close(fd);
        }
    }
    /* Shutdown drops what is in flight, as in chapters 01-06: no reply rather than a late or
     * false one, and the client sees its connection close. Returning from main ends every
     * connection thread with the process, mid-sleep, and the kernel closes their sockets;
     * nothing to join, so Ctrl-C takes effect at once however long the reads are. */
    log_msg("stopping: %d request(s) in flight closed without a reply", atomic_load(&in_flight));
    pthread_attr_destroy(&attr);
    close(listen_fd);
    return 0;
}
