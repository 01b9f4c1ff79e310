# Sourced by scripts/demo.sh after the shared scenario.
# beside_slow_reader PATH TITLE: like scenario(), but one client first starts reading PATH's
# object 1 KiB per 100 ms through a 4 KiB window (giving up after 3 s), and 300 ms later 5
# ordinary requests run beside it. The server runs with SERVER_FLAGS.
beside_slow_reader() {
    say "$2"
    start_server "$BIN/$chapter" "${SERVER_FLAGS[@]}" || exit 1
    echo "\$ $BIN/$chapter -p 0 ${SERVER_FLAGS[*]}"
    echo "\$ $BIN/client -p $PORT -c 1 -n 1 -d 10 --path $1 --slow-readers 1 -t 3000 &"
    "$BIN/client" -p "$PORT" -q -c 1 -n 1 -d 10 --path "$1" --slow-readers 1 -t 3000 |
        sed 's/^/    (slow reader) /' &
    local slow=$!
    sleep 0.3
    echo "\$ $BIN/client -p $PORT -c 5 -n 5 -d 10 -t 1500"
    "$BIN/client" -p "$PORT" --timeline "$timeline" -c 5 -n 5 -d 10 -t 1500
    echo "(client exit status $?)"
    scripts/timeline.sh "$timeline" 50
    wait "$slow"
    stop_server
    echo "server log (stderr):"
    cat "$SERVER_LOG"
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}

SERVER_FLAGS=(-m naive)
beside_slow_reader /64K/ "naive: a slow reader of a 64 KiB object: the kernel's buffers take it all"
beside_slow_reader /16M/ "naive: a slow reader of a 16 MiB object: the loop waits for it"
SERVER_FLAGS=(-m fixed)
beside_slow_reader /16M/ "fixed: the same slow reader: partial writes, EPOLLOUT, no one waits"
