# Sourced by scripts/demo.sh after the shared scenario.
# The four designs under one load, each on a fresh server with two disks, 2 workers per disk
# (the shared pools get 4) and a 1 s deadline: disk 0 is dying (4 reads of 2.5 s), disk 1 is
# healthy (20 reads of 50 ms, 4 at a time, client timeout 1.5 s). The healthy load runs once
# alone, then 200 ms after the dying disk's reads, and the table compares them.
json() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"; }
table="design        alone p99   beside the dying disk: ok  RC 1  client timeouts  p99"
for design in shared per-disk per-process deadline; do
    say "-m $design: the healthy disk alone, then beside the dying disk"
    start_server "$BIN/$chapter" -d 2 -w 2 -T 1000 -m "$design" || exit 1
    echo "\$ $BIN/$chapter -p 0 -d 2 -w 2 -T 1000 -m $design"
    alone=$("$BIN/client" -p "$PORT" --json -q -c 4 -n 20 -d 50 -t 1500 --path /d1/)
    echo "\$ $BIN/client -p $PORT -c 4 -n 4 -d 2500 -t 3000 --path /d0/ &   # the dying disk"
    "${CTRL_C_ENDS[@]}" "$BIN/client" -p "$PORT" -q -c 4 -n 4 -d 2500 -t 3000 --path /d0/ >/dev/null &
    dying=$!
    sleep 0.2
    echo "\$ $BIN/client -p $PORT -c 4 -n 20 -d 50 -t 1500 --path /d1/   # the healthy disk"
    beside=$("$BIN/client" -p "$PORT" --json -c 4 -n 20 -d 50 -t 1500 --path /d1/ 2>&1)
    grep -v '^{' <<<"$beside" | head -4
    wait "$dying"
    stop_server
    echo "server log (stderr), first lines:"
    head -6 "$SERVER_LOG"
    rm -f "$SERVER_OUT" "$SERVER_LOG"
    table+=$(printf '\n%-13s %6s ms %27s %5s %16s %5s ms' "$design" "$(json p99_ms "$alone")" \
        "$(json ok "$beside")" "$(json server_timeouts "$beside")" \
        "$(json client_timeouts "$beside")" "$(json p99_ms "$beside")")
done
say "The healthy disk's reads, design by design"
echo "$table"
