#!/usr/bin/env bash
# soak.sh: SOAK_REQUESTS (default 1,000,000) zero-delay requests at chapters 04 and 06, in
# batches, then checks that the server's descriptor count and RSS at the end equal those after a
# warm-up batch. RSS may grow by SOAK_RSS_SLACK_KB (default 512 KiB): malloc keeps freed arenas
# and the timer heap keeps its peak capacity, which is reuse, not a leak; growth per batch that
# goes on and on is what this catches.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash
BIN=${BIN_DIR:-bin}
total=${SOAK_REQUESTS:-1000000}
batch=50000
slack=${SOAK_RSS_SLACK_KB:-512}
trap stop_server EXIT
fds() { ls "/proc/$SERVER_PID/fd" | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
failed=0
for chapter in 04-epoll 06-worker-offload; do
    start_server "$BIN/$chapter" || exit 1
    "$BIN/client" -p "$PORT" -q -c 100 -n "$batch" -d 0 -t 10000 >/dev/null # warm-up
    fd0=$(fds) rss0=$(rss) t0=$(date +%s) sent=0
    while [ "$sent" -lt "$total" ]; do
        if ! "$BIN/client" -p "$PORT" -q --json -c 100 -n "$batch" -d 0 -t 10000 >/tmp/soak.$$; then
            echo "$chapter: a batch failed: $(cat /tmp/soak.$$)"
            failed=1
        fi
        sent=$((sent + batch))
    done
    fd1=$(fds) rss1=$(rss)
    echo "$chapter: $sent requests in $(($(date +%s) - t0)) s; fds $fd0 -> $fd1; RSS $rss0 -> $rss1 kB"
    if [ "$fd1" -ne "$fd0" ] || [ "$rss1" -gt $((rss0 + slack)) ]; then
        echo "$chapter: LEAK? descriptors or RSS grew"
        failed=1
    fi
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG" /tmp/soak.$$
done
exit $failed
