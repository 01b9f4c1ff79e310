#!/usr/bin/env bats
# Chapter 02: non-blocking sockets in a busy loop: nobody times out, but a core burns.
load helpers

setup() { start_server "$BIN/02-busy-poll"; }

@test "02: the shared scenario has no timeouts" {
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'      # everyone in about one read, not ten
}

# A spinning loop never sleeps: it is on a CPU or waiting for one all the time (runnable_seconds,
# scripts/proc.bash). How much of a core it gets depends on what else runs (the test suite runs
# three files at once on two cores); that it wants one whole does not.
@test "02: it burns at least half a core while every request is only waiting" {
    local run0 run1 t0 t1
    run0=$(runnable_seconds "$SERVER_PID") t0=$(date +%s.%N)
    client -c 10 -n 10 -d 1000 -t 3000
    run1=$(runnable_seconds "$SERVER_PID") t1=$(date +%s.%N)
    check '[ "$(field ok)" -eq 10 ]'
    check 'above 0.5 "$(awk -v a=$run0 -v b=$run1 -v s=$t0 -v e=$t1 "BEGIN { print (b - a) / (e - s) }")"'
}

@test "02: it burns a core even with no client at all" {
    local run0 run1
    run0=$(runnable_seconds "$SERVER_PID")
    sleep 1
    run1=$(runnable_seconds "$SERVER_PID")
    check 'above 0.5 "$(awk -v a=$run0 -v b=$run1 "BEGIN { print b - a }")"'
}

@test "02: a read past the deadline is cut off at the deadline with RC 1" {
    stop_server
    start_server "$BIN/02-busy-poll" -T 300
    start=$(date +%s%N)
    [[ $(ask '5000,/slow\n') =~ ^1,0,[0-9]+,/slow$ ]]
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ]
    grep -q 'timeout (service) /slow' "$SERVER_LOG"
}

@test "02: bad input gets RC 2 or a close, and the server keeps serving" {
    survives_bad_input
}

@test "02: SIGTERM stops it cleanly in the middle of a read" {
    stops_cleanly_mid_read
}
