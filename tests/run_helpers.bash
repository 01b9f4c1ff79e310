# Loaded after helpers by the tests that run a script as a terminal would (tests/scripts.bats,
# tests/swift-lab.bats) and interrupt it: each run is a session of its own (setsid), as a
# terminal's job is a process group: SIGINT to the group is Ctrl-C, to the script alone a kill.
setup() {
    RUN_TMP=$BATS_TEST_TMPDIR/tmp # the script's TMPDIR: it must be empty afterwards
    RUN_OUT=$BATS_TEST_TMPDIR/out
    mkdir -p "$RUN_TMP"
    RUN_SID=
}

# helpers' teardown, after whatever a failed test left of its run: nothing outlives a test.
eval "helpers_$(declare -f teardown)"
teardown() {
    if [ -n "$RUN_SID" ] && [ -n "$(ps -o pid= -s "$RUN_SID")" ]; then
        kill -KILL -- -"$RUN_SID" 2>/dev/null || true
    fi
    local m
    for m in $(grep -o " $RUN_TMP/[^ ]*" /proc/self/mounts); do "$BIN/slowdisk" -u "$m"; done
    helpers_teardown
}

# start_run SCRIPT ARGS...: SCRIPT (from scripts/) in a session of its own, TMPDIR=$RUN_TMP,
# output in $RUN_OUT; sets RUN_SID, its pid and session id.
start_run() {
    local script=$ROOT/scripts/$1 i
    shift
    # --default-signal: a job started with & ignores SIGINT, and a shell cannot trap a signal
    # ignored at its start; a terminal's job has it at its default.
    TMPDIR=$RUN_TMP setsid env --default-signal=INT bash -c 'echo $$ >"$0"; exec "$@"' \
        "$BATS_TEST_TMPDIR/sid" "$script" "$@" >"$RUN_OUT" 2>&1 3>&- &
    RUN_PID=$!
    for ((i = 0; i < 100; i++)); do [ -s "$BATS_TEST_TMPDIR/sid" ] && break; nap 0.05; done
    RUN_SID=$(cat "$BATS_TEST_TMPDIR/sid")
    [ "$RUN_SID" = "$RUN_PID" ] # setsid ran in place: the status of wait is the script's
}

# interrupt_when PATTERN SIGNAL group|script [DELAY]: when the run's output has a line matching
# PATTERN (and DELAY seconds more), SIGNAL to its whole group (Ctrl-C) or to the script alone;
# then waits 20 s at most for it to end. Sets RUN_STATUS.
interrupt_when() {
    local found=0
    wait_for_line "$RUN_PID" "$RUN_OUT" "$1" || found=$?
    [ "$found" -eq 0 ] || { echo "no line /$1/ in its output ($found):" >&2; cat "$RUN_OUT" >&2; return 1; }
    sleep "${4:-0}"
    if [ "$3" = group ]; then kill -"$2" -- -"$RUN_SID"; else kill -"$2" "$RUN_PID"; fi
    if ! timeout 20 tail --pid="$RUN_PID" -f /dev/null; then
        echo "still running 20 s after SIG$2; its processes, then its output:" >&2
        ps -o pid,stat,wchan:20,args -s "$RUN_SID" >&2 || true
        cat "$RUN_OUT" >&2
        return 1
    fi
    RUN_STATUS=0
    wait "$RUN_PID" || RUN_STATUS=$?
    echo "exit status $RUN_STATUS; its output:" # shown when a test fails
    cat "$RUN_OUT"
}

