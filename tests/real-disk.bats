#!/usr/bin/env bats
# The chapters on a disk that really dies: bin/slowdisk mounted on $MNT, each server started
# with -D $MNT, so its reads are real open() + pread() calls that wait in the kernel for DELAY_MS.
# The outcomes are those of the simulated disk, and the waits are real ones: the thread sits in
# the FUSE client (request_wait_answer), not in a sleep. Skipped, with slowdisk's reason, where
# there is no FUSE. The disk is mounted with -x (FUSE direct I/O): every read pays its delay, so
# the page cache never turns a test's second run into hits.
load helpers
load part3_helpers
load slowdisk_helpers

setup() {
    slowdisk_setup
    start_slowdisk -x
}

teardown() {
    stop_server || true # first: the server holds files on the mount
    local found=0
    if sanitizer_report "${SERVER_LOG:-}"; then
        found=1
        cat "$SERVER_LOG" >&2
    fi
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    slowdisk_teardown || found=1
    [ "$found" -eq 0 ]
}

# wchans PID: "COMM:WCHAN" for each of its threads, one a line.
wchans() {
    local t
    for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm"):$(cat "$t/wchan" 2>/dev/null)"; done
}

@test "real disk: 01 and 05 time out as on the simulated disk; 05's one thread waits in FUSE" {
    start_server "$BIN/01-blocking" -D "$MNT"
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ]'
    stop_server
    start_server "$BIN/05-blocking-in-loop" -D "$MNT"
    ask '1000,/in-fuse\n' >/dev/null &
    local asker=$!
    sleep 0.5
    run wchans "$SERVER_PID"
    echo "# 05 during a 1 s read on the real disk: $output" >&3
    [ "${#lines[@]}" -eq 1 ] && [[ $output == *":request_wait_answer" ]]
    wait "$asker"
    dying_disk_scenario
    check '[ "$(field ok)" -eq 0 ] && [ "$(field timeouts)" -eq 10 ]'
    # The same read on the simulated disk is a sleep.
    stop_server
    start_server "$BIN/05-blocking-in-loop"
    ask '1000,/in-a-sleep\n' >/dev/null &
    asker=$!
    sleep 0.5
    run wchans "$SERVER_PID"
    echo "# 05 during a 1 s simulated read: $output" >&3
    [[ $output == *"nanosleep"* ]]
    wait "$asker"
}

@test "real disk: 06's pool takes the real reads off the loop: no timeouts, only the slow read slow" {
    start_server "$BIN/06-worker-offload" -D "$MNT"
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
}

@test "real disk: an I/O error from the disk is RC 2 and an 'io fail' line" {
    # Seed 386 makes the delay model fail the first bare-PATH read: it goes to $MNT/eio/, whose
    # reads slowdisk fails with EIO.
    start_server "$BIN/06-worker-offload" -D "$MNT" -s 386
    [[ $(ask '/broken\n') =~ ^2,0,[0-9]+,/broken$ ]]
    grep -q 'read of /broken failed: Input/output error' "$SERVER_LOG"
    grep -q 'io fail /broken' "$SERVER_LOG"
}

@test "real disk: 09 with tpool has no timeouts, unpatched times out, green refuses -D" {
    start_server "$BIN/09-green-threads" -D "$MNT" -m tpool
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
    stop_server
    start_server "$BIN/09-green-threads" -D "$MNT" -m unpatched
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ]'
    run "$BIN/09-green-threads" -p 0 -D "$MNT" -m green
    [ "$status" -eq 2 ] && [[ ${lines[0]} == *"green_sleep, a timer"* ]]
}

@test "real disk: 11 per-disk keeps the healthy disk's reads fast beside a dying one; shared does not" {
    start_server "$BIN/11-dying-disk" -D "$MNT" -d 2 -w 2 -T 1000 -m per-disk
    dying_disk_beside_healthy
    check '[ "$(field timeouts)" -eq 0 ] && [ "$(field p99_ms)" -lt 500 ]'
    stop_server
    start_server "$BIN/11-dying-disk" -D "$MNT" -d 2 -w 2 -T 1000 -m shared
    dying_disk_beside_healthy
    check '[ "$(field p99_ms)" -ge 900 ]'
}

@test "real disk: 12's buffered read on FUSE blocks the loop inside io_uring_enter; -m async does not" {
    # FUSE has no asynchronous buffered read: io_uring's first, inline attempt does the read on
    # the submitting thread, the loop, and waits there for the disk.
    start_server "$BIN/12-io-uring" -D "$MNT"
    ask '1000,/inline\n' >/dev/null &
    local asker=$!
    sleep 0.5
    run wchans "$SERVER_PID"
    echo "# 12 buffered, during a 1 s read: $output" >&3
    [[ ${lines[0]} == "12-io-uring:request_wait_answer" ]]
    wait "$asker"
    # So the shared scenario fails as 05's does (reads time out, or the kernel's own task-work
    # signal interrupts the inline ones: EINTR, RC 2).
    shared_scenario
    check '[ "$status" -ne 0 ] && [ "$(field ok)" -lt 10 ]'
    stop_server
    # -m async sends every read to io-wq: the loop sleeps in epoll_wait, -w caps the workers.
    start_server "$BIN/12-io-uring" -D "$MNT" -m async -w 5
    client_in_background "$BATS_TEST_TMPDIR/async.json" -c 10 -n 10 -d 600 -t 2000
    sleep 0.3
    run wchans "$SERVER_PID"
    echo "# 12 async -w 5, 10 reads of 600 ms in flight: $(tr "\n" " " <<<"$output")" >&3
    [[ ${lines[0]} == "12-io-uring:do_epoll_wait" ]]
    local workers
    workers=$(grep -c '^iou-wrk' <<<"$output")
    [ "$workers" -ge 2 ] && [ "$workers" -le 5 ]
    wait "$BG_PID" || true
    sed "s/^/# /" "$BATS_TEST_TMPDIR/async.json" >&3
    [ "$(summary_field "$BATS_TEST_TMPDIR/async.json" ok)" -eq 10 ]
}

@test "real disk: 14 finds FUSE refuses RWF_NOWAIT, offloads every read, and survives the dying disk" {
    start_server "$BIN/14-cache-aware" -D "$MNT" -v
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    grep -q "RWF_NOWAIT unsupported on the filesystem of $MNT" "$SERVER_LOG"
    echo "# 14 -D on slowdisk: $(grep -o 'RWF_NOWAIT unsupported.*' "$SERVER_LOG" | sed "s|$MNT|MNT|")" >&3
    echo "# the dying disk: ok $(field ok), timeouts $(field timeouts), p90 $(field p90_ms) ms" >&3
    echo "# $(grep -c 'no RWF_NOWAIT: offloaded' "$SERVER_LOG") reads offloaded, $(grep -c 'hit: served on the loop' "$SERVER_LOG") served on the loop" >&3
}

@test "real disk: after SIGKILL of a server mid-read and of slowdisk, the next start recovers" {
    start_server "$BIN/06-worker-offload" -D "$MNT"
    ask '5000,/killed\n' >/dev/null &
    local asker=$!
    sleep 0.3
    { kill -KILL "$SERVER_PID" && wait "$SERVER_PID"; } 2>/dev/null || true
    SERVER_PID=
    { kill -KILL "$SD_PID" && wait "$SD_PID"; } 2>/dev/null || true
    SD_PID=
    wait "$asker"
    start_slowdisk -x # finds the dead mount and takes it down first
    grep -q " $MNT fuse" /proc/self/mounts
    start_server "$BIN/06-worker-offload" -D "$MNT"
    [[ $(ask '100,/after\n') =~ ^0,[0-9]+,[0-9]+,/after$ ]]
}

@test "real disk: a PATH without its leading '/' is read below DIR/DELAY_MS too, and none leaves it" {
    start_server "$BIN/06-worker-offload" -D "$MNT"
    local size
    # 100,x is the object DIR/100/x (it was DIR/100x, a name slowdisk does not have).
    size=$(stat -c %s "$MNT/100/x")
    [[ $(ask '100,x\n') =~ ^0,$size,[0-9]+,x$ ]]
    size=$(stat -c %s "$MNT/100/a.d/b")
    [[ $(ask '100,a/b\n') =~ ^0,$size,[0-9]+,a/b$ ]]
    # A path whose last name is ".", ".." or nothing names a directory, not an object: refused
    # before anything is opened (an open of DIR/0/.. would be DIR itself).
    local path
    for path in .. . /.. x/.. / x/; do
        [[ $(ask "0,$path\n") =~ ^2,0,[0-9]+, ]]
        grep -q "read of $path failed: Invalid argument" "$SERVER_LOG"
    done
    # A ".." before the last name is a name like any other, "...d", so it stays below DIR/0.
    size=$(stat -c %s "$MNT/0/...d/...d/etc.d/passwd")
    [[ $(ask '0,../../etc/passwd\n') =~ ^0,$size,[0-9]+,\.\./\.\./etc/passwd$ ]]
}
