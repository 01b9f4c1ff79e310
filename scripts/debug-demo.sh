#!/usr/bin/env bash
# debug-demo.sh [CHAPTER]: the demo `make debug-5` runs (appendix A1). Mounts the slow disk
# (bin/slowdisk; where FUSE is not available the reads are simulated, a sleep), starts the
# chapter's server (default 05-blocking-in-loop) reading from it under bin/loopwatch -W 200 -L, and
# sends it the dying-disk scenario. While the loop is stuck in the 2500 ms read it shows what
# loopwatch has reported already, and looks from outside (wchan, ss); then the end of the stall,
# the stack's frames resolved by addr2line, the -L figures, and the same read under strict mode
# (-S).
# debug-demo.sh signal (make debug-signal): one 3000 ms read on the slow disk, with -W taking the
# loop's stack by scanning it (the default) and then with a signal (LOOPWATCH_STACK=signal, the
# way eventlet's hub_blocking_detection does), and what each did to the read.
# debug-demo.sh peers (make debug-peers): the same one line on the real systems (peers/), unchanged:
# eventlet's hub, asyncio's loop and an nginx worker under the dying disk on the slow disk, each
# with its blocking read and with its pool (tpool, to_thread, aio threads).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash
source scripts/scenarios.bash

mode=demo
case ${1:-} in signal | peers) mode=$1 && shift ;; esac
chapter=${1:-05-blocking-in-loop}
BIN=${BIN_DIR:-bin}
LOOPWATCH=$BIN/loopwatch # start_watched's, for the peers too
if [ ! -x "$BIN/$chapter" ] || [ ! -x "$BIN/slowdisk" ] || [ ! -x "$BIN/loopwatch" ]; then
    echo "usage: scripts/debug-demo.sh [NN-name]   (build it first: make)" >&2
    exit 2
fi

MNT=$(mktemp -d "${TMPDIR:-/tmp}/debug-disk.XXXXXX")
client_out=$(mktemp "${TMPDIR:-/tmp}/debug-client.XXXXXX")
SD_PID=
cleanup() {
    stop_server
    if [ -n "$SD_PID" ]; then
        kill -TERM "$SD_PID" 2>/dev/null
        wait "$SD_PID" 2>/dev/null
        "$BIN/slowdisk" -u "$MNT" >/dev/null 2>&1
    fi
    rmdir "$MNT" 2>/dev/null
    rm -f "$client_out" "$MNT.out" "$MNT.log" "$MNT.report" "${SERVER_OUT:-}" "${SERVER_LOG:-}"
}
trap cleanup EXIT

# mount_disk [FLAGS]: bin/slowdisk on $MNT, and disk=(-D $MNT); where FUSE does not work (it
# exits 69), disk=() and the reads are simulated. unmount_disk takes it down.
disk=()
mount_disk() {
    : >"$MNT.out"
    "$BIN/slowdisk" "$@" "$MNT" >"$MNT.out" 2>"$MNT.log" &
    SD_PID=$!
    for _ in $(seq 200); do
        grep -q "^mounted on" "$MNT.out" && { disk=(-D "$MNT"); return; }
        kill -0 "$SD_PID" 2>/dev/null || { wait "$SD_PID"; SD_PID=; return; }
        nap 0.05
    done
}
unmount_disk() {
    [ -n "$SD_PID" ] || return 0
    kill -TERM "$SD_PID" 2>/dev/null
    wait "$SD_PID" 2>/dev/null
    SD_PID=
}

# peer_run PEER [FLAGS...]: PEER under loopwatch -W 200 on the slow disk; the dying disk's slow
# read, and 300 ms later a fast one; what the client saw and loopwatch's report, cut short.
peer_run() {
    local peer=$1 report=$MNT.report prefix=/$1$RANDOM
    shift
    local shown=("${PEER_COMMAND[$peer]#"$PWD/"}" -p 0 "$@" -D MNT)
    rm -f "$report"
    # nginx sends its workers' stderr to its error log: the reports go to a file of their own.
    start_watched -W 200 -o "$report" -- "${PEER_COMMAND[$peer]}" "$@" "${disk[@]}" || exit 1
    say "$peer ${*:-}"
    echo "\$ $BIN/loopwatch -W 200 -- ${shown[*]}"
    if [ "$peer" = nginx ]; then # HTTP, and a plain file for a body: curl says how long
        echo "\$ curl http://127.0.0.1:$PORT/2500,$prefix/0 &  sleep 0.3;  curl http://127.0.0.1:$PORT/50,$prefix/1"
        curl -s -o /dev/null "http://127.0.0.1:$PORT/2500,$prefix/0" &
        local slow=$!
        sleep 0.3
        curl -s -o /dev/null -w 'the fast file: HTTP %{http_code} after %{time_total} s\n' \
            "http://127.0.0.1:$PORT/50,$prefix/1"
        wait "$slow"
    else
        echo "\$ $BIN/client -p $PORT ${SCENARIO_ARGS[dying-disk]} --path $prefix/ -q"
        # shellcheck disable=SC2086 # the scenario's arguments are words
        "$BIN/client" -p "$PORT" ${SCENARIO_ARGS[dying-disk]} --path "$prefix/" -q | head -1
    fi
    stop_server
    if grep -q 'loop blocked' "$report"; then # the report, its top frames, the end of the stall
        awk '/loop blocked/ {print; n = 3; next} /loop unblocked/ {print} n-- > 0 && /#[0-9]/ {print}' \
            "$report" | sed "s|$MNT|MNT|g"
    else
        echo "loopwatch: $(grep -c 'watching loop thread' "$report") loop(s) watched, no turn of 200 ms"
    fi
}

if [ "$mode" = peers ]; then
    mount_disk
    if [ ${#disk[@]} -eq 0 ]; then
        echo "debug-peers needs FUSE: $(tail -1 "$MNT.log")"
        exit 0
    fi
    for run in eventlet "eventlet --tpool" asyncio "asyncio --to-thread" "nginx -m aio-off" \
        "nginx -m aio-threads"; do
        read -ra words <<<"$run"
        if why=$(peer_missing "${words[0]}"); then
            say "${words[0]}: skipped, $why"
            continue
        fi
        peer_run "${words[@]}"
    done
    rm -f "$MNT.report"
    exit 0
fi

if [ "$mode" = signal ]; then
    for how in scan signal; do
        # a fresh mount: nothing of the file in the page cache yet; -v logs each READ; -P charges
        # the delay per READ, as a dying disk is slow per I/O
        mount_disk -P -v
        if [ ${#disk[@]} -eq 0 ]; then
            echo "debug-signal needs FUSE: $(tail -1 "$MNT.log")"
            exit 0
        fi
        say "LOOPWATCH_STACK=$how: one read of 3000 ms, -W 300"
        LOOPWATCH_STACK=$how start_watched -W 300 -- "$BIN/$chapter" "${disk[@]}" || exit 1
        echo "\$ LOOPWATCH_STACK=$how $BIN/loopwatch -W 300 -- $BIN/$chapter -p 0 ${disk[*]}"
        echo "\$ printf '3000,/obj/3\\n' | nc -N 127.0.0.1 $PORT"
        before=$(grep -c 'READ' "$MNT.log")
        start=$(date +%s%N)
        printf '3000,/obj/3\n' | timeout 60 nc -N 127.0.0.1 "$PORT"
        echo "(answered in $((($(date +%s%N) - start) / 1000000)) ms)"
        stop_server
        # the report, the stack's first frames, the end of the stall
        awk '/loop (un)?blocked|no stack/ {print} /its stack/ {print; n = 3; next}
             n-- > 0 && /#[0-9]/ {print}' "$SERVER_LOG"
        echo "The disk's log of the read (bin/slowdisk -v):"
        grep 'READ' "$MNT.log" | tail -n +$((before + 1))
        unmount_disk
    done
    exit 0
fi

mount_disk

say "=== Finding the blocking call in $chapter ==="
if [ ${#disk[@]} -gt 0 ]; then
    echo "The disk: bin/slowdisk $MNT, where reading DIR/2500/obj.d/0 really takes 2500 ms"
else
    echo "The disk: simulated, a sleep ($(tail -1 "$MNT.log"))"
fi
start_watched -W 200 -L -- "$BIN/$chapter" "${disk[@]}" || exit 1
echo "\$ $BIN/loopwatch -W 200 -L -- $BIN/$chapter -p 0 ${disk[*]}     (pid $SERVER_PID)"

say "${SCENARIO_TITLE[dying-disk]}: ${SCENARIO_DETAIL[dying-disk]}"
echo "\$ $BIN/client -p $PORT ${SCENARIO_ARGS[dying-disk]} -q"
# shellcheck disable=SC2086 # the scenario's arguments are words
"$BIN/client" -p "$PORT" ${SCENARIO_ARGS[dying-disk]} -q >"$client_out" 2>&1 &
client_pid=$!
sleep 0.7 # the slow read has the loop now; the fast requests are queued behind it

# new_log_lines: the server's log lines not shown yet.
shown=0
new_log_lines() {
    local total
    total=$(wc -l <"$SERVER_LOG")
    tail -n +$((shown + 1)) "$SERVER_LOG" | head -n $((total - shown))
    shown=$total
}

say "0.7 s in, the read still running: what loopwatch has reported already"
new_log_lines

say "From outside: where each thread sleeps (/proc/$SERVER_PID/task/*/wchan)"
for task in /proc/"$SERVER_PID"/task/*; do
    printf '  thread %-7s %-16s state %s  in kernel: %s\n' "${task##*/}" "($(cat "$task/comm"))" \
        "$(sed 's/^.*) //' "$task/stat" | cut -d' ' -f1)" "$(cat "$task/wchan" 2>/dev/null || echo '?')"
done
if command -v ss >/dev/null; then
    echo "The listener's accept queue (Recv-Q) and the unread requests behind it"
    echo "\$ ss -tln 'sport = :$PORT'"
    ss -tln "sport = :$PORT"
    echo "\$ ss -tn 'sport = :$PORT'"
    ss -tn "sport = :$PORT"
else
    echo "(ss not installed: apt-get install iproute2)"
fi

wait "$client_pid"
echo "(client exit status $?)"
cat "$client_out"
for _ in $(seq 60); do # the client gave up at 1500 ms; the loop comes back at 2500 ms
    grep -q 'loop unblocked' "$SERVER_LOG" && break
    nap 0.05
done

say "The loop is back (server log)"
new_log_lines

# The program's own frames are named by its symbol table; addr2line adds the inlined calls and
# the lines.
offsets=$(sed -n "s|.*$BIN/$chapter+\(0x[0-9a-f]*\)).*|\1|p" "$SERVER_LOG" | awk '!seen[$0]++')
if [ -n "$offsets" ] && command -v addr2line >/dev/null; then
    say "The program's frames, resolved"
    echo "\$ addr2line -f -i -p -e $BIN/$chapter" $offsets
    addr2line -f -i -p -e "$BIN/$chapter" $offsets
fi

say "Stopped: what -L counted, and what was left to report"
stop_server
echo "(exit status $?)"
new_log_lines

say "The same read under strict mode (-S): refused, reported, answered at once"
start_watched -S -- "$BIN/$chapter" "${disk[@]}" || exit 1
echo "\$ $BIN/loopwatch -S -- $BIN/$chapter -p 0 ${disk[*]}"
echo "\$ printf '2500,/obj/0\\n' | nc -N 127.0.0.1 $PORT"
printf '2500,/obj/0\n' | timeout 10 nc -N 127.0.0.1 "$PORT"
stop_server
cat "$SERVER_LOG"
