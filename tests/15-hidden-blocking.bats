#!/usr/bin/env bats
# Chapter 15: the blocking calls you don't see. Each test runs one mode and -m safe under the
# load that the mode's hidden call stalls: in the mode, requests that should be fast time out
# and bin/loopwatch -W 200 reports the loop blocked, in the kernel function it waits in; in
# -m safe, the same work off the loop, they do not and it stays silent. open and mmap read from
# bin/slowdisk (FUSE), and skip with its reason where FUSE is unavailable.
load helpers
load part3_helpers
load slowdisk_helpers

SHIPPER=

teardown() {
    local found=0
    [ -n "$SHIPPER" ] && kill -CONT "$SHIPPER" 2>/dev/null
    stop_server || true
    [ -n "${BG_PID:-}" ] && { kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; }
    if sanitizer_report "${SERVER_LOG:-}"; then
        found=1
        cat "$SERVER_LOG" >&2
    fi
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    unmount_slowdisk || found=1
    if [ -n "$SHIPPER" ] && kill -0 "$SHIPPER" 2>/dev/null; then
        echo "the log shipper $SHIPPER outlived its server" >&2
        kill -KILL "$SHIPPER"
        found=1
    fi
    [ "$found" -eq 0 ]
}

# serve MODE [FLAGS...]: stops the server running, if any (failing on a sanitizer report in its
# log), and starts chapter 15 in MODE under bin/loopwatch -W $W (default 200; W=off: alone).
serve() {
    stop_server || true
    [ -n "${BG_PID:-}" ] && { wait "$BG_PID" 2>/dev/null || true; BG_PID=; }
    if sanitizer_report "${SERVER_LOG:-}"; then
        cat "$SERVER_LOG" >&2
        return 1
    fi
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    if [ "${W:-}" = off ]; then
        start_server "$BIN/15-hidden-blocking" -m "$@"
    else
        start_watched -W "${W:-200}" -- "$BIN/15-hidden-blocking" -m "$@"
    fi
}

# blocked WCHAN: loopwatch reported the loop blocked, waiting in a kernel function matching
# WCHAN ("running": on a CPU, in no system call).
blocked() {
    grep -Eq "loop blocked [0-9]+ ms: (.*waiting in ($1)|($1),)" "$SERVER_LOG"
}
# not_blocked: loopwatch reported no turn that waited. A turn that only ran long (a burst of a
# thousand requests on a loaded machine, under the sanitizers) is work, not a wait: "running, in
# no system call" is the one report left out.
not_blocked() {
    ! grep "loop blocked" "$SERVER_LOG" | grep -vq "ms: running, in no system call"
}

# in_stack NAME: the loop thread's stack in the report names NAME (a regex). Not checked in a
# sanitizer build: loopwatch scans a blocked thread's stack from outside it, and the frames a
# sanitizer adds can hide libc's (the live line that names the call is still checked).
in_stack() {
    ! sanitized || return 0
    sed -n '/loop blocked [0-9]* ms/,/loop unblocked/p' "$SERVER_LOG" | grep -Eq "$1"
}

# one_beside_fast PATH: one request for PATH (no disk delay, in the background) and 100 ms later
# nine reads of 50 ms that give up after 1000 ms; their summary is left in $output.
one_beside_fast() {
    client_in_background "$BATS_TEST_TMPDIR/one.json" -c 1 -n 1 -d 0 -t 10000 --path "$1"
    sleep 0.1
    client -c 9 -n 9 -d 50 -t 1000
}

# The dying disk (one read of 2500 ms, then nine of 50 ms), its paths under PREFIX.
# shellcheck disable=SC2086 # the scenario's arguments are words
dying_disk_under() { client ${SCENARIO_ARGS[dying-disk]} --path "$1"; }

# loop_major_faults: the loop thread's major page faults so far (field 12 of its stat).
loop_major_faults() {
    sed 's/^.*) //' "/proc/$SERVER_PID/task/$SERVER_PID/stat" | awk '{ print $10 }'
}

# major_faults_above N: true once the loop thread has taken more than N major faults (the fault is
# counted when it ends); waits up to 8 s.
major_faults_above() {
    local i
    for i in $(seq 160); do
        [ "$(loop_major_faults)" -gt "$1" ] && return 0
        nap 0.05
    done
    return 1
}

@test "15: -m safe: no timeouts in the shared scenario, only the slow read slow, loopwatch silent" {
    serve safe
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    sleep 1.2 # until the slow read has been answered
    grep -q "loopwatch: reporting loop turns longer than 200 ms" "$SERVER_LOG"
    check 'not_blocked'
    [ "$(grep -c '^access: .*"GET /obj/[0-9]*" 0 ' "$SERVER_LOG")" -eq 20 ] # one line each
}

# dying_disk_with_probe: the dying disk's load, and 500 ms in (the slow read under way, the
# fast ones sent) a bad request, which the loop answers itself (RC 2: no worker, no lock); the
# load's summary in $output, the bad request's wait in ms in $PROBE_MS.
dying_disk_with_probe() {
    local start end
    # shellcheck disable=SC2086 # the scenario's arguments are words
    client_in_background "$BATS_TEST_TMPDIR/dying.json" ${SCENARIO_ARGS[dying-disk]}
    sleep 0.5
    start=$(date +%s%N)
    printf 'not a request\n' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null 2>&1
    end=$(date +%s%N)
    PROBE_MS=$(((end - start) / 1000000))
    echo "the bad request was answered in $PROBE_MS ms"
    wait "$BG_PID" || true # 1: the slow read timed out
    BG_PID=
    output=$(cat "$BATS_TEST_TMPDIR/dying.json")
}

# The dying disk's slow read goes first and its worker takes the lock for 2500 ms; 100 ms later
# the loop, taking the same lock for the next request, waits for that read to end. (In the
# shared scenario the reads also queue for the lock, one at a time, but whether the loop waits
# too depends on when each request arrives.)
@test "15: -m mutex: a worker holds the stats lock across a slow read, the loop waits for it: timeouts" {
    serve safe
    dying_disk_with_probe
    check '[ "$(field ok)" -eq 9 ] && [ "$PROBE_MS" -lt 1000 ] && not_blocked'
    serve mutex
    dying_disk_with_probe
    # Not one fast read in time, and even the bad request waited for the slow read to end.
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 10 ] && [ "$PROBE_MS" -ge 1000 ]'
    check 'blocked "futex[a-z_]*"'
    check 'in_stack pthread_mutex_lock'
    # The lock also makes the reads take turns: in the shared scenario most time out, where
    # -m safe answers all ten.
    serve mutex
    shared_scenario
    check '[ "$(field timeouts)" -ge 4 ]'
}

@test "15: -m checksum: a 4 GiB object's checksum on the loop stalls nine fast reads; on a worker it does not" {
    serve safe
    one_beside_fast /4G/big
    check '[ "$(field ok)" -eq 9 ] && not_blocked'
    serve checksum
    one_beside_fast /4G/big
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 9 ]'
    check 'blocked running' # on a CPU, in no system call at all
}

@test "15: -m log: with the log shipper frozen, the full pipe stops the loop; -m safe drops lines instead" {
    skip_heavy_under_tsan # a burst of 1,000 with -t 1000
    needs_fds 1100
    for mode in safe log; do
        serve "$mode"
        SHIPPER=$(sed -n 's/.*log shipper, pid \([0-9]*\).*/\1/p' "$SERVER_LOG")
        kill -STOP "$SHIPPER"
        client -c 1000 -n 1000 -d 0 -t 1000 # 1000 access lines: more than the pipe's 64 KiB
        burst_ok=$(field ok)
        shared_scenario
        if [ "$mode" = safe ]; then
            check '[ "$burst_ok" -eq 1000 ] && [ "$(field timeouts)" -eq 0 ] && not_blocked'
        else
            check '[ "$burst_ok" -lt 1000 ] && [ "$(field ok)" -eq 0 ]'
            check 'blocked "[a-z_]*pipe_write"'
        fi
        kill -CONT "$SHIPPER" # the shipper reads again: the loop goes on
        [[ $(ask '10,/after\n') =~ ^0,[0-9]+,[0-9]+,/after$ ]]
        stop_server
        ! kill -0 "$SHIPPER" 2>/dev/null # gone with its server
        SHIPPER=
        [ "$mode" = log ] || grep -Eq "access log: [0-9]+ lines dropped in all" "$SERVER_LOG"
    done
}

@test "15: -m dns: getaddrinfo of a name the resolver never answers stalls the loop; on a worker it does not" {
    serve safe
    grep -q "names will not be looked up" "$SERVER_LOG" && skip "$(grep -o 'resolver: .*' "$SERVER_LOG")"
    one_beside_fast /@replica.invalid/obj
    check '[ "$(field ok)" -eq 9 ] && not_blocked'
    serve dns
    one_beside_fast /@replica.invalid/obj
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 9 ]'
    check 'in_stack getaddrinfo'
    wait "$BG_PID" || true
    BG_PID=
    grep -q "/@replica.invalid/obj0: Temporary failure in name resolution" "$SERVER_LOG"
    # A name in /etc/hosts is answered from the file, at once, even on the loop.
    [[ $(ask '0,/@localhost/x\n') =~ ^0,[0-9]+,[0-9]?[0-9],/@localhost/x$ ]]
}

@test "15: -m open: on a disk slow to open, an open on the loop stalls the fast reads, though the read is offloaded" {
    mount_slowdisk -O
    serve safe -D "$MNT"
    dying_disk_under /safe/
    check '[ "$(field ok)" -eq 9 ] && [ "$(field p90_ms)" -lt 1000 ] && not_blocked'
    serve open -D "$MNT"
    dying_disk_under /open/
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 10 ]'
    check 'blocked request_wait_answer' # waiting for the disk's answer to FUSE_OPEN
    check 'in_stack "open64|interceptor_open"'
}

@test "15: -m mmap: the copy out of a mapping faults, and the fault waits for the disk: no system call" {
    mount_slowdisk
    local prefix=/mmap/
    serve safe -D "$MNT"
    faults=$(loop_major_faults)
    dying_disk_under "$prefix"
    check '[ "$(field ok)" -eq 9 ] && not_blocked'
    [ "$(loop_major_faults)" -eq "$faults" ]
    stop_server
    unmount_slowdisk # a fresh mount: nothing of it in the page cache
    mount_slowdisk
    serve mmap -D "$MNT"
    faults=$(loop_major_faults)
    dying_disk_under "$prefix"
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 10 ]'
    check 'blocked request_wait_answer'
    # The loop thread took major faults: reads from the disk, with no read(2).
    major_faults_above "$faults"
}

# A page fault cannot fail the way read(2) does: when the disk fails the read a fault needs, the
# kernel sends SIGBUS, and SIGBUS killed the server ("Bus error", exit 135). It is a read error
# like any other: RC 2, and the server serves on. Seed 29's first bare PATH is the seed model's
# I/O failure, which -D reads from the slow disk's eio/, where every read fails.
@test "15: -m mmap: a read error under the mapping (SIGBUS) is RC 2, and the server serves on, 10 of 10" {
    mount_slowdisk
    local round reply
    for round in $(seq 10); do
        W=off serve mmap -D "$MNT" -s 29
        reply=$(ask '/obj\n')
        check '[[ $reply =~ ^2,0,[0-9]+,/obj$ ]] && grep -q "io fail /obj" "$SERVER_LOG"' ||
            { echo "round $round: the failed read got '$reply'" >&2; return 1; }
        reply=$(ask '10,/after\n')
        check '[[ $reply =~ ^0,[0-9]+,[0-9]+,/after$ ]]' || { echo "round $round" >&2; return 1; }
    done
}

# loop_in_fault: waits up to 3 s until the loop thread sleeps in a FUSE request: here, the page
# fault of the copy out of the mapping, waiting for the disk.
loop_in_fault() {
    local i
    for i in $(seq 60); do
        [ "$(cat "/proc/$SERVER_PID/task/$SERVER_PID/wchan" 2>/dev/null)" = request_wait_answer ] &&
            return 0
        nap 0.05
    done
    echo "the loop never waited in request_wait_answer" >&2
    return 1
}

# The disk dies mid-read (its process killed, as a disk's controller vanishes): the fault's read
# ends with the file system gone, and the kernel sends SIGBUS too. RC 2 for that read, and the
# next request is answered: RC 2 as well, since the disk is gone, but by a server still there.
# Three rounds, each on a fresh disk (a round takes 2 s under the sanitizers).
@test "15: -m mmap: the disk killed mid-read (SIGBUS) is RC 2, and the server serves on, 3 of 3" {
    local round reply
    for round in 1 2 3; do
        mount_slowdisk
        W=off serve mmap -D "$MNT"
        ask '3000,/dying\n' >"$BATS_TEST_TMPDIR/reply" &
        BG_PID=$!
        loop_in_fault
        kill -KILL "$SD_PID"
        wait "$SD_PID" || true
        SD_PID=
        wait "$BG_PID"
        BG_PID=
        reply=$(cat "$BATS_TEST_TMPDIR/reply")
        check '[[ $reply =~ ^2,0,[0-9]+,/dying$ ]]' ||
            { echo "round $round: the read the dead disk ended got '$reply'" >&2; return 1; }
        reply=$(ask '10,/after\n')
        check '[[ $reply =~ ^2,0,[0-9]+,/after$ ]] && kill -0 "$SERVER_PID"' ||
            { echo "round $round: afterwards a request got '$reply'" >&2; return 1; }
        stop_server
        unmount_slowdisk
    done
}

# A path may ask for an object of any size (/5G/...), and its checksum is CPU time: 1.2 s a GiB
# here. Four requests for 1 TiB held the four workers for 20 minutes, and every request behind
# them waited. Now a size over 5 GiB (Swift's largest object) is refused at once, RC 2, and a
# checksum still running at the deadline gives up, RC 1: a worker is free again within one
# chunk's checksum of the deadline.
@test "15: huge objects: over 5 GiB refused at once, a checksum past the deadline gives up, a small read behind them is served" {
    W=off serve safe -T 1000
    local i dir=$BATS_TEST_TMPDIR pids=() small huge big
    for i in 1 2 3 4; do
        ask "0,/1024G/huge-$i\\n" >"$dir/huge-$i" &
        pids+=($!)
        ask "0,/5G/big-$i\\n" >"$dir/big-$i" & # 6 s of checksum each, here
        pids+=($!)
    done
    sleep 0.5 # the four big ones hold the four workers
    small=$(ask '10,/small\n')
    wait "${pids[@]}"
    check '[[ $small =~ ^0,[0-9]+,[0-9]+,/small$ ]]' # RC 0: it waited less than -T for a worker
    for i in 1 2 3 4; do
        huge=$(cat "$dir/huge-$i") big=$(cat "$dir/big-$i")
        check '[[ $huge =~ ^2,0,([0-9]+),/1024G/huge-$i$ ]] && [ "${BASH_REMATCH[1]}" -lt 1000 ]'
        # RC 1 within the deadline and a second: the deadline and one chunk, on a busy machine
        check '[[ $big =~ ^1,0,([0-9]+),/5G/big-$i$ ]] && [ "${BASH_REMATCH[1]}" -lt 2000 ]'
    done
    [ "$(grep -c 'larger than 5 GiB' "$SERVER_LOG")" -eq 4 ]
    [ "$(grep -c 'checksum given up' "$SERVER_LOG")" -eq 4 ]
}

# -m checksum computes on the loop, on purpose: the loop stalls while it does (the test above
# this one). The deadline bounds that stall too: the loop gives up at it, answers RC 1, and
# serves the requests that arrived meanwhile.
@test "15: -m checksum: the loop's checksum gives up at the deadline, and the loop comes back" {
    local big
    W=off serve checksum -T 1000
    ask '0,/5G/big\n' >"$BATS_TEST_TMPDIR/big" &
    BG_PID=$!
    sleep 0.3 # the loop computes
    client -c 1 -n 1 -d 10 -t 3000 # answered within 3 s: the deadline, one chunk, and a margin
    check '[ "$(field ok)" -eq 1 ]'
    wait "$BG_PID"
    BG_PID=
    big=$(cat "$BATS_TEST_TMPDIR/big")
    check '[[ $big =~ ^1,0,([0-9]+),/5G/big$ ]] && [ "${BASH_REMATCH[1]}" -lt 2000 ]'
    grep -q '/5G/big: checksum given up' "$SERVER_LOG"
}

@test "15: -m open and -m mmap without -D, or an unknown mode, are refused with a reason" {
    run "$BIN/15-hidden-blocking" -m open
    [ "$status" -eq 2 ]
    [[ $output == *"-m open needs -D DIR"* ]]
    run "$BIN/15-hidden-blocking" -m mmap
    [ "$status" -eq 2 ]
    run "$BIN/15-hidden-blocking" -m nope
    [ "$status" -eq 2 ]
    [[ $output == *"bad -m 'nope'"* ]]
}

@test "15: bad input gets RC 2 or a close, and the server keeps serving" {
    serve safe
    survives_bad_input
}

@test "15: SIGTERM stops it cleanly mid-read, and mid-write to a full log pipe, shipper and all" {
    serve safe
    stops_cleanly_mid_read
    serve log
    SHIPPER=$(sed -n 's/.*log shipper, pid \([0-9]*\).*/\1/p' "$SERVER_LOG")
    kill -STOP "$SHIPPER"
    client -c 1000 -n 1000 -d 0 -t 500 # the pipe is full: the loop is stuck in write(2)
    blocked "[a-z_]*pipe_write" || { sleep 0.5; blocked "[a-z_]*pipe_write"; }
    local pid=$SERVER_PID status=0
    kill -TERM "$pid"
    timeout 3 tail --pid="$pid" -f /dev/null || status=$?
    [ "$status" -eq 0 ]
    wait "$pid" || status=$?
    SERVER_PID=
    [ "$status" -eq 0 ]
    ! kill -0 "$SHIPPER" 2>/dev/null
    SHIPPER=
}
