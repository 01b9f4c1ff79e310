#!/usr/bin/env bats
# Chapter 04: epoll and a timer heap: no timeouts, no CPU, and 10,000 connections at once.
load helpers

setup() { start_server "$BIN/04-epoll"; }

@test "04: the shared scenario has no timeouts" {
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'
}

@test "04: the dying disk: only the slow read is slow" {
    # The slow read's timer goes in first: the heap must put each later, earlier one above it.
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ] && [ "$(field p90_ms)" -lt 500 ]'
}

@test "04: near-zero CPU while every request is waiting" {
    cpu_ratio_during -c 10 -n 10 -d 1000 -t 3000
    check '[ "$(field ok)" -eq 10 ]'
    check 'below 0.05 "$CPU_RATIO"'
}

@test "04: 10,000 concurrent connections each waiting 1 s are all answered" {
    needs_fds 10100
    skip_heavy_under_tsan
    client -c 10000 -n 10000 -d 1000 -t 8000
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10000 ]'
}

@test "04: a request split across several writes is put back together" {
    reply=$( { printf '25'; sleep 0.2; printf '0,/spl'; sleep 0.2; printf 'it\n'; } \
             | timeout 5 nc -N 127.0.0.1 "$PORT")
    [[ $reply =~ ^0,[0-9]+,([0-9]+),/split$ ]]
    [ "${BASH_REMATCH[1]}" -ge 250 ]             # the whole 250 ms read, after the last byte
}

@test "04: a client too slow to send its request is answered RC 2 at the deadline" {
    stop_server
    start_server "$BIN/04-epoll" -T 500
    reply=$( { printf '10,/a'; sleep 2; } | timeout 5 nc -N 127.0.0.1 "$PORT")
    [ "$reply" = "2,0,0,-" ]
    grep -q 'bad request: request took too long to arrive' "$SERVER_LOG"
}

@test "04: bad input gets RC 2 or a close, and the server keeps serving" {
    survives_bad_input
}

@test "04: SIGTERM stops it cleanly in the middle of a read" {
    stops_cleanly_mid_read
}
