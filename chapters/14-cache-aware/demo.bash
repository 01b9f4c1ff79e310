# Sourced by scripts/demo.sh after the shared scenario (a cold file: every read a miss).
# Cold, then warm: the same 8 paths twice. A miss waits for the disk (300 ms); a hit does not.
for mode in nowait always-offload; do
    say "-m $mode: 8 reads of 300 ms on a cold file, then the same 8 again"
    start_server "$BIN/$chapter" -m "$mode" || exit 1
    echo "\$ $BIN/$chapter -p 0 -m $mode"
    for pass in cold warm; do
        echo "\$ $BIN/client -p $PORT -c 8 -n 8 -d 300 --path /same/ -q    # $pass"
        "$BIN/client" -p "$PORT" -c 8 -n 8 -d 300 --path /same/ -q
    done
    stop_server
    echo "server log (stderr):"
    cat "$SERVER_LOG"
    rm -f "$SERVER_OUT" "$SERVER_LOG"
done
