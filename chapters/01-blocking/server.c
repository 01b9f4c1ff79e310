/* Chapter 01: the blocking server.
 * One connection at a time: accept, read the request, "read the disk" (sleep), reply, close.
 * What breaks: while one request sleeps, every other client waits in the kernel's accept queue,
 * so under concurrent load the k-th client waits k reads and the late ones time out. */
#include <errno.h>
#include <stdio.h>
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

static void serve_connection(int fd, const struct server_config *cfg, struct prng *rng) {
    char in[MAX_REQUEST], out[MAX_REPLY];
    size_t in_len, out_len;
    struct job job = {.fd = fd, .arrived_ms = now_ms()}; /* accepted just now */
    const char *why;

    enum parse_status status =
        read_request(fd, in, &in_len, cfg->deadline_ms, &job.req, &why, read_until);
    if (status == PARSE_INCOMPLETE) {
        log_msg("client closed without a request");
        close_connection(fd);
        return;
    }
    if (status == PARSE_BAD) {
        out_len = job_reply_bad(&job, out, why);
    } else {
        job.disk = plan_disk_read(&job.req, rng);
        job_start_read(&job, now_ms());
        disk_read(job.req.path, &job.disk); /* the disk read: nothing else happens meanwhile */
        if (stop_requested) {
            close_connection(fd); /* stopping mid-read: no reply, not a false one */
            return;
        }
        job_finish(&job, now_ms(), cfg->deadline_ms);
        out_len = job_reply(&job, out, now_ms(), cfg->verbose);
    }
    reply_and_close(&job, out, out_len, cfg->deadline_ms, write_until, read_until);
}

int main(int argc, char **argv) {
    struct server_config cfg;
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Chapter 01: a blocking server, one request at a time."});
    install_signal_handlers();
    int listen_fd = listen_tcp(cfg.host, cfg.port, 0);
    struct prng rng = {cfg.seed};

    while (!stop_requested) {
        int fd = accept_client(listen_fd, 0); /* -1: a signal, or an error it logged */
        if (fd >= 0)
            serve_connection(fd, &cfg, &rng); /* serves it and closes it */
    }
    log_msg("stopping");
    close(listen_fd);
    return 0;
}
