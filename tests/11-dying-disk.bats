#!/usr/bin/env bats
# Chapter 11: one dying disk among two. A shared pool lets it starve the healthy disk; a pool or a
# process per disk keeps the healthy disk's p99 near its p99 alone; a deadline answers fast, RC 1.
load helpers
load part3_helpers

# Two disks, 2 workers per disk (the shared pool gets 4), a 1 s server deadline.
setup() { start_server "$BIN/11-dying-disk" -d 2 -w 2 -T 1000 -m "${MODE:-shared}"; }
# setup_again: the same with MODE set; the first server's files go (teardown sees only the last).
setup_again() {
    stop_server
    ! sanitizer_report "$SERVER_LOG" || { cat "$SERVER_LOG" >&2; return 1; }
    rm -f "$SERVER_OUT" "$SERVER_LOG"
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

# alive PID...: those of the PIDs still running (a zombie has exited: it only waits to be collected).
alive() {
    local pid state
    for pid in "$@"; do
        state=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
        [[ $state == Z* ]] || echo "$pid"
    done
}

# disk_pid K: the pid of disk K's newest process, from its "disk K: process PID" line (waits up
# to 2 s for the first one: the parent prints "listening on" before it forks them).
disk_pid() {
    local i pid
    for i in $(seq 40); do
        pid=$(sed -n "s/.*disk $1: process \([0-9]*\)$/\1/p" "$SERVER_LOG" | tail -1)
        [ -n "$pid" ] && { echo "$pid"; return; }
        nap 0.05
    done
}

# replaced_within_1s K OLD: waits up to 1 s for disk K's process OLD to have a successor; prints
# its pid.
replaced_within_1s() {
    local i pid
    for i in $(seq 20); do
        pid=$(disk_pid "$1")
        [ "$pid" != "$2" ] && break
        nap 0.05
    done
    echo "$pid"
}

@test "11: per-process: a disk process killed with -9 is replaced within 1 s; what waited is served" {
    MODE=per-process setup_again
    local old new
    old=$(disk_pid 0)
    kill -STOP "$old" # so that the reads below wait for it in the hand-off, unread
    client_in_background "$BATS_TEST_TMPDIR/waiting.json" -c 20 -n 20 -d 10 -t 3000 --path /d0/
    sleep 0.3
    kill -KILL "$old"
    new=$(replaced_within_1s 0 "$old")
    check '[ "$new" != "$old" ]'
    grep -q "disk 0: process $old died" "$SERVER_LOG"
    wait "$BG_PID" || true
    output=$(cat "$BATS_TEST_TMPDIR/waiting.json")
    check '[ "$(field ok)" -eq 20 ]' # the new process served what waited for the dead one
    [[ $(ask '10,/d0/after\n') =~ ^0,[0-9]+,[0-9]+,/d0/after$ ]]
    [ "$(pgrep -c -P "$SERVER_PID")" -eq 2 ] # the dead one collected, not a zombie
}

@test "11: per-process: a stopped disk process's reads are answered RC 1 at their deadline" {
    MODE=per-process setup_again
    local pid
    pid=$(disk_pid 0)
    kill -STOP "$pid"
    (sleep 2; kill -CONT "$pid") 3>&- &
    local resume=$!
    sleep 0.2
    client -c 50 -n 50 -d 0 -t 4000 --path /d0/
    wait "$resume"
    # Every one RC 1 by -T 1000 (and a little), while the process was still stopped: not read late.
    check '[ "$(field server_timeouts)" -eq 50 ] && [ "$(field max_ms)" -lt 1500 ]'
    grep -q 'timeout (queue) /d0/' "$SERVER_LOG"
    [[ $(ask '10,/d0/after\n') =~ ^0,[0-9]+,[0-9]+,/d0/after$ ]] # resumed, it serves again
}

@test "11: per-process: 5,000 zero-delay reads are all answered, even with a disk 300 ms behind" {
    needs_fds 2048
    MODE=per-process setup_again
    client -c 200 -n 5000 -d 0
    check '[ "$(field ok)" -eq 5000 ]'
    local pid
    pid=$(disk_pid 0)
    kill -STOP "$pid" # more hand-offs wait for it than the default socket buffer holds (278)
    client_in_background "$BATS_TEST_TMPDIR/burst.json" -c 400 -n 5000 -d 0
    sleep 0.3
    kill -CONT "$pid"
    wait "$BG_PID" || true
    output=$(cat "$BATS_TEST_TMPDIR/burst.json")
    check '[ "$(field ok)" -eq 5000 ]'
    ! grep -q 'not keeping up' "$SERVER_LOG"
}

@test "11: per-process: kill -9 of the parent leaves no disk process, not even a restarted one" {
    MODE=per-process setup_again
    local old new port=$PORT kids left i
    old=$(disk_pid 0)
    kill -KILL "$old"
    new=$(replaced_within_1s 0 "$old")
    check '[ "$new" != "$old" ]'
    kids=$(pgrep -P "$SERVER_PID")
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    for i in $(seq 20); do
        # shellcheck disable=SC2086 # one pid a word
        left=$(alive $kids | xargs)
        [ -z "$left" ] && break
        nap 0.05
    done
    # shellcheck disable=SC2086
    [ -z "$left" ] || kill -KILL $left # nothing may outlive the test, even when it fails
    check '[ -z "$left" ]'
    # The children are gone, their last words in the log: a sanitizer's report fails the test.
    ! sanitizer_report "$SERVER_LOG" || { cat "$SERVER_LOG" >&2; return 1; }
    rm -f "$SERVER_OUT" "$SERVER_LOG"
    start_server "$BIN/11-dying-disk" -p "$port" -d 2 -m per-process # the port is free
}

@test "11: per-process: SIGTERM stops the server even while a disk process is stopped" {
    MODE=per-process setup_again
    local pid status=0
    pid=$(disk_pid 0)
    kill -STOP "$pid"
    stops_cleanly_mid_read || status=$?
    kill -CONT "$pid" 2>/dev/null || true # if the server could not stop it, nothing is left stopped
    [ "$status" -eq 0 ]
}

@test "11: -m accepts only the four designs" {
    run "$BIN/11-dying-disk" -p 0 -m sometimes
    [ "$status" -ne 0 ] && [[ $output == *"shared, per-disk, per-process or deadline"* ]]
}
