#!/usr/bin/env bats
# Chapter 14: a read that hits the page cache is served on the loop (preadv2 RWF_NOWAIT); only a
# miss goes to the worker pool.
load helpers

# start_cache_server FLAGS...: starts chapter 14 and sets DATA_FILE; skips when this filesystem
# refuses RWF_NOWAIT or keeps the file in memory whatever we advise (tmpfs does both).
start_cache_server() {
    start_server "$BIN/14-cache-aware" "$@"
    DATA_FILE=$(sed -n 's/.*evicted: .* pages of \(.*\) (unlinked) in the page cache$/\1/p' \
        "$SERVER_LOG")
    [ -n "$DATA_FILE" ] && [ ! -e "$DATA_FILE" ] # open, but already unlinked
    if grep -q 'RWF_NOWAIT unsupported' "$SERVER_LOG"; then
        skip "$(sed -n 's/.*\(RWF_NOWAIT unsupported.*\)/\1/p' "$SERVER_LOG") (set TMPDIR to a disk-backed directory)"
    fi
    grep -q 'evicted: 0 of ' "$SERVER_LOG" ||
        skip "posix_fadvise(DONTNEED) left the data file in memory: $(grep evicted "$SERVER_LOG")"
}

# data_file_fd: the data file, by the server's own descriptor: its only name, since it is unlinked.
data_file_fd() { find /proc/"$SERVER_PID"/fd -lname "$DATA_FILE (deleted)" | head -1; }

# reply_shape REPLY: the reply without its ELAPSED_MS, which differs from run to run.
reply_shape() { echo "$1" | cut -d, -f1,2,4; }

@test "14: after eviction the first read is a miss (offloaded), the second a hit on the loop" {
    start_cache_server -v
    local first second third
    first=$(ask '100,/a\n')
    hold_pages "$(data_file_fd)" # what the first read brought in stays for the second
    second=$(ask '100,/a\n')
    release_pages
    [ "$(reply_shape "$first")" = "0,65536,/a" ] && [ "$(reply_shape "$second")" = "0,65536,/a" ]
    [ "$(grep -c 'miss: offloaded /a$' "$SERVER_LOG")" -eq 1 ]
    [ "$(grep -c 'hit: served on the loop /a$' "$SERVER_LOG")" -eq 1 ]
    # The miss waited for the (simulated) disk's 100 ms; the hit never touched the disk.
    [ "$(echo "$first" | cut -d, -f3)" -ge 100 ] && [ "$(echo "$second" | cut -d, -f3)" -lt 100 ]
    # Evict again from outside (GNU dd drops the whole file's cache), through the server's own
    # descriptor, the file's only name left: the next read misses.
    dd if="$(data_file_fd)" iflag=nocache count=0 status=none
    third=$(ask '100,/a\n')
    [ "$(reply_shape "$third")" = "0,65536,/a" ]
    [ "$(grep -c 'miss: offloaded /a$' "$SERVER_LOG")" -eq 2 ]
    # mincore saw the file cold at start; at exit it counts what an outside mincore (hold-pages)
    # holds, and not the whole file. Not "the block read, 16 pages": this VM's DAMON may page it
    # out between the read and the hold (a series of full runs saw fewer, once in 5); that the
    # read brought the block in, the second read's hit has shown.
    hold_pages "$(data_file_fd)"
    stop_server
    release_pages
    local resident held
    resident=$(sed -n 's/.*at exit: \([0-9]*\) of .*/\1/p' "$SERVER_LOG")
    held=$(sed -n 's/^holding \([0-9]*\) of .*/\1/p' "$HOLD_DIR/hold.0")
    echo "at exit: $resident pages; held: $held"
    [ "$resident" -ge "$held" ] && [ "$resident" -lt 4096 ]
}

@test "14: both modes give the same answers; always-offload sends every read to the pool" {
    local mode path replies=()
    for mode in nowait always-offload; do
        start_cache_server -m "$mode"
        client -c 10 -n 50 -d 0 --path /same/          # 50 reads: misses, then hits
        check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 50 ]'
        client -c 10 -n 50 -d 0 --path /same/          # the same 50 again: all in the cache
        check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 50 ]'
        replies+=("$(for path in /same/7 /same/42 /x; do reply_shape "$(ask "0,$path\n")"; done)")
        stop_server
        case $mode in
        nowait) grep -Eq 'stopping: [5-9][0-9] hits served on the loop' "$SERVER_LOG" ;;
        always-offload) grep -q 'stopping: 0 hits served on the loop, 103 reads offloaded' "$SERVER_LOG" ;;
        esac
    done
    [ "${replies[0]}" = "${replies[1]}" ]
    [ "${replies[0]}" = "$(printf '0,65536,/same/7\n0,65536,/same/42\n0,65536,/x')" ]
}

@test "14: the shared scenario has no timeouts (every read a miss on the cold file)" {
    start_cache_server
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field timeouts)" -eq 0 ]'
    # Misses wait for the disk: had any been answered as a hit, it would take ~0 ms, not 300.
    check '[ "$(field p50_ms)" -ge 300 ]'
}

# hits_behind_a_slow_miss MODE: one worker; a slow read (2 s, a cache miss) holds it; then 5 reads
# of blocks already in the cache, client timeout 1000 ms.
hits_behind_a_slow_miss() {
    start_cache_server -w 1 -v -m "$1"
    client -c 5 -n 5 -d 0 --path /h/          # warm the 5 blocks
    check '[ "$(field ok)" -eq 5 ]'
    # Twice, then a pause: a page still under I/O (readahead) answers RWF_NOWAIT with EAGAIN.
    sleep 0.2
    client -c 5 -n 5 -d 0 --path /h/
    sleep 0.2
    hold_pages "$(data_file_fd)"              # the 5 blocks stay in the cache; /slow's is not in it
    ask '2000,/slow\n' >/dev/null &           # /slow's block is none of /h/0-4's
    local asker=$! i
    for i in $(seq 100); do                   # until the worker has it
        grep -q 'offloaded /slow' "$SERVER_LOG" && break
        nap 0.05
    done
    client -c 5 -n 5 -d 0 --path /h/ -t 1000
    wait "$asker"
    release_pages
}

@test "14: cache hits are answered while a slow miss holds the only worker" {
    hits_behind_a_slow_miss nowait
    # Failed once in a series of full runs, with nothing to tell why: now the log says.
    if ! grep -q 'miss: offloaded /slow' "$SERVER_LOG"; then
        echo "/slow was not a miss offloaded; $(cat "$HOLD_DIR/hold.0"); the server's log:" >&2
        cat "$SERVER_LOG" >&2
        return 1
    fi
    # Held in the cache (hold_pages), the five blocks are five hits, answered on the loop while
    # the worker is busy. Without the hold, one run in five lost a block: our VMs run DAMON, which
    # pages out file pages nothing maps, 23 GB free, and that block waited behind /slow.
    local hits
    hits=$(sed -n '/offloaded \/slow$/,$p' "$SERVER_LOG" | grep -c 'hit: served on the loop /h/')
    check '[ "$hits" -eq 5 ] && [ "$(field ok)" -eq 5 ] && [ "$(field timeouts)" -eq 0 ]'
}

@test "14: always-offload: the same hits wait behind the slow read, and time out" {
    hits_behind_a_slow_miss always-offload
    check '[ "$(field ok)" -eq 0 ] && [ "$(field client_timeouts)" -eq 5 ]'
}

@test "14: where RWF_NOWAIT is refused (tmpfs) it says so and offloads every read" {
    [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || skip "no tmpfs at /dev/shm"
    TMPDIR=/dev/shm start_server "$BIN/14-cache-aware" -v
    grep -q 'RWF_NOWAIT unsupported' "$SERVER_LOG" || skip "this kernel's tmpfs supports RWF_NOWAIT"
    [ "$(reply_shape "$(ask '0,/a\n')")" = "0,65536,/a" ]
    [ "$(reply_shape "$(ask '0,/a\n')")" = "0,65536,/a" ]
    [ "$(grep -c 'no RWF_NOWAIT: offloaded /a$' "$SERVER_LOG")" -eq 2 ]
}

@test "14: bad input gets RC 2 or a close, and the server keeps serving" {
    start_cache_server
    survives_bad_input
}

@test "14: SIGTERM stops it cleanly mid-read; its data file was never left on disk" {
    start_cache_server
    # The 16 MiB file is only reachable through the server's descriptor.
    ls -l /proc/"$SERVER_PID"/fd | grep -q "$DATA_FILE (deleted)"
    stops_cleanly_mid_read
}

