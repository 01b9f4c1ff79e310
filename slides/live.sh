#!/usr/bin/env bash
# live.sh [--check] MOMENT... | --list: the talk's live moments (slides/RUNBOOK.md), each a few seconds,
# printed large enough to read from a projected terminal:
#   bug         chapter 05 under the dying disk: one read of 2500 ms, nine of 50 ms, every client
#               giving up at 1500 ms. Every one of the ten times out; the loop lane reads request
#               0 and nothing else.
#   fix         chapter 06 under the same load: only the dying read times out.
#   loopwatch   make debug-5 (scripts/debug-demo.sh), the lines that matter: loopwatch's report
#               while the loop is blocked, its wait channel seen from outside, the end of the
#               stall, and the frames addr2line names.
#   epoll-file  bin/epoll-file README.md: epoll refuses a regular file, poll calls it ready.
#   all         the four, in the order the talk runs them.
# --check runs each quietly and says whether it showed what the runbook promises (exit status 1
# when one did not): make talk-preflight runs it the day before the talk. --list names them.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
source scripts/scenarios.bash

BIN=${BIN_DIR:-bin}
MOMENTS=(bug fix loopwatch epoll-file)
check=""
[ "${1:-}" = --list ] && { printf '%s\n' "${MOMENTS[@]}"; exit 0; }
[ "${1:-}" = --check ] && { check=1; shift; }
[ $# -gt 0 ] || { sed -n '2,15s/^# \{0,1\}//p' "$0" >&2; exit 64; }
if [ -t 1 ] && [ -z "$check" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/live.XXXXXX")
trap 'stop_server; rm -rf "$work"' EXIT

# dying_disk CHAPTER: one fresh server, the dying-disk load, the client's summary and the
# timeline of who waited for whom, drawn from the server's own trace.
dying_disk() {
    local chapter=$1
    [ -x "$BIN/$chapter" ] || { echo "live.sh: no $BIN/$chapter (make)"; return 1; }
    : >"$work/trace"
    start_server "$BIN/$chapter" -E "$work/trace" || return 1
    printf '%s$ %s -p 0%s\n' "$bold" "$BIN/$chapter" "$plain"
    printf '%s$ %s -p %s %s%s\n' "$bold" "$BIN/client" "$PORT" "${SCENARIO_ARGS[dying-disk]}" "$plain"
    # shellcheck disable=SC2086 # the scenario's arguments are words
    "$BIN/client" -p "$PORT" ${SCENARIO_ARGS[dying-disk]} -q --timeline "$work/timeline"
    trace_settled "$work/trace" || true # the slow read is still on the loop when the client gives up
    stop_server
    scripts/timeline.sh -e "$work/trace" "$work/timeline" 50
}

# moment NAME: runs one live moment, its output on stdout.
moment() {
    case $1 in
    bug) dying_disk 05-blocking-in-loop ;;
    fix) dying_disk 06-worker-offload ;;
    loopwatch)
        [ -x "$BIN/loopwatch" ] || { echo "live.sh: no $BIN/loopwatch (make)"; return 1; }
        printf '%s$ make debug-5%s   (scripts/debug-demo.sh, the lines that matter)\n' "$bold" "$plain"
        # Everything up to the stop; the strict-mode part after it is the appendix's, not the talk's.
        # awk reads to the end, so that the demo is never cut off before it unmounts its disk.
        scripts/debug-demo.sh 05-blocking-in-loop 2>&1 | sed "s|$PWD/||g" | awk '
            /^Stopped: / { done = 1 }
            done { next }
            /^The disk: / || /loop blocked/ || /#[0-2]  / || /in kernel: / || /loop unblocked/ { print; next }
            /^\$ addr2line/ { print; addr = 1; next }
            addr && /^ *(\(inlined by\) )?[a-z_]+ at / { print; next }
            { addr = 0 }' | cut -c1-100 # as the slide shows them: a projected terminal is narrow
        ;;
    epoll-file)
        printf '%s$ %s README.md%s\n' "$bold" "$BIN/epoll-file" "$plain"
        "$BIN/epoll-file" README.md
        ;;
    esac
}

# promised NAME FILE: FILE, a moment's output, shows what slides/RUNBOOK.md says the audience sees.
promised() {
    case $1 in
    bug) grep -qE '^ok 0 +timeouts 10 ' "$2" && grep -qE '^loop +\|0=' "$2" ;;
    fix) grep -qE '^ok 9 +timeouts 1 ' "$2" ;;
    loopwatch) grep -qE 'loop blocked [0-9]+ ms: pread64' "$2" && grep -q 'in kernel: request_wait_answer' "$2" &&
        grep -q 'loop unblocked after' "$2" && grep -q '^start_read at ' "$2" ;;
    epoll-file) grep -q '^epoll_ctl(ADD, README.md): Operation not permitted' "$2" && grep -q 'POLLIN: always ready' "$2" ;;
    esac
}

names=()
for name in "$@"; do
    if [ "$name" = all ]; then
        names+=("${MOMENTS[@]}")
    elif [[ " ${MOMENTS[*]} " == *" $name "* ]]; then
        names+=("$name")
    else
        echo "live.sh: no live moment named $name (${MOMENTS[*]}, all)" >&2
        exit 64
    fi
done
status=0
for name in "${names[@]}"; do
    if [ -z "$check" ]; then
        printf '\n%s=== live: %s ===%s\n' "$bold" "$name" "$plain"
        moment "$name" || status=1
        continue
    fi
    start=$(date +%s%N)
    moment "$name" >"$work/out" 2>&1
    ms=$((($(date +%s%N) - start) / 1000000))
    if promised "$name" "$work/out"; then
        echo "live $name: ok, as the runbook says ($ms ms)"
    else
        echo "live $name: FAILED, not what the runbook promises ($ms ms); it printed:"
        sed 's/^/    /' "$work/out"
        status=1
    fi
done
exit "$status"
