#!/usr/bin/env bats
# Catching the blocking call in the act (common/watchdog.c, strict.c, stack.c; appendix A1):
# -W's live report names the call the loop is blocked in while it is still blocked, even in a
# real disk read, and its stack; its sleep detector names a callback that slept 2 ms; -S refuses
# a blocking call on the loop and reports it; -L gives the turns' p50/p99/max. Healthy loops
# (04, 06, 12, 14) stay silent under all of them. Where /dev/fuse works, the disk is bin/slowdisk.
load helpers

# helpers.bash's teardown, kept under another name: ours also takes the slow disk down.
eval "helpers_$(declare -f teardown)"

setup() {
    SD_PID=
    MNT="$BATS_TEST_TMPDIR/mnt"
}

teardown() {
    local status=0
    helpers_teardown || status=$? # the server first: it may be reading from the disk
    if [ -n "$SD_PID" ]; then
        kill -TERM "$SD_PID" 2>/dev/null || true
        wait "$SD_PID" 2>/dev/null || true
        "$BIN/slowdisk" -u "$MNT" >/dev/null 2>&1 || true
        if grep -q " $MNT fuse" /proc/self/mounts; then
            echo "a mount is left on $MNT" >&2
            status=1
        fi
    fi
    return $status
}

# slow_disk: mounts bin/slowdisk on $MNT and sets DISK_FLAGS to "-D $MNT"; where FUSE is not
# available (slowdisk exits 69), DISK_FLAGS is empty and the reads are simulated.
slow_disk() {
    DISK_FLAGS=()
    mkdir -p "$MNT"
    "$BIN/slowdisk" "$MNT" >"$BATS_TEST_TMPDIR/sd.out" 2>"$BATS_TEST_TMPDIR/sd.log" 3>&- &
    SD_PID=$!
    local i status
    for i in $(seq 200); do
        if grep -qx "mounted on $MNT" "$BATS_TEST_TMPDIR/sd.out"; then
            DISK_FLAGS=(-D "$MNT")
            return 0
        fi
        if ! kill -0 "$SD_PID" 2>/dev/null; then
            status=0
            wait "$SD_PID" || status=$?
            SD_PID=
            [ "$status" -eq 69 ] && { echo "# no FUSE: $(tail -1 "$BATS_TEST_TMPDIR/sd.log")" >&3; return 0; }
            cat "$BATS_TEST_TMPDIR/sd.log" >&2
            return 1
        fi
        sleep 0.05
    done
    return 1
}

# The report of one stall: the "loop blocked" line and the stack lines after it.
blocked_report() {
    sed -n '/loop blocked/,/loop unblocked/p' "$SERVER_LOG"
}

# log_ms LINE: the [s.mmm] stamp of a log line, in ms.
log_ms() {
    sed -n 's/^\[ *\([0-9]*\)\.\([0-9]*\)\].*/\1\2/p' <<<"$1" | sed 's/^0*\(.\)/\1/'
}

# SIGTERM, and exit status 0: the watchdog thread stopped cleanly, no sanitizer report.
stops_clean() {
    local status=0
    stop_server || status=$?
    [ "$status" -eq 0 ] || { echo "exit status $status" >&2; cat "$SERVER_LOG" >&2; return 1; }
}

# lag_us P END: from -L's line at exit, the END (lo or hi) of the pP bucket, in microseconds.
lag_us() {
    sed -n "s/.*loop lag at exit: .* p$1 \([0-9.]*\)-\([0-9.]*\) \([a-z]*\).*/\1 \2 \3/p" "$SERVER_LOG" |
        awk -v end="$2" '{ m = $3 == "s" ? 1e6 : $3 == "ms" ? 1e3 : 1; printf "%d\n", (end == "lo" ? $1 : $2) * m }'
}

skip_under_sanitizers() {
    case ${BIN_DIR:-bin} in
    *san-*) skip "LD_PRELOAD comes before a sanitizer's runtime, which wants to be first" ;;
    esac
}

@test "watchdog: on 05, a 3 s read is named live, within MS + 200 ms, long before it ends" {
    slow_disk
    start_server "$BIN/05-blocking-in-loop" -W 300 -E "$BATS_TEST_TMPDIR/trace" "${DISK_FLAGS[@]}"
    ask '3000,/obj/3\n' >"$BATS_TEST_TMPDIR/reply" &
    local asker=$! i line
    for i in $(seq 100); do
        line=$(grep -m1 'loop blocked' "$SERVER_LOG") && break
        sleep 0.05
    done
    echo "# $line" >&3
    check '[ -n "$line" ]'
    # Live: reported while the read still runs, and MS + 200 ms after it began at most.
    local started
    started=$(sed -n 's/.*"t_ms":\([0-9]*\)\.[0-9]*,.*"event":"read_start".*/\1/p' "$BATS_TEST_TMPDIR/trace")
    check '[ $(( $(log_ms "$line") - started )) -le 500 ]'
    check '! grep -q "loop unblocked" "$SERVER_LOG"'
    if [ ${#DISK_FLAGS[@]} -gt 0 ]; then # the real read, waited for in FUSE
        check '[[ $line == *"pread64(fd "*" = $MNT/3000/obj.d/3, 65536, 0), state S, waiting in request_wait_answer"* ]]'
    else
        check '[[ $line == *"nanosleep(CLOCK_REALTIME, 0, 3.000 s), state S"* ]]'
    fi
    check '[[ $line == *"in callback dispatch (fd "* ]]'
    # Its stack, read from outside the thread, runs through the read, down from main.
    check 'blocked_report | grep -q "its stack, scanned from outside the thread"'
    check 'blocked_report | grep -Eq "#[0-9]+ +disk_read\+"'
    check 'blocked_report | grep -Eq "#[0-9]+ +main\+"'
    wait "$asker"
    # Looking did not disturb the read: it took its 3 s once, and succeeded.
    check 'grep -Eq "^0,[0-9]+,(30[0-9][0-9]|31[0-9][0-9]),/obj/3$" "$BATS_TEST_TMPDIR/reply"'
    local after
    for i in $(seq 40); do # the watchdog says so within a quarter of -W
        after=$(sed -n 's/.*loop unblocked after \([0-9]*\) ms.*/\1/p' "$SERVER_LOG")
        [ -n "$after" ] && break
        sleep 0.05
    done
    check '[ -n "$after" ] && [ "$after" -ge 3000 ]'
    stops_clean
}

@test "watchdog: the same stall again is counted, not logged again; its count comes at the end" {
    start_server "$BIN/05-blocking-in-loop" -W 100
    local i
    for i in 1 2 3 4; do ask '300,/obj/1\n' >/dev/null; done
    stops_clean
    check '[ "$(grep -c "loop blocked" "$SERVER_LOG")" -eq 1 ]'
    check '[ "$(grep -c "loop unblocked" "$SERVER_LOG")" -eq 1 ]'
    check 'grep -Eq "the same stall 3 more times in the last [0-9.]+ s: clock_nanosleep in sleep_ms, the longest 30[0-9] ms" "$SERVER_LOG"'
}

@test "watchdog: an idle loop, asleep in epoll_wait with nothing to do, is not reported" {
    start_server "$BIN/05-blocking-in-loop" -W 100
    sleep 1 # ten thresholds with no event and no timer: epoll_wait waits forever
    client -c 2 -n 2 -d 20 -t 2000
    check '[ "$status" -eq 0 ]'
    grep -q "watchdog: reporting loop turns longer than 100 ms" "$SERVER_LOG"
    check '! grep -q "loop blocked" "$SERVER_LOG"'
    stops_clean
}

@test "watchdog: a 2 ms sleep in a callback is named, with no threshold; repeats are counted" {
    start_server "$BIN/05-blocking-in-loop" -W 1000
    local i
    for i in 1 2 3; do ask '2,/obj/1\n' >/dev/null; done
    stops_clean
    check '! grep -q "loop blocked" "$SERVER_LOG"' # far below -W
    check 'grep -Eq "callback dispatch \(fd [0-9]+\) slept in the kernel: 1 voluntary context switch in [2-9]\.[0-9]+ ms" "$SERVER_LOG"'
    check '[ "$(grep -c "slept in the kernel" "$SERVER_LOG")" -eq 1 ]'
    check 'grep -q "the same sleep 2 more times" "$SERVER_LOG"'
}

@test "watchdog: a compute-bound stall is named as such, its stack taken on the loop thread" {
    skip_under_sanitizers
    LD_PRELOAD="$BIN/spin-sleep.so" start_server "$BIN/05-blocking-in-loop" -W 200
    ask '600,/obj/1\n' >/dev/null
    stops_clean
    check 'grep -q "loop blocked 2[0-9][0-9] ms: running, in no system call (a compute-bound stall), state R" "$SERVER_LOG"'
    check 'blocked_report | grep -q "its stack, taken on the loop thread"'
    check 'blocked_report | grep -Eq "#[0-9]+ +sleep_ms\+"'
    check '! grep -q "slept in the kernel" "$SERVER_LOG"' # a busy callback never sleeps
}

@test "watchdog: a CPU-time detector (Seastar's) misses a stall in a disk read that -W reports" {
    slow_disk
    WATCHDOG_CLOCK=cpu start_server "$BIN/05-blocking-in-loop" -W 200 "${DISK_FLAGS[@]}"
    ask '1000,/obj/1\n' >/dev/null
    stops_clean
    grep -q "more than 200 ms of CPU time" "$SERVER_LOG" # (logged after "listening on")
    check '! grep -q "loop blocked" "$SERVER_LOG"' # 1000 ms blocked, not 200 ms of CPU
    start_server "$BIN/05-blocking-in-loop" -W 200 "${DISK_FLAGS[@]}"
    ask '1000,/obj/2\n' >/dev/null
    stops_clean
    check 'grep -q "loop blocked 2[0-9][0-9] ms: " "$SERVER_LOG"'
    # And it is not blind: a compute-bound stall it does see.
    case ${BIN_DIR:-bin} in *san-*) return 0 ;; esac # LD_PRELOAD: see skip_under_sanitizers
    WATCHDOG_CLOCK=cpu LD_PRELOAD="$BIN/spin-sleep.so" start_server "$BIN/05-blocking-in-loop" -W 200
    ask '600,/obj/3\n' >/dev/null
    stops_clean
    check 'grep -q "loop blocked 2[0-9][0-9] ms of CPU time: running" "$SERVER_LOG"'
}

@test "watchdog: 04 under the shared and dying-disk scenarios: silent, and its p99 turn < 5 ms" {
    start_server "$BIN/04-epoll" -W 200 -L
    shared_scenario
    check '[ "$status" -eq 0 ]'
    dying_disk_scenario
    # Only the 2500 ms read itself outlives the client's 1500 ms; the fast ones pass it by.
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    sleep 1.2 # until the slow read has ended and been answered
    stops_clean
    check '! grep -Eq "loop blocked|slept in the kernel" "$SERVER_LOG"'
    echo "# $(grep 'loop lag at exit' "$SERVER_LOG")" >&3
    check '[ "$(lag_us 99 hi)" -le 5000 ]'
}

@test "watchdog: -L on 05 under the shared scenario: p99 turn >= 250 ms; SIGUSR1 and -E show it too" {
    start_server "$BIN/05-blocking-in-loop" -L -E "$BATS_TEST_TMPDIR/trace"
    shared_scenario
    kill -USR1 "$SERVER_PID"
    local i
    for i in $(seq 60); do # the loop is idle by now: the signal wakes it and it prints
        grep -q "loop lag on SIGUSR1" "$SERVER_LOG" && break
        sleep 0.05
    done
    check 'grep -q "loop lag on SIGUSR1: [0-9]* turns" "$SERVER_LOG"'
    stops_clean
    echo "# $(grep 'loop lag at exit' "$SERVER_LOG")" >&3
    check '[ "$(lag_us 99 lo)" -ge 250000 ]'
    # Each turn is in the trace: the slowest of them took a 300 ms read at least.
    check 'grep "\"event\":\"loop_lag\"" "$BATS_TEST_TMPDIR/trace" | grep -Eq "\"ms\":([3-9][0-9]{2}|[0-9]{4,})\."'
}

@test "strict: 05 -S refuses its first read: RC 2, and a report naming the call and its stack" {
    start_server "$BIN/05-blocking-in-loop" -S
    local reply
    reply=$(ask '300,/obj/1\n')
    check '[[ $reply =~ ^2,0,[0-9]+,/obj/1$ ]]'
    reply=$(ask '300,/obj/2\n')
    check '[[ $reply =~ ^2,0,[0-9]+,/obj/2$ ]]' # the server goes on, failing fast
    stops_clean
    check 'grep -q "strict: refused clock_nanosleep(CLOCK_REALTIME, 0, 300.000 ms) on the loop thread (EPERM), in callback dispatch" "$SERVER_LOG"'
    check 'grep -Eq "#[0-9]+ +sleep_ms\+" "$SERVER_LOG"'
    check 'grep -q "strict: 2 blocking calls refused on the loop thread" "$SERVER_LOG"'
}

@test "strict: 06, 12 and 14 pass the shared and dying-disk scenarios under -S with no report" {
    local chapter
    for chapter in 06-worker-offload 12-io-uring 14-cache-aware; do
        start_server "$BIN/$chapter" -S -W 500
        shared_scenario
        check '[ "$status" -eq 0 ]'
        dying_disk_scenario
        check '[ "$(field ok)" -ge 9 ]'
        stops_clean
        check '! grep -Eq "strict: refused|strict: [0-9]+ blocking|loop blocked" "$SERVER_LOG"'
        grep -q "strict: blocking system calls on the loop thread" "$SERVER_LOG"
    done
}

@test "strict: LOOP_STRICT=1 in the environment turns -S on, for a whole test suite" {
    LOOP_STRICT=1 start_server "$BIN/05-blocking-in-loop"
    check '[[ $(ask "100,/obj/1\n") == 2,* ]]'
    stops_clean
    check 'grep -q "strict: refused" "$SERVER_LOG"'
}

@test "watchdog: one extra thread, and SIGTERM while it reports a block stops 05 cleanly" {
    start_server "$BIN/05-blocking-in-loop"
    local without
    without=$(thread_count "$SERVER_PID")
    stop_server
    start_server "$BIN/05-blocking-in-loop" -W 100 -S -L
    # One more: the watchdog (two under SAN=thread, which starts its own helper thread when the
    # program creates its first).
    local with
    with=$(thread_count "$SERVER_PID")
    [ "$with" -ge $((without + 1)) ] && [ "$with" -le $((without + 2)) ]
    stop_server
    start_server "$BIN/05-blocking-in-loop" -W 100
    ask '10000,/long\n' >/dev/null &
    local asker=$! i status=0
    for i in $(seq 60); do
        grep -q "loop blocked" "$SERVER_LOG" && break
        sleep 0.05
    done
    check 'grep -q "loop blocked" "$SERVER_LOG"'
    kill -TERM "$SERVER_PID"
    timeout 3 tail --pid="$SERVER_PID" -f /dev/null || status=$?
    kill "$asker" 2>/dev/null || true
    [ "$status" -eq 0 ] || { echo "still running 3 s after SIGTERM" >&2; return 1; }
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    [ "$status" -eq 0 ]
    grep -q stopping "$SERVER_LOG"
}

@test "watchdog: every loop chapter takes -W, -S and -L; bad values are refused with exit 2" {
    local chapter
    for chapter in 04-epoll 05-blocking-in-loop 06-worker-offload 09-green-threads \
        10-slow-clients 11-dying-disk 12-io-uring 13-multicore 14-cache-aware; do
        run "$BIN/$chapter" --help
        [ "$status" -eq 0 ]
        [[ $output == *"[-W MS] [-S] [-L]"* && $output == *"-S              strict"* ]] ||
            { echo "$chapter: $output" >&2; return 1; }
    done
    run timeout 5 "$BIN/05-blocking-in-loop" -W 0
    [ "$status" -eq 2 ]
    [[ $output == *"bad -W '0'"* ]]
    run timeout 5 "$BIN/06-worker-offload" -W soon
    [ "$status" -eq 2 ]
    run timeout 5 "$BIN/12-io-uring" -S 5
    [ "$status" -eq 2 ]
    [[ $output == *"unexpected argument '5'"* ]]
    run timeout 5 "$BIN/14-cache-aware" -Lx
    [ "$status" -eq 2 ]
    WATCHDOG_CLOCK=sundial run timeout 5 "$BIN/04-epoll" -W 100
    [ "$status" -eq 2 ]
    [[ $output == *"bad WATCHDOG_CLOCK 'sundial'"* ]]
    WATCHDOG_STACK=peek run timeout 5 "$BIN/05-blocking-in-loop" -W 100
    [ "$status" -eq 2 ]
}
