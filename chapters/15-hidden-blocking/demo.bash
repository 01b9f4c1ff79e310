# Sourced by scripts/demo.sh after the shared scenario (-m safe: nothing blocks the loop).
# Each mode against -m safe under the load its hidden call stalls, both under bin/loopwatch
# -W 200, then the table of all of them. open and mmap need the slow disk (FUSE, as root).
d15_table=$(printf '%-9s %-44s %-9s %-9s %s' mode "load (its fast requests are counted)" \
    "-m safe" "-m MODE" "-m MODE: loopwatch found the loop in")
d15_tmp=$(mktemp -d "${TMPDIR:-/tmp}/demo15.XXXXXX")
d15_mnt=$d15_tmp/mnt
d15_disk=

d15_cleanup() {
    stop_server
    [ -n "$d15_disk" ] && { kill "$d15_disk" 2>/dev/null; wait "$d15_disk" 2>/dev/null; }
    d15_disk=
    "$BIN/slowdisk" -u "$d15_mnt" >/dev/null 2>&1
    rm -rf "$d15_tmp"
}
DEMO_CLEANUP+=(d15_cleanup) # scripts/demo.sh runs it however the demo ends

# d15_client ARGS...: the load client against $PORT, its command and its two summary lines
# shown; sets D15_OK and D15_OF, the requests answered in time and sent.
d15_client() {
    echo "\$ $BIN/client -p $PORT $*"
    local out
    out=$("$BIN/client" -p "$PORT" -q "$@" 2>&1)
    grep -E '^(ok|latency) ' <<<"$out"
    D15_OK=$(sed -n 's/^ok \([0-9]*\) .*/\1/p' <<<"$out")
    D15_OF=$(sed -n 's/^\([0-9]*\) requests in .*/\1/p' <<<"$out")
}

# d15_load LOAD: one of the loads below; D15_OK of D15_OF are its fast requests.
d15_load() {
    local bg= path=/4G/big
    case $1 in
    big | dns)
        [ "$1" = dns ] && path=/@replica.invalid/obj
        echo "\$ $BIN/client -p $PORT -c 1 -n 1 -d 0 -t 10000 --path $path &"
        "$BIN/client" -p "$PORT" -q -c 1 -n 1 -d 0 -t 10000 --path "$path" >/dev/null 2>&1 &
        bg=$!
        sleep 0.1
        d15_client -c 9 -n 9 -d 50 -t 1000
        kill "$bg" 2>/dev/null
        wait "$bg" 2>/dev/null ;;
    frozen-log)
        local shipper
        shipper=$(sed -n 's/.*log shipper, pid \([0-9]*\).*/\1/p' "$SERVER_LOG")
        echo "\$ kill -STOP $shipper    # the log shipper"
        kill -STOP "$shipper"
        d15_client -c 1000 -n 1000 -d 0 -t 1000
        d15_client -c 10 -n 10 -d 300 -t 1500
        kill -CONT "$shipper" ;;
    slow-first | dying-disk) # the dying disk's load: simulated, or on the slow disk's cold prefix
        local on_disk=()
        [ "$1" = dying-disk ] && on_disk=(--path "$D15_PREFIX")
        # shellcheck disable=SC2086 # the scenario's arguments are words
        d15_client ${SCENARIO_ARGS[dying-disk]} "${on_disk[@]}"
        D15_OF=$((D15_OF - 1)) ;; # the slow read itself cannot be fast
    esac
}

# d15_cold_prefix NAME: sets D15_PREFIX to a path prefix not read before, so nothing of its
# objects is in the page cache yet.
d15_cold_prefix() {
    D15_PREFIX=/$1$RANDOM$RANDOM/
}

# d15_pair MODE LOAD TITLE [FLAGS...]: -m safe, then -m MODE, each on a fresh server under loopwatch -W 200
# under LOAD; prints what happened and adds a row to the table.
d15_pair() {
    local mode=$1 load=$2 title=$3 m safe_ok report
    shift 3
    say "-m $mode against -m safe: $title"
    for m in safe "$mode"; do
        [ "$load" = dying-disk ] && d15_cold_prefix "$m"
        start_watched -W 200 -- "$BIN/$chapter" -m "$m" "$@" || exit 1
        echo "\$ $BIN/loopwatch -W 200 -- $BIN/$chapter -p 0 -m $m${*:+ $*}"
        d15_load "$load"
        [ "$m" = safe ] && safe_ok="$D15_OK of $D15_OF"
        report=$(grep -m 1 'loop blocked [0-9]* ms' "$SERVER_LOG") # before stopping, which joins
        echo "server log: ${report:-no 'loop blocked' line}"
        stop_server
        rm -f "$SERVER_OUT" "$SERVER_LOG"
    done
    # "loop blocked 200 ms: CALL, state S, waiting in WCHAN; thread ..." names the kernel
    # function the loop waits in; a compute-bound stall has none, and says "running".
    report=$(sed -n -e 's/.*loop blocked \([0-9]*\) ms: .*, waiting in \([^;]*\);.*/\2, \1 ms in/p' \
        -e 's/.*loop blocked \([0-9]*\) ms: running, .*/running, \1 ms in/p' <<<"$report")
    d15_table+=$(printf '\n%-9s %-44s %-9s %-9s %s' "$mode" "$title" "$safe_ok" \
        "$D15_OK of $D15_OF" "${report:--}")
}

# The slow read goes first, and its worker holds the lock for 2500 ms: the loop, which takes the
# lock for each request, waits from the next request on.
d15_pair mutex slow-first "a read of 2500 ms holds the lock, then 9"
d15_pair checksum big "a 4 GiB object's checksum, then 9 reads"
d15_pair log frozen-log "log shipper frozen: 1000 requests, then 10"
d15_pair dns dns "replica.invalid looked up, then 9 reads"

# open and mmap read a real file from the slow disk: -O makes its opens slow too.
for flags in -O ""; do
    mkdir -p "$d15_mnt"
    # shellcheck disable=SC2086 # no flags is no word
    "$BIN/slowdisk" $flags "$d15_mnt" >"$d15_tmp/disk.out" 2>"$d15_tmp/disk.log" &
    d15_disk=$!
    DEMO_KEEP_JOBS=("$d15_disk") # d15_cleanup stops it, after the server
    for _ in $(seq 100); do
        grep -q "^mounted on" "$d15_tmp/disk.out" || ! kill -0 "$d15_disk" 2>/dev/null && break
        sleep 0.05
    done
    if ! grep -q "^mounted on" "$d15_tmp/disk.out"; then
        say "-m open and -m mmap need the slow disk: $(tail -1 "$d15_tmp/disk.log")"
        d15_disk=
        break
    fi
    if [ -n "$flags" ]; then
        d15_pair open dying-disk "dying disk, opens slow too (slowdisk -O)" -D "$d15_mnt"
    else
        d15_pair mmap dying-disk "dying disk, read through a mapping" -D "$d15_mnt"
    fi
    kill "$d15_disk"
    wait "$d15_disk" 2>/dev/null
    d15_disk=
done

say "Side by side: the fast requests answered in time, and where the loop was"
echo "$d15_table"
d15_cleanup
