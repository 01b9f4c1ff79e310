# Sourced by scripts/demo.sh after the shared scenario.
DRAIN_SECONDS=1.5 # the server is still busy with the slow read when the client gives up
named_scenario dying-disk

# What it costs: 1,000 requests waiting at once are 1,000 threads. /proc/PID/status, sampled.
say "1,000 clients at once, each read takes 1000 ms: the server's threads and memory"
start_server "$BIN/$chapter" || exit 1
echo "\$ $BIN/$chapter -p 0"
echo "\$ $BIN/client -p $PORT -c 1000 -n 1000 -d 1000 -t 8000 -q &"
grep -E '^(Threads|VmRSS|VmSize):' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ' | paste -sd' ' |
    sed 's/^/before:        /'
"${CTRL_C_ENDS[@]}" "$BIN/client" -p "$PORT" -c 1000 -n 1000 -d 1000 -t 8000 -q &
client_pid=$!
sleep 0.8
grep -E '^(Threads|VmRSS|VmSize):' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ' | paste -sd' ' |
    sed 's/^/after 0.8 s:   /'
wait "$client_pid"
sleep 0.2
grep -E '^(Threads|VmHWM|VmRSS):' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ' | paste -sd' ' |
    sed 's/^/all answered:  /'
stop_server
rm -f "$SERVER_OUT" "$SERVER_LOG"
