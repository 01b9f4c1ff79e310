/* Chapter 11's -m per-process: a process per disk, each with its own loop and pool, as Swift's
 * servers_per_port runs them. Swift gives each disk its own port and the proxy connects to the
 * right one; here one port is kept and the parent, which only routes, passes each connection
 * with the request it read to its disk's process over a socket pair (SCM_RIGHTS). The parent also
 * looks after the processes: it restarts one that dies, and answers RC 1 at its deadline a
 * request that a stopped or stuck process has not taken. */
#ifndef DISK_PROCESS_H
#define DISK_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct server_config;

/* Forks cfg->disks processes and watches them on the parent's loop. Each keeps only its end of
 * its socket pair from what it inherited (not the listening socket, not the parent's clients),
 * frees the parent's loop, runs serve(from_parent), its whole life, and exits. serve makes a
 * loop of its own and watches from_parent with on_handoff. Only the parent returns. Dies on
 * error: start-up only. */
void disk_processes_start(struct loop *parent, const struct server_config *cfg,
                          void (*serve)(int from_parent));

/* In the parent: passes c, its request read whole, to disk's process, which answers it. Returns
 * false when that process is not keeping up: as many hand-offs wait for it as its socket holds. */
bool hand_off(struct conn *c, int disk);

/* In a disk's process, what to watch from_parent with (arg: that process's loop): serves every
 * connection waiting there as if its request had just arrived, accepted at its accept time in
 * the parent. Sets stop_requested when the parent is gone. */
void on_handoff(struct ev *ev, int fd, uint32_t events, void *loop);

/* In the parent, after its loop has stopped: stops every disk's process and waits for it. */
void disk_processes_stop(void);

#endif
