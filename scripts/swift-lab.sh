#!/usr/bin/env bash
# swift-lab.sh: what `make swift-lab` runs. The question Swift's operators still have: one disk of
# a storage node is dying; what does each design do to the requests for the node's healthy disks?
# One node of K disks (SWIFT_LAB_DISKS, 8) on the FUSE slow disk, every read real: the healthy
# disks answer in a few ms (disk k, k >= 1, in k + 2 ms: a seek), disk 0 is dying, each of its
# reads drawn from the seed's model (bin/slowdisk -m seed: 10 % take 6-20 s, 0.1 % fail, the rest
# 75-400 ms) or, with --fixed MS, every read MS. An open loop (bin/client --rate, one client a
# disk) asks each disk for SWIFT_LAB_RATE (8) reads a second for SWIFT_LAB_SECONDS (10), each
# client giving up after the seed's 5 s. Every design meets that same load on the same node, one
# after the other, in one run: the chapters' servers and the real eventlet and nginx (peers/),
# each pinned to one CPU as make bench pins them, on a fresh pair of slow disks (the same draws).
# For each: the healthy disks' p50 / p99 / max and timeouts, what became of the dying disk's
# requests (answered, shed, failed, timed out), the answered rate, server CPU, peak threads, peak
# RSS. It writes a Markdown table and the healthy p99 per design as a log-scale bar chart:
#
#   scripts/swift-lab.sh [--fixed MS] [DESIGN...]   bench/swift-lab.md and bench/swift-lab.svg
#   scripts/swift-lab.sh --list                      the designs, one a line
#
# SWIFT_LAB_QUICK=1: three designs (05, 11-per-disk, nginx-aio-threads), 3 s of load, the table
# on stdout and the files in a temporary folder (tests/swift-lab.bats). SWIFT_LAB_OUT=FILE writes
# the table to FILE (and the figure beside it, .svg) in either mode. A design whose peer cannot
# run here is a row that says why; no FUSE at all is exit status 69. However it ends (done,
# Ctrl-C, SIGTERM, SIGHUP), nothing stays mounted or running and its temp folder is gone.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
BIN=${BIN_DIR:-bin}

QUICK=${SWIFT_LAB_QUICK:-0}
DISKS=${SWIFT_LAB_DISKS:-8}
RATE=${SWIFT_LAB_RATE:-8} # reads a second, each disk
LOAD_S=${SWIFT_LAB_SECONDS:-10}
DYING=model
TIMEOUT_MS=5000 # the client gives up, as the seed's make_requests.py did
SEED=1          # of the dying disk's draws: every design meets the same sequence
DESIGNS=(05 06-w4 06-w20 07 08-prefork 09-unpatched 09-tpool 11-shared 11-per-disk 11-per-process
    11-deadline 12-buffered 12-async 14 eventlet eventlet-tpool nginx-aio-off nginx-aio-threads
    nginx-per-disk)
QUICK_DESIGNS=(05 11-per-disk nginx-aio-threads)

usage() {
    sed -n '2,24s/^# \{0,1\}//p' "$0" >&2
    exit 64
}
chosen=()
while [ $# -gt 0 ]; do
    case $1 in
    --fixed) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; DYING=$2; shift 2 ;;
    --list) printf '%s\n' "${DESIGNS[@]}"; exit 0 ;;
    -h | --help) usage ;;
    -*) echo "swift-lab.sh: unknown option $1" >&2; usage ;;
    *) chosen+=("$1"); shift ;;
    esac
done
for n in "$DISKS" "$RATE" "$LOAD_S"; do [[ $n =~ ^[1-9][0-9]*$ ]] || usage; done
[ "$DISKS" -ge 2 ] && [ "$DISKS" -le 64 ] || { echo "swift-lab.sh: 2 to 64 disks" >&2; exit 64; }
if [ "$QUICK" = 1 ]; then
    LOAD_S=${SWIFT_LAB_SECONDS:-3}
    [ ${#chosen[@]} -gt 0 ] || chosen=("${QUICK_DESIGNS[@]}")
fi
[ ${#chosen[@]} -gt 0 ] || chosen=("${DESIGNS[@]}")

# The disks' directories under the node's root: disk k's reads are ROOT/DIR_k/dK.d/ID, the
# protocol's DIR_k,/dK/ID, and its number is its delay (disk 1 takes 3 ms, disk 7 9 ms). The
# dying disk's, with --fixed MS, is MS itself; with the model it is 20000, the model's longest
# read, and links to a second slow disk that draws every read from the seed's model.
DIRS=()
for ((k = 0; k < DISKS; k++)); do DIRS+=($((k + 2))); done
if [ "$DYING" = model ]; then DIRS[0]=20000; else DIRS[0]=$DYING; fi
[ "${DIRS[0]}" -gt $((DISKS + 1)) ] || { echo "swift-lab.sh: --fixed MS must exceed the healthy disks' $((DISKS + 1)) ms" >&2; exit 64; }

work=$(mktemp -d "${TMPDIR:-/tmp}/swift-lab.XXXXXX")
OUT=${SWIFT_LAB_OUT:-}
[ -n "$OUT" ] || { [ "$QUICK" = 1 ] && OUT=$work/swift-lab.md || OUT=bench/swift-lab.md; }
FIGURE=${OUT%.md}.svg

# Everything this run starts, so that any end stops it: the clients, the sampler, the server,
# the two slow disks. cleanup takes the disks down first: a server stuck in a read on a dying
# disk would otherwise hold its stop for as long (slowdisk's exit ends every read in progress).
HEALTHY_MNT=$work/healthy DYING_MNT=$work/dying ROOT=$work/node
mkdir -p "$HEALTHY_MNT" "$DYING_MNT"
disk_pids=() client_pids=() sampler='' SANITIZER_REPORTS=()
stop_disks() {
    local pid m
    for pid in "${disk_pids[@]}"; do stop_process "$pid"; done
    disk_pids=()
    for m in "$HEALTHY_MNT" "$DYING_MNT"; do
        grep -q " $m fuse" /proc/self/mounts && "$BIN/slowdisk" -u "$m" >/dev/null 2>&1
    done
    rm -rf "$ROOT"
}
cleanup() {
    # Every job but the disks and the server, which stop below in their order: the clients, the
    # sampler, and one started but not yet in client_pids (a signal between a client's `&` and
    # `client_pids+=($!)` runs this trap first: such a client once outlived the lab).
    stop_jobs_except "${disk_pids[@]}" "${SERVER_PID:-}"
    client_pids=() sampler=
    stop_disks
    stop_server
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    rm -rf --one-file-system "$work"
}
clean_up_on_signals "swift-lab.sh: interrupted, stopping what it started"

# progress TEXT...: where the run is, on stderr (the report is the output); not server.bash's say,
# a demo's heading.
progress() { printf '%s\n' "$*" >&2; }

# ---- Cores: as scripts/bench.sh pins them. The server gets the first CPU this shell may use,
# everything else (clients, slow disks, this script) the others: the shell is pinned to the
# server's CPU only while it starts the server, which with every thread and process it makes
# later inherits that CPU.
mapfile -t CPUS < <(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' |
    awk -F- '{ hi = NF > 1 ? $2 : $1; for (c = $1; c <= hi; c++) print c }')
ALL_CPUS=$(IFS=,; echo "${CPUS[*]}") CORES=$(nproc)
if [ ${#CPUS[@]} -ge 2 ] && taskset -c "${CPUS[0]}" true 2>/dev/null; then
    PINNED=1 SERVER_CPU=${CPUS[0]} OTHER_CPUS=$(IFS=,; echo "${CPUS[*]:1}")
else
    PINNED=0 SERVER_CPU=$ALL_CPUS OTHER_CPUS=$ALL_CPUS
fi
pin_self() { taskset -pc "$1" $BASHPID >/dev/null 2>&1 || true; }
pin_self "$OTHER_CPUS"

# ---- The node: two slow disks and the root that joins them.
# mount_disk MNT FLAGS...: bin/slowdisk on MNT; returns 69 where FUSE is not available (its
# reason in DISK_WHY).
mount_disk() {
    local mnt=$1 pid status=0
    shift
    : >"$work/slowdisk.out" # the last disk's "mounted on" must not count for this one
    "$BIN/slowdisk" -x "$@" "$mnt" >"$work/slowdisk.out" 2>>"$work/slowdisk.log" &
    pid=$!
    wait_for_line "$pid" "$work/slowdisk.out" '^mounted on ' || status=$?
    if [ "$status" -eq 0 ]; then
        disk_pids+=("$pid")
        return 0
    fi
    wait "$pid" 2>/dev/null
    status=$?
    DISK_WHY=$(tail -1 "$work/slowdisk.log")
    [ "$status" -eq 69 ] && return 69
    return 1
}
# mount_node: a fresh node, so that every design meets the same draws from the start.
mount_node() {
    mount_disk "$HEALTHY_MNT" || return
    mkdir -p "$ROOT"
    local k
    for ((k = 1; k < DISKS; k++)); do ln -s "$HEALTHY_MNT/${DIRS[k]}" "$ROOT/${DIRS[k]}"; done
    if [ "$DYING" = model ]; then
        mount_disk "$DYING_MNT" -m seed -s "$SEED" || return
        ln -s "$DYING_MNT/${DIRS[0]}" "$ROOT/${DIRS[0]}"
    else
        ln -s "$HEALTHY_MNT/${DIRS[0]}" "$ROOT/${DIRS[0]}"
    fi
}

# ---- The designs. design NAME: sets CMD (the server's command, -p 0 and -D added by start),
# PEER (empty for a chapter), CLIENT_FLAGS and LABEL (the row's, and the figure's bar's).
design() {
    PEER='' CLIENT_FLAGS=() CMD=()
    case $1 in
    05) CMD=(05-blocking-in-loop) LABEL="05 the read on the loop" ;;
    06-w4) CMD=(06-worker-offload -w 4) LABEL="06 a pool of 4" ;;
    06-w20) CMD=(06-worker-offload -w 20) LABEL="06 a pool of 20" ;;
    07) CMD=(07-thread-per-connection) LABEL="07 a thread per connection" ;;
    08-prefork) CMD=(08-prefork -m prefork -w 4) LABEL="08 prefork, 4 processes" ;;
    09-unpatched) CMD=(09-green-threads -m unpatched) LABEL="09 green threads, the read unpatched" ;;
    09-tpool) CMD=(09-green-threads -m tpool -w 20) LABEL="09 green threads, tpool of 20" ;;
    11-shared) CMD=(11-dying-disk -d "$DISKS" -w 4 -m shared) LABEL="11 one pool of $((4 * DISKS))" ;;
    11-per-disk) CMD=(11-dying-disk -d "$DISKS" -w 4 -m per-disk) LABEL="11 a pool of 4 per disk" ;;
    11-per-process) CMD=(11-dying-disk -d "$DISKS" -w 4 -m per-process) LABEL="11 a process per disk" ;;
    11-deadline) CMD=(11-dying-disk -d "$DISKS" -w 4 -m deadline) LABEL="11 one pool of $((4 * DISKS)), deadlines" ;;
    12-buffered) CMD=(12-io-uring -m buffered -w 4) LABEL="12 io_uring buffered, io-wq of 4" ;;
    12-async) CMD=(12-io-uring -m async -w 4) LABEL="12 io_uring async, io-wq of 4" ;;
    14) CMD=(14-cache-aware -w 4) LABEL="14 RWF_NOWAIT, then a pool of 4" ;;
    eventlet) PEER=eventlet LABEL="eventlet (Swift's object server)" ;;
    eventlet-tpool) PEER=eventlet CMD=(--tpool -w 20) LABEL="eventlet, tpool of 20" ;;
    nginx-aio-off) PEER=nginx CMD=(-m aio-off) LABEL="nginx aio off" ;;
    nginx-aio-threads) PEER=nginx CMD=(-m aio-threads -t 32) LABEL="nginx aio threads, 32" ;;
    nginx-per-disk) PEER=nginx CMD=(-m per-disk -t 4 -d "${DIRS[*]}") LABEL="nginx a pool of 4 per disk" ;;
    *) return 1 ;;
    esac
    [ "$PEER" != nginx ] || CLIENT_FLAGS=(--status-only) # its body is the file itself
    [ -n "$PEER" ] || CMD[0]=$BIN/${CMD[0]}
}
for name in "${chosen[@]}"; do
    design "$name" || { echo "swift-lab.sh: no design '$name' (--list)" >&2; exit 64; }
done
[ -x "$BIN/slowdisk" ] && [ -x "$BIN/client" ] && [ -x "$BIN/chart-svg" ] ||
    { echo "swift-lab.sh: build first (make)" >&2; exit 1; }

# ---- What a server costs, from /proc, with builtins only: bash 5.2 runs a trap that comes while
# it parses a $(...) in a broken parser state, and a Ctrl-C there was lost (scripts/disk-demo.sh).
# tree PID: TREE = PID and every descendant, through each one's main thread's children (every
# server here forks from its main thread: 08's pool, 11's disk processes, nginx's workers).
tree() {
    TREE=()
    local todo=("$1") p kids
    while [ ${#todo[@]} -gt 0 ]; do
        p=${todo[0]} todo=("${todo[@]:1}")
        TREE+=("$p")
        kids=()
        read -r -a kids <"/proc/$p/task/$p/children" 2>/dev/null
        todo+=("${kids[@]}")
    done
}
# tree_sum FIELD: the sum of FIELD (Threads, VmHWM in KiB) of /proc/P/status over TREE, in SUM.
tree_sum() {
    local p value
    SUM=0
    for p in "${TREE[@]}"; do
        proc_value value "/proc/$p/status" "$1" 2>/dev/null && SUM=$((SUM + value))
    done
}
# tree_ticks: CPU clock ticks TREE has used (user + system, and its reaped children's), in SUM.
tree_ticks() {
    local p line f
    SUM=0
    for p in "${TREE[@]}"; do
        read -r line <"/proc/$p/stat" 2>/dev/null || continue
        read -r -a f <<<"${line##*) }"
        SUM=$((SUM + f[11] + f[12] + f[13] + f[14]))
    done
}
# sample_threads PID FILE: until killed, keeps in FILE the most threads PID's tree has had at
# once, looking every 50 ms.
sample_threads() {
    local peak=0
    echo 0 >"$2"
    while kill -0 "$1" 2>/dev/null; do
        tree "$1"
        tree_sum Threads
        [ "$SUM" -gt "$peak" ] && peak=$SUM && echo "$peak" >"$2"
        nap 0.05
    done
}
HZ=$(getconf CLK_TCK)

# ---- One design. run NAME: a fresh node and server, the load, the measures; appends its row
# to $work/rows and its healthy p99 to $work/chart.tsv.
row() { printf '%s\n' "$*" >>"$work/rows"; }
run() {
    local name=$1 why k pid root_pid
    design "$name"
    progress "== $name: $LABEL"
    if [ -n "$PEER" ] && why=$(peer_missing "$PEER"); then
        row "| $LABEL | skipped: $why |||||||||"
        return 0
    fi
    if [ -z "$PEER" ] && [ ! -x "${CMD[0]}" ]; then
        row "| $LABEL | skipped: ${CMD[0]} is not built (make) |||||||||"
        return 0
    fi
    mount_node || return
    pin_self "$SERVER_CPU"
    if [ -n "$PEER" ]; then start_peer "$PEER" "${CMD[@]}" -D "$ROOT"; else start_server "${CMD[@]}" -D "$ROOT"; fi
    why=$?
    pin_self "$OTHER_CPUS"
    if [ "$why" -ne 0 ]; then
        row "| $LABEL | did not start (its log: $(tail -1 "$SERVER_LOG" 2>/dev/null)) |||||||||"
        stop_disks
        return 0
    fi
    # What to measure: the server, or for nginx its master (nginx.sh is a shell around it).
    root_pid=$SERVER_PID
    if [ "$PEER" = nginx ]; then
        tree "$SERVER_PID"
        for pid in "${TREE[@]:1}"; do
            read -r why <"/proc/$pid/comm" 2>/dev/null && [ "$why" = nginx ] && root_pid=$pid && break
        done
    fi
    sample_threads "$root_pid" "$work/threads" &
    sampler=$!
    tree "$root_pid"
    tree_ticks
    local ticks0=$SUM t0=$EPOCHREALTIME
    # One client a disk, started a few ms apart so that the disks' requests interleave.
    local gap
    printf -v gap '0.%03d' $((1000 / (RATE * DISKS)))
    rm -f "$work"/timeline.*
    for ((k = 0; k < DISKS; k++)); do
        "${CTRL_C_ENDS[@]}" taskset -c "$OTHER_CPUS" \
            "$BIN/client" -p "$PORT" --rate "$RATE" -n $((RATE * LOAD_S)) -t "$TIMEOUT_MS" \
            -d "${DIRS[k]}" --path "/d$k/" "${CLIENT_FLAGS[@]}" -q --json \
            --timeline "$work/timeline.$k" >"$work/client.$k" 2>&1 &
        client_pids+=($!)
        nap "$gap"
    done
    for pid in "${client_pids[@]}"; do wait "$pid"; done
    client_pids=()
    local wall_s
    wall_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    tree "$root_pid"
    tree_ticks
    local cpu_s
    cpu_s=$(awk -v t=$((SUM - ticks0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
    tree_sum VmHWM
    local hwm_kib=$SUM
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    sampler=
    local threads
    read -r threads <"$work/threads"
    stop_disks # first: it ends the reads still waiting on the dying disk, so the stop is quick
    stop_server
    [ -n "${KEEP_LOGS:-}" ] && cp "$SERVER_LOG" "$KEEP_LOGS/$name.log"
    # Under make test SAN=...: a sanitizer's report fails the run, as it fails a test.
    if grep -qE 'Sanitizer|runtime error:' "$SERVER_LOG"; then
        progress "   the sanitizer reported in $name's log:"
        cat "$SERVER_LOG" >&2
        SANITIZER_REPORTS+=("$name")
    fi
    rm -f "$SERVER_OUT" "$SERVER_LOG"
    summarize "$name" "$cpu_s" "$wall_s" "$threads" "$hwm_kib"
}

# summarize NAME CPU_S WALL_S THREADS HWM_KIB: the row, from the clients' timelines (id start_ms
# end_ms outcome delay_ms rc). ok: answered RC 0 in time; late: the server answered RC 1 (408 or
# 504 from nginx): shed; timeout: the client gave up; error: RC 2 (a failed read), a refused
# connection or a bad reply. A healthy request's latency counts a timeout as its timeout, as
# bin/client does.
summarize() {
    local name=$1 cpu_s=$2 wall_s=$3 threads=$4 hwm_kib=$5 k bad
    for ((k = 1; k < DISKS; k++)); do awk '!/^#/ { print $3 - $2 }' "$work/timeline.$k"; done \
        >"$work/healthy.ms"
    local n p50 p99 max
    read -r _ n _ p50 _ _ _ p99 _ max < <("$BIN/client" --percentiles <"$work/healthy.ms")
    local -A count=()
    local outcome c
    while read -r outcome c; do count[$outcome]=$c; done < <(
        awk '!/^#/ { print (FILENAME ~ /\.0$/ ? "d" : "h") $4; if ($4 == "ok") print "ok" }' \
            "$work"/timeline.* | sort | uniq -c | awk '{ print $2, $1 }')
    local rate
    rate=$(awk -v ok="${count[ok]:-0}" -v s="$LOAD_S" 'BEGIN { printf "%.1f", ok / s }')
    row "$(printf '| %s | %s | %s / %s | %d | %d | %d / %d / %d / %d | %s | %s | %s | %s |' \
        "$LABEL" "$p99" "$p50" "$max" "${count[htimeout]:-0}" "${count[hlate]:-0}" \
        "${count[dok]:-0}" "${count[dlate]:-0}" "${count[derror]:-0}" "${count[dtimeout]:-0}" \
        "$rate" "$cpu_s" "$threads" "$(awk -v k="$hwm_kib" 'BEGIN { printf "%.1f", k / 1024 }')")"
    printf '%s\t%s\n' "$LABEL" "$p99" >>"$work/chart.tsv"
    if [ $((${count[htimeout]:-0} + ${count[hlate]:-0} + ${count[herror]:-0})) -gt 0 ]; then
        echo "$LABEL" >>"$work/lost"
    else
        echo "$LABEL" >>"$work/kept"
    fi
    # Healthy requests that failed outright (a refused connection, a bad reply) are no latency
    # to report: say so under the table rather than hide them in a count.
    bad=${count[herror]:-0}
    [ "$bad" -eq 0 ] || echo "- $LABEL: $bad healthy requests failed (RC 2, refused or a bad reply)" >>"$work/notes"
    progress "   healthy p50 $p50 p99 $p99 max $max ms, ${count[htimeout]:-0} timed out, ${count[hlate]:-0} shed; dying disk ${count[dok]:-0} answered, ${count[dlate]:-0} shed, ${count[derror]:-0} failed, ${count[dtimeout]:-0} timed out"
}

# ---- The run.
progress "swift-lab: $DISKS disks, disk 0 dying ($([ "$DYING" = model ] && echo "the seed's model" || echo "every read $DYING ms")), $RATE reads/s a disk for $LOAD_S s, client timeout $TIMEOUT_MS ms; server on CPU $SERVER_CPU"
started=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/rows"
: >"$work/notes"
: >"$work/lost"
: >"$work/kept"
printf 'design\thealthy p99 ms\n' >"$work/chart.tsv"
for name in "${chosen[@]}"; do
    status=0
    run "$name" || status=$?
    if [ "$status" -eq 69 ]; then
        echo "swift-lab.sh: no slow disk here, and the lab reads only for real: $DISK_WHY" >&2
        exit 69
    fi
    [ "$status" -eq 0 ] || { echo "swift-lab.sh: the slow disk would not mount: $(tail -3 "$work/slowdisk.log")" >&2; exit 1; }
done
took=$((SECONDS - started))
[ ${#SANITIZER_REPORTS[@]} -eq 0 ] || { echo "swift-lab.sh: sanitizer reports: ${SANITIZER_REPORTS[*]}" >&2; exit 1; }

healthy=$((RATE * LOAD_S * (DISKS - 1))) dying=$((RATE * LOAD_S))
header="| design | healthy p99 ms | healthy p50 / max ms | healthy timed out (of $healthy) | healthy shed | dying disk: answered / shed / failed / timed out (of $dying) | answered req/s | server CPU s | peak threads | peak RSS MiB |"
table() {
    echo "$header"
    echo '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|'
    cat "$work/rows"
}
if [ "$DYING" = model ]; then
    dying_words="each of its reads drawn from the seed's model (\`bin/slowdisk -m seed -s $SEED\`: 10 % take 6-20 s, 0.1 % fail after 0.3-3 s, the rest 75-400 ms)"
else
    dying_words="every one of its reads taking $DYING ms (\`--fixed $DYING\`)"
fi
mkdir -p "$(dirname "$OUT")"
{
    echo "# The Swift lab: one dying disk, every design"
    echo
    echo "Made by \`make swift-lab\` (scripts/swift-lab.sh$([ "$QUICK" = 1 ] && echo ", SWIFT_LAB_QUICK=1")) on $(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $CORES cores, load average $LOAD_BEFORE before the run; the whole run took $took s."
    echo
    echo "One storage node of $DISKS disks, every read a real one from the FUSE slow disk (\`bin/slowdisk -x\`: each open file's read waits in the kernel). Disks 1 to $((DISKS - 1)) are healthy: disk k answers in k + 2 ms, a seek. Disk 0 is dying, $dying_words. An open loop, one \`bin/client --rate $RATE\` a disk, asks each disk for $RATE reads a second for $LOAD_S s, whatever is in flight, and each client gives up after $TIMEOUT_MS ms (the seed's make_requests.py). Every design below met that same load on the same node, one after the other in this one run, each on a fresh pair of slow disks (the dying disk's draws in the same order), the server alone on CPU $SERVER_CPU and everything else on CPU(s) $OTHER_CPUS$([ "$PINNED" = 1 ] || echo " (this machine could not pin them apart)") (taskset, as \`make bench\` pins). The chapters read with \`-D\`, eventlet (peers/eventlet_server.py) and nginx 1.22 (peers/nginx.sh) are the real programs reading the same files; nginx is judged by its HTTP status (\`bin/client --status-only\`)."
    echo
    echo "How to read it: *healthy* is every request for disks 1 to $((DISKS - 1)); a request the client gave up on counts as $TIMEOUT_MS ms in the percentiles. *Shed*: the server answered \"timeout\" itself (RC 1, or 408 from nginx), at its deadline (\`-T\`, 4 s by default) instead of serving the read. *Failed*: RC 2 (one of the model's I/O errors) or any other error. *Answered req/s*: the reads answered in time, all disks, per second of load. Server CPU is user + system over the load and its last replies, the server's process tree (nginx: its master and worker); peak threads is sampled every 50 ms over the tree; peak RSS is the sum of the tree's VmHWM. One run: the milliseconds vary from run to run and machine to machine, who times out does not."
    echo
    table
    echo
    # The two lists a reader looks for, from the rows above.
    [ -s "$work/lost" ] &&
        echo "Healthy requests lost (timed out, shed or failed) under: $(paste -sd ';' "$work/lost" | sed 's/;/; /g')."
    [ -s "$work/kept" ] &&
        echo "Every healthy request answered in time under: $(paste -sd ';' "$work/kept" | sed 's/;/; /g')."
    echo
    if [ -s "$work/notes" ]; then
        echo "Also seen:"
        cat "$work/notes"
        echo
    fi
    echo "![Healthy p99 per design](swift-lab.svg)"
} >"$OUT"
[ "$(basename "$FIGURE")" = swift-lab.svg ] || sed -i "s|](swift-lab.svg)|]($(basename "$FIGURE"))|" "$OUT"
"$BIN/chart-svg" -l -r "$TIMEOUT_MS:client timeout" -w 960 \
    -t "The healthy disks' p99 (ms, log scale) while disk 0 dies" \
    -s "$DISKS disks, $RATE reads/s each for $LOAD_S s, real reads; a request given up counts as $TIMEOUT_MS ms" \
    -f "from $OUT (make swift-lab), one run" "$work/chart.tsv" >"$FIGURE" || exit 1
echo
table
echo
if [ "$OUT" = "$work/swift-lab.md" ]; then
    echo "took $took s (quick: SWIFT_LAB_OUT=FILE keeps the table and the figure)" >&2
else
    echo "wrote $OUT and $FIGURE ($took s)" >&2
fi
