#!/usr/bin/env bash
# bench.sh: what `make bench` runs. Measures every chapter side by side, in one run, on this
# machine, and writes a Markdown report (bench/REPORT.md; BENCH_QUICK=1 writes a smaller, faster
# bench/REPORT-quick.md). Every figure in the report comes from the run that wrote it: the fixed
# text explains how to read the tables and never quotes a measured number. Sections:
#   1 Little's law (04, 06; 01, 05 serial)   2 zero-delay req/s, each chapter / nginx, wrk check
#   3 10,000 waiting requests (04 06 07 09)  4 CPU while idle-waiting   5 closed vs open loop (05)
#   6 the seeds' own numbers, quoted
# BENCH_SECTIONS="idle_cpu seeds" runs only those sections (the function names below).
# Needs nginx and wrk (mk/bench.mk installs them). Chapters are found in chapters/, so a chapter
# that is not written yet is skipped with a note.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash

BIN=${BIN_DIR:-bin}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && OUT=${BENCH_OUT:-bench/REPORT.md} || OUT=${BENCH_OUT:-bench/REPORT-quick.md}
if [ "$QUICK" = 0 ]; then
    LITTLE_NS="10 100 1000" LITTLE_SECONDS=2 ZERO_REQUESTS=10000 ZERO_ROUNDS=3 WRK_SECONDS=3
    SCALE_N=10000 LITTLE_MAX=10000 ZERO_SECONDS=2
else
    LITTLE_NS="10 100" LITTLE_SECONDS=1 ZERO_REQUESTS=3000 ZERO_ROUNDS=1 WRK_SECONDS=1
    SCALE_N=1000 LITTLE_MAX=2000 ZERO_SECONDS=1
fi
D=50             # Little's law: every read takes D ms
ZERO_WARMUP=200  # zero-delay: requests in the warm-up run that sizes each server's runs
ZERO_C=50        # zero-delay runs: requests in flight at once, for every server alike
SCALE_DELAY=1000 # the scale run: each of SCALE_N requests waits this long
MAX_WORKERS=1024 # -w's upper limit (common/utils.c)
# Zero-delay runs use each server's defaults; these variants (NN:FLAGS, a space in FLAGS as ,) run
# too: seed 004's "process" and "process pool" rows, and 13 with a loop per core.
ZERO_VARIANTS="08:-m,fork 08:-m,prefork 13:-j,$(nproc)"

for tool in nginx wrk; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing: run 'make bench'" >&2; exit 1; }
done
[ -x "$BIN/client" ] || { echo "bench: no $BIN/client: run 'make bench'" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
RAW=$WORK/raw.txt  # every client and wrk output, appended to the report
BODY=$WORK/body.md # the report's sections, written as they are measured
NGINX_DIR=
cleanup() {
    stop_server
    stop_sampler
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

say() { printf '%s\n' "$*" >&2; }
md() { printf '%s\n' "$*" >>"$BODY"; }
# flush_notes: what a section skipped, at its end.
flush_notes() {
    [ -s "$WORK/notes" ] || return 0
    md "Skipped in this section:"
    cat "$WORK/notes" >>"$BODY"
    md ""
    rm -f "$WORK/notes"
}
calc() { awk "BEGIN { printf $1 }"; } # calc '"%.2f", 1 / 3'

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

# start CHAPTER [FLAGS...] / stop: a chapter's server on port 0 (scripts/server.bash), noted in the
# report when it will not start; stop also removes its output files.
start() {
    start_server "$BIN/$1" "${@:2}" 2>>"$WORK/start-errors" && return 0
    echo "- \`$1 ${*:2}\` did not start: $(tail -1 "$WORK/start-errors")" >>"$WORK/notes"
    return 1
}
stop() {
    stop_server
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
}

# tcp_counter NAME: a TcpExt counter from /proc/net/netstat (machine-wide), e.g. ListenOverflows.
tcp_counter() {
    awk -v name="$1" '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
                                   else print $col[name] }' /proc/net/netstat
}

# A background sampler: /proc tells only the current thread count and kernel stack memory, so
# sample them every 20 ms and keep the peaks in $WORK/threads.max and $WORK/kstack.max.
SAMPLER_PID=
start_sampler() {
    echo 0 >"$WORK/threads.max"
    proc_field /proc/meminfo KernelStack >"$WORK/kstack.max"
    (
        max=0 kmax=$(cat "$WORK/kstack.max")
        while [ ! -e "$WORK/sampler.stop" ]; do
            t=$(status_field "$1" Threads 2>/dev/null) || break
            k=$(proc_field /proc/meminfo KernelStack)
            [ "${t:-0}" -gt "$max" ] && { max=$t; echo "$max" >"$WORK/threads.max"; }
            [ "${k:-0}" -gt "$kmax" ] && { kmax=$k; echo "$kmax" >"$WORK/kstack.max"; }
            sleep 0.02
        done
    ) &
    SAMPLER_PID=$!
}
stop_sampler() {
    [ -n "$SAMPLER_PID" ] || return 0
    touch "$WORK/sampler.stop"
    wait "$SAMPLER_PID" 2>/dev/null
    SAMPLER_PID=
    rm -f "$WORK/sampler.stop"
}

# measure LABEL CLIENT-ARGS...: one client run against the running server ($PORT, $SERVER_PID).
# Sets J (its JSON line), WALL (s), CCPU (client CPU s), SCPU (server CPU s, over the same WALL)
# and TL (timeline).
TL=$WORK/timeline
measure() {
    local label=$1 c0 c1 t
    shift
    cpu_window_start "$SERVER_PID"
    {
        TIMEFORMAT='%R %U %S'
        time "$BIN/client" -p "$PORT" --json -q --timeline "$TL" "$@" >"$WORK/json" 2>"$WORK/err"
    } 2>"$WORK/time"
    cpu_window_end "$SERVER_PID"
    J=$(grep '^{' "$WORK/json")
    read -r _ t CCPU <"$WORK/time"
    CCPU=$(calc "\"%.2f\", $t + $CCPU")
    # The server's CPU over the window it was sampled in, and that window's wall time.
    SCPU=$CPU_S WALL=$WALL_S
    printf '%s: client %s\n  %s\n  client CPU %s s, server CPU %s s, wall %s s\n' \
        "$label" "$*" "$J" "$CCPU" "$SCPU" "$WALL" >>"$RAW"
    [ -n "$J" ] || { J='{}'; say "  $label: the client printed no summary: $(head -3 "$WORK/err")"; }
}
jf() { printf '%s\n' "$J" | json_field "$1"; }

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
    mkdir -p "$NGINX_DIR/tmp"
    chmod 755 "$WORK" "$NGINX_DIR"
    printf '0,1,0,/x\n' >"$NGINX_DIR/reply.txt" # a reply line the client accepts: RC 0, 1 byte
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
    say "bench: nginx would not start: $(tail -2 "$NGINX_DIR/error.log")"
    return 1
}

# ---------------------------------------------------------------------------------------------
# 1. Little's law: N requests in flight, each D ms, can finish at most N/D per second.
little() {
    say "1. Little's law"
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
    md "$MAX_WORKERS, the flag's limit), so no request waits for a worker."
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
            say "  $ch N=$n: closed $r1/s p99 $q1; open (req/s | ÷ bound) $r2, p99 − D $q2"
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
        say "  $ch N=$n: $r1/s"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 2. Zero-delay connection-per-request throughput, every chapter and nginx, one client.
# Each server is measured ZERO_ROUNDS times, in rounds (every server once, then again), so a
# burst of other load on the machine lands on all of them rather than on one; the table shows
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
zero_delay() {
    say "2. zero-delay throughput ($ZERO_ROUNDS rounds)"
    local round line i=0 servers=() counts=()
    mapfile -t servers < <(zero_servers)
    mkdir -p "$WORK/zero"
    for round in $(seq "$ZERO_ROUNDS"); do
        for i in "${!servers[@]}"; do
            line=${servers[$i]}
            [ "$round" = 1 ] || [ -n "${counts[i]:-}" ] || continue # it did not start before
            if [ "$line" = nginx ]; then start_nginx; else start $line; fi || continue
            # The first round starts with a warm-up run whose rate sets the server's request
            # count: about ZERO_SECONDS of work, so fork-per-connection does not take minutes.
            if [ "$round" = 1 ]; then
                measure "zero warm-up ${line}" --http -c $ZERO_C -n $ZERO_WARMUP -d 0
                counts[i]=$(calc "\"%d\", ($(jf rps) * $ZERO_SECONDS)")
                [ "${counts[i]}" -gt "$ZERO_REQUESTS" ] && counts[i]=$ZERO_REQUESTS
                [ "${counts[i]}" -lt "$ZERO_WARMUP" ] && counts[i]=$ZERO_WARMUP
            fi
            measure "zero round $round ${line}" --http -c $ZERO_C -n "${counts[i]}" -d 0
            [ "$line" = nginx ] && stop_server || stop
            # rps ok errors timeouts client-CPU/s server-CPU/s p99 server-CPU-us-per-request (0: none ok)
            echo "$(jf rps) $(jf ok) $(jf errors) $(jf timeouts) $(calc "\"%.2f\", $CCPU / $WALL") $(calc "\"%.2f\", $SCPU / $WALL") $(jf p99_ms) $(calc "\"%.1f\", ($(jf ok) > 0 ? $SCPU * 1000000 / $(jf ok) : 0)")" >>"$WORK/zero/$i"
            say "  round $round $line: $(jf rps)/s"
        done
    done
    # median COLUMN < rows: the median of one column (the lower middle for an even count).
    median() { sort -g -k"$1,$1" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }
    local ref ref_us
    ref=$(median 1 <"$WORK/zero/0" 2>/dev/null)
    ref_us=$(median 8 <"$WORK/zero/0" 2>/dev/null)
    [ -n "$ref" ] || { echo "- nginx did not run, so there is no ratio" >>"$WORK/notes"; ref=0; ref_us=0; }

    md "## 2. Zero-delay requests per second, each chapter against nginx"
    md ""
    md "The seed 004 experiment in C: every request asks for a 0 ms read, over a new connection (HTTP,"
    md "\`Connection: close\`), $ZERO_C in flight at once, the same client (\`client --http -c $ZERO_C"
    md "-n COUNT -d 0\`) for every server, each with its default"
    md "flags, plus a few variants named in the first column. nginx $(nginx -v 2>&1 | sed 's/.*\///') serves"
    md "one tiny static file with one worker process, no access log and \`keepalive_timeout 0\` (a"
    md "connection per request, like the chapters). This measures the cost of accept, read, parse,"
    md "reply and close: a model's overhead, not its waiting. A warm-up run of $ZERO_WARMUP requests sets"
    md "each server's COUNT to about ${ZERO_SECONDS} s of its work ($ZERO_WARMUP to $ZERO_REQUESTS). Then each server"
    md "ran $ZERO_ROUNDS time(s), in rounds (every server once, then again), so a burst of other load lands"
    md "on all of them alike; the figures are medians, *range* the lowest and highest req/s."
    md "*÷ nginx* divides medians. CPU columns are CPU seconds per wall second (1.00 = one core)."
    md ""
    md "*Server µs per request* is the server's CPU time (all its threads and processes) divided by"
    md "the requests it answered: what the model costs, whoever was the bottleneck."
    md ""
    md "| server | COUNT | req/s | ÷ nginx | range req/s | client CPU | server CPU | server µs per request | nginx's µs ÷ this | p99 ms | errors + timeouts |"
    md "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local client_bound=()
    for i in "${!servers[@]}"; do
        [ -s "$WORK/zero/$i" ] || continue
        local f=$WORK/zero/$i rps us ccpu
        rps=$(median 1 <"$f")
        us=$(median 8 <"$f")
        ccpu=$(median 5 <"$f")
        [ "$(calc "\"%d\", ($ccpu >= 0.9)")" = 1 ] && client_bound+=("${servers[$i]}")
        md "| ${servers[$i]} | ${counts[i]} | $rps | $(calc "\"%.2f\", ($ref != 0 ? $rps / $ref : 0)") | $(sort -g "$f" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }') | $ccpu | $(median 6 <"$f") | $us | $(calc "\"%.2f\", ($us != 0 ? $ref_us / $us : 0)") | $(median 7 <"$f") | $(awk '{ s += $3 + $4 } END { print s }' "$f") |"
    done
    md ""
    md "Is the load client the bottleneck? It is one thread, so it is when its CPU column is near"
    md "1.00. The machine has $(nproc) cores, shared by the client and the server."
    if [ ${#client_bound[@]} -gt 0 ]; then
        md "In this run the client used 0.90 of a core or more against: $(printf '%s, ' "${client_bound[@]}" | sed 's/, $//')."
        md "For those, req/s measures the client as much as the server: their *÷ nginx* is a lower"
        md "bound, and *nginx's µs ÷ this* (higher is cheaper; it does not depend on who was the"
        md "bottleneck) is the fairer comparison. wrk, below, is no faster a client on this machine."
    else
        md "In this run the client stayed under 0.90 of a core against every server."
    fi
    md ""
    wrk_check
}

# wrk on chapter 04 and on nginx: a second, independent client. It keeps connections alive when
# the server allows it; both servers here close after each reply, so wrk reconnects each time.
wrk_check() {
    say "  wrk cross-check"
    md "Cross-check with wrk ($(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')), an independent load generator:"
    md "\`wrk -t1 -c$ZERO_C -d${WRK_SECONDS}s\`, same servers, one at a time. wrk counts a reply as a"
    md "request; its socket errors (if any) are quoted as it printed them."
    md ""
    md "| server | our client req/s | wrk req/s | wrk ÷ ours | wrk CPU | wrk's error line |"
    md "|---|---:|---:|---:|---:|---:|"
    local name ours out wrps errs t u s
    for name in $(chapter_dir 04) nginx; do
        if [ "$name" = nginx ]; then start_nginx || continue; else start "$name" || continue; fi
        measure "wrk-ours $name" --http -c $ZERO_C -n $ZERO_REQUESTS -d 0
        ours=$(jf rps)
        {
            TIMEFORMAT='%R %U %S'
            time wrk -t1 -c$ZERO_C -d${WRK_SECONDS}s "http://127.0.0.1:$PORT/0,/obj/1" >"$WORK/wrk" 2>&1
        } 2>"$WORK/time"
        stop
        read -r t u s <"$WORK/time"
        { echo "wrk $name:"; sed 's/^/  /' "$WORK/wrk"; } >>"$RAW"
        wrps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk")
        errs=$(grep -E 'Socket errors|Non-2xx' "$WORK/wrk" | tr -s ' ' | paste -sd';')
        md "| $name | $ours | ${wrps:-?} | $(calc "\"%.2f\", ${wrps:-0} / $ours") | $(calc "\"%.2f\", ($u + $s) / $t") | ${errs:-none} |"
        say "  $name: ours $ours/s, wrk ${wrps:-?}/s"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 3. Scale: SCALE_N requests of 1 s in flight at once. What does each waiting request cost?
scale() {
    say "3. scale: $SCALE_N waiting requests"
    md "## 3. $SCALE_N requests waiting 1 s at once: what each waiting request costs"
    md ""
    md "Seed 003 (Portante, *Demystifying Non-blocking and Asynchronous I/O*, PyCon 2010) on why event"
    md "loops win: \"The primary reason is memory usage ... Blocking I/O requires one thread of"
    md "execution for each FD\". Here \`client -c $SCALE_N -n $SCALE_N -d $SCALE_DELAY\` (client timeout"
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
    md "1 s is mostly the time to open $SCALE_N connections at once."
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
        measure "scale $ch" -c "$SCALE_N" -n "$SCALE_N" -d $SCALE_DELAY
        stop_sampler
        hwm=$(status_field "$SERVER_PID" VmHWM)
        threads=$(cat "$WORK/threads.max")
        kstack=$(( $(cat "$WORK/kstack.max") - kstack0 ))
        overflows=$(( $(tcp_counter ListenOverflows) - overflows0 ))
        stop
        md "| $ch${flags[*]:+ ${flags[*]}} | $(jf ok) | $(jf timeouts) | $(jf errors) | $(jf p50_ms) | $(jf p99_ms) | $(calc "\"%.1f\", $hwm / 1024") | $(calc "\"%.1f\", ($hwm - $rss0) / $SCALE_N") | $threads | $(calc "\"%.1f\", $kstack / 1024") | $SCPU | $CCPU | $WALL | $overflows |"
        say "  $ch: ok $(jf ok), VmHWM $hwm kB, threads $threads"
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
    say "4. CPU while idle-waiting"
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
        say "  $ch: $SCPU s in $WALL s"
    done
    md ""
}

# ---------------------------------------------------------------------------------------------
# 5. Coordinated omission: a closed-loop client stops sending while the server stalls.
open_vs_closed() {
    local ch
    ch=$(chapter_dir 05)
    [ -n "$ch" ] || return
    say "5. closed vs open loop on $ch"
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
    echo "| cores | CPU | kernel | memory | load average before the run | commit |"
    echo "|---|---|---|---|---|---|"
    echo "| $(nproc) | ${cpu:-unknown} | $(uname -sr) | $mem | $LOAD_BEFORE | $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (plus any uncommitted changes) |"
    echo ""
    echo "A load average near or above the core count means other work shared the machine: treat"
    echo "the ratios with care, and re-run on a quiet machine."
    echo ""
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SECONDS=0
: >"$BODY"
: >"$RAW"
for section in ${BENCH_SECTIONS:-little zero_delay scale idle_cpu open_vs_closed seeds}; do
    $section
    flush_notes
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
    cat "$RAW"
    echo '```'
    echo "</details>"
} >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
say "wrote $OUT ($((SECONDS / 60)) min $((SECONDS % 60)) s)"
