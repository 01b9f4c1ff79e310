#!/usr/bin/env bats
# Chapter 08: fork per connection and a prefork pool: no timeouts while the pool is big enough,
# a wait in the accept queue when it is not, and no child left behind.
load helpers


# children_of PID: the pids of PID's children, one a line.
children_of() {
    ps -o pid= --ppid "$1" | tr -d ' '
}

@test "08: fork per connection: the shared scenario has no timeouts, and every child is reaped" {
    start_server "$BIN/08-prefork" -m fork
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'
    client -c 10 -n 50 -d 10
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 50 ]'
    sleep 0.3
    check '[ -z "$(children_of "$SERVER_PID")" ]'
}

@test "08: prefork (4 processes): the shared scenario has no timeouts, the dying disk only one" {
    start_server "$BIN/08-prefork"
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    check '[ "$(field p90_ms)" -lt 500 ]'
}

@test "08: the pool's limit: with -w 2, two slow reads make the third wait, unseen by the server" {
    start_server "$BIN/08-prefork" -w 2
    ask '1500,/slow1\n' >/dev/null &
    local slow1=$!
    ask '1500,/slow2\n' >/dev/null &
    local slow2=$!
    sleep 0.2
    local t0 reply waited
    t0=$(date +%s%N)
    reply=$(ask '50,/fast\n')
    waited=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait "$slow1" "$slow2"
    echo "# the 50 ms read took $waited ms; the server says: $reply" >&3
    [[ $reply =~ ^0,[0-9]+,([0-9]+),/fast$ ]]
    check '[ "$waited" -ge 1200 ]'                 # it waited for a process to come free
    check '[ "${BASH_REMATCH[1]}" -lt 500 ]'       # in the kernel's accept queue, not the server
}

@test "08: the same three requests with -w 3: the fast one is fast" {
    start_server "$BIN/08-prefork" -w 3
    ask '1500,/slow1\n' >/dev/null &
    local slow1=$!
    ask '1500,/slow2\n' >/dev/null &
    local slow2=$!
    sleep 0.2
    local t0 waited
    t0=$(date +%s%N)
    ask '50,/fast\n' >/dev/null
    waited=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait "$slow1" "$slow2"
    check '[ "$waited" -lt 1000 ]'
}

@test "08: -w sets the pool size, and a child that dies is replaced" {
    start_server "$BIN/08-prefork" -w 3
    check '[ "$(children_of "$SERVER_PID" | wc -l)" -eq 3 ]'
    kill -KILL "$(children_of "$SERVER_PID" | head -1)"
    sleep 0.3
    check '[ "$(children_of "$SERVER_PID" | wc -l)" -eq 3 ]'
    grep -q 'child [0-9]* died' "$SERVER_LOG"
    reply=$(ask '10,/after\n')
    [[ $reply =~ ^0,[0-9]+,[0-9]+,/after$ ]]
}

@test "08: bad input gets RC 2 or a close, and the server keeps serving" {
    start_server "$BIN/08-prefork"
    survives_bad_input
}

# stops_leaving_nothing: SIGTERM mid-read ends the server and every child within 3 s.
stops_leaving_nothing() {
    ask '10000,/long\n' >/dev/null &
    sleep 0.3
    local kids
    kids=$(children_of "$SERVER_PID")
    [ -n "$kids" ]
    stops_cleanly_mid_read
    local pid
    for pid in $kids; do
        ! kill -0 "$pid" 2>/dev/null || { echo "child $pid left behind" >&2; return 1; }
    done
}

@test "08: prefork: SIGTERM mid-read stops the parent and every child" {
    start_server "$BIN/08-prefork"
    stops_leaving_nothing
}

@test "08: fork per connection: SIGTERM mid-read stops the parent and every child" {
    start_server "$BIN/08-prefork" -m fork
    stops_leaving_nothing
}
