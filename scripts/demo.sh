#!/usr/bin/env bash
# demo.sh CHAPTER: the demo `make chapter-N` and `make tour` run. Starts the chapter's server on
# port 0, sends it the shared scenario (10 concurrent reads of 300 ms, client timeout 1500 ms),
# draws the timeline, shows the server's log and CPU time, and stops it. Some chapters add a
# second scenario (the dying disk) that tells their story better.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash

chapter=${1:-}
BIN=${BIN_DIR:-bin}
if [ -z "$chapter" ] || [ ! -x "$BIN/$chapter" ]; then
    echo "usage: scripts/demo.sh NN-name   (chapters: $(ls chapters | tr '\n' ' '))" >&2
    exit 2
fi
trap stop_server EXIT
timeline=$(mktemp "${TMPDIR:-/tmp}/timeline.XXXXXX")

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }
run() { echo "\$ $*"; "$@"; }

# scenario TITLE CLIENT-FLAGS...: one client run against the running server, with its timeline.
scenario() {
    local title=$1
    shift
    say "$title"
    local cpu0 t0
    cpu0=$(cpu_seconds "$SERVER_PID")
    t0=$(date +%s.%N)
    run "$BIN/client" -p "$PORT" --timeline "$timeline" "$@"
    echo "(client exit status $?)"
    scripts/timeline.sh "$timeline" 50
    awk -v c0="$cpu0" -v c1="$(cpu_seconds "$SERVER_PID")" -v t0="$t0" -v t1="$(date +%s.%N)" \
        'BEGIN { printf "server CPU: %.2f s in %.2f s of wall time\n", c1 - c0, t1 - t0 }'
}

say "=== Chapter ${chapter}: $(sed -n '1s/^# //p' "chapters/$chapter/README.md" 2>/dev/null) ==="
start_server "$BIN/$chapter" -v || exit 1
echo "\$ $BIN/$chapter -p 0 -v"
cat "$SERVER_OUT"

scenario "The shared scenario: 10 clients at once, each reads 300 ms, each gives up after 1500 ms" \
    -c 10 -n 10 -d 300 -t 1500
# A chapter may add scenarios of its own in chapters/NN-name/demo.bash, using scenario().
[ -f "chapters/$chapter/demo.bash" ] && source "chapters/$chapter/demo.bash"
sleep 0.5
say "Server log (stderr)"
cat "$SERVER_LOG"
stop_server
rm -f "$timeline" "$SERVER_OUT" "$SERVER_LOG"
