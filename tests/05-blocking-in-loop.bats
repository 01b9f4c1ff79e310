#!/usr/bin/env bats
# Chapter 05: chapter 04 with one blocking call in the loop: everything queues behind it.
load helpers

setup() { start_server "$BIN/05-blocking-in-loop"; }

@test "05: the shared scenario times out, like chapter 01" {
    shared_scenario
    check '[ "$status" -eq 1 ]'
    # Reads run one after another on the loop thread: at least the second half is past 1500 ms.
    check '[ "$(field timeouts)" -ge 5 ]'
    check '[ "$(field errors)" -eq 0 ]'
}

@test "05: the dying disk: every fast read queued behind the slow one times out" {
    dying_disk_scenario
    check '[ "$status" -eq 1 ]'
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 10 ]'
}

@test "05: behind a long blocking read, requests hit the server's queue deadline" {
    stop_server
    start_server "$BIN/05-blocking-in-loop" -T 1000
    # A 1200 ms read blocks the loop; the five 400 ms requests that arrive meanwhile are all
    # accepted when it ends, then read one after another: the 4th and 5th wait 1200 ms to start.
    client -c 6 -n 6 -d 400 --slow 1200 -t 10000
    check '[ "$(field server_timeouts)" -eq 3 ] && [ "$(field ok)" -eq 3 ]'
    [ "$(grep -c 'timeout (queue)' "$SERVER_LOG")" -eq 2 ]
    grep -q 'timeout (service) /obj/0' "$SERVER_LOG"
}

@test "05: epoll refuses a regular file (EPERM) and poll calls it always ready" {
    run "$BIN/epoll-file"
    [ "$status" -eq 0 ]
    [[ $output == *"Operation not permitted (errno 1)"* ]]
    [[ $output == *"1 ready, revents POLLIN"* ]]
}

@test "05: bad input gets RC 2 or a close, and the server keeps serving" {
    survives_bad_input
}

@test "05: SIGTERM stops it cleanly in the middle of a read" {
    stops_cleanly_mid_read
}
