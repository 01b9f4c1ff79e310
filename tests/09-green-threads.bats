#!/usr/bin/env bats
# Chapter 09: green threads on a hub. -m green: no timeouts, one OS thread. -m unpatched: one
# plain sleep stalls every green thread (the eventlet bug). -m tpool: the sleep moves to a worker
# thread and the timeouts are gone again.
load helpers

green() { start_server "$BIN/09-green-threads" -m "$@"; }

@test "09 green: the shared scenario has no timeouts" {
    green green
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'
}

@test "09 green: the dying disk: only the slow request is slow" {
    green green
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    check '[ "$(field p90_ms)" -lt 500 ]'
}

@test "09 green: 1,000 concurrent 1 s requests on one OS thread, near-zero CPU" {
    needs_fds 1100
    skip_heavy_under_tsan   # TSan gives each green thread a fiber: ~5 ms each to create
    green green
    local threads=$BATS_TEST_TMPDIR/threads
    ( while kill -0 "$SERVER_PID" 2>/dev/null; do thread_count "$SERVER_PID"; sleep 0.1; done \
          >"$threads" ) 3>&- &
    local sampler=$!
    cpu_ratio_during -c 1000 -n 1000 -d 1000 -t 5000
    kill "$sampler"
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 1000 ]'
    check '[ "$(sort -n "$threads" | tail -1)" -eq 1 ]'   # green threads are not OS threads
    # Sanitizers make each accept and stack set-up far dearer: the CPU bound is for plain builds.
    sanitized || check 'below 0.3 "$CPU_RATIO"'
}

@test "09 unpatched: the shared scenario times out, like chapters 01 and 05" {
    green unpatched
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ] && [ "$(field errors)" -eq 0 ]'
}

@test "09 unpatched: the dying disk: every fast read queued behind the slow one times out" {
    green unpatched
    dying_disk_scenario
    check '[ "$status" -eq 1 ] && [ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 10 ]'
}

@test "09 unpatched: behind a blocking read, the server logs timeout (service) and (queue)" {
    green unpatched -T 1000
    # As in chapter 05: a 1200 ms read stalls the hub; the five 400 ms requests behind it run
    # one after another when it ends, and the 4th and 5th wait 1200 ms to start.
    client -c 6 -n 6 -d 400 --slow 1200 -t 10000
    check '[ "$(field server_timeouts)" -eq 3 ] && [ "$(field ok)" -eq 3 ]'
    check '[ "$(grep -c "timeout (queue)" "$SERVER_LOG")" -eq 2 ]'
    grep -q 'timeout (service) /obj/0' "$SERVER_LOG"
}

@test "09 tpool: the shared scenario and the dying disk, as with green_sleep" {
    green tpool
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    check '[ "$(field p90_ms)" -lt 500 ]'
}

@test "09: -w sets the tpool's threads; green and unpatched run on one thread" {
    local tsan=0
    [[ $BIN == */san-thread* ]] && tsan=1   # TSan starts a thread of its own with the first one
    green tpool -w 6
    # Counted once a request is answered: the hub starts its workers after the listening line.
    ask '0,/ready\n' >/dev/null
    check '[ "$(thread_count "$SERVER_PID")" -eq $((1 + 6 + tsan)) ]'   # the hub and 6 workers
    stop_server
    green unpatched
    check '[ "$(thread_count "$SERVER_PID")" -eq 1 ]'
}

@test "09 green: bad input gets RC 2 or a close, and the server keeps serving" {
    green green
    survives_bad_input
}

@test "09: SIGTERM stops it cleanly mid-read, in every mode" {
    local m
    for m in green unpatched tpool; do
        green "$m"
        stops_cleanly_mid_read || { echo "mode $m" >&2; return 1; }
    done
}
