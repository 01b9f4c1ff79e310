#!/usr/bin/env bash
# workers.bash [BURSTS]: how many io-wq worker threads (iou-wrk-PID) io_uring starts for each
# way of reading the data file, with a loose cap (-w 64) and a tight one (-w 2). Each run sends
# BURSTS (default 3) bursts of 64 concurrent 0 ms reads and then counts the server's threads.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/server.bash
BIN=${BIN_DIR:-bin}
trap stop_server EXIT
printf '%-9s %-5s %s\n' mode cap iou-wrk
for mode in buffered cold direct async; do
    for cap in 64 2; do
        start_server "$BIN/12-io-uring" -m "$mode" -w "$cap" || exit 1
        for _ in $(seq "${1:-3}"); do
            "$BIN/client" -p "$PORT" -q -c 64 -n 64 -d 0 -t 5000 >/dev/null || echo "client failed" >&2
        done
        printf '%-9s %-5s %s\n' "$mode" "$cap" "$(cat /proc/"$SERVER_PID"/task/*/comm | grep -c '^iou-wrk')"
        stop_server
        rm -f "$SERVER_OUT" "$SERVER_LOG"
    done
done
