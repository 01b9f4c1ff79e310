#!/usr/bin/env bats
# Chapter 02: non-blocking sockets in a busy loop: nobody times out, but a core burns.
load helpers

setup() { start_server "$BIN/02-busy-poll"; }

@test "02: the shared scenario has no timeouts" {
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'      # everyone in about one read, not ten
}

@test "02: it burns at least half a core while every request is only waiting" {
    cpu_ratio_during -c 10 -n 10 -d 1000 -t 3000
    check '[ "$(field ok)" -eq 10 ]'
    check 'above 0.5 "$CPU_RATIO"'
}

@test "02: it burns a core even with no client at all" {
    cpu0=$(cpu_seconds "$SERVER_PID")
    sleep 1
    cpu1=$(cpu_seconds "$SERVER_PID")
    check 'above 0.5 "$(awk -v a=$cpu0 -v b=$cpu1 "BEGIN { print b - a }")"'
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
