# Sourced by scripts/demo.sh after the shared scenario (a prefork pool of 4 processes).
SERVER_FLAGS=(-m fork)
named_scenario shared "-m fork, a child forked for each connection: "

# What a process per request costs: the same 1,000 reads of 0 ms, 8 at a time, each way.
for mode in fork prefork; do
    say "-m $mode: 1,000 reads of 0 ms, 8 at a time"
    start_server "$BIN/$chapter" -m "$mode" || exit 1
    echo "\$ $BIN/$chapter -p 0 -m $mode"
    cpu0=$(tree_cpu "$SERVER_PID")
    echo "\$ $BIN/client -p $PORT -c 8 -n 1000 -d 0 -q"
    "$BIN/client" -p "$PORT" -c 8 -n 1000 -d 0 -q
    sleep 0.2 # let the parent reap the last children
    awk -v a="$cpu0" -v b="$(tree_cpu "$SERVER_PID")" \
        'BEGIN { printf "server CPU, every process of it: %.2f s\n", b - a }'
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
done

# The pool's limit: two slow reads hold both processes; the fast reads wait in the kernel's
# accept queue, where the server cannot see them (its ELAPSED_MS says ~50 ms).
DRAIN_SECONDS=0.5
SERVER_FLAGS=(-w 2)
scenario "-w 2: two reads of 1500 ms go first, then 4 of 50 ms" \
    -c 6 -n 6 -d 50 --slow 1500 --slow-count 2 -t 3000
