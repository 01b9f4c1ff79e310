#!/usr/bin/env bats
# Chapter 08: fork per connection and a prefork pool: no timeouts while the pool is big enough,
# a wait in the accept queue when it is not, and no child left behind.
load helpers


# children_of PID: the pids of PID's children, one a line.
children_of() {
    ps -o pid= --ppid "$1" | tr -d ' '
}

# alive PID...: those of the PIDs still running. A zombie has exited; it only waits for whoever
# adopted it to collect it.
alive() {
    local pid state
    for pid in "$@"; do
        state=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
        [[ $state == Z* ]] || echo "$pid"
    done
}

# killed_parent_leaves_nothing KIDS...: kill -9 the server; within 1 s none of its KIDS may be
# running, and a new server must bind the same port. Kills what it finds left before failing, so
# that nothing outlives the test.
killed_parent_leaves_nothing() {
    local port=$PORT left i
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    for i in $(seq 20); do
        left=$(alive "$@" | xargs)
        [ -z "$left" ] && break
        nap 0.05
    done
    # shellcheck disable=SC2086 # one pid a word
    [ -z "$left" ] || kill -KILL $left
    check '[ -z "$left" ]' || { echo "still running 1 s after the parent was killed: $left" >&2; return 1; }
    # The children are gone, their last words in the log: a sanitizer's report fails the test.
    ! sanitizer_report "$SERVER_LOG" || { cat "$SERVER_LOG" >&2; return 1; }
    rm -f "$SERVER_OUT" "$SERVER_LOG"
    start_server "$BIN/08-prefork" -p "$port" # fails on "bind: Address already in use"
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

@test "08: prefork: every child killed is replaced within a second; -w reads are served at once" {
    start_server "$BIN/08-prefork" -w 4
    local old new i
    old=$(children_of "$SERVER_PID")
    [ "$(echo "$old" | wc -l)" -eq 4 ]
    # shellcheck disable=SC2086 # one pid a word
    kill -KILL $old
    for i in $(seq 20); do
        new=$(children_of "$SERVER_PID" | grep -vxF "$old" || true)
        [ "$(echo "$new" | grep -c .)" -eq 4 ] && break
        nap 0.05
    done
    check '[ "$(echo "$new" | grep -c .)" -eq 4 ]' # four new children, none of the old
    [ "$(grep -c 'child [0-9]* died' "$SERVER_LOG")" -eq 4 ]
    client -c 4 -n 4 -d 500 -t 3000
    check '[ "$(field ok)" -eq 4 ] && [ "$(field max_ms)" -lt 900 ]' # one round of 500 ms, not two
}

@test "08: prefork: kill -9 of the parent takes every child with it, and the port binds again" {
    start_server "$BIN/08-prefork"
    local kids
    kids=$(children_of "$SERVER_PID")
    [ "$(echo "$kids" | wc -l)" -eq 4 ]
    # shellcheck disable=SC2086
    killed_parent_leaves_nothing $kids
    [[ $(ask '10,/again\n') =~ ^0,[0-9]+,[0-9]+,/again$ ]]
}

@test "08: fork per connection: kill -9 of the parent ends the child serving a read" {
    start_server "$BIN/08-prefork" -m fork
    ask '5000,/long\n' >/dev/null 3>&- &
    local asker=$! kid
    sleep 0.3
    kid=$(children_of "$SERVER_PID")
    [ -n "$kid" ]
    killed_parent_leaves_nothing "$kid"
    wait "$asker" # the client saw its connection end, 4.7 s before the read would have
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
