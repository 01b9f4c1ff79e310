#!/usr/bin/env bats
# tools/slowdisk: a FUSE disk whose reads really take DELAY_MS. Each test mounts it on a fresh
# directory under $BATS_TEST_TMPDIR; teardown kills every reader, stops slowdisk, takes down any
# mount left (slowdisk -u) and fails the test if one is still in /proc/self/mounts. Where there
# is no FUSE (no /dev/fuse, not root, a container), slowdisk exits 69 and the tests skip with
# its reason.

load helpers

load slowdisk_helpers

setup() { slowdisk_setup; }
teardown() { slowdisk_teardown; }

# timed CMD...: `run CMD...`, and sets ms to how long it took.
timed() {
    local t0
    t0=$(date +%s%N)
    run "$@"
    ms=$((($(date +%s%N) - t0) / 1000000))
}

# timed_open FILE: opens FILE for reading in this shell and closes it; sets status and ms, the
# open(2) alone: no process is started and timed with it, which on a loaded machine can take
# longer than the delay in question.
timed_open() {
    local t0=$EPOCHREALTIME t1 fd=
    status=0
    { exec {fd}<"$1"; } 2>/dev/null || status=$?
    t1=$EPOCHREALTIME
    [ -z "$fd" ] || exec {fd}<&-
    ms=$(((${t1/./} - ${t0/./}) / 1000))
}

# timed_stat FILE: stat(2)s FILE in this shell (test's -e: a lookup and its attributes, no open);
# sets status and ms, for the same reason as timed_open.
timed_stat() {
    local t0=$EPOCHREALTIME t1
    status=0
    [ -e "$1" ] || status=1
    t1=$EPOCHREALTIME
    ms=$(((${t1/./} - ${t0/./}) / 1000))
}

# timed_read FILE [DD_FLAGS...]: reads FILE to the end with dd (bs=64k unless DD_FLAGS say),
# keeping nothing, and sets ms to the time dd itself reports: from its first read(2) to its last,
# with no process start in it (on a loaded machine a fork and exec can cost more than a delay).
# Fails if the read does.
timed_read() {
    local f=$1 report seconds
    shift
    report=$(LC_ALL=C dd if="$f" of=/dev/null bs=64k "$@" 2>&1) || {
        echo "$report" >&2
        return 1
    }
    # the last line: "65536 bytes (66 kB, 64 KiB) copied, 0.301234 s, 218 kB/s"
    seconds=$(sed -n 's/.* copied, \([0-9.]*\) s,.*/\1/p' <<<"$report")
    [ -n "$seconds" ] || {
        echo "timed_read: no time in dd's report: $report" >&2
        return 1
    }
    ms=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')
}

# expected_content FILE: what slowdisk promises FILE holds: one 32-byte line per 32 bytes of its
# size, "INODE_IN_HEX OFFSET\n".
expected_content() {
    local ino size
    ino=$(printf '%016x' "$(stat -c %i "$1")")
    size=$(stat -c %s "$1")
    seq 0 32 $((size - 32)) | xargs printf "$ino %014d\n"
}

@test "slowdisk: cat MNT/300/a takes its 300 ms and holds the lines it promises" {
    start_slowdisk
    timed cat "$MNT/300/a"
    [ "$status" -eq 0 ]
    [ "$ms" -ge 300 ]
    cat "$MNT/300/a" >"$BATS_TEST_TMPDIR/got"
    expected_content "$MNT/300/a" >"$BATS_TEST_TMPDIR/want"
    cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
    size=$(stat -c %s "$MNT/300/a")
    [ "$size" -ge 1024 ] && [ "$size" -le 65536 ]
    # Another path is another file: its own inode, so its own lines.
    [ "$(stat -c %i "$MNT/300/b")" != "$(stat -c %i "$MNT/300/a")" ]
    [ "$(stat -c %F "$MNT/300/dir.d")" = directory ]
    [ "$(stat -c %F "$MNT/300/dir.d/c")" = "regular file" ]
}

# disk_reads: the READ requests slowdisk (started with -v) has been sent so far: the reads that
# reached the disk, past the page cache.
disk_reads() {
    grep -c ' READ [0-9]*: ' "$SD_LOG" || true
}

# one_delay_after COUNT: true when the READs slowdisk logged after its first COUNT paid one delay
# between them: the first started it, each later one waited out the rest of it (-v names whose
# delay a READ joins). Says which READ paid a delay of its own otherwise.
one_delay_after() {
    awk -v skip="$1" '
        match($0, / READ [0-9]+: /) {
            if (++n <= skip) next
            unique = substr($0, RSTART + 6, RLENGTH - 8) + 0
            if (n == skip + 1) { first = unique; next }
            if (index($0, "the rest of READ " first "'"'"'s ") == 0) { print "its own delay: " $0; bad = 1 }
        }
        END { exit bad || n <= skip }' "$SD_LOG"
}

# wait_for_read COUNT: waits (up to 5 s) until slowdisk has been sent more than COUNT READs.
wait_for_read() {
    local i
    for i in $(seq 500); do
        [ "$(disk_reads)" -gt "$1" ] && return 0
        nap 0.01
    done
    return 1
}

# big_object DIR: a file under DIR of more than 60 KiB (16 pages: read a page at a time, it is
# 16 READs), found by its size; every name has one, from its path.
big_object() {
    local i
    for i in $(seq 1000); do
        [ "$(stat -c %s "$1/big$i")" -gt 61440 ] && echo "$1/big$i" && return 0
    done
    return 1
}

# interrupt_read SIGNAL FILE: reads FILE with dd (which lives through SIGUSR1), sends dd SIGNAL
# in the middle of its read, waits for it to end, and sets ms to how long it took. The signal
# must land while slowdisk holds the READ, however loaded the machine: watching its log for the
# READ and stopping it then lost that race to a 100 ms delay (1 run in 8). So slowdisk is asked
# to stop itself once it has logged the next READ (a lookup of MNT/hold), and stays stopped until
# the reader has sent its FUSE_INTERRUPT (it then waits for the answer in state D); a resumed
# slowdisk reads requests before it answers what is due.
interrupt_read() {
    local reads interrupted t0 pid i
    reads=$(disk_reads)
    interrupted=$(grep -c ' interrupted$' "$SD_LOG" || true)
    if stat "$MNT/hold" >/dev/null 2>&1; then # ENOENT, and the next READ is held
        echo "MNT/hold exists: slowdisk cannot hold a READ" >&2
        return 1
    fi
    t0=$(date +%s%N)
    dd if="$2" of=/dev/null bs=64k status=none 3>&- &
    pid=$!
    READERS+=("$pid")
    for i in $(seq 500); do
        [ "$(awk '{ print $3 }' "/proc/$SD_PID/stat" 2>/dev/null)" = T ] && break
        nap 0.01
    done
    grep -q 'holding READ' "$SD_LOG" || { echo "slowdisk held no READ in 5 s" >&2; return 1; }
    kill -"$1" "$pid"
    for i in $(seq 500); do
        [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = D ] && break
        nap 0.01
    done
    kill -CONT "$SD_PID"
    wait "$pid" 2>/dev/null || true
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$(grep -c ' interrupted$' "$SD_LOG")" -gt "$interrupted" ] # it landed mid-read
}

@test "slowdisk: a 64 KiB object under /300/ takes 300 ms, read whole or 4 KiB at a time" {
    start_slowdisk -v
    local whole pieces reads
    whole=$(big_object "$MNT/300")
    pieces=$(big_object "$MNT/300/more.d")
    reads=$(disk_reads)
    timed_read "$whole"
    echo "# read whole, $(stat -c %s "$whole") bytes: $ms ms, $(($(disk_reads) - reads)) READ" >&3
    [ "$ms" -ge 300 ] && [ "$ms" -lt 600 ]
    reads=$(disk_reads)
    timed_read "$pieces" bs=4096
    echo "# read 4 KiB at a time, $(stat -c %s "$pieces") bytes: $ms ms, $(($(disk_reads) - reads)) READs" >&3
    [ "$(($(disk_reads) - reads))" -ge 2 ] # readahead grew its window: the kernel cut the read
    [ "$ms" -ge 300 ] && [ "$ms" -lt 600 ]
}

@test "slowdisk: after a reader killed mid-read, the next read of the object still takes one delay" {
    start_slowdisk -v
    local f reads
    f=$(big_object "$MNT/300")
    interrupt_read KILL "$f"
    reads=$(disk_reads)
    timed_read "$f"
    echo "# the next read: $ms ms, $(($(disk_reads) - reads)) READs (the pages the killed one left)" >&3
    [ "$(($(disk_reads) - reads))" -ge 16 ] # one READ a page: the split the delay must not pay
    # One delay: the disk's log says so, and the read took it. Its time is also 16 round trips
    # through FUSE: 663 ms once beside the suite, one delay in the log (< 600 ms alone).
    one_delay_after "$reads"
    [ "$ms" -ge 300 ]
}

@test "slowdisk: a signal mid-read costs no second delay: the retry ends when the first try would have" {
    start_slowdisk -v
    local reads
    reads=$(disk_reads)
    interrupt_read USR1 "$(big_object "$MNT/300")"
    echo "# a read with a SIGUSR1 in the middle: $ms ms, $(($(disk_reads) - reads)) READs" >&3
    [ "$(($(disk_reads) - reads))" -ge 2 ] # the interrupted READ, then its retry
    [ "$ms" -ge 300 ]
    # The claim is the disk's, so slowdisk's log tells it, not a clock: the READ the signal
    # interrupted started the delay, and each READ of the retry waited out the rest of it (-v
    # names whose delay a READ joins); none started one of its own. The time from before dd's
    # start to its end also holds this test's stop-and-signal handshake and the retry's 16 round
    # trips: 696 ms once, in a loaded, sanitized run, with every READ joined.
    one_delay_after "$reads"
}

@test "slowdisk: -P charges every READ: readahead's pieces, and a killed read's page-by-page retry" {
    start_slowdisk -P -v
    local f reads n
    f=$(big_object "$MNT/100")
    reads=$(disk_reads)
    timed_read "$(big_object "$MNT/100/more.d")" bs=4096
    n=$(($(disk_reads) - reads))
    echo "# -P, read 4 KiB at a time: $ms ms, $n READs of 100 ms" >&3
    [ "$n" -ge 2 ] && [ "$ms" -ge $((100 * n)) ]
    interrupt_read KILL "$f"
    reads=$(disk_reads)
    timed_read "$f"
    n=$(($(disk_reads) - reads))
    echo "# -P, the read after a killed one: $ms ms, $n READs of 100 ms" >&3
    [ "$n" -ge 16 ] && [ "$ms" -ge $((100 * n)) ]
}

@test "slowdisk: a read of another file is not delayed by a concurrent 3 s read" {
    start_slowdisk
    read_in_background "$MNT/3000/slow"
    sleep 0.2
    timed cat "$MNT/100/fast"
    [ "$status" -eq 0 ]
    [ "$ms" -lt 1500 ]
    kill -0 "$READER" # the slow read was still going on: the two overlapped
}

@test "slowdisk: without -x the second read is a page-cache hit; with -x it pays again" {
    # A hit is a read that never reaches the disk, so the READs slowdisk is sent are counted.
    # The time of the second cat (once "< 300 ms") says little: under the parallel suite a hit
    # took 300 ms and more, a fork, an exec and a turn on two busy cores (557 ms beside 200 busy
    # processes, and no READ sent). It measured the machine.
    start_slowdisk -v
    local reads
    timed cat "$MNT/600/c"
    [ "$ms" -ge 600 ]
    cached=$output
    hold_pages "$MNT/600/c" # in the cache until the second read (hold-pages.c: DAMON)
    reads=$(disk_reads)
    timed cat "$MNT/600/c"
    release_pages
    echo "# the second read: $ms ms, $(($(disk_reads) - reads)) READs" >&3
    [ "$(disk_reads)" -eq "$reads" ]
    [ "$output" = "$cached" ]

    stop_slowdisk
    start_slowdisk -x -v
    timed cat "$MNT/600/c"
    [ "$ms" -ge 600 ]
    reads=$(disk_reads)
    timed cat "$MNT/600/c"
    [ "$ms" -ge 600 ]
    [ "$(disk_reads)" -gt "$reads" ] # past the page cache: the disk again
    [ "$output" = "$cached" ] # the same bytes either way
}

@test "slowdisk: -O makes every open(2) wait its delay; a stat stays instant, and so do opens without -O" {
    start_slowdisk
    timed_open "$MNT/600/plain" # opens, reads nothing
    [ "$status" -eq 0 ]
    [ "$ms" -lt 300 ]

    stop_slowdisk
    start_slowdisk -O
    timed_stat "$MNT/600/o"
    [ "$status" -eq 0 ]
    [ "$ms" -lt 300 ] # a lookup and its attributes: answered at once
    timed_open "$MNT/600/o"
    [ "$status" -eq 0 ]
    [ "$ms" -ge 600 ]
    timed_open "$MNT/600/o" # the kernel caches names, never opens: it pays again
    [ "$ms" -ge 600 ]
    timed cat "$MNT/600/o" # the open, then the read: both
    [ "$ms" -ge 1200 ]
    timed_open "$MNT/0/o"
    [ "$status" -eq 0 ]
    [ "$ms" -lt 300 ]
}

@test "slowdisk: MNT/eio/x fails its read with EIO, at once" {
    start_slowdisk
    stat "$MNT/eio/x" >/dev/null # the file exists; its reads fail
    timed cat "$MNT/eio/x"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Input/output error"* ]]
    [ "$ms" -lt 1000 ]
}

@test "slowdisk: a delay that is not a number is ENOENT, an absurd one EINVAL, never a crash" {
    start_slowdisk
    run cat "$MNT/abc/a"
    [[ "$output" == *"No such file or directory"* ]]
    run cat "$MNT/-5/a"
    [[ "$output" == *"No such file or directory"* ]]
    run cat "$MNT/3600001/a"
    [[ "$output" == *"Invalid argument"* ]]
    run cat "$MNT/99999999999999999999/a"
    [[ "$output" == *"Invalid argument"* ]]
    stat "$MNT/3600000/a" >/dev/null # an hour is the longest allowed
    run cat "$MNT/300/a/below-a-file"
    [[ "$output" == *"Not a directory"* ]]
    kill -0 "$SD_PID"
    run cat "$MNT/0/a"
    [ "$status" -eq 0 ]
}

@test "slowdisk: writes fail, the file system is read-only" {
    start_slowdisk
    run bash -c "echo x > '$MNT/300/a'"
    [[ "$output" == *"Read-only file system"* ]]
    run touch "$MNT/300/new"
    [[ "$output" == *"Read-only file system"* ]]
    run mv "$MNT/300/a" "$MNT/300/b"
    [[ "$output" == *"Read-only file system"* ]]
    run mkdir "$MNT/300/new.d" # every name exists already: the kernel says so before EROFS
    [[ "$output" == *"File exists"* ]]
    run rm "$MNT/300/a"
    [[ "$output" == *"Read-only file system"* ]]
}

@test "slowdisk: during a read the reader waits in the kernel on FUSE, not in a sleep" {
    start_slowdisk
    read_in_background "$MNT/2000/w"
    sleep 0.5
    wchan=$(cat "/proc/$READER/wchan")
    stack=$(cat "/proc/$READER/stack")
    state=$(awk '/^State:/ { print $2 }' "/proc/$READER/status")
    echo "# wchan: $wchan, state $state, stack: $(echo "$stack" | awk '{ print $2 }' | head -4 | tr '\n' ' ')" >&3
    [ "$wchan" = request_wait_answer ]
    [[ "$stack" == *fuse_readahead* ]]
    [[ "$stack" != *nanosleep* ]]
}

@test "slowdisk: a reader killed mid-read goes at once (FUSE_INTERRUPT), not after its delay" {
    start_slowdisk
    read_in_background "$MNT/5000/k"
    sleep 0.3
    t0=$(date +%s%N)
    kill -KILL "$READER"
    wait "$READER" || true
    [ $((($(date +%s%N) - t0) / 1000000)) -lt 2000 ]
    kill -0 "$SD_PID"
}

@test "slowdisk: SIGTERM unmounts and exits 0, even with a read pending" {
    start_slowdisk
    read_in_background "$MNT/5000/p"
    sleep 0.3
    stop_slowdisk # fails the test unless it exits 0
    ! mounted || false # a bare `! cmd` never fails a bats test
    local status=0
    wait "$READER" || status=$?
    [ "$status" -ne 0 ] # the reader got an error, and did not wait 5 s for it
}

@test "slowdisk: every signal that would end it unmounts first and exits 0; SIGPIPE it ignores" {
    local sig status
    for sig in HUP INT QUIT TERM USR1 USR2 ALRM VTALRM PROF XCPU XFSZ PWR IO RTMIN RTMAX; do
        start_slowdisk
        read_in_background "$MNT/5000/p" # a read pending, as in a real run
        sleep 0.1
        kill -"$sig" "$SD_PID"
        status=0
        wait "$SD_PID" 2>/dev/null || status=$?
        SD_PID=
        echo "# SIG$sig: exit $status, mounts left: $(grep -c " $MNT fuse" /proc/self/mounts)" >&3
        [ "$status" -eq 0 ]
        ! mounted || false
        grep -q "stopped by signal $(kill -l "$sig")" "$SD_LOG"
    done
    start_slowdisk
    kill -PIPE "$SD_PID" # a reader of its stdout went away: no reason to stop serving
    sleep 0.2
    kill -0 "$SD_PID"
    cat "$MNT/0/after-sigpipe" >/dev/null
}

@test "slowdisk: after SIGKILL (of it and of a reader mid-read) the next start recovers the mount" {
    start_slowdisk
    read_in_background "$MNT/5000/k"
    sleep 0.3
    kill -KILL "$SD_PID" "$READER"
    wait "$SD_PID" "$READER" || true
    SD_PID=
    run cat "$MNT/10/a"
    [[ "$output" == *"Transport endpoint is not connected"* ]] # stale
    mounted

    start_slowdisk
    grep -q "took down the stale slowdisk mount on $MNT" "$SD_LOG"
    run cat "$MNT/10/a"
    [ "$status" -eq 0 ]
}

@test "slowdisk: -u takes down a stale mount; a live one is not mounted over" {
    start_slowdisk
    run "$BIN/slowdisk" "$MNT"
    [ "$status" -eq 1 ]
    [[ "$output" == *"a running slowdisk serves it already"* ]]
    kill -KILL "$SD_PID"
    wait "$SD_PID" || true
    SD_PID=
    mounted
    run "$BIN/slowdisk" -u "$MNT"
    [ "$status" -eq 0 ]
    [[ "$output" == *"unmounted $MNT"* ]]
    ! mounted || false
    [ -d "$MNT" ] && ls "$MNT" >/dev/null
    run "$BIN/slowdisk" -u "$MNT" # nothing left: says so, still 0
    [ "$status" -eq 0 ]
    [[ "$output" == *"no slowdisk mount"* ]]
}

@test "slowdisk: -m seed draws each read's delay from the seed's model, not from the path" {
    start_slowdisk -m seed -s 3 -v
    # Seed 3 draws 80, 302, 112 ms first; 5000 in the path means nothing here.
    timed cat "$MNT/5000/a"
    [ "$status" -eq 0 ]
    [ "$ms" -lt 2000 ]
    run cat "$MNT/any-name/b"
    [ "$status" -eq 0 ]
    run cat "$MNT/eio/c"
    [[ "$output" == *"Input/output error"* ]]
    # Every drawn delay is one the model allows: 75-400 ms, 6-20 s, or an EIO after 0.3-3 s.
    run grep -o 'in [0-9]* ms' "$SD_LOG"
    [ "${#lines[@]}" -ge 2 ]
    for line in "${lines[@]}"; do
        d=${line//[^0-9]/}
        [ "$d" -eq 0 ] || { [ "$d" -ge 75 ] && [ "$d" -le 400 ]; } || [ "$d" -ge 6000 ]
    done
}

@test "slowdisk: no /dev/fuse exits 69 with a one-line reason" {
    unshare --mount --propagation private true 2>/dev/null || skip "unshare --mount is not allowed here"
    run unshare --mount --propagation private \
        sh -c "mount -t tmpfs none /dev && exec '$BIN/slowdisk' '$MNT'"
    [ "$status" -eq 69 ]
    [ "$output" = "slowdisk: FUSE unavailable: /dev/fuse: No such file or directory" ]
}

@test "slowdisk: bad flags print the usage and exit 2; --help exits 0" {
    run "$BIN/slowdisk" -q "$MNT"
    [ "$status" -eq 2 ]
    [[ "$output" == *"usage: slowdisk"* ]]
    run "$BIN/slowdisk"
    [ "$status" -eq 2 ]
    run "$BIN/slowdisk" -m dying "$MNT"
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown model"* ]]
    run "$BIN/slowdisk" "$MNT" "$MNT"
    [ "$status" -eq 2 ]
    run "$BIN/slowdisk" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"usage: slowdisk"* ]]
    ! mounted
}
