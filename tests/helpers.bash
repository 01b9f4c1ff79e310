# Loaded by every .bats file: start/stop a chapter's server, talk to it, check its answers.
ROOT=${BATS_TEST_DIRNAME%/*} # tests/..: every test sources this, so no process for it
BIN="$ROOT/${BIN_DIR:-bin}"
LOOPWATCH="$BIN/loopwatch"
source "$ROOT/scripts/server.bash"
NAP_BY_READ=1 # the polls sleep without a process (scripts/server.bash's nap)
source "$ROOT/scripts/scenarios.bash"

# bats (1.8) runs a DEBUG trap before every command of a test, 0.3 ms each on this 2-core VM: a
# helper's poll or parse loop cost more in the trap than in its work (a loop of 3,000 commands:
# 1.5 s with it, 0.26 s with the one below, 0.08 s with none). The trap records where the test is,
# for the failure report; here it records only the test's own lines (and setup's, teardown's) and
# returns at once elsewhere. A failure inside a helper is reported at the test's line that called
# it, with the helper's name ("`ask' failed") and what the helper printed. bats --trace keeps the
# full trap.
if [ "${BATS_TRACE_LEVEL:-0}" -eq 0 ] && declare -F bats_debug_trap >/dev/null; then
    bats_trap_def=$(declare -f bats_debug_trap)
    bats_trap_fast='{
        case ${FUNCNAME[1]} in
        "$BATS_TEST_NAME" | setup | teardown | setup_file | teardown_file) ;;
        *) return 0 ;;
        esac'
    eval "${bats_trap_def/\{/$bats_trap_fast}"
    unset bats_trap_def bats_trap_fast
fi

# sanitized: true in a run of the sanitizer builds (make test SAN=...: BIN_DIR=bin/san-*).
sanitized() { [[ ${BIN_DIR:-bin} == */san-* ]]; }

# skip_when_sanitized WHAT: under SAN=..., skips a test that runs none of our C programs, only
# WHAT: a sanitizer has nothing to watch there, and make test's plain run (CI's first) checks the
# same scripts. The sanitized run keeps its time for the C.
skip_when_sanitized() {
    ! sanitized || skip "runs $1, none of our C: the plain run checks it"
}

# make_here ARGS...: make, silent, with the SAN= that builds into this run's BIN_DIR (bin/san-X-Y:
# X,Y).
make_here() {
    local san=
    [[ ${BIN_DIR:-bin} =~ san-(.*)$ ]] && san=${BASH_REMATCH[1]//-/,}
    make -C "$ROOT" -s --no-print-directory SAN="$san" "$@"
}

# sanitizer_report LOG: true when a sanitizer (ASan, LSan, TSan, UBSan) reported in LOG.
sanitizer_report() {
    [ -n "${1:-}" ] && [ -f "$1" ] && grep -qE 'Sanitizer|runtime error:' "$1"
}

# Every test file gets this teardown: the server stops even when the test failed. Under SAN=... a
# sanitizer's report in the server's log (a leak found at exit, say) fails the test that started
# it.
teardown() {
    detach_tracer # before the server stops: LeakSanitizer cannot check a traced process's exit
    release_pages || true
    stop_server || true
    local found=0
    if sanitizer_report "${SERVER_LOG:-}"; then
        found=1
        cat "$SERVER_LOG" >&2
    fi
    # LOOP_STRICT=1 bats tests/NN-x.bats: every server runs under bin/loopwatch -S, and any
    # blocking call a loop made fails the test (appendix A1).
    if [ "${LOOP_STRICT:-}" = 1 ] && [ -n "${SERVER_LOG:-}" ] && grep -q 'refused a blocking call' "$SERVER_LOG"; then
        found=1
        grep -A12 'refused a blocking call' "$SERVER_LOG" >&2
    fi
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    [ "$found" -eq 0 ]
}

HOLD_DIR=$BATS_TEST_TMPDIR # hold_pages (scripts/server.bash) writes there

# ask BYTES: sends BYTES (printf-style escapes) on one connection, closes our sending side,
# prints whatever the server answered. Gives up after 10 s without a byte either way (nc -w).
# One process: the bytes go through a file in the test's own directory (bats removes it), not
# a pipe from printf (a fork), and nc's own timeout replaces timeout(1) (another fork); ask runs
# thousands of times in make test.
ask() {
    local request=$BATS_TEST_TMPDIR/ask.$BASHPID
    printf -- "$1" >"$request" # --: a request may start with -
    nc -N -w 10 127.0.0.1 "$PORT" <"$request" || true
}

# client ARGS...: the load client against the running server, JSON summary in $output.
client() {
    run "$BIN/client" -p "$PORT" --json -q "$@"
}

# field NAME: a number from the client's JSON summary in $output.
field() {
    local line re="\"$1\":([0-9.]*)"
    while IFS= read -r line; do
        [[ $line == "{"* && $line =~ $re ]] && echo "${BASH_REMATCH[1]}"
    done <<<"$output"
}

# The two loads of scripts/scenarios.bash, summary in $output.
# shellcheck disable=SC2086 # the scenario's arguments are words
shared_scenario() { client ${SCENARIO_ARGS[shared]}; }
# shellcheck disable=SC2086
dying_disk_scenario() { client ${SCENARIO_ARGS[dying-disk]}; }

# Fails with the evidence when the condition does not hold.
check() {
    if ! eval "$1"; then
        echo "failed: $1" >&2
        echo "client said: $output" >&2
        [ -n "${SERVER_LOG:-}" ] && { echo "server log:" >&2; tail -20 "$SERVER_LOG" >&2; }
        return 1
    fi
}

# The bad-input battery (issue 3): each input gets RC 2 (HTTP 400) or a clean close and a log
# line, and the server answers a good request correctly afterwards. Expects a running server.
survives_bad_input() {
    local A5000
    printf -v A5000 '%5000s' ''
    A5000=${A5000// /a}
    local inputs=(
        '\n'                               # empty line
        '100,/a'                           # no newline, then the client closes
        "$A5000"                           # 5000 bytes and no newline
        '\001\002\377,/a\n'                # binary bytes
        '100,/a\000b\n'                    # a NUL inside the path
        'abc,/a\n'                         # non-numeric delay
        '-5,/a\n'                          # negative delay
        '99999999,/a\n'                    # absurd delay (over an hour)
        '100,\n'                           # empty path
        '100,/a b\n'                       # a space in the path
        'POST /1,/a HTTP/1.1\r\n\r\n'      # HTTP, bad method
        'GET / HTTP/1.1\r\n\r\n'           # HTTP, no /DELAY,PATH
    )
    local input reply
    for input in "${inputs[@]}"; do
        reply=$(ask "$input")
        case $reply in
        "" | "2,0,0,-" | "HTTP/1.1 400 Bad Request"*) ;;
        *) echo "input '$input' got '$reply'" >&2; return 1 ;;
        esac
        reply=$(ask '10,/good\n')
        [[ $reply =~ ^0,[0-9]+,[0-9]+,/good$ ]] || {
            echo "after '$input' a good request got '$reply'" >&2
            return 1
        }
    done
    # A client that connects, says nothing and leaves.
    timeout 5 nc -z 127.0.0.1 "$PORT"
    reply=$(ask '10,/good\n')
    [[ $reply =~ ^0,[0-9]+,[0-9]+,/good$ ]]
    # Every bad input was logged with its reason (the two RC-2 cases in HTTP too).
    [ "$(grep -c 'bad request:' "$SERVER_LOG")" -ge 11 ]
    kill -0 "$SERVER_PID"
}

# cpu_ratio_during CLIENT-ARGS...: runs the client and sets CPU_RATIO to the server's CPU
# seconds per second of wall time while it ran (from /proc/PID/stat).
cpu_ratio_during() {
    cpu_window_start "$SERVER_PID"
    client "$@"
    cpu_window_end "$SERVER_PID"
    CPU_RATIO=$(awk -v c="$CPU_S" -v w="$WALL_S" 'BEGIN { printf "%.3f", c / w }')
    echo "# server CPU: $CPU_S s over $WALL_S s: $CPU_RATIO" >&3
}

# below LIMIT X / above LIMIT X: float comparisons for check.
below() { awk -v x="$2" -v l="$1" 'BEGIN { exit !(x <= l) }'; }
above() { awk -v x="$2" -v l="$1" 'BEGIN { exit !(x >= l) }'; }

# ends_cleanly SECONDS SIGNAL: the server, sent SIGNAL (its name, for the message), is gone
# within SECONDS, exit status 0, its log saying "stopping".
ends_cleanly() {
    local status=0
    timeout "$1" tail --pid="$SERVER_PID" -f /dev/null || status=$?
    [ "$status" -eq 0 ] || { echo "still running $1 s after $2" >&2; return 1; }
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    [ "$status" -eq 0 ] || { echo "exit status $status" >&2; return 1; }
    grep -q stopping "$SERVER_LOG"
}

# stops_cleanly_mid_read: with a 10 s read in progress, SIGTERM ends the server within 3 s,
# exit status 0.
stops_cleanly_mid_read() {
    ask '10000,/long\n' >/dev/null &
    local asker=$! status=0
    sleep 0.3
    kill -TERM "$SERVER_PID"
    ends_cleanly 3 SIGTERM || status=1
    kill "$asker" 2>/dev/null || true
    return "$status"
}

# attach_tracer INJECT [PID]: strace attached to the server's main thread (or to PID) until
# detach_tracer (teardown calls it), making one system call late as INJECT says (strace -e
# inject=...: SYSCALL:delay_exit=TIME[:when=N]): a loop slowed by the machine, or a signal's
# window held open, deterministically. Returns when strace has attached.
TRACER_PID=
attach_tracer() {
    command -v strace >/dev/null || skip "strace is not installed (it makes a call late on purpose)"
    local pid=${2:-$SERVER_PID} i
    strace -qq -o /dev/null -p "$pid" -e trace="${1%%:*}" -e inject="$1" 3>&- &
    TRACER_PID=$!
    for i in $(seq 100); do
        [ "$(awk '/^TracerPid:/ { print $2 }' /proc/"$pid"/status)" = "$TRACER_PID" ] && return 0
        nap 0.05
    done
    echo "strace did not attach to $pid in 5 s" >&2
    return 1
}
detach_tracer() {
    [ -n "$TRACER_PID" ] || return 0
    kill "$TRACER_PID" 2>/dev/null || true
    wait "$TRACER_PID" 2>/dev/null || true
    TRACER_PID=
}

# needs_fds N: skips the test unless both the server and the client can open N descriptors.
needs_fds() {
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$1" ]; then
        skip "RLIMIT_NOFILE hard limit is $hard, below the $1 descriptors this test needs"
    fi
}

# skip_heavy_under_tsan: load tests of thousands of connections are too slow under
# ThreadSanitizer (5-15x) to meet their deadlines; the plain and ASan runs cover them.
skip_heavy_under_tsan() {
    case ${BIN_DIR:-} in
    *san-thread*) skip "a load test: too slow under ThreadSanitizer, covered by the plain and ASan runs" ;;
    esac
}
