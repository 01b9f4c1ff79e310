#!/usr/bin/env bats
# Chapter 12: real file reads through io_uring: the loop never blocks, a linked timeout answers
# RC 1 at the deadline, and the kernel's own worker threads stay under the -w cap.
load helpers

# start_uring_server FLAGS...: start_server, but a kernel that refuses io_uring (the server
# says "io_uring unavailable: why" and exits 69) skips the test with the server's reason.
start_uring_server() {
    start_server "$BIN/12-io-uring" "$@" 2>/dev/null && return 0
    local why
    why=$(sed -n 's/.*io_uring unavailable: //p' "$SERVER_LOG")
    [ -n "$why" ] && skip "io_uring unavailable: $why"
    cat "$SERVER_LOG" >&2
    return 1
}

setup() { start_uring_server; }

# iou_workers: how many io-wq worker threads (named iou-wrk-PID) the server has now.
iou_workers() {
    cat /proc/"$SERVER_PID"/task/*/comm 2>/dev/null | grep -c '^iou-wrk' || true
}

# burst LIMIT: 64 reads of 0 ms at once, 5 times, or until the server has more than LIMIT
# io-wq workers (idle workers linger for seconds, so the count only grows between bursts).
burst() {
    local i
    for i in 1 2 3 4 5; do
        client -c 64 -n 64 -d 0 -t 5000
        check '[ "$(field ok)" -eq 64 ]'
        [ "$(iou_workers)" -le "$1" ] || break
    done
}

@test "12: the shared scenario has no timeouts, and its reads went through the ring" {
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    check '[ "$(field max_ms)" -lt 1000 ]'
    # Each read is three linked SQEs (timer, deadline, read), each with its CQE.
    local ring_fd
    ring_fd=$(find /proc/"$SERVER_PID"/fd -lname 'anon_inode:\[io_uring\]' -printf '%f\n' | head -1)
    [ "$(awk '/^CqTail:/ { print $2 }' /proc/"$SERVER_PID"/fdinfo/"$ring_fd")" -ge 30 ]
}

@test "12: the dying disk: only the slow request is slow" {
    dying_disk_scenario
    check '[ "$(field ok)" -eq 9 ] && [ "$(field timeouts)" -eq 1 ]'
    check '[ "$(field p90_ms)" -lt 500 ]'
}

@test "12: a read past the deadline is cancelled by its linked timeout and answered RC 1 on time" {
    stop_server
    start_uring_server -T 1000
    reply=$(ask '5000,/slow\n')
    [[ $reply =~ ^1,0,([0-9]+),/slow$ ]]
    [ "${BASH_REMATCH[1]}" -ge 950 ] && [ "${BASH_REMATCH[1]}" -lt 2000 ]   # at 1 s, not 5 s
    grep -q 'timeout (service) /slow: the linked timeout fired' "$SERVER_LOG"
    grep -q 'read of /slow cancelled: -ECANCELED' "$SERVER_LOG"
    [[ $(ask '10,/good\n') =~ ^0,[0-9]+,[0-9]+,/good$ ]]
}

@test "12: page-cache hits, misses and O_DIRECT reads start no io-wq worker here" {
    case $(stat -f -c %T "${TMPDIR:-/var/tmp}") in
    ext2/ext3 | xfs | btrfs) ;;
    *) skip "the data file's filesystem is $(stat -f -c %T "${TMPDIR:-/var/tmp}"), not one measured for async reads" ;;
    esac
    local m
    for m in buffered cold direct; do
        stop_server
        start_uring_server -m "$m"
        burst 0
        [ "$(iou_workers)" -eq 0 ] || { echo "-m $m: $(iou_workers) iou-wrk threads" >&2; return 1; }
    done
}

@test "12: reads forced onto io-wq start iou-wrk threads, and -w caps them" {
    stop_server
    start_uring_server -m async -w 64
    burst 2
    local loose=$(iou_workers)
    echo "# -w 64: $loose iou-wrk threads" >&3
    [ "$loose" -gt 2 ]                      # without a tight cap the kernel starts more
    stop_server
    start_uring_server -m async -w 2
    burst 2
    local capped=$(iou_workers)
    echo "# -w 2: $capped iou-wrk threads" >&3
    [ "$capped" -ge 1 ] && [ "$capped" -le 2 ]
}

@test "12: a kernel that refuses io_uring gets a clear message and exit status 69" {
    command -v strace >/dev/null || skip "strace is not installed (it injects the refusal)"
    local err
    for err in EPERM ENOSYS; do
        # LeakSanitizer cannot run under ptrace: a sanitizer build must not try at exit.
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 run timeout 10 strace -qq -f -o /dev/null -e trace=io_uring_setup \
            -e inject=io_uring_setup:error=$err "$BIN/12-io-uring" -p 0
        [ "$status" -eq 69 ]
        [[ $output == *"io_uring unavailable: "* ]]
        [[ $output != *"listening on"* ]]
    done
}

@test "12: bad input gets RC 2 or a close, and the server keeps serving" {
    survives_bad_input
}

@test "12: SIGTERM stops it cleanly while a read is in the kernel" {
    stops_cleanly_mid_read
}
