#!/usr/bin/env bash
# bench.bash [ROUNDS]: zero-delay throughput of chapter 13 with 1 and 2 loops, measured in one run.
# Alternates -j 1 and -j 2 for ROUNDS rounds (default 5), 20,000 requests of 0 ms from 50
# connections each, and prints each round's requests/s and the ratio of the medians.
# The client runs on the same machine: what it uses is CPU the loops do not get.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/server.bash
BIN=${BIN_DIR:-bin}
rounds=${1:-5}
trap stop_server EXIT

rps() { # rps FLAGS...: one server, one client run, its requests/s
    start_server "$BIN/13-multicore" "$@" >/dev/null
    "$BIN/client" -p "$PORT" -c 50 -n 20000 -d 0 -t 5000 -q --json | sed -n 's/.*"rps":\([0-9.]*\).*/\1/p'
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}

one=() two=()
for r in $(seq "$rounds"); do
    one+=("$(rps -j 1)")
    two+=("$(rps -j 2)")
    printf 'round %d: -j 1 %8.1f req/s   -j 2 %8.1f req/s\n' "$r" "${one[-1]}" "${two[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m1=$(median "${one[@]}") m2=$(median "${two[@]}")
awk -v a="$m1" -v b="$m2" -v n="$(nproc)" \
    'BEGIN { printf "median: -j 1 %.1f req/s, -j 2 %.1f req/s: ratio %.2f (%d cores, client included)\n", a, b, b / a, n }'
