#!/usr/bin/env bats
# Chapter 03: select() sleeps until something is ready: no timeouts, no CPU, an FD_SETSIZE wall;
# -m poll, the same loop on poll(), has no wall.
load helpers
load part3_helpers

setup() { start_server "$BIN/03-select"; }

@test "03: the shared scenario has no timeouts" {
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'
}

@test "03: near-zero CPU while every request is waiting" {
    cpu_ratio_during -c 10 -n 10 -d 1000 -t 3000
    check '[ "$(field ok)" -eq 10 ]'
    check 'below 0.05 "$CPU_RATIO"'
}

@test "03: a descriptor >= FD_SETSIZE is refused with a clear log line, never put in an fd_set" {
    needs_fds 1200
    client -c 1100 -n 1100 -d 1000 -t 5000
    # About 1020 connections fit below descriptor 1024; the rest are closed unanswered.
    check '[ "$(field ok)" -ge 1000 ] && [ "$(field errors)" -ge 50 ]'
    check '[ "$(field ok)" -lt 1100 ]'
    grep -q 'refusing connection: fd 10[0-9][0-9] >= FD_SETSIZE (1024)' "$SERVER_LOG"
    kill -0 "$SERVER_PID"                        # still alive, and still serving
    [[ $(ask '10,/after\n') =~ ^0,[0-9]+,[0-9]+,/after$ ]]
}

@test "03: -m poll: the shared scenario has no timeouts, and the loop still sleeps" {
    stop_server
    start_server "$BIN/03-select" -m poll
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    cpu_ratio_during -c 10 -n 10 -d 1000 -t 3000
    check '[ "$(field ok)" -eq 10 ] && below 0.05 "$CPU_RATIO"'
}

@test "03: -m poll serves the descriptors >= FD_SETSIZE that select() must refuse" {
    needs_fds 1200
    stop_server
    start_server "$BIN/03-select" -m poll
    client_in_background "$BATS_TEST_TMPDIR/poll.json" -c 1100 -n 1100 -d 1000 -t 5000
    sleep 0.6 # all 1100 connected, each waiting out its 1 s read
    top_fd=$(ls "/proc/$SERVER_PID/fd" | sort -n | tail -1)
    wait "$BG_PID"
    output=$(cat "$BATS_TEST_TMPDIR/poll.json")
    check '[ "$top_fd" -ge 1100 ] && [ "$(field ok)" -eq 1100 ] && [ "$(field errors)" -eq 0 ]'
    ! grep -q refusing "$SERVER_LOG"
}

@test "03: bad input gets RC 2 or a close, and the server keeps serving" {
    survives_bad_input
}

@test "03: SIGTERM stops it cleanly in the middle of a read" {
    stops_cleanly_mid_read
}
