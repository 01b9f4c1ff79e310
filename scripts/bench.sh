#!/usr/bin/env bash
# bench.sh: what `make bench` runs. Measures every chapter side by side, in one run, on this
# machine, and writes a Markdown report (bench/REPORT.md; BENCH_QUICK=1 writes a smaller, faster
# bench/REPORT-quick.md). Every figure in the report comes from the run that wrote it: the fixed
# text explains how to read the tables and never quotes a measured number. Sections:
#   1 Little's law (04, 06; 01, 05 serial)    2 zero-delay req/s and server CPU per request,
#   3 10,000 waiting requests (04 06 07 09)     each chapter against nginx, wrk check
#   4 CPU while idle-waiting   5 closed vs open loop (05)   6 the seeds' own numbers, quoted
#   7 where nginx's and 04's CPU goes (perf stat, strace -c -f, perf record)
#   8 what watching costs (-E, loopwatch)   9 what an offload costs: one cached 64 KiB read, five ways
#   10 as many waiting requests as the descriptor limit allows (04 09 12)
#   11 06 and 14 on the slow disk (FUSE): hits and misses   12 select, poll, epoll: one wait
# BENCH_SECTIONS="idle_cpu seeds" runs only those sections (the function names below).
#
# Where things run: the server gets one CPU and the client (and wrk, and the slow disk) the
# others, with taskset, so that neither steals the other's core and "server CPU per request" is
# one core's work. On two cores the client has one core too, and opening and closing a
# connection costs it about what accepting and closing costs the server: against the fastest
# servers the client is the bottleneck, and the tables say so rather than hide it.
# Needs nginx, wrk, taskset, perf and strace (mk/bench.mk installs them). Chapters are found in
# chapters/, so a chapter that is not written yet is skipped with a note.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash

BIN=${BIN_DIR:-bin}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && OUT=${BENCH_OUT:-bench/REPORT.md} || OUT=${BENCH_OUT:-bench/REPORT-quick.md}
if [ "$QUICK" = 0 ]; then
    LITTLE_NS="10 100 1000" LITTLE_SECONDS=2 ZERO_REQUESTS=40000 ZERO_ROUNDS=3 WRK_SECONDS=3
    SCALE_N=10000 LITTLE_MAX=10000 ZERO_SECONDS=2 PROFILE_REQUESTS=30000 OFFLOAD_REQUESTS=20000
    SLOW_REQUESTS=5000
else
    LITTLE_NS="10 100" LITTLE_SECONDS=1 ZERO_REQUESTS=8000 ZERO_ROUNDS=1 WRK_SECONDS=1
    SCALE_N=1000 LITTLE_MAX=2000 ZERO_SECONDS=1 PROFILE_REQUESTS=8000 OFFLOAD_REQUESTS=5000
    SLOW_REQUESTS=2000
fi
D=50             # Little's law: every read takes D ms
ZERO_WARMUP=200  # zero-delay: requests in the warm-up run that sizes each server's runs
ZERO_C=50        # zero-delay runs: requests in flight at once, for every server alike
SCALE_DELAY=1000 # the scale runs: each request waits this long
MAX_WORKERS=1024 # -w's upper limit (common/flags.c)
OBJECTS=256      # the offload and slow-disk runs read this many objects, over and over
SLOW_D=10        # the slow-disk runs: each read that reaches the disk takes this long
SOURCES=16       # thousands of connections at once come from this many loopback addresses
# Zero-delay runs use each server's defaults; these variants (NN:FLAGS, a space in FLAGS as ,)
# run too: seed 004's "process" and "process pool" rows. (13 -j N is not among them: with the
# server held to one core its loops have no second core to use.)
ZERO_VARIANTS="08:-m,fork 08:-m,prefork"

for tool in nginx wrk taskset; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing: run 'make bench'" >&2; exit 1; }
done
[ -x "$BIN/client" ] || { echo "bench: no $BIN/client: run 'make bench'" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
RAW=$WORK/raw.txt  # every client and wrk output, appended to the report
BODY=$WORK/body.md # the report's sections, written as they are measured
NGINX_DIR=
OBJECT_DIR=       # section 9's files, on a disk-backed file system (not in WORK: see offload)
SLOWDISK_PID=
cleanup() {
    stop_server
    stop_sampler
    unmount_slowdisk
    [ -n "$OBJECT_DIR" ] && rm -rf "$OBJECT_DIR"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'CLEANING_UP_AFTER_SIGNAL=1; exit 130' INT TERM HUP PIPE

# progress TEXT...: where the run is, on stderr (the report is the output); not server.bash's say,
# a demo's heading.
progress() { printf '%s\n' "$*" >&2; }
md() { printf '%s\n' "$*" >>"$BODY"; }
# flush_notes: what a section skipped, at its end.
flush_notes() {
    [ -s "$WORK/notes" ] || return 0
    md "Skipped in this section:"
    cat "$WORK/notes" >>"$BODY"
    md ""
    rm -f "$WORK/notes"
}
note() { echo "- $*" >>"$WORK/notes"; }
calc() { awk "BEGIN { printf $1 }"; } # calc '"%.2f", 1 / 3'
# median COLUMN < rows: the median of one column (the lower middle for an even count).
median() { sort -g -k"$1,$1" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------------------------------------
# Cores. The server gets the first CPU this shell may use, the client the rest. A server is
# pinned by pinning this shell while it starts the server: the server, and every thread and
# process it makes later (06's pool, 08's children, 12's io-wq), inherit that one CPU.
allowed_cpus() { # one CPU number a line, from taskset's "0-3,6"
    taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' |
        awk -F- '{ hi = NF > 1 ? $2 : $1; for (c = $1; c <= hi; c++) print c }'
}
mapfile -t CPUS < <(allowed_cpus)
ALL_CPUS=$(IFS=,; echo "${CPUS[*]}")
if [ ${#CPUS[@]} -ge 2 ] && taskset -c "${CPUS[0]}" true 2>/dev/null; then
    PINNED=1 SERVER_CPU=${CPUS[0]} CLIENT_CPUS=$(IFS=,; echo "${CPUS[*]:1}")
    CLIENT_CORES=$((${#CPUS[@]} - 1))
else # one CPU, or affinity refused: everything shares, and the report says so
    PINNED=0 SERVER_CPU=$ALL_CPUS CLIENT_CPUS=$ALL_CPUS CLIENT_CORES=${#CPUS[@]}
fi
# The client's threads (-j): one per core it has, at most 8, so it is not the limit where a
# bigger machine can help it.
CLIENT_J=$((CLIENT_CORES < 8 ? CLIENT_CORES : 8))
pin_self() { taskset -pc "$1" $BASHPID >/dev/null 2>&1 || true; }
# on_server_cpu CMD...: runs CMD (which starts a server) with this shell on the server's CPU.
on_server_cpu() {
    pin_self "$SERVER_CPU"
    "$@"
    local rc=$?
    pin_self "$ALL_CPUS"
    return $rc
}
on_client_cpus() { taskset -c "$CLIENT_CPUS" "$@"; }

# chapter_dir NN: the chapter numbered NN (chapters/NN-name) if its server is built, else nothing.
chapter_dir() {
    local d
    for d in chapters/"$1"-*/; do
        d=$(basename "$d")
        [ -x "$BIN/$d" ] && { echo "$d"; return; }
    done
}
all_chapters() {
    local d
    for d in chapters/[0-9]*/; do
        d=$(basename "$d")
        [ -x "$BIN/$d" ] && echo "$d"
    done
}

# pool_flag CHAPTER N: "-w N" (at most MAX_WORKERS) if the chapter's -w sizes a pool of threads
# doing its reads (not 08's processes, 09's tpool or 12's io-wq cap).
pool_flag() {
    "$BIN/$1" --help 2>&1 | grep -q -- '-w WORKERS *worker threads doing the blocking reads' &&
        echo "-w $(($2 < MAX_WORKERS ? $2 : MAX_WORKERS))"
}

# start CHAPTER [FLAGS...] / stop: a chapter's server on port 0 (scripts/server.bash), on the
# server's CPU, noted in the report when it will not start; stop keeps its log as $WORK/last.log
# (the offload checks read it) and removes its output files.
start() {
    SERVER_CLIENT_ARGS=()
    on_server_cpu start_server "$BIN/$1" "${@:2}" 2>>"$WORK/start-errors" && return 0
    note "\`$1 ${*:2}\` did not start: $(tail -1 "$WORK/start-errors")"
    return 1
}
stop() {
    stop_server
    [ -n "${SERVER_LOG:-}" ] && cp "$SERVER_LOG" "$WORK/last.log" 2>/dev/null
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
}

# tcp_counter NAME: a TcpExt counter from /proc/net/netstat (machine-wide), e.g. ListenOverflows.
tcp_counter() {
    awk -v name="$1" '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
                                   else print $col[name] }' /proc/net/netstat
}

# A background sampler: /proc tells only the current thread count, open descriptors and kernel
# memory, so sample them every 20 ms (descriptors every 100 ms: listing 20,000 costs) and keep
# the peaks in $WORK/{threads,fds,kstack,slab}.max.
SAMPLER_PID=
start_sampler() {
    echo 0 >"$WORK/threads.max"
    echo 0 >"$WORK/fds.max"
    proc_field /proc/meminfo KernelStack >"$WORK/kstack.max"
    proc_field /proc/meminfo Slab >"$WORK/slab.max"
    (
        max=0 fmax=0 kmax=$(cat "$WORK/kstack.max") smax=$(cat "$WORK/slab.max") turn=0
        while [ ! -e "$WORK/sampler.stop" ]; do
            t=$(status_field "$1" Threads 2>/dev/null) || break
            k=$(proc_field /proc/meminfo KernelStack)
            s=$(proc_field /proc/meminfo Slab)
            [ "${t:-0}" -gt "$max" ] && { max=$t; echo "$max" >"$WORK/threads.max"; }
            [ "${k:-0}" -gt "$kmax" ] && { kmax=$k; echo "$kmax" >"$WORK/kstack.max"; }
            [ "${s:-0}" -gt "$smax" ] && { smax=$s; echo "$smax" >"$WORK/slab.max"; }
            if [ $((turn++ % 5)) = 0 ]; then
                f=$(ls -U "/proc/$1/fd" 2>/dev/null | wc -l)
                [ "$f" -gt "$fmax" ] && { fmax=$f; echo "$fmax" >"$WORK/fds.max"; }
            fi
            nap 0.02
        done
    ) &
    SAMPLER_PID=$!
}
stop_sampler() {
    [ -n "$SAMPLER_PID" ] || return 0
    touch "$WORK/sampler.stop"
    wait_child "$SAMPLER_PID"
    SAMPLER_PID=
    rm -f "$WORK/sampler.stop"
}

# measure LABEL CLIENT-ARGS...: one client run (on the client's CPUs) against the running server
# ($PORT, $SERVER_PID). Sets J (its JSON line), WALL (s), CCPU (client CPU s), SCPU (server CPU
# s, over the same WALL) and TL (timeline).
TL=$WORK/timeline
SERVER_CLIENT_ARGS=() # what the client must add for the running server (nginx's one object)
measure() {
    local label=$1 t
    shift
    cpu_window_start "$SERVER_PID"
    {
        TIMEFORMAT='%R %U %S'
        time on_client_cpus "$BIN/client" -p "$PORT" --json -q --timeline "$TL" \
            "${SERVER_CLIENT_ARGS[@]}" "$@" \
            >"$WORK/json" 2>"$WORK/err"
    } 2>"$WORK/time"
    cpu_window_end "$SERVER_PID"
    J=$(grep '^{' "$WORK/json")
    read -r _ t CCPU <"$WORK/time"
    CCPU=$(calc "\"%.2f\", $t + $CCPU")
    # The server's CPU over the window it was sampled in, and that window's wall time.
    SCPU=$CPU_S WALL=$WALL_S
    printf '%s: client %s\n  %s\n  client CPU %s s, server CPU %s s, wall %s s\n' \
        "$label" "$*" "$J" "$CCPU" "$SCPU" "$WALL" >>"$RAW"
    [ -n "$J" ] || { J='{}'; progress "  $label: the client printed no summary: $(head -3 "$WORK/err")"; }
}
jf() { printf '%s\n' "$J" | json_field "$1"; }
# us_per_request: the server's CPU of the last measure, in microseconds per request answered.
us_per_request() { calc "\"%.1f\", ($(jf ok) > 0 ? $SCPU * 1000000 / $(jf ok) : 0)"; }

# replies_per_second: ok replies per second between the first and the last one, from $TL
# (columns: id start_ms end_ms outcome ...). Unlike requests/wall it leaves out the first D ms
# when nothing can have finished yet, so closed and open loop are measured alike.
replies_per_second() {
    awk '$4 == "ok" { n++; if (!seen || $3 < lo) lo = $3; if ($3 > hi) hi = $3; seen = 1 }
         END { printf "%.0f", (n > 1 && hi > lo) ? (n - 1) * 1000 / (hi - lo) : 0 }' "$TL"
}
# slower_than MS: how many requests in $TL took longer than MS (from their recorded start).
slower_than() {
    awk -v ms="$1" '!/^#/ && $3 - $2 > ms { n++ } END { print n + 0 }' "$TL"
}

# nginx: one worker, connection per request (keepalive_timeout 0, like the chapters), no access
# log, serving one tiny static file whatever the path, in a generated config in a temp dir.
# nginx cannot bind port 0 and report it, so try random free-looking ports until one binds.
start_nginx() {
    NGINX_DIR=$WORK/nginx
    SERVER_OUT= SERVER_LOG= # nginx logs to its own error.log
    mkdir -p "$NGINX_DIR/tmp"
    chmod 755 "$WORK" "$NGINX_DIR"
    # The one reply it serves, whatever the path: RC 0, 1 byte, for /obj/0. The client believes a
    # reply only when it names the path asked for, so against nginx it asks for that one object.
    printf '0,1,0,/obj/0\n' >"$NGINX_DIR/reply.txt"
    SERVER_CLIENT_ARGS=(--objects 1)
    chmod 644 "$NGINX_DIR/reply.txt"
    local try
    for try in $(seq 20); do
        PORT=$((20000 + RANDOM % 12000))
        ss -Htln "sport = :$PORT" | grep -q . && continue
        cat >"$NGINX_DIR/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 0;
    default_type text/plain;
    client_body_temp_path $NGINX_DIR/tmp; proxy_temp_path $NGINX_DIR/tmp;
    fastcgi_temp_path $NGINX_DIR/tmp; uwsgi_temp_path $NGINX_DIR/tmp; scgi_temp_path $NGINX_DIR/tmp;
    server {
        listen 127.0.0.1:$PORT;
        root $NGINX_DIR;
        location / { try_files /reply.txt =404; }
    }
}
EOF
        nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" 3>&- &
        SERVER_PID=$!
        local i
        for i in $(seq 50); do
            curl -s -o /dev/null "http://127.0.0.1:$PORT/0,/obj/0" && return 0
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        stop
    done
    progress "bench: nginx would not start: $(tail -2 "$NGINX_DIR/error.log")"
    return 1
}
# start_any nginx|CHAPTER [FLAGS...]: either kind of server, on the server's CPU.
start_any() {
    if [ "$1" = nginx ]; then on_server_cpu start_nginx; else start "$@"; fi
}

# The conditions every section shares, for its opening paragraph.
where_it_ran() {
    if [ "$PINNED" = 1 ]; then
        echo "The server ran on CPU $SERVER_CPU alone, every client on CPU(s) $CLIENT_CPUS (taskset)."
    else
        echo "Server and client shared CPU(s) $ALL_CPUS: this machine could not pin them apart."
    fi
}

# ---------------------------------------------------------------------------------------------
# 1. Little's law: N requests in flight, each D ms, can finish at most N/D per second.
little() {
    progress "1. Little's law"
    md "## 1. Little's law: N requests in flight, each waiting D = $D ms"
    md ""
    md "No server can finish more than N/D requests per second when N are in flight and each waits"
    md "D ms (Little's law). *÷ bound* is the measured rate over that bound (1 is perfect); *p99 − D*"
    md "is what the server adds to the slowest 1 % of requests. Rates are replies per second between"
    md "the first and the last reply. Closed loop: \`client -c N\`, a new request as soon as one"
    md "finishes. Open loop: \`client --rate N/D\`, requests start on a fixed schedule and latency is"
    md "counted from the scheduled start, so a server that falls behind cannot hide it. Requests:"
    md "N/D × $LITTLE_SECONDS s each run, at most $LITTLE_MAX. The open loop runs only where the closed loop reached 0.9 of"
    md "the bound: past what the machine sustains, a fixed schedule only measures a growing queue. Chapter 06 runs with a pool of N workers (\`-w N\`, at most"
    md "$MAX_WORKERS, the flag's limit), so no request waits for a worker. $(where_it_ran)"
    md ""
    md "| chapter | N | bound N/D req/s | closed: req/s | ÷ bound | p99 − D ms | open: req/s | ÷ bound | p99 − D ms | timeouts (closed/open) |"
    md "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local ch n bound count flags r1 q1 t1 r2 q2 t2 chapters=()
    for n in 04 06; do ch=$(chapter_dir $n) && [ -n "$ch" ] && chapters+=("$ch"); done
    for ch in "${chapters[@]}"; do
        for n in $LITTLE_NS; do
            bound=$((n * 1000 / D))
            count=$((bound * LITTLE_SECONDS < LITTLE_MAX ? bound * LITTLE_SECONDS : LITTLE_MAX))
            flags=($(pool_flag "$ch" "$n"))
            start "$ch" "${flags[@]}" || continue
            measure "little $ch N=$n closed" -c "$n" -n "$count" -d $D
            r1=$(replies_per_second) q1=$(jf p99_ms) t1=$(jf timeouts)
            # The open schedule only makes sense at a rate the machine can sustain: past it the
            # queue (and the client, which opens a connection per request) only grows.
            r2=— q2=— t2=—
            if [ "$(calc "\"%d\", ($r1 >= 0.9 * $bound)")" = 1 ]; then
                measure "little $ch N=$n open" --rate "$bound" -n "$count" -d $D
                r2=$(replies_per_second) q2=$(($(jf p99_ms) - D)) t2=$(jf timeouts)
                r2="$r2 | $(calc "\"%.2f\", $r2 / $bound")"
            else
                r2="— | —"
                OPEN_SKIPPED=1
            fi
            stop
            md "| $ch${flags[*]:+ ${flags[*]}} | $n | $bound | $r1 | $(calc "\"%.2f\", $r1 / $bound") | $((q1 - D)) | $r2 | $q2 | $t1 / $t2 |"
            progress "  $ch N=$n: closed $r1/s p99 $q1; open (req/s | ÷ bound) $r2, p99 − D $q2"
        done
    done
    md ""
    if [ -n "${OPEN_SKIPPED:-}" ]; then
        md "A — in the open-loop columns: the closed loop stayed under 0.9 of the bound, so N/D per"
        md "second is more than this machine can start and finish over fresh connections (section 2"
        md "measures that limit): the limit here is the cost per connection, not the waiting."
        md ""
    fi
    md "The serial chapters answer one request at a time, so whatever N is they finish about 1/D per"
    md "second: *rate × D* is about 1 (01 blocks on accept and read, 05 blocks its loop in the read)."
    md "Their rate is requests ÷ the client's wall time (05 sends its replies in bursts)."
    md "They run closed loop only: an open-loop schedule of N/D per second would only pile up a queue."
    md ""
    md "| chapter | N | bound N/D req/s | closed: req/s | rate × D (≈ 1: one at a time) | ÷ bound | p99 ms |"
    md "|---|---:|---:|---:|---:|---:|---:|"
    n=10 bound=$((10 * 1000 / D))
    for ch in $(chapter_dir 01) $(chapter_dir 05); do
        start "$ch" || continue
        count=$((1000 / D * LITTLE_SECONDS * 2))
        measure "little $ch N=$n closed" -c $n -n $count -d $D -t 10000
        r1=$(jf rps) # 05 sends its replies in bursts, so count from the start, not the first reply
        stop
        md "| $ch | $n | $bound | $r1 | $(calc "\"%.2f\", $r1 * $D / 1000") | $(calc "\"%.2f\", $r1 / $bound") | $(jf p99_ms) |"
        progress "  $ch N=$n: $r1/s"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 2. Zero-delay connection-per-request throughput, every chapter and nginx, each server on one
# core. Each server is measured ZERO_ROUNDS times, in rounds (every server once, then again), so
# a burst of other load on the machine lands on all of them rather than on one; the table shows
# the median of the rounds and the lowest-highest req/s.
zero_servers() { # one line per server to measure: a label, then what to start
    echo "nginx"
    local run ch flags
    for run in $(all_chapters) $ZERO_VARIANTS; do
        ch=${run%%:*} flags=
        [[ $run == *:* ]] && { flags=${run#*:}; ch=$(chapter_dir "$ch"); }
        [ -n "$ch" ] && echo "$ch${flags:+ ${flags//,/ }}"
    done
}
# zero_run LABEL COUNT: one zero-delay run against the running server; appends to $WORK/zero/FILE
# a row: rps ok errors timeouts client-CPU/s server-CPU/s p99 server-us-per-request
zero_run() {
    measure "$1" --http -c $ZERO_C -n "$2" -d 0 -j $CLIENT_J
    echo "$(jf rps) $(jf ok) $(jf errors) $(jf timeouts) $(calc "\"%.2f\", $CCPU / $WALL") $(calc "\"%.2f\", $SCPU / $WALL") $(jf p99_ms) $(us_per_request)"
}
# zero_count LINE: a warm-up run whose rate sets the server's request count: about ZERO_SECONDS
# of work, within ZERO_WARMUP..ZERO_REQUESTS, so fork per connection does not take minutes.
zero_count() {
    measure "zero warm-up $1" --http -c $ZERO_C -n $ZERO_WARMUP -d 0 -j $CLIENT_J
    local n
    n=$(calc "\"%d\", ($(jf rps) * $ZERO_SECONDS)")
    [ "$n" -gt "$ZERO_REQUESTS" ] && n=$ZERO_REQUESTS
    [ "$n" -lt "$ZERO_WARMUP" ] && n=$ZERO_WARMUP
    echo "$n"
}
# bottleneck SERVER_CPU CLIENT_CPU: who kept the other waiting, from their CPU per wall second.
bottleneck() {
    local s c
    s=$(calc "\"%d\", ($1 >= 0.9)")
    c=$(calc "\"%d\", ($2 >= 0.9 * $CLIENT_J)")
    case $s$c in
    11) echo "both" ;; 10) echo "server" ;; 01) echo "**client**" ;; *) echo "neither (waits)" ;;
    esac
}
zero_delay() {
    progress "2. zero-delay throughput ($ZERO_ROUNDS rounds)"
    local round line i=0 servers=() counts=()
    mapfile -t servers < <(zero_servers)
    mkdir -p "$WORK/zero"
    for round in $(seq "$ZERO_ROUNDS"); do
        for i in "${!servers[@]}"; do
            line=${servers[$i]}
            [ "$round" = 1 ] || [ -n "${counts[i]:-}" ] || continue # it did not start before
            start_any $line || continue
            [ "$round" = 1 ] && counts[i]=$(zero_count "$line")
            zero_run "zero round $round ${line}" "${counts[i]}" >>"$WORK/zero/$i"
            stop
            progress "  round $round $line: $(jf rps)/s, $(us_per_request) µs per request"
        done
    done
    local ref ref_us
    ref=$(median 1 <"$WORK/zero/0" 2>/dev/null)
    ref_us=$(median 8 <"$WORK/zero/0" 2>/dev/null)
    [ -n "$ref" ] || { note "nginx did not run, so there is no ratio"; ref=0; ref_us=0; }

    md "## 2. Zero-delay requests per second, each chapter against nginx"
    md ""
    md "The seed 004 experiment in C: every request asks for a 0 ms read, over a new connection (HTTP,"
    md "\`Connection: close\`), $ZERO_C in flight at once, the same client (\`client --http -c $ZERO_C"
    md "-n COUNT -d 0 -j $CLIENT_J\`) for every server, each with its default"
    md "flags, plus a few variants named in the first column. nginx $(nginx -v 2>&1 | sed 's/.*\///') serves"
    md "one tiny static file with one worker process, no access log and \`keepalive_timeout 0\` (a"
    md "connection per request, like the chapters). This measures the cost of accept, read, parse,"
    md "reply and close: a model's overhead, not its waiting. A warm-up run of $ZERO_WARMUP requests sets"
    md "each server's COUNT to about ${ZERO_SECONDS} s of its work ($ZERO_WARMUP to $ZERO_REQUESTS). Then each server"
    md "ran $ZERO_ROUNDS time(s), in rounds (every server once, then again), so a burst of other load lands"
    md "on all of them alike; the figures are medians, *range* the lowest and highest req/s."
    md "*÷ nginx* divides medians. CPU columns are CPU seconds per wall second (1.00 = one core)."
    md "$(where_it_ran) Every thread and process of a server shares its one CPU."
    md ""
    md "*Server µs per request* is the server's CPU time (all its threads and processes) divided by"
    md "the requests it answered: what the model costs on one core, whoever was the bottleneck."
    md "*Bottleneck* is whoever used 0.9 of what it had: the server's one core, or the client's"
    md "$CLIENT_J thread(s); *neither* means both waited (a blocking model's sleeps, a fork)."
    md ""
    md "| server | COUNT | req/s | ÷ nginx | range req/s | server CPU | server µs per request | nginx's µs ÷ this | client CPU | bottleneck | p99 ms | errors + timeouts |"
    md "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
    local client_bound=()
    for i in "${!servers[@]}"; do
        [ -s "$WORK/zero/$i" ] || continue
        local f=$WORK/zero/$i rps us ccpu scpu who
        rps=$(median 1 <"$f") us=$(median 8 <"$f") ccpu=$(median 5 <"$f") scpu=$(median 6 <"$f")
        who=$(bottleneck "$scpu" "$ccpu")
        [ "$who" = "**client**" ] && client_bound+=("${servers[$i]}")
        md "| ${servers[$i]} | ${counts[i]} | $rps | $(calc "\"%.2f\", ($ref != 0 ? $rps / $ref : 0)") | $(sort -g "$f" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }') | $scpu | $us | $(calc "\"%.2f\", ($us != 0 ? $ref_us / $us : 0)") | $ccpu | $who | $(median 7 <"$f") | $(awk '{ s += $3 + $4 } END { print s }' "$f") |"
    done
    md ""
    md "Is the load client the bottleneck? It had $CLIENT_J thread(s) on $CLIENT_CORES core(s) of its own."
    if [ ${#client_bound[@]} -gt 0 ]; then
        md "In this run it used 0.9 of them or more against: $(printf '%s, ' "${client_bound[@]}" | sed 's/, $//')."
        md "For those, req/s measures the client as much as the server, and *÷ nginx* is a ratio of"
        md "two client limits. On loopback the client's connect and close make the kernel do about"
        md "what the server's accept and close make it do, so a client with no more cores than the"
        md "server cannot outrun a server that only accepts, answers and closes. *Server µs per"
        md "request* does not depend on who the bottleneck was: compare those."
    else
        md "In this run it stayed under 0.9 of its cores against every server."
    fi
    md ""
    zero_goal "$ref" "$ref_us" "${servers[@]}"
    wrk_check
}

# zero_goal NGINX_RPS NGINX_US SERVERS...: 04 against nginx, against the goal the issue set (a
# benchmark's report, never a test's assertion).
zero_goal() {
    local ref=$1 ref_us=$2 i=0 name
    shift 2
    for name in "$@"; do
        if [[ $name == 04-* ]] && [ -s "$WORK/zero/$i" ] && [ "$ref" != 0 ]; then
            local rps us
            rps=$(median 1 <"$WORK/zero/$i") us=$(median 8 <"$WORK/zero/$i")
            md "Chapter 04 against nginx in this run: $(calc "\"%.2f\", $rps / $ref")× its req/s and $(calc "\"%.2f\", $ref_us / $us")× cheaper per"
            md "request (the goal: at least 1.0× and 1.2×; reported here, never asserted by a test)."
            md ""
        fi
        i=$((i + 1))
    done
}

# wrk on chapter 04 and on nginx: a second, independent client, with the same pinning. It keeps
# connections alive when the server allows it; both servers here close after each reply, and
# -H 'Connection: close' says so, so wrk reconnects each time.
wrk_check() {
    progress "  wrk cross-check"
    md "Cross-check with wrk ($(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')), an independent load generator on the client's CPU(s):"
    md "\`wrk -t$CLIENT_J -c$ZERO_C -d${WRK_SECONDS}s -H 'Connection: close'\`, same servers, one at a time. wrk"
    md "counts a reply as a request; its socket errors (if any) are quoted as it printed them."
    md ""
    md "| server | our client req/s | wrk req/s | wrk ÷ ours | server µs per request (ours / wrk) | wrk CPU | wrk's error line |"
    md "|---|---:|---:|---:|---:|---:|---:|"
    local name ours ours_us out wrps wn errs t u s
    for name in $(chapter_dir 04) nginx; do
        start_any "$name" || continue
        measure "wrk-ours $name" --http -c $ZERO_C -n $ZERO_REQUESTS -d 0 -j $CLIENT_J
        ours=$(jf rps) ours_us=$(us_per_request)
        cpu_window_start "$SERVER_PID"
        {
            TIMEFORMAT='%R %U %S'
            time on_client_cpus wrk -t$CLIENT_J -c$ZERO_C -d${WRK_SECONDS}s -H 'Connection: close' \
                "http://127.0.0.1:$PORT/0,/obj/1" >"$WORK/wrk" 2>&1
        } 2>"$WORK/time"
        cpu_window_end "$SERVER_PID"
        stop
        read -r t u s <"$WORK/time"
        { echo "wrk $name (server CPU $CPU_S s in $WALL_S s):"; sed 's/^/  /' "$WORK/wrk"; } >>"$RAW"
        wrps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk")
        wn=$(awk '/requests in/ { print $1 }' "$WORK/wrk")
        errs=$(grep -E 'Socket errors|Non-2xx' "$WORK/wrk" | tr -s ' ' | paste -sd';')
        md "| $name | $ours | ${wrps:-?} | $(calc "\"%.2f\", ${wrps:-0} / $ours") | $ours_us / $(calc "\"%.1f\", (${wn:-0} > 0 ? $CPU_S * 1000000 / ${wn:-1} : 0)") | $(calc "\"%.2f\", ($u + $s) / $t") | ${errs:-none} |"
        progress "  $name: ours $ours/s, wrk ${wrps:-?}/s"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 3. Scale: SCALE_N requests of 1 s in flight at once. What does each waiting request cost?
scale() {
    progress "3. scale: $SCALE_N waiting requests"
    md "## 3. $SCALE_N requests waiting 1 s at once: what each waiting request costs"
    md ""
    md "Seed 003 (Portante, *Demystifying Non-blocking and Asynchronous I/O*, PyCon 2010) on why event"
    md "loops win: \"The primary reason is memory usage ... Blocking I/O requires one thread of"
    md "execution for each FD\". Here \`client -c $SCALE_N -n $SCALE_N -d $SCALE_DELAY --sources $SOURCES\` (client timeout"
    md "5 s, server deadline 4 s) sends every request at once. *Peak RSS* is the server's VmHWM,"
    md "*per request* is (VmHWM − RSS before the run) ÷ $SCALE_N, *peak threads* is the most seen in"
    md "/proc/PID/status sampled every 20 ms, *server CPU* is user + system seconds during the run."
    md "A chapter with a worker pool (06) gets the largest the flag allows (\`-w $MAX_WORKERS\`): a finite"
    md "pool is 06's lesson, so requests that wait in its queue past the deadline are answered RC 1"
    md "(counted as timeouts). RSS leaves out what the kernel keeps per thread: *+ kernel stacks* is"
    md "the peak rise of KernelStack in /proc/meminfo from before the server started (each thread has one; it is"
    md "machine-wide, so other processes add noise). *Listen overflows* is the rise of TcpExt"
    md "ListenOverflows (machine-wide): connections the listen backlog (somaxconn ="
    md "$(cat /proc/sys/net/core/somaxconn)) could not hold when every request connected at once (their SYN is"
    md "retried a second later). Latency counts from when the client began the request, so p50 above"
    md "1 s is mostly the time to open $SCALE_N connections at once, from $SOURCES loopback addresses"
    md "(\`--sources\`: from one, finding each new connection a free port costs the client more than"
    md "the rest of the request). $(where_it_ran)"
    md ""
    md "| chapter | ok | timeouts | errors | p50 ms | p99 ms | peak RSS MiB | KiB per request | peak threads | + kernel stacks MiB | server CPU s | client CPU s | wall s | listen overflows |"
    md "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local n ch flags rss0 hwm threads kstack0 kstack overflows0 overflows missing=() hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt $((SCALE_N + 100)) ]; then
        md "Not run: the descriptor limit (ulimit -Hn) is $hard, and the client needs $SCALE_N + a few."
        md ""
        return
    fi
    for n in 04 06 07 09; do
        ch=$(chapter_dir $n)
        [ -n "$ch" ] || { missing+=("$n"); continue; }
        flags=($(pool_flag "$ch" $MAX_WORKERS))
        kstack0=$(proc_field /proc/meminfo KernelStack) # before start: a pool's threads count too
        start "$ch" "${flags[@]}" || continue
        sleep 0.2
        rss0=$(status_field "$SERVER_PID" VmRSS)
        overflows0=$(tcp_counter ListenOverflows)
        start_sampler "$SERVER_PID"
        measure "scale $ch" -c "$SCALE_N" -n "$SCALE_N" -d $SCALE_DELAY --sources $SOURCES
        stop_sampler
        hwm=$(status_field "$SERVER_PID" VmHWM)
        threads=$(cat "$WORK/threads.max")
        kstack=$(( $(cat "$WORK/kstack.max") - kstack0 ))
        overflows=$(( $(tcp_counter ListenOverflows) - overflows0 ))
        stop
        md "| $ch${flags[*]:+ ${flags[*]}} | $(jf ok) | $(jf timeouts) | $(jf errors) | $(jf p50_ms) | $(jf p99_ms) | $(calc "\"%.1f\", $hwm / 1024") | $(calc "\"%.1f\", ($hwm - $rss0) / $SCALE_N") | $threads | $(calc "\"%.1f\", $kstack / 1024") | $SCPU | $CCPU | $WALL | $overflows |"
        progress "  $ch: ok $(jf ok), VmHWM $hwm kB, threads $threads"
    done
    md ""
    if [ ${#missing[@]} -gt 0 ]; then
        md "Not in this tree yet, so not measured: chapter(s) ${missing[*]}."
        md ""
    fi
}

# ---------------------------------------------------------------------------------------------
# 4. CPU while waiting: 10 requests of 1 s; a loop that sleeps in the kernel costs nothing.
idle_cpu() {
    progress "4. CPU while idle-waiting"
    md "## 4. CPU while requests wait"
    md ""
    md "10 requests of 1 s each, client timeout 1.5 s (\`client -c 10 -n 10 -d 1000 -t 1500\`): the"
    md "server's CPU seconds per wall second over the client's run. Waiting should cost nothing; a"
    md "server that polls in a spin loop (02) burns a core doing it. A chapter with a worker pool gets"
    md "\`-w 10\`, a worker per request. Serial chapters time out here: that is their lesson (01, 05),"
    md "not this table's."
    md ""
    md "| chapter | server CPU s per s | server CPU s | wall s | ok / timeouts |"
    md "|---|---:|---:|---:|---:|"
    local ch
    local flags
    for ch in $(all_chapters); do
        flags=($(pool_flag "$ch" 10))
        start "$ch" "${flags[@]}" || continue
        measure "idle $ch" -c 10 -n 10 -d 1000 -t 1500
        stop
        md "| $ch${flags[*]:+ ${flags[*]}} | $(calc "\"%.2f\", $SCPU / $WALL") | $SCPU | $WALL | $(jf ok) / $(jf timeouts) |"
        progress "  $ch: $SCPU s in $WALL s"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 5. Coordinated omission: a closed-loop client stops sending while the server stalls.
open_vs_closed() {
    local ch
    ch=$(chapter_dir 05)
    [ -n "$ch" ] || return
    progress "5. closed vs open loop on $ch"
    md "## 5. A stall seen by a closed-loop and an open-loop client ($ch)"
    md ""
    md "Chapter 05's loop blocks in each read, so one read of 1 s stalls the whole server for 1 s."
    md "200 requests of 10 ms, the first of them 1000 ms. Closed loop (\`-c 1\`, one request at a time,"
    md "like many load tools): while the server stalls the client sends nothing, so only the one slow"
    md "request records the stall. Open loop (\`--rate 50\`): requests keep starting every 20 ms during"
    md "the stall, wait behind it, and their latency counts from when they should have started."
    md ""
    md "| client | req/s | p50 ms | p99 ms | max ms | requests over 100 ms |"
    md "|---|---:|---:|---:|---:|---:|"
    start "$ch" || return
    measure "stall closed" -c 1 -n 200 -d 10 --slow 1000 --slow-count 1
    md "| closed loop \`-c 1\` | $(jf rps) | $(jf p50_ms) | $(jf p99_ms) | $(jf max_ms) | $(slower_than 100) |"
    measure "stall open" --rate 50 -n 200 -d 10 --slow 1000 --slow-count 1
    md "| open loop \`--rate 50\` | $(jf rps) | $(jf p50_ms) | $(jf p99_ms) | $(jf max_ms) | $(slower_than 100) |"
    stop
    md ""
}

# ---------------------------------------------------------------------------------------------
seeds() {
    md "## 6. The seeds' numbers, for comparison (quoted, not measured here)"
    md ""
    md "Seed 004 (Li Haonan, *Event Driven Tasks*, the DistGears slides, file"
    md "\`$(basename /work/shared/seeds/004_*.txt 2>/dev/null || echo 004_*.txt)\`): Python servers on \"small cloud with 1 core. Client runs on the"
    md "same machine\", zero-work HTTP requests:"
    md ""
    md "| Python server (seed 004) | requests/s |"
    md "|---|---:|"
    md "| asyncio | about 1200 |"
    md "| thread, thread pool | 1100 |"
    md "| process (fork per request) | 150 |"
    md "| process pool | 600 |"
    md ""
    md "Compare their ordering, not their size, with section 2: another language, machine and client."
    md ""
}

# ---------------------------------------------------------------------------------------------
# 7. Where the CPU goes, nginx against 04: counters (perf stat), system calls per request (perf's
# syscall tracepoints, and strace -c -f as the issue asked) and CPU by system call (perf record).
# Each is its own run: strace slows a server several times over, and enabling 350 tracepoints
# costs too, so neither run's CPU figure is used for anything.
perf_works() { perf stat -e task-clock true >/dev/null 2>&1; }
# profile_run TOOL NAME COUNT: starts NAME, attaches TOOL to it (counters, syscalls, strace or
# record; each writes $WORK/TOOL.out) during a zero-delay run of COUNT requests, stops both. The
# tools run as plain background commands, not functions: a background subshell would ignore
# the SIGINT that tells them to stop and report.
profile_run() {
    local tool=$1 name=$2 count=$3 pids tool_pid p args=()
    start_any "$name" || return 1
    pids=$(tree_pids "$SERVER_PID" | tr -d ' ' | paste -sd,)
    case $tool in
    counters)
        perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults \
            -o "$WORK/$tool.out" -p "$pids" &
        ;;
    syscalls) perf stat -x, -e 'syscalls:sys_enter_*' -o "$WORK/$tool.out" -p "$pids" & ;;
    strace)
        for p in ${pids//,/ }; do args+=(-p "$p"); done
        strace -c -f -o "$WORK/$tool.out" "${args[@]}" 2>/dev/null &
        ;;
    record) perf record -e cpu-clock -F 2000 -g -o "$WORK/perf.data" -p "$pids" >/dev/null 2>&1 & ;;
    esac
    tool_pid=$!
    sleep 0.5 # let it attach
    measure "profile $tool $name" --http -c $ZERO_C -n "$count" -d 0 -j $CLIENT_J
    kill -INT "$tool_pid" 2>/dev/null
    wait "$tool_pid" 2>/dev/null
    stop
    [ "$tool" = record ] && perf script -i "$WORK/perf.data" 2>/dev/null | by_system_call >"$WORK/$tool.out"
    echo "$(jf rps) $(jf ok)" >"$WORK/$tool.ok"
}
syscalls() {
    local names=() name
    for name in nginx $(chapter_dir 04); do names+=("$name"); done
    progress "7. where the CPU goes: ${names[*]}"
    md "## 7. Where the server's CPU goes: nginx against 04"
    md ""
    md "The same zero-delay load as section 2 (\`client --http -c $ZERO_C -n $PROFILE_REQUESTS -d 0\`), once per"
    md "tool, so that no tool's own cost lands in another's figures. *Counters*: \`perf stat -e"
    md "task-clock,context-switches,cpu-migrations,page-faults\` on the server's processes, per request."
    md "*System calls*: per request, counted by perf's syscall tracepoints (the run as it is) and by"
    md "\`strace -c -f\` (which stops the server at every call, so the loop gathers more events per"
    md "epoll_wait: expect fewer of those under strace). *CPU by system call*: \`perf record -g\`, each"
    md "call's share of the server's samples (its children included: the loopback delivery to the"
    md "client runs inside the server's write and close) times the server's µs per request from the"
    md "counters' run. nginx reads its static file (openat, fstat, pread, close) for every request;"
    md "the chapters' reply is made in memory. $(where_it_ran)"
    md ""
    if ! perf_works; then
        md "Not run: \`perf stat -e task-clock true\` fails here (perf is missing, or not allowed)."
        md ""
        return
    fi
    local dir=$WORK/profile tool
    mkdir -p "$dir"
    local tools=(counters record)
    perf stat -e 'syscalls:sys_enter_read' true >/dev/null 2>&1 && tools+=(syscalls)
    command -v strace >/dev/null && tools+=(strace)
    for name in "${names[@]}"; do
        for tool in "${tools[@]}"; do
            # strace stops the server at every call: a quarter of the requests take long enough.
            profile_run "$tool" "$name" $([ $tool = strace ] && echo $((PROFILE_REQUESTS / 4)) || echo $PROFILE_REQUESTS) || continue
            cp "$WORK/$tool.out" "$dir/$name.$tool"
            cp "$WORK/$tool.ok" "$dir/$name.$tool.ok"
        done
        progress "  $name: profiled"
    done
    syscall_tables "$dir" "${names[@]}"
}
# by_system_call: perf script's samples (each a call chain, innermost frame first) to the share
# of them spent in each system call: the frame just inside do_syscall_64 names the call
# (__x64_sys_close, or ksys_write where __x64_sys_write jumps straight on), everything under it
# counts to it, the loopback delivery to the client included. Work the kernel does on the way
# back to user space (a close's socket is released there, as task work) goes to the call whose
# libc wrapper made the trip. Prints NAME<TAB>SHARE.
by_system_call() {
    awk 'BEGIN { RS = ""; FS = "\n"
                 alias["recv"] = "recvfrom"; alias["fstatat64"] = "newfstatat"
                 alias["open"] = "openat"; alias["pread"] = "pread64" }
    function frame(line) {
        sub(/^[ \t]*[0-9a-f]+ /, "", line); sub(/\+0x[0-9a-f]+.*/, "", line); sub(/ \(.*/, "", line)
        return line
    }
    {
        n++; call = ""; wrapper = ""; pf = 0; prev = ""; kernel = ($2 ~ /\[kernel\.kallsyms\]/)
        for (i = 2; i <= NF; i++) {
            f = frame($i)
            if (f == "do_syscall_64" && call == "") { call = prev == "" ? "?" : prev }
            if (f == "entry_SYSCALL_64_after_hwframe" && i < NF) { wrapper = frame($(i + 1)); break }
            if (f == "asm_exc_page_fault") pf = 1
            if (f != "x64_sys_call") prev = f
        }
        if (call ~ /^(__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_|do_sys_|do_)/) {
            sub(/^(__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_|do_sys_|do_)/, "", call); c[call]++
        } else if (call != "") {
            sub(/^(__GI_)?_*(libc_)?/, "", wrapper)
            if (wrapper in alias) wrapper = alias[wrapper]
            c[wrapper ~ /^[a-z_0-9]+$/ ? wrapper : "(entering or leaving a system call)"]++
        } else if (pf) c["(page faults)"]++
        else if (kernel) c["(kernel, outside system calls)"]++
        else c["(user space)"]++
    }
    END { for (k in c) printf "%s\t%.4f\n", k, c[k] / n }'
}
# counter FILE EVENT: a perf stat -x, count.
counter() { awk -F, -v e="$2" '$3 == e { print $1 }' "$1"; }
syscall_tables() {
    local dir=$1 name
    shift
    local names=("$@") header="" rule="|---"
    for name in "${names[@]}"; do header+=" $name |"; rule+="|---:"; done
    md "**Counters, per request**"
    md ""
    md "| |$header"
    md "$rule|"
    local row ev
    for ev in task-clock context-switches cpu-migrations page-faults; do
        row="| $([ $ev = task-clock ] && echo 'server CPU µs (task-clock)' || echo $ev) |"
        for name in "${names[@]}"; do
            local n v
            n=$(awk '{ print $2 }' "$dir/$name.counters.ok" 2>/dev/null)
            v=$(counter "$dir/$name.counters" "$ev" 2>/dev/null)
            [ -n "$v" ] && [ -n "$n" ] && [ "$n" -gt 0 ] || { row+=" — |"; continue; }
            # task-clock is in ms
            row+=" $(calc "\"%.$([ $ev = task-clock ] && echo 1 || echo 3)f\", $v * $([ $ev = task-clock ] && echo 1000 || echo 1) / $n") |"
        done
        md "$row"
    done
    row="| req/s in that run |"
    for name in "${names[@]}"; do row+=" $(awk '{ print $1 }' "$dir/$name.counters.ok" 2>/dev/null) |"; done
    md "$row"
    md ""
    # System calls per request: a row per call either server made at least 0.01 times a request.
    md "**System calls per request** (perf: the run as it is; strace: under \`strace -c -f\`)"
    md ""
    header="" rule="|---"
    for name in "${names[@]}"; do header+=" $name (perf) |"; rule+="|---:"; done
    for name in "${names[@]}"; do header+=" $name (strace) |"; rule+="|---:"; done
    md "| system call |$header"
    md "$rule|"
    for name in "${names[@]}"; do
        [ -s "$dir/$name.syscalls" ] && awk -F, -v n="$(awk '{ print $2 }' "$dir/$name.syscalls.ok")" -v who="$name" \
            '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 { c = $3; sub(/^syscalls:sys_enter_/, "", c); printf "%s perf %s %.3f\n", c, who, $1 / n }' \
            "$dir/$name.syscalls"
        [ -s "$dir/$name.strace" ] && awk -v n="$(awk '{ print $2 }' "$dir/$name.strace.ok")" -v who="$name" \
            'NR > 2 && $NF != "total" && $4 ~ /^[0-9]+$/ { printf "%s strace %s %.3f\n", $NF, who, $4 / n }' \
            "$dir/$name.strace"
    done >"$dir/calls"
    local call total
    for call in $(awk '$4 >= 0.01 { print $1 }' "$dir/calls" | sort -u); do
        row="| $call |"
        for tool in perf strace; do
            for name in "${names[@]}"; do
                v=$(awk -v c="$call" -v t="$tool" -v w="$name" '$1 == c && $2 == t && $3 == w { print $4 }' "$dir/calls")
                row+=" ${v:-0} |"
            done
        done
        md "$row"
    done
    row="| **all** |"
    for tool in perf strace; do
        for name in "${names[@]}"; do
            total=$(awk -v t="$tool" -v w="$name" '$2 == t && $3 == w { s += $4 } END { printf "%.2f", s }' "$dir/calls")
            row+=" **$total** |"
        done
    done
    md "$row"
    md ""
    # CPU by system call: each call's share of the samples times the counters' µs per request.
    md "**Server CPU by system call, µs per request** (perf record -g: each sample goes to the system"
    md "call it was in, with everything the kernel did inside that call)"
    md ""
    header="" rule="|---"
    for name in "${names[@]}"; do header+=" $name |"; rule+="|---:"; done
    md "| where |$header"
    md "$rule|"
    for name in "${names[@]}"; do
        [ -s "$dir/$name.record" ] || continue
        local us
        us=$(calc "\"%.3f\", $(counter "$dir/$name.counters" task-clock) * 1000 / $(awk '{ print $2 }' "$dir/$name.counters.ok")")
        awk -F'\t' -v us="$us" -v who="$name" '{ printf "%s\t%s\t%.2f\n", $1, who, $2 * us }' \
            "$dir/$name.record"
        printf '(all)\t%s\t%.2f\n' "$name" "$us"
    done >"$dir/where"
    # Rows: the system calls by their largest figure, then the summary rows.
    awk -F'\t' '$1 !~ /^\(/ && $3 > m[$1] { m[$1] = $3 } END { for (c in m) if (m[c] >= 0.3) print m[c] "\t" c }' \
        "$dir/where" | sort -gr | cut -f2 >"$dir/order"
    printf '%s\n' "(entering or leaving a system call)" "(kernel, outside system calls)" \
        "(page faults)" "(user space)" "(all)" >>"$dir/order"
    local where
    while IFS= read -r where; do
        row="| $where |"
        for name in "${names[@]}"; do
            v=$(awk -F'\t' -v c="$where" -v w="$name" '$1 == c && $2 == w { print $3 }' "$dir/where")
            row+=" ${v:-0} |"
        done
        md "$row"
    done <"$dir/order"
    md ""
    md "Calls under 0.3 µs per request in every column are left out, so the rows add up to a little"
    md "less than *all*, the counters' figure. *User space* is the server's own code and libc; *kernel,"
    md "outside system calls* is interrupts and softirqs that landed on the server's core."
    md ""
}

# ---------------------------------------------------------------------------------------------
# 8. What the event trace costs: 04 with -E FILE and without, alternating in the same rounds.
trace_cost() {
    local ch
    ch=$(chapter_dir 04)
    [ -n "$ch" ] || return
    progress "8. the event trace's and loopwatch's cost ($ch)"
    local trace=$WORK/trace.jsonl round n with=$WORK/trace.with without=$WORK/trace.without bytes=0
    local watched=$WORK/trace.watched watch_flags=(-W 200 -L)
    : >"$with"
    : >"$without"
    : >"$watched"
    for round in $(seq "$ZERO_ROUNDS"); do
        start "$ch" || return
        zero_run "trace round $round $ch" "$ZERO_REQUESTS" >>"$without"
        stop
        rm -f "$trace"
        start "$ch" -E "$trace" || return
        zero_run "trace round $round $ch -E" "$ZERO_REQUESTS" >>"$with"
        stop
        bytes=$(stat -c %s "$trace" 2>/dev/null || echo 0)
        n=$(jf ok)
        # loopwatch keeps the server's pid: its CPU, watchdog thread included, is the server's.
        on_server_cpu start_watched "${watch_flags[@]}" -- "$BIN/$ch" 2>>"$WORK/start-errors" || {
            note "\`loopwatch ${watch_flags[*]} -- $ch\` did not start: $(tail -1 "$WORK/start-errors")"
            return
        }
        zero_run "trace round $round loopwatch ${watch_flags[*]} -- $ch" "$ZERO_REQUESTS" >>"$watched"
        stop
    done
    local us0 us1 us2 r0 r1 r2
    us0=$(median 8 <"$without") us1=$(median 8 <"$with") r0=$(median 1 <"$without") r1=$(median 1 <"$with")
    us2=$(median 8 <"$watched") r2=$(median 1 <"$watched")
    md "## 8. What watching costs: the event trace (\`-E FILE\`) and loopwatch"
    md ""
    md "Chapter 04 under section 2's load (\`client --http -c $ZERO_C -n $ZERO_REQUESTS -d 0\`): alone, with"
    md "\`-E FILE\` (one JSON line per event, a loop's turn in one write, on $(stat -f -c %T "$WORK") under"
    md "\`$(dirname "$WORK")\`), and under \`bin/loopwatch ${watch_flags[*]} --\` (appendix A1: every turn timed, a"
    md "watchdog thread looking every 50 ms), alternating, $ZERO_ROUNDS round(s); medians. $(where_it_ran)"
    md ""
    md "| $ch | req/s | server µs per request | trace bytes per request |"
    md "|---|---:|---:|---:|"
    md "| alone | $r0 | $us0 | 0 |"
    md "| with -E | $r1 | $us1 | $(calc "\"%.0f\", (${n:-0} > 0 ? $bytes / $n : 0)") |"
    md "| under loopwatch ${watch_flags[*]} | $r2 | $us2 | 0 |"
    md ""
    md "The trace adds $(calc "\"%.0f\", ($us0 > 0 ? ($us1 - $us0) * 100 / $us0 : 0)") % to the server's CPU per request (the goal: under 10 %);"
    md "loopwatch adds $(calc "\"%.1f\", ($us0 > 0 ? ($us2 - $us0) * 100 / $us0 : 0)") % (the goal: at most 5 %). Reported, never asserted."
    md ""
    rm -f "$trace"
}

# ---------------------------------------------------------------------------------------------
# 9. What an offload costs: one cached 64 KiB read, five ways, side by side.
# read_size_12 PATH: the bytes chapter 12 reads for PATH: plan_disk_read's simulated size
# (1024 + FNV-1a-64(path) mod 64512, common/disk.c) in whole 4 KiB blocks, as its start_read
# rounds it. Bash arithmetic wraps at 64 bits like the C does; the modulo is taken unsigned.
read_size_12() {
    local path=$1 h=1469598103934665603 i c m=64512 u r
    for ((i = 0; i < ${#path}; i++)); do
        printf -v c '%d' "'${path:i:1}"
        h=$(((h ^ c) * 1099511628211))
    done
    u=$(((h >> 1) & 0x7FFFFFFFFFFFFFFF)) # h as unsigned is 2u + (h & 1)
    r=$(((u % m * 2 + (h & 1)) % m))
    echo $(((1024 + r) / 4096 * 4096 + 4096))
}
# make_objects DIR: OBJECTS files of 64 KiB, DIR/0/obj.d/ID, as -D DIR reads /obj/ID with a 0 ms
# delay (common/disk.c), then read once so that the page cache holds them.
make_objects() {
    local dir=$1 i
    mkdir -p "$dir/0/obj.d"
    for ((i = 0; i < OBJECTS; i++)); do
        head -c 65536 /dev/urandom >"$dir/0/obj.d/$i"
    done
    cat "$dir"/0/obj.d/* >/dev/null
}
# cached_bytes DIR: how much of DIR's objects the page cache holds (fincore, util-linux).
cached_bytes() {
    command -v fincore >/dev/null || { echo "?"; return; }
    fincore -b -n -o RES "$1"/0/obj.d/* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
offload() {
    progress "9. what an offload costs"
    local base=${TMPDIR:-/var/tmp} fs
    OBJECT_DIR=$(mktemp -d "$base/bench-objects.XXXXXX")
    make_objects "$OBJECT_DIR"
    fs=$(stat -f -c %T "$OBJECT_DIR")
    local cached mean12=0 i
    cached=$(cached_bytes "$OBJECT_DIR")
    for ((i = 0; i < OBJECTS; i++)); do mean12=$((mean12 + $(read_size_12 "/obj/$i"))); done
    mean12=$((mean12 / OBJECTS / 1024))
    md "## 9. What an offload costs: one cached 64 KiB read, five ways"
    md ""
    md "Every request reads one of $OBJECTS objects of 64 KiB that the page cache already holds, under section 2's"
    md "zero-delay load (\`client --http -c $ZERO_C -n $OFFLOAD_REQUESTS -d 0 --objects $OBJECTS\`, after a warm-up pass over"
    md "the same objects that is not counted); *over no read* subtracts the first row, 04 answering"
    md "with no read at all. (a) and (b) read real files, \`-D DIR\`: $OBJECTS files DIR/0/obj.d/ID on $fs"
    md "under \`$base\` (not tmpfs), read once before the run ($cached of $((OBJECTS * 65536)) bytes cached"
    md "then, by fincore), each request an open, a pread and a close. (c) to (e) read the server's"
    md "own 16 MiB file at a 64 KiB slot chosen by the path, with no open or close: chapter 12's reads"
    md "are plan_disk_read's size in whole 4 KiB blocks, $mean12 KiB on average over these paths; 14's are"
    md "64 KiB. *Checked* is what the server's log says about the run. $(where_it_ran)"
    md ""
    md "The published figures are tokio's (tokio-rs/tokio pull request 8063: median time of one"
    md "\`fs::read()\` of a 64 KiB file, open and close included, on a Ryzen 9 5950X, Linux 6.19, ext4"
    md "on NVMe): latency of one call in a Rust runtime, quoted beside ours, not measured here."
    md ""
    md "| way | server | open + close per request | bytes per read | req/s | server µs per request | over no read | published (tokio, per fs::read) | checked |"
    md "|---|---|---|---:|---:|---:|---:|---:|---|"
    local ref_us="" row ch way flags opens size pub check
    while IFS='|' read -r way ch flags opens size pub <&3; do
        ch=$(chapter_dir "$ch")
        [ -n "$ch" ] || { note "$way: chapter not built"; continue; }
        flags=${flags//DIR/$OBJECT_DIR}
        # shellcheck disable=SC2086 # flags are words
        start "$ch" $flags || continue
        [ "$size" = 12 ] && size="$mean12 KiB avg"
        measure "offload warm-up $way" --http -c $ZERO_C -n $((OBJECTS * 4)) -d 0 --objects $OBJECTS -j $CLIENT_J
        measure "offload $way" --http -c $ZERO_C -n "$OFFLOAD_REQUESTS" -d 0 --objects $OBJECTS -j $CLIENT_J
        local us rps errs
        us=$(us_per_request) rps=$(jf rps) errs=$(( $(jf errors) + $(jf timeouts) ))
        stop
        check=$(offload_check "$ch" "$errs")
        [ -n "$ref_us" ] || ref_us=$us
        md "| $way | $ch${flags:+ \`${flags//$OBJECT_DIR/DIR}\`} | $opens | $size | $rps | $us | $(calc "\"%.1f\", $us - $ref_us") | $pub | $check |"
        progress "  $way: $rps/s, $us µs per request"
    done 3<<EOF
no read|04||no|0|—
(a) pread on the loop|05|-D DIR|yes|64 KiB|7 µs (sync)
(b) pread in 06's pool|06|-D DIR|yes|64 KiB|15 µs (spawn_blocking)
(c) io_uring|12|-m buffered|no|12|38 µs (io-uring)
(d) preadv2(RWF_NOWAIT) hit on the loop|14|-m nowait|no|64 KiB|—
(e) pread in 14's pool, no RWF_NOWAIT|14|-m always-offload|no|64 KiB|—
EOF
    md ""
    md "Which to choose when. A read the page cache can answer costs a few µs of copying wherever it"
    md "runs; what an offload adds is the trip: a queue, a doorbell and two context switches through a"
    md "pool, the submission and completion machinery through io_uring. Compare (d) with (e), the same"
    md "read on the loop and through a pool, and (a) with (b). So read on the loop what is surely"
    md "cached, and only that: preadv2(RWF_NOWAIT) (d) is the cheap way to know, and a miss then"
    md "goes to the pool (14) or io_uring (12). A read that may touch a slow or dying disk must never"
    md "run on the loop, whatever it costs elsewhere (chapters 05, 11); a pool bounds the damage with"
    md "its size, io_uring without threads of our own but, as 12 shows, through the kernel's io-wq"
    md "threads when the read cannot be done asynchronously."
    md ""
    rm -rf "$OBJECT_DIR"
    OBJECT_DIR=
}
# offload_check CHAPTER ERRORS: what $WORK/last.log (the run's server log) says about its reads.
offload_check() {
    local log=$WORK/last.log what
    case $1 in
    14-*) what=$(sed -n 's/.*stopping: \([0-9]*\) hits served on the loop, \([0-9]*\) reads offloaded.*/\1 hits on the loop, \2 offloaded (warm-up included)/p' "$log") ;;
    12-*) what=$(sed -n 's/.*data file: .*, \(.* reads\)$/\1/p' "$log" | head -1) ;;
    *) what="$(grep -c -E 'read of .* failed|io fail' "$log" 2>/dev/null) failed reads in the log" ;;
    esac
    [ "$2" = 0 ] || what+=", $2 errors or timeouts"
    echo "$what"
}

# ---------------------------------------------------------------------------------------------
# 10. As many waiting requests as the machine allows: each needs a descriptor in the client and
# one in the server, so the hard RLIMIT_NOFILE (and the client's ephemeral ports) set the most.
fd_limit() {
    local hard ports n ch flags rss0 hwm fds slab0 slab overflows0 overflows
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=1048576
    ports=$(awk '{ print $2 - $1 + 1 }' /proc/sys/net/ipv4/ip_local_port_range)
    n=$((hard < ports ? hard : ports))
    n=$((n - 100)) # the descriptors each process needs besides its connections, and a margin
    progress "10. $n waiting requests (the descriptor limit is $hard)"
    md "## 10. As many waiting requests as one process may hold: $n"
    md ""
    md "Every request holds a descriptor in the client and one in the server, so one process holds"
    md "at most its hard RLIMIT_NOFILE of them: $hard here (\`ulimit -Hn\`; each side raises its soft"
    md "limit to it), and the client has $ports ephemeral ports to connect from"
    md "(ip_local_port_range). This run used the smaller, less 100 for what else each process keeps"
    md "open: \`client -c $n -n $n -d $SCALE_DELAY -t 15000 --sources $SOURCES\`, every request at once, each"
    md "waiting 1 s, from $SOURCES loopback addresses (as in section 3)"
    md "(the long client timeout leaves room for SYNs the listen queue dropped, retried after 1 and 3"
    md "s). *Held at once* is the most descriptors the server had open, sampled every 100 ms."
    md "*KiB per waiting request* is (VmHWM − RSS before) ÷ $n; *+ kernel slab* the peak rise of Slab"
    md "in /proc/meminfo: socket buffers, TCP state and epoll entries, of both ends (machine-wide)."
    md "Chapter 12's RSS includes each read's buffer (up to 64 KiB, allocated at submission, written"
    md "by the kernel when the read runs after its 1 s timer). $(where_it_ran)"
    md ""
    md "| chapter | held at once | ok | timeouts | errors | p50 ms | p99 ms | peak RSS MiB | KiB per waiting request | + kernel slab MiB | server CPU s | wall s | listen overflows |"
    md "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for ch in 04 09 12; do
        ch=$(chapter_dir $ch)
        [ -n "$ch" ] || continue
        flags=()
        start "$ch" || continue
        sleep 0.2
        rss0=$(status_field "$SERVER_PID" VmRSS)
        slab0=$(proc_field /proc/meminfo Slab)
        overflows0=$(tcp_counter ListenOverflows)
        start_sampler "$SERVER_PID"
        measure "fd limit $ch" -c "$n" -n "$n" -d $SCALE_DELAY -t 15000 --sources $SOURCES
        stop_sampler
        hwm=$(status_field "$SERVER_PID" VmHWM)
        fds=$(cat "$WORK/fds.max")
        slab=$(( $(cat "$WORK/slab.max") - slab0 ))
        overflows=$(( $(tcp_counter ListenOverflows) - overflows0 ))
        stop
        md "| $ch${flags[*]:+ ${flags[*]}} | $fds | $(jf ok) | $(jf timeouts) | $(jf errors) | $(jf p50_ms) | $(jf p99_ms) | $(calc "\"%.1f\", $hwm / 1024") | $(calc "\"%.1f\", ($hwm - $rss0) / $n") | $(calc "\"%.1f\", $slab / 1024") | $SCPU | $WALL | $overflows |"
        progress "  $ch: ok $(jf ok), held $fds descriptors, VmHWM $hwm kB"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 11. 06 and 14 on the slow disk (tools/slowdisk.c, FUSE): page-cache hits and misses, beside
# the simulated disk. The slow disk runs on the client's CPUs: it is the disk, not the server.
# mount_slowdisk [-x]: mounts $WORK/slowdisk; returns 1 (with SLOWDISK_WHY) when it cannot.
mount_slowdisk() {
    MNT=$WORK/slowdisk
    mkdir -p "$MNT"
    : >"$WORK/slowdisk.out"
    on_client_cpus "$BIN/slowdisk" -v "$@" "$MNT" >"$WORK/slowdisk.out" 2>"$WORK/slowdisk.log" 3>&- &
    SLOWDISK_PID=$!
    local i
    for i in $(seq 100); do
        grep -q '^mounted on' "$WORK/slowdisk.out" && return 0
        if ! kill -0 "$SLOWDISK_PID" 2>/dev/null; then
            wait "$SLOWDISK_PID"
            SLOWDISK_WHY="bin/slowdisk exited $? ($(tail -1 "$WORK/slowdisk.log"))"
            SLOWDISK_PID=
            return 1
        fi
        sleep 0.1
    done
    SLOWDISK_WHY="bin/slowdisk printed no 'mounted on' line in 10 s"
    unmount_slowdisk
    return 1
}
unmount_slowdisk() {
    [ -n "${SLOWDISK_PID:-}" ] || return 0
    kill -TERM "$SLOWDISK_PID" 2>/dev/null
    wait_child "$SLOWDISK_PID"
    SLOWDISK_PID=
    mountpoint -q "$MNT" 2>/dev/null && "$BIN/slowdisk" -u "$MNT" >/dev/null 2>&1
    return 0
}
disk_reads() { grep -c ' READ ' "$WORK/slowdisk.log" 2>/dev/null; } # READs the disk has served
# slow_row LABEL DISK CHAPTER FLAGS...: a warm-up pass (not counted) then the measured pass over
# the same OBJECTS paths, and a table row with the READs the slow disk served during the latter.
slow_row() {
    local label=$1 disk=$2 ch=$3 reads0 reads flags
    shift 3
    flags=($(pool_flag "$ch" $ZERO_C))
    start "$ch" "${flags[@]}" "$@" || return
    measure "slow disk warm-up $label" --http -c $ZERO_C -n $((OBJECTS * 2)) -d $SLOW_D --objects $OBJECTS -j $CLIENT_J
    reads0=$(disk_reads)
    measure "slow disk $label" --http -c $ZERO_C -n "$SLOW_REQUESTS" -d $SLOW_D --objects $OBJECTS -j $CLIENT_J
    reads=$(($(disk_reads) - reads0))
    local us rps p50 p99 errs
    us=$(us_per_request) rps=$(jf rps) p50=$(jf p50_ms) p99=$(jf p99_ms) errs=$(($(jf errors) + $(jf timeouts)))
    stop
    local log
    log=$(sed -n 's/.*stopping: \([0-9]*\) hits served on the loop, \([0-9]*\) reads offloaded.*/\1 hits on the loop, \2 offloaded/p; s/.*\(RWF_NOWAIT unsupported\).*/\1/p' "$WORK/last.log" | paste -sd';' | sed 's/;/; /g')
    md "| $ch${flags[*]:+ ${flags[*]}} | $disk | $label | $([ "$disk" = simulated ] && echo — || echo "$reads") | $rps | $p50 | $p99 | $us | $errs | ${log:-} |"
    progress "  $ch $label: $rps/s, $reads disk READs"
    # A chapter that ignores -D never reaches the disk, not even with -x: say so under the table.
    [ "$label" = misses ] && [ "$reads" = 0 ] &&
        echo "$ch: no read reached the slow disk, not even through \`slowdisk -x\`: in this tree $ch does not read \`-D DIR\` (it reads its own file), so its slowdisk rows measure that file." >>"$WORK/slow-notes"
}
slow_disk() {
    progress "11. the slow disk"
    md "## 11. 06 and 14 on the slow disk: page-cache hits and misses"
    md ""
    md "\`bin/slowdisk MNT\` (tools/slowdisk.c) is a FUSE file system whose reads of MNT/DELAY/PATH take"
    md "DELAY ms, served by one user-space process, here on the client's CPU(s). Each row: a warm-up"
    md "pass over $OBJECTS paths (\`--objects $OBJECTS\`, reads of $SLOW_D ms, not counted), then the measured pass over the"
    md "same paths (\`client --http -c $ZERO_C -n $SLOW_REQUESTS -d $SLOW_D --objects $OBJECTS\`). *Hits*: slowdisk keeps the page"
    md "cache, so the measured pass finds every object cached. *Misses*: \`slowdisk -x\`, direct I/O,"
    md "every read reaches the disk and waits $SLOW_D ms. *Simulated*: no \`-D\`, the chapter's own disk"
    md "(06 sleeps $SLOW_D ms on a worker; 14 reads its own file, cached after the warm-up). *Disk READs* are"
    md "the READ requests slowdisk served in the measured pass (its -v log). A pool gets \`-w $ZERO_C\`, a"
    md "worker per request in flight. FUSE refuses RWF_NOWAIT (preadv2 fails with EOPNOTSUPP), so"
    md "14 sends every read on it to its pool: the log column says what 14 saw. $(where_it_ran)"
    md ""
    if [ ! -x "$BIN/slowdisk" ]; then
        md "Not run: bin/slowdisk is not built (\`make\` builds it)."
        md ""
        return
    fi
    md "| server | disk | pass | disk READs | req/s | p50 ms | p99 ms | server µs per request | errors + timeouts | the server's log |"
    md "|---|---|---|---:|---:|---:|---:|---:|---:|---|"
    local ch n mode
    for n in 06 14; do
        ch=$(chapter_dir $n)
        [ -n "$ch" ] || { note "chapter $n is not built"; continue; }
        slow_row "simulated" simulated "$ch"
        for mode in hits misses; do
            if ! mount_slowdisk $([ $mode = misses ] && echo -x); then
                md ""
                md "Not run: $SLOWDISK_WHY."
                md ""
                return
            fi
            slow_row "$mode" "slowdisk$([ $mode = misses ] && echo ' -x')" "$ch" -D "$MNT"
            unmount_slowdisk
        done
    done
    md ""
    if [ -s "$WORK/slow-notes" ]; then
        cat "$WORK/slow-notes" >>"$BODY"
        md ""
    fi
}

# ---------------------------------------------------------------------------------------------
# 12. select, poll, epoll: what one wait costs with N idle descriptors and one ready.
wait_cost() {
    progress "12. select, poll, epoll"
    md "## 12. select, poll and epoll: one wait with N idle descriptors and one ready"
    md ""
    md "\`bin/wait-cost\` (chapters/03-select/wait_cost.c) opens N idle descriptors (both ends of N/2"
    md "Unix socketpairs) and one with a byte waiting, and times one wait that finds it: the best of 5"
    md "batches of about 20 ms, on CPU $SERVER_CPU. select and poll hand the kernel every descriptor on"
    md "every call and the kernel asks each one; epoll keeps the set and returns what is ready. select"
    md "cannot watch a descriptor at or above FD_SETSIZE (1024), so it has no figure at N = 10,000 (—)."
    md ""
    if [ ! -x "$BIN/wait-cost" ]; then
        md "Not run: bin/wait-cost is not built (\`make bench\` builds it)."
        md ""
        return
    fi
    taskset -c "$SERVER_CPU" "$BIN/wait-cost" >"$WORK/wait-cost" 2>&1
    { echo "wait-cost:"; sed 's/^/  /' "$WORK/wait-cost"; } >>"$RAW"
    md "| N | select µs per wait | poll µs per wait | epoll µs per wait |"
    md "|---:|---:|---:|---:|"
    awk '$1 ~ /^[0-9]+$/ && NF == 4 { printf "| %s | %s | %s | %s |\n", $1, $2 == "-" ? "—" : $2, $3, $4 }
         $1 ~ /^[0-9]+$/ && $2 == "skipped:" { sub(/^[0-9]+ +/, ""); printf "| %s | %s | | |\n", $1, $0 }' \
        "$WORK/wait-cost" >>"$BODY"
    md ""
}

# ---------------------------------------------------------------------------------------------
machine() {
    local cpu mem
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "# Benchmark report"
    echo ""
    echo "Written by \`${BENCH_COMMAND:-scripts/bench.sh}\`$([ "$QUICK" = 0 ] || echo ' (a quick run: fewer, shorter runs)')"
    echo "on $(date -u '+%Y-%m-%d %H:%M UTC'), in one run of $((SECONDS / 60)) min $((SECONDS % 60)) s. Every figure below comes from"
    echo "that run; bench/README.md says how to read it. Servers and client all on 127.0.0.1."
    echo ""
    echo "| cores | CPU | kernel | memory | load average before the run | server CPU | client CPUs | commit |"
    echo "|---|---|---|---|---|---|---|---|"
    echo "| $(nproc) | ${cpu:-unknown} | $(uname -sr) | $mem | $LOAD_BEFORE | $SERVER_CPU | $CLIENT_CPUS | $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (plus any uncommitted changes) |"
    echo ""
    echo "A load average near or above the core count means other work shared the machine: treat"
    echo "the ratios with care, and re-run on a quiet machine."
    echo ""
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SECONDS=0
: >"$BODY"
: >"$RAW"
for section in ${BENCH_SECTIONS:-little zero_delay scale idle_cpu open_vs_closed seeds syscalls trace_cost offload fd_limit slow_disk wait_cost}; do
    started=$SECONDS
    $section
    flush_notes
    # How long each section took, to plan a full run from a quick one.
    echo "section $section took $((SECONDS - started)) s" >>"$WORK/timings"
done
mkdir -p "$(dirname "$OUT")"
{
    machine
    cat "$BODY"
    echo "## Raw output"
    echo ""
    echo "<details><summary>Every client and wrk run of this report, as it printed it</summary>"
    echo ""
    echo '```'
    cat "$WORK/timings"
    cat "$RAW"
    echo '```'
    echo "</details>"
} >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
progress "wrote $OUT ($((SECONDS / 60)) min $((SECONDS % 60)) s)"
