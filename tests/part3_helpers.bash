# Shared by the Part III tests (chapters 10 and 11): a second client run beside the main one,
# and the server's memory. Load after helpers.

# client_in_background OUT ARGS...: starts the load client against $PORT with its JSON summary
# going to the file OUT; sets BG_PID. `wait "$BG_PID"` for it, then `summary_field OUT NAME`.
client_in_background() {
    local out=$1
    shift
    # 3>&- : bats waits for every process holding its fd 3.
    "$BIN/client" -p "$PORT" --json -q "$@" >"$out" 2>&1 3>&- &
    BG_PID=$!
}

# summary_field FILE NAME: a number from the JSON summary in FILE.
summary_field() {
    grep '^{' "$1" | json_field "$2"
}

# rss_kb PID: the resident set size of PID now, in KiB.
rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Chapter 11's load, against a server started with -d 2: healthy_alone runs 20 reads of 50 ms on
# disk 1, 4 at a time, and sets ALONE_P99. dying_disk_beside_healthy runs 4 reads of 2.5 s on disk 0
# (the dying disk, summary in $BATS_TEST_TMPDIR/dying.json) and 200 ms later the same healthy
# load on disk 1, whose summary is left in $output.
healthy_load() {
    client -c 4 -n 20 -d 50 -t 1500 --path /d1/
}
healthy_alone() {
    healthy_load
    ALONE_P99=$(field p99_ms)
}
dying_disk_beside_healthy() {
    client_in_background "$BATS_TEST_TMPDIR/dying.json" -c 4 -n 4 -d 2500 -t 3000 --path /d0/
    sleep 0.2
    healthy_load
    wait "$BG_PID" || true
    echo "# healthy disk: ${ALONE_P99:+alone p99 $ALONE_P99 ms; }beside the dying disk ok $(field ok)," \
        "timeouts $(field timeouts), p99 $(field p99_ms) ms" >&3
}
