#!/usr/bin/env bats
# Chapter 13: one loop per core. SO_REUSEPORT spreads connections by hash, even onto a blocked
# loop; one shared listener woken with EPOLLEXCLUSIVE only wakes loops that are waiting.
load helpers

# children_of PID: the pids whose parent is PID.
children_of() {
    grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3
}

# listeners_on PORT: listening TCP sockets on 127.0.0.1:PORT (state 0A in /proc/net/tcp).
listeners_on() {
    awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" && $4 == "0A"' /proc/net/tcp | wc -l
}

# blocked_loop_batch: one request blocks its loop for 2500 ms; 300 ms later 40 fast reads
# (10 ms, client timeout 1000 ms) arrive on new connections.
blocked_loop_batch() {
    ask '2500,/block/x\n' >/dev/null &
    local asker=$!
    sleep 0.3
    client -c 40 -n 40 -d 10 -t 1000
    wait "$asker"
}

@test "13: -j 2 is two processes, two listening sockets on one port, one 'listening on' line" {
    start_server "$BIN/13-multicore" -j 2
    [ "$(grep -c '^listening on 127.0.0.1:' "$SERVER_OUT")" -eq 1 ]
    [ "$(children_of "$SERVER_PID" | wc -l)" -eq 1 ]
    [ "$(listeners_on "$PORT")" -eq 2 ]
}

@test "13: the shared scenario has no timeouts with 2 loops" {
    start_server "$BIN/13-multicore" -j 2
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
}

@test "13: reuseport: with one of 2 loops blocked, about half the new connections are stranded" {
    start_server "$BIN/13-multicore" -j 2
    blocked_loop_batch
    grep -q 'blocked for 2500 ms' "$SERVER_LOG"
    # The kernel hashed each connection to a socket; those on the blocked loop's waited 2.5 s.
    # Binomial(40, 1/2): outside 8..32 has odds below 1 in 10^4.
    check '[ "$(field client_timeouts)" -ge 8 ] && [ "$(field client_timeouts)" -le 32 ]'
    check '[ "$(field ok)" -eq $((40 - $(field client_timeouts))) ]'
}

@test "13: exclusive: one shared listener, and a blocked loop strands no one" {
    start_server "$BIN/13-multicore" -j 2 -m exclusive
    [ "$(listeners_on "$PORT")" -eq 1 ]
    blocked_loop_batch
    grep -q 'blocked for 2500 ms' "$SERVER_LOG"
    check '[ "$(field ok)" -eq 40 ] && [ "$(field timeouts)" -eq 0 ]'
}

@test "13: SIGTERM stops every loop cleanly" {
    start_server "$BIN/13-multicore" -j 3
    local kids
    kids=$(children_of "$SERVER_PID")
    [ "$(echo "$kids" | wc -w)" -eq 2 ]
    stops_cleanly_mid_read
    for pid in $kids; do
        timeout 3 tail --pid="$pid" -f /dev/null
    done
    [ "$(grep -c 'stopping; connections accepted' "$SERVER_LOG")" -eq 3 ]
    ! grep -q 'ended badly' "$SERVER_LOG"
}

@test "13: reuseport: a stop between a child loop's test of the flag and its wait stops it too" {
    start_server "$BIN/13-multicore" -j 2 -E "$BATS_TEST_TMPDIR/trace"
    local kid i before trace=$BATS_TEST_TMPDIR/trace
    kid=$(children_of "$SERVER_PID")
    # SIGUSR1 wakes the child's loop for a turn with nothing in it. strace holds each write 1 s
    # after it is made; SIGTERM comes once the trace has the turn's "wait", written after the
    # loop's test of stop_requested and before its epoll_wait. Its own listening socket, shut by
    # the stop, is what ends that wait: no connection would come to wake it.
    attach_tracer write:delay_exit=1s "$kid"
    waits() { grep -c "\"pid\":$kid,.*\"event\":\"wait\"" "$trace"; }
    nap 1.2 # strace's attach interrupts epoll_wait too: that turn's writes pass first
    before=$(waits)
    kill -USR1 "$kid"
    for ((i = 0; i < 60; i++)); do [ "$(waits)" -gt "$before" ] && break; nap 0.05; done
    [ "$(waits)" -gt "$before" ]
    kill -TERM "$kid"
    nap 0.2
    detach_tracer # the write returns, the handler runs: the window (LeakSanitizer: no tracer at exit)
    for ((i = 0; i < 60; i++)); do process_ended "$kid" && break; nap 0.05; done # a zombie: ended
    process_ended "$kid" || { echo "loop 2 (pid $kid) still running 3 s after SIGTERM" >&2; return 1; }
    [ "$(grep -c 'stopping; connections accepted' "$SERVER_LOG")" -eq 1 ] # the child's; the parent runs on
}

@test "13: bad input gets RC 2 or a close, and every loop keeps serving" {
    start_server "$BIN/13-multicore" -j 2
    survives_bad_input
}

