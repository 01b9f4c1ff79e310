# A slow disk for the tests that read from one (chapters 06 and 15): bin/slowdisk mounted on a
# fresh directory under $BATS_TEST_TMPDIR. Load after helpers; call unmount_slowdisk in teardown.
# tests/slowdisk.bats tests the disk itself.

SLOWDISK_PID=

# mount_slowdisk [FLAGS...]: mounts slowdisk (with FLAGS: -O, -x, ...) and sets MNT. Skips the
# test, with slowdisk's one-line reason, where FUSE is unavailable (exit status 69).
mount_slowdisk() {
    local status=0
    try_mount_slowdisk "$@" || status=$?
    [ "$status" -eq 69 ] && skip "$SLOWDISK_WHY"
    return "$status"
}

# try_mount_slowdisk [FLAGS...]: the same, but where FUSE is unavailable it returns 69 and leaves
# the reason in SLOWDISK_WHY, for a test that can do without.
try_mount_slowdisk() {
    MNT=$BATS_TEST_TMPDIR/mnt
    SLOWDISK_LOG=$BATS_TEST_TMPDIR/slowdisk.log
    local out=$BATS_TEST_TMPDIR/slowdisk.out i status
    mkdir -p "$MNT"
    # 3>&- : bats waits for every process holding its fd 3.
    "$BIN/slowdisk" "$@" "$MNT" >"$out" 2>>"$SLOWDISK_LOG" 3>&- &
    SLOWDISK_PID=$!
    for i in $(seq 200); do
        grep -qx "mounted on $MNT" "$out" && return 0
        if ! kill -0 "$SLOWDISK_PID" 2>/dev/null; then
            status=0
            wait "$SLOWDISK_PID" || status=$?
            SLOWDISK_PID=
            SLOWDISK_WHY=$(tail -1 "$SLOWDISK_LOG")
            [ "$status" -eq 69 ] && return 69
            echo "slowdisk exited $status before mounting:" >&2
            cat "$SLOWDISK_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "slowdisk printed no 'mounted on' line in 10 s" >&2
    return 1
}

# unmount_slowdisk: stops slowdisk (SIGTERM, then SIGKILL after 5 s), takes down any mount left
# and fails if one is still there. Harmless when nothing was mounted.
unmount_slowdisk() {
    [ -n "${MNT:-}" ] || return 0
    local i
    if [ -n "$SLOWDISK_PID" ]; then
        kill -TERM "$SLOWDISK_PID" 2>/dev/null || true
        for i in $(seq 100); do
            kill -0 "$SLOWDISK_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$SLOWDISK_PID" 2>/dev/null || true
        wait "$SLOWDISK_PID" 2>/dev/null || true
        SLOWDISK_PID=
    fi
    "$BIN/slowdisk" -u "$MNT" 2>/dev/null || true
    if grep -q " $MNT fuse" /proc/self/mounts; then
        echo "a mount is left on $MNT" >&2
        return 1
    fi
}
