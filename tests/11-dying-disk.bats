#!/usr/bin/env bats
# Chapter 11: one dying disk among two. A shared pool lets it starve the healthy disk; a pool or a
# process per disk keeps the healthy disk's p99 near its p99 alone; a deadline answers fast, RC 1.
load helpers
load part3_helpers

# Two disks, 2 workers per disk (the shared pool gets 4), a 1 s server deadline.
setup() { start_server "$BIN/11-dying-disk" -d 2 -w 2 -T 1000 -m "${MODE:-shared}"; }
setup_again() {
    stop_server
    setup
}

# The bound the isolated designs keep: healthy p99 beside the dying disk <= 2 x alone + 50 ms.
within_bound() {
    [ "$(field p99_ms)" -le $((2 * ALONE_P99 + 50)) ]
}

@test "11: shared: the dying disk takes every worker and the healthy disk's reads time out" {
    healthy_alone
    dying_disk_beside_healthy
    check '[ "$(field timeouts)" -ge 4 ] && ! within_bound'
    grep -q 'timeout (queue) /d1/' "$SERVER_LOG" # healthy reads expired waiting for a worker
}

@test "11: per-disk: a pool per disk keeps the healthy disk's p99 within 2x its p99 alone" {
    MODE=per-disk setup_again
    healthy_alone
    dying_disk_beside_healthy
    check '[ "$(field ok)" -eq 20 ] && within_bound'
}

@test "11: per-process: a process per disk keeps the healthy disk's p99 within 2x alone" {
    MODE=per-process setup_again
    [ "$(pgrep -c -P "$SERVER_PID")" -eq 2 ] # one process per disk
    healthy_alone
    dying_disk_beside_healthy
    check '[ "$(field ok)" -eq 20 ] && within_bound'
}

@test "11: deadline: no healthy read waits past its deadline: the stale ones are answered RC 1" {
    MODE=deadline setup_again
    dying_disk_beside_healthy
    check '[ "$(field client_timeouts)" -eq 0 ] && [ "$(field server_timeouts)" -ge 1 ]'
    check '[ "$(field max_ms)" -lt 1400 ]' # the 1 s deadline, not the 2.5 s reads
    grep -q 'timeout (queue) /d1/' "$SERVER_LOG"
}

@test "11: a path naming a disk the server does not have is a bad request" {
    [ "$(ask '10,/d7/obj\n')" = "2,0,0,-" ]
    grep -q 'bad request: no such disk' "$SERVER_LOG"
    [[ $(ask '10,/d1/obj\n') =~ ^0,[0-9]+,[0-9]+,/d1/obj$ ]]
}

@test "11: per-process: bad input gets RC 2 or a close, and the server keeps serving" {
    MODE=per-process setup_again
    survives_bad_input
}

@test "11: per-process: SIGTERM stops the parent and every disk process mid-read" {
    MODE=per-process setup_again
    local children
    children=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
    stops_cleanly_mid_read
    for pid in $children; do ! kill -0 "$pid" 2>/dev/null; done
}

@test "11: -m accepts only the four designs" {
    run "$BIN/11-dying-disk" -p 0 -m sometimes
    [ "$status" -ne 0 ] && [[ $output == *"shared, per-disk, per-process or deadline"* ]]
}
