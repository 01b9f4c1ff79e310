#!/usr/bin/env bash
# bench.bash [ROUNDS]: hit-path throughput of chapter 14, -m nowait against -m always-offload
# (chapter 06's way), on the same 16 MiB file, measured in one run. Each round starts both
# servers in turn, warms the whole file into the page cache (4,000 requests), then times 20,000
# requests of 0 ms from 50 connections. Prints each round's requests/s and the server's CPU time
# per request (less disturbed than requests/s when other work shares the cores), and the ratios
# of the medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/server.bash
BIN=${BIN_DIR:-bin}
rounds=${1:-5}
trap stop_server EXIT

# measure MODE: one server, a warm-up, one timed run. Prints "REQUESTS/S CPU_US_PER_REQUEST".
measure() {
    start_server "$BIN/14-cache-aware" -m "$1" >/dev/null
    "$BIN/client" -p "$PORT" -c 50 -n 4000 -d 0 -q >/dev/null
    local cpu0 rps
    cpu0=$(cpu_seconds "$SERVER_PID")
    rps=$("$BIN/client" -p "$PORT" -c 50 -n 20000 -d 0 -t 5000 -q --json | sed -n 's/.*"rps":\([0-9.]*\).*/\1/p')
    awk -v r="$rps" -v a="$cpu0" -v b="$(cpu_seconds "$SERVER_PID")" 'BEGIN { print r, (b - a) * 1e6 / 20000 }'
    stop_server
    sed -n 's/.*stopping: \(.*\)/  (\1)/p' "$SERVER_LOG" >&2 # where the reads ran
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}

nowait=() always=() nowait_cpu=() always_cpu=()
for r in $(seq "$rounds"); do
    read -r rps cpu < <(measure nowait)
    nowait+=("$rps") nowait_cpu+=("$cpu")
    read -r rps cpu < <(measure always-offload)
    always+=("$rps") always_cpu+=("$cpu")
    printf 'round %d: nowait %7.1f req/s %5.1f us CPU/req   always-offload %7.1f req/s %5.1f us CPU/req\n' \
        "$r" "${nowait[-1]}" "${nowait_cpu[-1]}" "${always[-1]}" "${always_cpu[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v a="$(median "${nowait[@]}")" -v b="$(median "${always[@]}")" \
    -v c="$(median "${nowait_cpu[@]}")" -v d="$(median "${always_cpu[@]}")" \
    'BEGIN { printf "median: nowait %.1f req/s, always-offload %.1f req/s: %.2fx the throughput\n", a, b, a / b
             printf "        nowait %.1f us, always-offload %.1f us of server CPU per request: %.2fx\n", c, d, c / d }'
