# Mounting bin/slowdisk (tools/slowdisk.c) for a test, and always taking it down. Loaded by
# tests/slowdisk.bats (the disk itself) and tests/real-disk.bats (the chapters on it), after
# helpers. A test that calls start_slowdisk where there is no FUSE skips with slowdisk's reason.

setup() {
    MNT="$BATS_TEST_TMPDIR/mnt"
    mkdir -p "$MNT"
    SD_PID=
    SD_LOG="$BATS_TEST_TMPDIR/slowdisk.log"
    READERS=()
}

# start_slowdisk [FLAGS...]: mounts slowdisk on $MNT and waits for its "mounted on" line.
start_slowdisk() {
    local out="$BATS_TEST_TMPDIR/slowdisk.out" i status
    # 3>&- : bats waits for every process holding its fd 3.
    "$BIN/slowdisk" "$@" "$MNT" >"$out" 2>>"$SD_LOG" 3>&- &
    SD_PID=$!
    status=0
    wait_for_line "$SD_PID" "$out" "^mounted on $MNT\$" || status=$?
    if [ "$status" -eq 1 ]; then
        status=0
        wait "$SD_PID" || status=$?
        SD_PID=
        [ "$status" -eq 69 ] && skip "$(tail -1 "$SD_LOG")"
        echo "slowdisk exited $status before mounting:" >&2
        cat "$SD_LOG" >&2
    fi
    [ "$status" -eq 2 ] && echo "slowdisk printed no 'mounted on' line in 10 s" >&2
    [ "$status" -eq 0 ]
}

# stop_slowdisk: stop_process for slowdisk. Returns its exit status.
stop_slowdisk() {
    [ -n "$SD_PID" ] || return 0
    local pid=$SD_PID
    SD_PID=
    stop_process "$pid"
}

# read_in_background FILE: starts `cat FILE` and adds it to READERS; sets READER.
read_in_background() {
    cat "$1" >/dev/null 2>&1 3>&- &
    READER=$!
    READERS+=("$READER")
}

mounted() {
    grep -q " $MNT fuse" /proc/self/mounts
}

# slowdisk_teardown: kills the readers, stops slowdisk, takes down any mount left, and fails
# when one is still there or slowdisk's log holds a sanitizer report.
slowdisk_teardown() {
    local pid found=0
    for pid in "${READERS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    stop_slowdisk || true
    "$BIN/slowdisk" -u "$MNT" 2>/dev/null || true
    if sanitizer_report "$SD_LOG"; then
        found=1
        cat "$SD_LOG" >&2
    fi
    if mounted; then
        echo "a mount is left on $MNT" >&2
        found=1
    fi
    [ "$found" -eq 0 ]
}

teardown() {
    slowdisk_teardown
}
