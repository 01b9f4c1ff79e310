#!/usr/bin/env bats
# Chapter 06: blocking reads on a worker pool: the loop never blocks, only slow reads are slow.
load helpers
load slowdisk_helpers

setup() { start_server "$BIN/06-worker-offload"; }

# helpers' teardown, and the slow disk a test may have mounted.
eval "helpers_$(declare -f teardown)"
teardown() {
    local status=0
    unmount_slowdisk || status=1
    helpers_teardown || status=1
    return "$status"
}

@test "06: the shared scenario has no timeouts (4 workers, 10 reads of 300 ms)" {
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
}

@test "06: the dying disk: only the slow request is slow" {
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    check '[ "$(field p90_ms)" -lt 500 ]'       # the fast reads were answered fast
}

@test "06: near-zero CPU while every request is waiting" {
    # Two rounds of 4 reads on the 4 workers: the window holds the first replies, the doorbell
    # they rang, and the second round's wait after them, when a doorbell left unanswered (its
    # eventfd never read) would keep epoll_wait returning at once.
    cpu_ratio_during -c 4 -n 8 -d 500 -t 3000
    check '[ "$(field ok)" -eq 8 ]'
    check 'below 0.05 "$CPU_RATIO"'
}

@test "06: the pool's limit: slow reads hold every worker, the rest expire in the queue" {
    stop_server
    start_server "$BIN/06-worker-offload" -w 2 -T 1000
    client -c 6 -n 6 -d 50 --slow 3000 --slow-count 2 -t 6000
    # Both workers spend 3 s on the slow reads; the 4 fast ones wait past the 1 s deadline.
    check '[ "$(field server_timeouts)" -eq 6 ] && [ "$(field ok)" -eq 0 ]'
    [ "$(grep -c 'timeout (queue)' "$SERVER_LOG")" -eq 4 ]
    [ "$(grep -c 'timeout (service)' "$SERVER_LOG")" -eq 2 ]
}

@test "06: 10,000 concurrent connections are all answered (8 workers, 1 ms reads)" {
    needs_fds 10100
    skip_heavy_under_tsan
    stop_server
    start_server "$BIN/06-worker-offload" -w 8
    client -c 10000 -n 10000 -d 1 -t 10000
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10000 ]'
}

@test "06: -w sets the number of worker threads" {
    stop_server
    # Counted once a request is answered: the server prints its listening line before it starts
    # its workers, and the loop answers only after (a ThreadSanitizer run counted 6 with -w 7).
    start_server "$BIN/06-worker-offload" -w 3
    ask '0,/ready\n' >/dev/null
    three=$(thread_count "$SERVER_PID")
    stop_server
    start_server "$BIN/06-worker-offload" -w 7
    ask '0,/ready\n' >/dev/null
    seven=$(thread_count "$SERVER_PID")
    echo "threads: $three with -w 3, $seven with -w 7"
    [ $((seven - three)) -eq 4 ]                 # (a sanitizer may add a thread of its own)
}

@test "06: bad input gets RC 2 or a close, and the server keeps serving" {
    survives_bad_input
}

@test "06: SIGTERM stops it cleanly while a worker is in the middle of a read" {
    stops_cleanly_mid_read
}

@test "06: POSIX AIO is a thread pool too: aio_read() returns at once, glibc's threads do the reads" {
    local fuse=0
    try_mount_slowdisk || fuse=$?
    if [ "$fuse" -eq 0 ]; then
        run "$BIN/aio-threads" -n 4 "$MNT"
        echo "$output"
        [ "$status" -eq 0 ]
        # 100 ms on, each of the four reads still waits for the disk, in a thread of its own.
        [ "$(grep -c 'in kernel: request_wait_answer' <<<"$output")" -eq 4 ]
    else
        [ "$fuse" -eq 69 ] # no FUSE here: fast reads of a regular file show the threads too
        echo "# no slow disk ($SLOWDISK_WHY): reading a regular file" >&3
        run "$BIN/aio-threads" -n 4
        echo "$output"
        [ "$status" -eq 0 ]
    fi
    before=$(sed -n 's/^threads before: *//p' <<<"$output")
    after=$(sed -n 's/^threads after aio_read: *//p' <<<"$output")
    later=$(sed -n 's/^threads 1.5 s later: *//p' <<<"$output")
    # More than the one thread that called aio_read; an idle helper waits 1 s, then goes.
    [ "$after" -gt "$before" ] && [ "$after" -gt 1 ] && [ "$later" -lt "$after" ]
}
