#!/usr/bin/env bash
# demo.sh CHAPTER: the demo `make chapter-N` and `make tour` run. For each scenario it starts the
# chapter's server on port 0 (fresh, so one scenario's backlog never spills into the next), sends
# it the client's load, draws the timeline, shows the server's CPU time and log, and stops it.
# Every chapter runs the shared scenario (10 concurrent reads of 300 ms, client timeout
# 1500 ms); a chapter adds its own in chapters/NN-name/demo.bash, calling scenario().
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
source scripts/scenarios.bash

BIN=${BIN_DIR:-bin}
chapter=${1:-}
if [ -z "$chapter" ] || [ ! -x "$BIN/$chapter" ]; then
    echo "usage: scripts/demo.sh NN-name   (chapters: $(ls chapters | tr '\n' ' '))" >&2
    exit 2
fi
# However the demo ends (done, a failed start, Ctrl-C, SIGTERM, a closed terminal) it leaves no
# server, client or slow disk running and no file behind. A chapter's demo.bash that starts more
# adds its own clean-up to DEMO_CLEANUP. Our files go in one directory, the server's stdout and
# stderr (start_server's) are removed by name: TMPDIR is not changed for the servers, because
# chapters 12 and 14 put their data file under it, on purpose on disk (/var/tmp by default).
work=$(mktemp -d "${TMPDIR:-/tmp}/demo.XXXXXX") || exit 1
timeline=$work/timeline
trace=$work/trace # the server's -E event trace
DEMO_CLEANUP=()
DEMO_KEEP_JOBS=() # jobs a DEMO_CLEANUP function stops itself, in its order (a disk after a server)
cleanup() {
    local f
    stop_jobs_except "${SERVER_PID:-}" "${DEMO_KEEP_JOBS[@]}" # the clients, before the server
    for f in "${DEMO_CLEANUP[@]}"; do "$f"; done
    stop_server
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    rm -rf "$work"
}
clean_up_on_signals "demo.sh: interrupted, stopping what it started"

# in_background COMMAND...: COMMAND, waited for with the wait builtin, which a trapped signal
# interrupts: a SIGTERM to the demo alone is handled at once, not after a 1.5 s client run.
in_background() {
    "${CTRL_C_ENDS[@]}" "$@" &
    wait $!
}

# SERVER_FLAGS: extra flags for the server in the next scenario (a demo.bash may set it).
SERVER_FLAGS=()

# scenario TITLE CLIENT-ARGS...: one fresh server, one client run, its timeline, CPU and log.
scenario() {
    local title=$1
    shift
    say "$title"
    : >"$trace" # each scenario draws its own run only
    start_server "$BIN/$chapter" -v -E "$trace" "${SERVER_FLAGS[@]}" || exit 1
    echo "\$ $BIN/$chapter -p 0 -v${SERVER_FLAGS[*]:+ ${SERVER_FLAGS[*]}}"
    cat "$SERVER_OUT"
    cpu_window_start "$SERVER_PID"
    echo "\$ $BIN/client -p $PORT $*"
    in_background "$BIN/client" -p "$PORT" --timeline "$timeline" "$@"
    echo "(client exit status $?)"
    cpu_window_end "$SERVER_PID"
    echo "server CPU: $CPU_S s in $WALL_S s of wall time"
    in_background sleep "${DRAIN_SECONDS:-0.5}" # let late replies reach the log and the trace
    stop_server
    # Each request as the client saw it, cut where the server's trace says what it waited for,
    # and a lane for each server thread.
    scripts/timeline.sh -e "$trace" "$timeline" 50
    echo "server log (stderr):"
    cat "$SERVER_LOG"
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}

# named_scenario NAME [TITLE-PREFIX]: scenario() with one of scripts/scenarios.bash's loads.
named_scenario() {
    local title=${SCENARIO_TITLE[$1]}
    [ -n "${2:-}" ] && title="$2${title,}"
    # shellcheck disable=SC2086 # the scenario's arguments are words
    scenario "$title: ${SCENARIO_DETAIL[$1]}" ${SCENARIO_ARGS[$1]}
}

say "=== Chapter ${chapter}: $(sed -n '1s/^# //p' "chapters/$chapter/README.md" 2>/dev/null) ==="
named_scenario shared
[ -f "chapters/$chapter/demo.bash" ] && source "chapters/$chapter/demo.bash"
cleanup
trap - EXIT
exit 0
