#!/usr/bin/env bats
# The loop-lag watchdog (-W MS, common/watchdog.c, appendix A1): on chapter 05 it catches the
# blocking call and names it; on an idle loop and on chapters 04 and 06 it stays silent.
load helpers

# The log lines of one watchdog report: the "loop blocked" line and the stack lines after it.
blocked_report() {
    sed -n '/loop blocked for/,/loop unblocked/p' "$SERVER_LOG"
}

# SIGTERM, and exit status 0: the watchdog thread stopped cleanly, no sanitizer report.
stops_clean() {
    local status=0
    stop_server || status=$?
    [ "$status" -eq 0 ] || { echo "exit status $status" >&2; cat "$SERVER_LOG" >&2; return 1; }
}

@test "watchdog: on 05 a 1000 ms read is reported once, and the trace names the blocking call" {
    start_server "$BIN/05-blocking-in-loop" -W 200
    client -c 1 -n 1 -d 1000 -t 5000
    check '[ "$status" -eq 0 ]'
    sleep 0.3 # the watchdog looks every 100 ms: let it see the loop come back
    check '[ "$(grep -c "loop blocked for" "$SERVER_LOG")" -eq 1 ]'
    # The loop thread's stack, taken where it was stuck: inside the sleep that stands for the read.
    check 'blocked_report | grep -Eq "nanosleep|sleep_ms|start_read"'
    # The wait the kernel reports for the thread agrees (wchan): a timed sleep, not epoll.
    check 'grep "loop blocked for" "$SERVER_LOG" | grep -Eq "in kernel: ([a-z_]*nanosleep|\?)"'
    # The report ends when the loop comes back, with the length of the whole turn.
    local after
    after=$(sed -n 's/.*loop unblocked after \([0-9]*\) ms.*/\1/p' "$SERVER_LOG")
    check '[ -n "$after" ] && [ "$after" -ge 1000 ]'
    stops_clean
}

@test "watchdog: an idle loop, asleep in epoll_wait with nothing to do, is not reported" {
    start_server "$BIN/05-blocking-in-loop" -W 100
    sleep 1 # ten thresholds with no event and no timer: epoll_wait waits forever
    client -c 2 -n 2 -d 20 -t 2000
    check '[ "$status" -eq 0 ]'
    grep -q "watchdog: logging loop turns longer than 100 ms" "$SERVER_LOG"
    check '! grep -q "loop blocked" "$SERVER_LOG"'
    stops_clean
}

@test "watchdog: on 06 the shared and dying-disk scenarios never block the loop" {
    start_server "$BIN/06-worker-offload" -W 200
    shared_scenario
    check '[ "$status" -eq 0 ]'
    dying_disk_scenario
    # Only the 2500 ms read itself outlives the client's 1500 ms; the fast ones pass it by.
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    sleep 1.2 # until the slow read has ended and been answered
    grep -q "watchdog: logging loop turns longer than 200 ms" "$SERVER_LOG"
    check '! grep -q "loop blocked" "$SERVER_LOG"'
    stops_clean
}

@test "watchdog: on 04 the shared and dying-disk scenarios never block the loop" {
    start_server "$BIN/04-epoll" -W 200
    shared_scenario
    check '[ "$status" -eq 0 ]'
    dying_disk_scenario
    # Only the 2500 ms read itself outlives the client's 1500 ms; the fast ones pass it by.
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    sleep 1.2 # until the slow read has ended and been answered
    grep -q "watchdog: logging loop turns longer than 200 ms" "$SERVER_LOG"
    check '! grep -q "loop blocked" "$SERVER_LOG"'
    stops_clean
}

@test "watchdog: one extra thread, and SIGTERM while it reports a block stops 05 cleanly" {
    start_server "$BIN/05-blocking-in-loop"
    local without
    without=$(thread_count "$SERVER_PID")
    stop_server
    start_server "$BIN/05-blocking-in-loop" -W 100
    # One more: the watchdog (two under SAN=thread, which starts its own helper thread when the
    # program creates its first).
    local with
    with=$(thread_count "$SERVER_PID")
    [ "$with" -ge $((without + 1)) ] && [ "$with" -le $((without + 2)) ]
    ask '10000,/long\n' >/dev/null &
    local asker=$! i status=0
    for i in $(seq 60); do
        grep -q "loop blocked for" "$SERVER_LOG" && break
        sleep 0.05
    done
    check 'grep -q "loop blocked for" "$SERVER_LOG"'
    kill -TERM "$SERVER_PID"
    timeout 3 tail --pid="$SERVER_PID" -f /dev/null || status=$?
    kill "$asker" 2>/dev/null || true
    [ "$status" -eq 0 ] || { echo "still running 3 s after SIGTERM" >&2; return 1; }
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    [ "$status" -eq 0 ]
    grep -q stopping "$SERVER_LOG"
}

@test "watchdog: a bad -W value is refused with usage, exit 2" {
    run "$BIN/05-blocking-in-loop" -W 0
    [ "$status" -eq 2 ]
    [[ $output == *"bad -W '0'"* ]]
    run "$BIN/06-worker-offload" -W soon
    [ "$status" -eq 2 ]
}
