#!/usr/bin/env bash
# debug-demo.sh [CHAPTER]: the demo `make debug-5` runs (appendix A1). Starts the chapter's server
# (default 05-blocking-in-loop) with the loop-lag watchdog on (-W 200), sends it the dying-disk
# scenario, and while the loop is stuck looks at it from outside: which kernel function each
# thread sleeps in, and the queues filling up in front of the listener. Then shows the watchdog's
# report, resolves its addresses with addr2line, and stops the server.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash
source scripts/scenarios.bash

chapter=${1:-05-blocking-in-loop}
BIN=${BIN_DIR:-bin}
if [ ! -x "$BIN/$chapter" ]; then
    echo "usage: scripts/debug-demo.sh [NN-name]   (build it first: make)" >&2
    exit 2
fi
trap stop_server EXIT
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s%s%s\n' "$bold" "$*" "$plain"; }

say "=== Finding the blocking call in $chapter ==="
start_server "$BIN/$chapter" -W 200 || exit 1
echo "\$ $BIN/$chapter -p 0 -W 200     (pid $SERVER_PID)"
cat "$SERVER_OUT"

say "${SCENARIO_TITLE[dying-disk]}: ${SCENARIO_DETAIL[dying-disk]}"
echo "\$ $BIN/client -p $PORT ${SCENARIO_ARGS[dying-disk]} -q"
client_out=$(mktemp "${TMPDIR:-/tmp}/debug-client.XXXXXX")
# shellcheck disable=SC2086 # the scenario's arguments are words
"$BIN/client" -p "$PORT" ${SCENARIO_ARGS[dying-disk]} -q >"$client_out" 2>&1 &
client_pid=$!
sleep 0.7 # the slow read has the loop now; the fast requests are queued behind it

say "0.7 s in, from outside: where each thread sleeps (/proc/$SERVER_PID/task/*/wchan)"
for task in /proc/"$SERVER_PID"/task/*; do
    printf '  thread %-7s %-16s state %s  in kernel: %s\n' "${task##*/}" "($(cat "$task/comm"))" \
        "$(sed 's/^.*) //' "$task/stat" | cut -d' ' -f1)" "$(cat "$task/wchan" 2>/dev/null || echo '?')"
done

if command -v ss >/dev/null; then
    say "The listener's accept queue (Recv-Q) and the unread requests behind it"
    echo "\$ ss -tln 'sport = :$PORT'"
    ss -tln "sport = :$PORT"
    echo "\$ ss -tn 'sport = :$PORT'"
    ss -tn "sport = :$PORT"
else
    echo "(ss not installed: apt-get install iproute2)"
fi

wait "$client_pid"
echo "(client exit status $?)"
cat "$client_out"
rm -f "$client_out"
for _ in $(seq 60); do # the client gave up at 1500 ms; the loop comes back at 2500 ms
    grep -q 'loop unblocked' "$SERVER_LOG" && break
    sleep 0.05
done

say "The watchdog's report (server log)"
grep -A20 'loop blocked' "$SERVER_LOG" | sed '/loop unblocked/q'

# backtrace_symbols names only exported symbols (libc's); the program's own frames come as
# BINARY(+OFFSET), which addr2line turns into function, file and line, inlined calls included.
offsets=$(sed -n "s|.*$BIN/$chapter(+\(0x[0-9a-f]*\)).*|\1|p" "$SERVER_LOG" | awk '!seen[$0]++')
if [ -n "$offsets" ] && command -v addr2line >/dev/null; then
    say "The program's frames, resolved"
    echo "\$ addr2line -f -i -p -e $BIN/$chapter" $offsets
    addr2line -f -i -p -e "$BIN/$chapter" $offsets
fi
stop_server
echo "server stopped, exit status $?"
rm -f "$SERVER_OUT" "$SERVER_LOG"
