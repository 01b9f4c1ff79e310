# Mounting bin/slowdisk (tools/slowdisk.c) for a test, and always taking it down. Loaded after
# helpers by tests/slowdisk.bats (the disk itself), tests/real-disk.bats (the chapters on it),
# and the 06 and 15 tests that need a slow disk. Functions only: each file's setup and teardown
# call them. Where there is no FUSE, slowdisk exits 69 with a one-line reason, and a test skips
# with it (start_slowdisk, mount_slowdisk) or does without (try_mount_slowdisk).

# slowdisk_setup: a fresh mount point $MNT under $BATS_TEST_TMPDIR, nothing mounted yet.
slowdisk_setup() {
    MNT="$BATS_TEST_TMPDIR/mnt"
    mkdir -p "$MNT"
    SD_PID=
    SD_LOG="$BATS_TEST_TMPDIR/slowdisk.log"
    READERS=()
}

# try_start_slowdisk [FLAGS...]: mounts slowdisk (with FLAGS: -x, -O, -m seed, ...) on $MNT and
# waits for its "mounted on" line. Returns 69 where FUSE is unavailable, its reason in
# SLOWDISK_WHY.
try_start_slowdisk() {
    local out="$BATS_TEST_TMPDIR/slowdisk.out" status=0
    : >"$out" # a test may mount several times: the last one's "mounted on" must not count
    # 3>&- : bats waits for every process holding its fd 3.
    "$BIN/slowdisk" "$@" "$MNT" >"$out" 2>>"$SD_LOG" 3>&- &
    SD_PID=$!
    wait_for_line "$SD_PID" "$out" "^mounted on $MNT\$" || status=$?
    if [ "$status" -eq 1 ]; then
        status=0
        wait "$SD_PID" || status=$?
        SD_PID=
        SLOWDISK_WHY=$(tail -1 "$SD_LOG")
        [ "$status" -eq 69 ] && return 69
        echo "slowdisk exited $status before mounting:" >&2
        cat "$SD_LOG" >&2
        return 1
    fi
    [ "$status" -eq 2 ] && echo "slowdisk printed no 'mounted on' line in 10 s" >&2
    [ "$status" -eq 0 ]
}

# start_slowdisk [FLAGS...]: the same, but where FUSE is unavailable the test skips.
start_slowdisk() {
    local status=0
    try_start_slowdisk "$@" || status=$?
    [ "$status" -eq 69 ] && skip "$SLOWDISK_WHY"
    return "$status"
}

# stop_slowdisk: stop_process for slowdisk. Returns its exit status.
stop_slowdisk() {
    [ -n "${SD_PID:-}" ] || return 0
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
# when one is still there or slowdisk's log holds a sanitizer report. Harmless when nothing was
# mounted.
slowdisk_teardown() {
    [ -n "${MNT:-}" ] || return 0
    local pid found=0
    release_pages || true # it may hold a file of the mount
    for pid in "${READERS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    READERS=()
    stop_slowdisk || true
    "$BIN/slowdisk" -u "$MNT" 2>/dev/null || true
    if sanitizer_report "${SD_LOG:-}"; then
        found=1
        cat "$SD_LOG" >&2
    fi
    if mounted; then
        echo "a mount is left on $MNT" >&2
        found=1
    fi
    [ "$found" -eq 0 ]
}

# The chapters' tests' names: a fresh mount in one call, and its teardown.
mount_slowdisk() {
    slowdisk_setup
    start_slowdisk "$@"
}
try_mount_slowdisk() {
    slowdisk_setup
    try_start_slowdisk "$@"
}
unmount_slowdisk() {
    slowdisk_teardown
}
