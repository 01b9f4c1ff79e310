#!/usr/bin/env bash
# disk-demo.sh: what `make disk-demo` runs. Mounts bin/slowdisk (a FUSE disk whose reads really
# take DELAY_MS) in a temporary directory, runs chapters 05 and 06 on it (-D) under the dying
# disk, and while the slow read is in progress shows it from outside: the thread's wait in the
# kernel (/proc/PID/task/TID/wchan) and the read itself (strace -T -e pread64). However it ends
# (done, Ctrl-C, SIGTERM, SIGHUP) it unmounts the disk and leaves no process and no file behind.
# Needs root and /dev/fuse; says why and exits 0 where there is none.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
source scripts/scenarios.bash
BIN=${BIN_DIR:-bin}

work=$(mktemp -d "${TMPDIR:-/tmp}/disk-demo.XXXXXX")
mnt=$work/mnt
mkdir -p "$mnt"
sd_pid=
# cleanup: the client and strace (background jobs), then the server, then the disk: slowdisk
# unmounts on SIGTERM, and -u takes down a mount it could not. --one-file-system: should the
# mount still be there, rm must not walk into it.
cleanup() {
    stop_jobs_except "${SERVER_PID:-}" "$sd_pid"
    stop_server
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    [ -n "$sd_pid" ] && stop_process "$sd_pid"
    sd_pid=
    "$BIN/slowdisk" -u "$mnt" >/dev/null 2>&1
    rm -rf --one-file-system "$work"
}
clean_up_on_signals "disk-demo.sh: interrupted, unmounting and stopping what it started"

say "=== A disk that really dies: bin/slowdisk on $mnt ==="
echo "\$ $BIN/slowdisk -x MNT      # FUSE direct I/O: every read of MNT/DELAY_MS/... takes DELAY_MS"
"$BIN/slowdisk" -x "$mnt" >"$work/sd.out" 2>"$work/sd.log" &
sd_pid=$!
for _ in $(seq 100); do
    grep -q '^mounted on' "$work/sd.out" && break
    if ! kill -0 "$sd_pid" 2>/dev/null; then
        sd_pid=
        echo "no slow disk on this machine: $(tail -1 "$work/sd.log")"
        exit 0
    fi
    nap 0.05
done
sed "s|$mnt|MNT|" "$work/sd.out"

for ch in 05-blocking-in-loop 06-worker-offload; do
    say "$ch -D MNT: ${SCENARIO_TITLE[dying-disk],}, the reads real (MNT/2500/obj.d/0, MNT/50/obj.d/1...)"
    start_server "$BIN/$ch" -D "$mnt" || exit 1
    echo "\$ $BIN/$ch -p 0 -D MNT      (pid $SERVER_PID)"
    tracer=
    if command -v strace >/dev/null; then
        # -ff: a file per thread, so no read is cut in two by another thread's.
        strace -ff -T -y -s 0 -e trace=pread64 -o "$work/strace" -p "$SERVER_PID" 2>/dev/null &
        tracer=$!
        sleep 0.3 # attached
    fi
    # shellcheck disable=SC2086 # the scenario's arguments are words
    "${CTRL_C_ENDS[@]}" "$BIN/client" -p "$PORT" -q ${SCENARIO_ARGS[dying-disk]} >"$work/client" 2>&1 &
    client=$!
    sleep 0.5 & wait $! # the slow read is in the kernel now (wait: a signal is handled at once)
    echo "0.5 s in, each thread of the server and where it waits:"
    # Builtins only: bash 5.2 runs a trap that comes while it parses a $(...) in a broken parser
    # state ("unexpected EOF while looking for matching `)'"), and a Ctrl-C here was lost so.
    for task in /proc/"$SERVER_PID"/task/*; do
        read -r comm <"$task/comm"
        read -r stat <"$task/stat"
        stat=${stat##*) }
        wchan=
        read -r wchan <"$task/wchan" 2>/dev/null # no newline at its end: read says 1, and sets it
        printf '  %-10s %-18s state %s, in %s\n' "${task##*/}" "$comm" "${stat%% *}" "$wchan"
    done
    wait "$client"
    if [ -n "$tracer" ]; then
        sleep 1.5 & wait $! # the slow read ends 2.5 s in, after the clients gave up
        kill -INT "$tracer" 2>/dev/null
        wait "$tracer" 2>/dev/null
        echo "\$ strace -ff -T -y -e trace=pread64 -p $SERVER_PID    (the time each read took, in <>)"
        for f in "$work"/strace.*; do
            sed -e "s|$mnt|MNT|g" -e "s|^|[tid ${f##*.}] |" "$f" | grep pread64
        done | sort -t'<' -k3 -r | head -4
        echo "   ... $(cat "$work"/strace.* | grep -c pread64) reads in all"
        rm -f "$work"/strace.*
    fi
    echo "the client:"
    cat "$work/client"
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
done
say "Unmounting: SIGTERM to slowdisk"
kill -TERM "$sd_pid" && wait "$sd_pid"
echo "slowdisk exit status $?; fuse mounts left: $(grep -c " $mnt fuse" /proc/self/mounts)"
sd_pid=
