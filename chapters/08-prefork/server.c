/* Chapter 08: processes instead of threads: fork per connection, or a prefork pool.
 * -m fork: chapter 01's serve_connection in a child forked for each accepted connection.
 * -m prefork (default): -w N children forked at start-up, each running chapter 01's whole
 * accept loop on the one shared listening socket; the kernel hands each connection to one.
 * What breaks: fork costs a process per request (page tables, a kernel task); the pool caps
 * concurrency at N, so N slow reads make request N+1 wait, unseen, in the accept queue. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

#define MAX_CHILDREN 4096 /* fork mode: beyond this many at once, refuse rather than fork */

static struct server_config cfg;
static struct prng rng;
static pid_t children[MAX_CHILDREN]; /* live children; 0 = free slot */
static int listen_fd;
static pid_t parent_pid;

/* Chapter 01's handler, line for line: it blocks only the process it runs in. */
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
    if (stop_requested)
        return; /* interrupted by the stop: no reply rather than a false "bad request" */
    if (status == PARSE_BAD) {
        out_len = job_reply_bad(&job, out, why);
    } else {
        job.disk = plan_disk_read(&job.req, &rng);
        job_start_read(&job, now_ms());
        disk_read(job.req.path, &job.disk); /* the disk read: only this process waits */
        if (stop_requested) {
            close_connection(fd); /* stopping mid-read: no reply, not a false one */
            return;
        }
        job_finish(&job, now_ms(), cfg.deadline_ms);
        out_len = job_reply(&job, out, now_ms(), cfg.verbose);
    }
    reply_and_close(&job, out, out_len, cfg.deadline_ms, write_until, read_until);
}

/* A prefork child: chapter 01's main loop. Every child sleeps in accept() on the same socket;
 * the kernel wakes one per connection. */
static void prefork_child(int unused) {
    (void)unused;
    while (!stop_requested) {
        int fd = accept_client(listen_fd, 0); /* -1: a signal, or an error it logged */
        if (fd >= 0)
            serve_connection(fd); /* serves it and closes it */
    }
}

static void on_sigchld(int sig) {
    (void)sig; /* only interrupts accept()/sigsuspend(), so the parent reaps */
}

/* Forks a child that runs fn(arg_fd), restores the signal mask it inherited, and exits.
 * Records it in children[]. Returns its pid, or -1 (logged) when fork fails or the table is full.
 */
static pid_t spawn(void (*fn)(int), int arg_fd, const sigset_t *child_mask) {
    int slot = 0;
    while (slot < MAX_CHILDREN && children[slot])
        slot++;
    pid_t pid = slot < MAX_CHILDREN ? fork() : (errno = EAGAIN, -1);
    if (pid < 0) {
        log_msg("cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* When the parent dies, even by SIGKILL, stop too: an orphan would go on serving the
         * port, unreplaced when it dies, and keep a restarted server from binding it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent_pid)
            _exit(0); /* it died before prctl */
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        signal(SIGCHLD, SIG_DFL);
        rng.state ^= (uint64_t)getpid() << 32; /* a copied PRNG would draw the same delays */
        trace_process("proc-%d", (int)getpid());
        fn(arg_fd);
        _exit(0); /* not exit(): the parent's stdio buffers and atexit handlers are not ours */
    }
    children[slot] = pid;
    return pid;
}

/* Collects every child that has exited, so none lingers as a zombie. Returns how many. */
static int reap_children(void) {
    int reaped = 0, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_CHILDREN; i++)
            if (children[i] == pid)
                children[i] = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            log_msg("child %d died (status %#x)", (int)pid, status);
        reaped++;
    }
    return reaped;
}

/* SIGTERM each child (a child mid-read wakes from its sleep and exits) and wait for all. */
static void stop_children(void) {
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i])
            kill(children[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

static void serve_and_close(int fd) {
    close(listen_fd);     /* this child serves one connection and accepts none */
    serve_connection(fd); /* and closes it */
}

static void run_fork_per_connection(const sigset_t *mask) {
    while (!stop_requested) {
        reap_children();
        int fd = accept_client(listen_fd, 0);
        if (fd < 0)
            continue; /* a signal, or an error accept_client has logged */
        if (spawn(serve_and_close, fd, mask) < 0)
            log_msg("refusing connection: no process to serve it");
        close(fd); /* the child has its own copy of the descriptor */
    }
}

static void run_prefork_pool(const sigset_t *mask) {
    for (int i = 0; i < cfg.workers; i++)
        if (spawn(prefork_child, -1, mask) < 0)
            die("cannot start child %d of %d", i + 1, cfg.workers);
    /* Stop and child-exit signals are blocked here, so none can slip in between the check and
     * the wait: sigsuspend unblocks them and waits, atomically. */
    while (!stop_requested) {
        sigsuspend(mask);
        for (int dead = reap_children(); dead > 0 && !stop_requested; dead--)
            spawn(prefork_child, -1, mask); /* keep the pool at N */
    }
}

int main(int argc, char **argv) {
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 08: a prefork pool of -w processes, or a "
                                         "process forked per connection (-m fork).",
                                .extra = "w:",
                                .modes = (const char *[]){"prefork", "fork", NULL},
                                .workers = "processes in the prefork pool"});
    bool fork_mode = cfg.mode == 1;
    if (fork_mode && flag_given('w'))
        flag_error("-w sizes the prefork pool; -m fork has none (a process per connection)");
    install_signal_handlers();
    struct sigaction sa = {.sa_handler = on_sigchld}; /* no SA_RESTART: accept() must return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    rng.state = cfg.seed;
    parent_pid = getpid();
    listen_fd = listen_tcp(cfg.host, cfg.port, 0);

    sigset_t mask, blocked;
    sigprocmask(SIG_SETMASK, NULL, &mask);
    stop_signals(&blocked);
    sigorset(&blocked, &blocked, &mask);
    sigaddset(&blocked, SIGCHLD);
    if (fork_mode) {
        run_fork_per_connection(&mask);
    } else {
        sigprocmask(SIG_SETMASK, &blocked, NULL);
        run_prefork_pool(&mask);
    }
    log_msg("stopping");
    close(listen_fd);
    stop_children();
    return 0;
}
