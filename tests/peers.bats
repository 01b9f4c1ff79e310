#!/usr/bin/env bats
# The real systems beside the chapters (peers/README.md), run for real from Debian's packages:
# eventlet (the seed's baseline, Swift's object server model), asyncio and nginx. Each starts like
# a chapter, answers the protocol, refuses bad input without dying and stops cleanly; and each
# shows the lesson for real: a blocking read on the loop times the shared scenario out, the
# thread pool (eventlet's tpool, asyncio.to_thread, nginx's aio threads) does not. A test skips,
# with the reason, where its peer is not installed (make peers installs them) or where there is
# no FUSE for the slow disk (bin/slowdisk, mounted with -x: every read pays its delay).
load helpers
load slowdisk_helpers

# Under SAN=..., skipped: what these tests watch is Python's and nginx's, and the C they run
# beside them, the client, chapter 04 and the slow disk, is tested sanitized in its own files.
setup() {
    MNT=
    ! sanitized || skip "its subjects are eventlet, asyncio and nginx, not our C: the plain run checks them"
}

teardown() {
    stop_server || true # first: it holds files on the mount
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    slowdisk_teardown # harmless when the test mounted nothing
}

# needs_peer NAME: skips the test where peer NAME cannot run here.
needs_peer() {
    local why
    if why=$(peer_missing "$1"); then skip "$why"; fi
}

# wchans PID: "COMM:WCHAN" for each of its threads, one a line: where each waits in the kernel.
wchans() {
    local t
    for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm"):$(cat "$t/wchan" 2>/dev/null)"; done
}

# next_peer NAME [FLAGS...]: stops the running server and its logs, starts peer NAME.
next_peer() {
    stop_server
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    start_peer "$@"
}

# bytes_of REPLY: the BYTES field of a reply line.
bytes_of() { cut -d, -f2 <<<"$1"; }

# answers_protocol: the checks both Python peers pass, started with -T 200 -s 1. The sizes and
# the delay model are the chapters' own: chapter 04 answers the same BYTES for the same path.
answers_protocol() {
    local reply
    reply=$(ask '100,/a\n')
    [[ $reply =~ ^0,[0-9]+,1[0-9][0-9],/a$ ]] || { echo "100,/a got '$reply'" >&2; return 1; }
    [ "$(bytes_of "$reply")" = "$CHAPTER_BYTES_A" ]
    [[ $(ask '1,50,/b\n') =~ ^0,[0-9]+,[0-9]+,/b$ ]]      # the seed's RC,DELAY_MS,PATH
    # A bare PATH: with -s 1 the model's first draw is a read of 146 ms, so RC 0 and ELAPSED from
    # 146 to 200 (more would be past -T 200: RC 1), and the chapter's BYTES.
    reply=$(ask '/c\n')
    if [ "$(cut -d, -f1,2,4 <<<"$reply")" != "$(cut -d, -f1,2,4 <<<"$CHAPTER_REPLY_C")" ] ||
        [ "$(cut -d, -f3 <<<"$reply")" -lt 146 ]; then
        echo "/c got '$reply', 04 '$CHAPTER_REPLY_C'" >&2
        return 1
    fi
    reply=$(ask 'GET /20,/d HTTP/1.1\r\nHost: x\r\n\r\n')
    [[ $reply == "HTTP/1.1 200 OK"*"Connection: close"* ]]
    [[ $reply =~ $'\r\n\r\n'0,[0-9]+,[0-9]+,/d$ ]]
    # Past the deadline (-T 200): RC 1, HTTP 408, and the seed's log line.
    [[ $(ask '300,/late\n') =~ ^1,0,[0-9]+,/late$ ]]
    [[ $(ask 'GET /300,/late408 HTTP/1.1\r\n\r\n') == "HTTP/1.1 408 Request Timeout"* ]]
    grep -q 'timeout (service) /late:' "$SERVER_LOG"
}

# chapter_answers: what chapter 04 answers for /a and /c with -s 1, in CHAPTER_BYTES_A and
# CHAPTER_REPLY_C.
chapter_answers() {
    start_server "$BIN/04-epoll" -s 1
    CHAPTER_BYTES_A=$(bytes_of "$(ask '0,/a\n')")
    CHAPTER_REPLY_C=$(ask '/c\n')
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}

# catches_read_in_fuse loop|pool: starts a 1 s read on the slow disk and, once a thread of the
# peer waits in FUSE for it (request_wait_answer), checks where the others are. "loop": there
# are no others, the one thread is the loop's: the loop is stuck. "pool": the main thread, the
# loop's, waits in epoll_wait, and another thread is in the read.
catches_read_in_fuse() {
    ask "1000,/caught$RANDOM\n" >/dev/null &
    local asker=$! main
    for _ in $(seq 40); do # the read starts when the request is in: 20 ms steps, 800 ms at most
        grep -qx request_wait_answer /proc/"$SERVER_PID"/task/*/wchan 2>/dev/null && break
        nap 0.02
    done
    main=$(cat "/proc/$SERVER_PID/wchan")
    run wchans "$SERVER_PID"
    echo "# during a read: $(sort <<<"$output" | uniq -c | tr -s ' \n' ' ')" >&3
    wait "$asker"
    [ "$(grep -c ':request_wait_answer$' <<<"$output")" -eq 1 ] # one read, one thread in FUSE
    case $1 in
    loop) [ "$main" = request_wait_answer ] && [ "${#lines[@]}" -eq 1 ] ;;
    pool) [ "$main" = do_epoll_wait ] || [ "$main" = ep_poll ] ;;
    esac
}

# --- eventlet: python3-eventlet on /usr/bin/python3 ---------------------------------------------

@test "eventlet: port 0, the line and HTTP forms, the chapters' sizes and delays, RC 1 and 408" {
    needs_peer eventlet
    chapter_answers
    start_peer eventlet -T 200 -s 1
    answers_protocol
}

@test "eventlet: refuses bad input with RC 2 or 400, and goes on serving" {
    needs_peer eventlet
    start_peer eventlet
    survives_bad_input
}

@test "eventlet: SIGTERM stops it at once, exit 0, even while a read blocks the hub" {
    needs_peer eventlet
    start_peer eventlet --blocking-sleep # the hard case: the hub's thread is in the read
    stops_cleanly_mid_read
}

@test "eventlet: the seed's sleep hides the bug (patched, it yields); an unpatched one times out" {
    needs_peer eventlet
    start_peer eventlet # time.sleep, green since monkey_patch: the seed's simulated disk
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
    next_peer eventlet --blocking-sleep # the unpatched sleep: a read that blocks the hub
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ] && [ "$(field errors)" -eq 0 ]'
}

@test "eventlet --tpool: the same unpatched sleep in eventlet's thread pool has no timeouts" {
    needs_peer eventlet
    start_peer eventlet --blocking-sleep --tpool
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
}

@test "eventlet on the slow disk: the real read blocks the hub, its one thread waits in FUSE" {
    needs_peer eventlet
    mount_slowdisk -x
    start_peer eventlet -D "$MNT"
    catches_read_in_fuse loop
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ] && [ "$(field errors)" -eq 0 ]'
}

@test "eventlet --tpool on the slow disk: a pool thread waits in FUSE, the hub in epoll; no timeouts" {
    needs_peer eventlet
    mount_slowdisk -x
    start_peer eventlet -D "$MNT" --tpool
    catches_read_in_fuse pool
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
}

# --- asyncio: the standard library of /usr/bin/python3 ------------------------------------------

@test "asyncio: port 0, the line and HTTP forms, the chapters' sizes and delays, RC 1 and 408" {
    needs_peer asyncio
    chapter_answers
    start_peer asyncio -T 200 -s 1
    answers_protocol
}

@test "asyncio: refuses bad input with RC 2 or 400, and goes on serving" {
    needs_peer asyncio
    start_peer asyncio
    survives_bad_input
}

@test "asyncio: SIGTERM stops it at once, exit 0, even while a read blocks the loop" {
    needs_peer asyncio
    start_peer asyncio
    stops_cleanly_mid_read
    # A read in to_thread's pool cannot be cancelled, and a normal exit would wait for it.
    next_peer asyncio --to-thread
    stops_cleanly_mid_read
}

@test "asyncio: a blocking read in a coroutine times out; asyncio.to_thread does not" {
    needs_peer asyncio
    start_peer asyncio
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ] && [ "$(field errors)" -eq 0 ]'
    next_peer asyncio --to-thread
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
}

@test "asyncio: a blocked loop holds back written replies too: they complete together, not in turn" {
    needs_peer asyncio
    start_peer asyncio
    # Reads that arrive in one turn of the loop run one after another, and each reply is sent
    # as soon as its read ends; but transport.close() only schedules the close for the loop's
    # next turn, and a client has its reply when the server closes. So the replies of one turn
    # complete together, when the last read of the turn ends: a few groups, where a serial
    # server (chapter 01) completes ten replies 300 ms apart.
    client -c 10 -n 10 -d 300 -t 5000 --timeline "$BATS_TEST_TMPDIR/timeline"
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
    local ends groups
    ends=$(awk '!/^#/ { print $3 }' "$BATS_TEST_TMPDIR/timeline" | sort -n | tr '\n' ' ')
    groups=$(tr ' ' '\n' <<<"$ends" | awk 'NF { if (NR == 1 || $1 - last > 100) n++; last = $1 } END { print n }')
    echo "# asyncio, ten 300 ms reads: replies complete at $ends ms: $groups group(s)" >&3
    [ "$groups" -le 3 ]
}

@test "asyncio on the slow disk: the read blocks the loop in FUSE and times out; to_thread does not" {
    needs_peer asyncio
    mount_slowdisk -x
    start_peer asyncio -D "$MNT"
    catches_read_in_fuse loop
    shared_scenario
    check '[ "$status" -eq 1 ] && [ "$(field timeouts)" -ge 5 ] && [ "$(field errors)" -eq 0 ]'
    next_peer asyncio -D "$MNT" --to-thread
    catches_read_in_fuse pool
    shared_scenario
    check '[ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ]'
}

# --- nginx: Debian's nginx, with thread pools ---------------------------------------------------

# get PATH [CURL-FLAGS...]: "STATUS SECONDS" of one GET (STATUS 000: no answer in time).
get() {
    local path=$1
    shift
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$@" "http://127.0.0.1:$PORT$path" || true
}

# nginx_tree: the pids of nginx.sh and everything under it (the master, its workers, the cat of
# its stderr), one a line.
nginx_tree() {
    local pid=$1 child
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid"); do nginx_tree "$child"; done
}

# stops_leaving_nothing [SECONDS]: SIGTERM to nginx.sh; within SECONDS (default 3) it exits 0,
# and no process of its tree and none of its files (the temp dir of config, pid and temp paths)
# is left.
stops_leaving_nothing() {
    local pids dir pid status=0 limit=${1:-3}
    pids=$(nginx_tree "$SERVER_PID")
    [ "$(wc -l <<<"$pids")" -ge 3 ] # nginx.sh, the master, a worker at least
    dir=$(sed -n 's|.*config \(.*\)/nginx.conf$|\1|p' "$SERVER_LOG")
    [ -d "$dir" ]
    kill -TERM "$SERVER_PID"
    for _ in $(seq $((limit * 10))); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "nginx.sh still running $limit s after SIGTERM" >&2
        return 1
    fi
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    [ "$status" -eq 0 ] || { echo "exit status $status" >&2; return 1; }
    for pid in $pids; do
        ! kill -0 "$pid" 2>/dev/null || { echo "left behind: $(ps -o pid=,args= -p "$pid")" >&2; return 1; }
    done
    [ ! -e "$dir" ] || { echo "left behind: $dir" >&2; return 1; }
}

# shared_scenario_in_curl: the shared scenario (scripts/scenarios.bash) as nginx understands it:
# C connections at once from one curl (--parallel-immediate: all connect at the start, as the
# client's do), each GET /D/objI and giving up after T ms. Sets OK, LATE and OTHER.
shared_scenario_in_curl() {
    local c d t i urls=() words
    read -ra words <<<"${SCENARIO_ARGS[shared]}"
    set -- "${words[@]}"
    while [ $# -gt 1 ]; do
        case $1 in -c) c=$2 ;; -d) d=$2 ;; -t) t=$2 ;; esac
        shift 2
    done
    for ((i = 0; i < c; i++)); do urls+=(-o /dev/null "http://127.0.0.1:$PORT/$d/obj$i"); done
    run curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$c" \
        -m "$(printf '%d.%03d' $((t / 1000)) $((t % 1000)))" -w '%{http_code}\n' "${urls[@]}"
    OK=$(grep -c '^200$' <<<"$output" || true)
    LATE=$(grep -c '^000$' <<<"$output" || true)
    OTHER=$((c - OK - LATE))
    echo "# nginx $NGINX_MODE, the shared scenario in curl: ok $OK, timeouts $LATE, other $OTHER" >&3
}

# A plain directory for a root, where there is no FUSE: ROOT/0/a and ROOT/0/obj.d/1.
plain_root() {
    ROOT=$BATS_TEST_TMPDIR/root
    mkdir -p "$ROOT/0/obj.d"
    echo a >"$ROOT/0/a"
    echo one >"$ROOT/0/obj.d/1"
}

@test "nginx: each mode answers HTTP on a free port, the protocol's /DELAY_MS,PATH too; stops leaving nothing" {
    needs_peer nginx
    plain_root
    for NGINX_MODE in aio-off aio-threads per-disk; do
        next_peer nginx -m "$NGINX_MODE" -d 0 -D "$ROOT"
        [ "$(curl -s "http://127.0.0.1:$PORT/0/a")" = a ]
        [ "$(curl -s "http://127.0.0.1:$PORT/0,/obj/1")" = one ] # read from ROOT/0/obj.d/1
        [[ $(get /0/none) == "404 "* ]]
        stops_leaving_nothing
    done
}

@test "nginx: refuses the line form and bad HTTP with 400, and goes on serving" {
    needs_peer nginx
    plain_root
    start_peer nginx -D "$ROOT"
    local input reply
    for input in '100,/a\n' '\001\002\377,/a\n' 'POST /0/a HTTP/1.1\r\n\r\n' 'GET / HTTP/1.1\r\n\r\n' \
        "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n"; do
        reply=$(ask "$input")
        [[ $reply =~ ^HTTP/1.1\ (400|414)\  ]] || { echo "'$input' got '${reply:0:80}'" >&2; return 1; }
        [[ $(get /0/a) == "200 "* ]]
    done
    kill -0 "$SERVER_PID"
}

# fast_behind_slow N FAST-PATH: N reads of 2000 ms go first, and once nginx's threads wait in
# FUSE for all N, FAST-PATH; sets FAST to the fast read's "STATUS SECONDS". The slow reads are
# not waited for.
fast_behind_slow() {
    local i pids=() in_fuse
    for ((i = 0; i < $1; i++)); do
        get "/2000/slow$i" -m 10 >/dev/null &
        pids+=($!)
    done
    local master workers
    master=$(pgrep -P "$SERVER_PID" -x nginx)
    workers=$(pgrep -P "$master" | sed 's|.*|/proc/&/task/*/wchan|')
    for _ in $(seq 50); do # 20 ms steps, 1 s at most
        # shellcheck disable=SC2086 # the globs are meant to expand
        in_fuse=$(grep -lx request_wait_answer $workers 2>/dev/null | wc -l)
        [ "$in_fuse" -ge "$1" ] && break
        nap 0.02
    done
    [ "$in_fuse" -ge "$1" ] || { echo "after 1 s, $in_fuse of the $1 slow reads had started" >&2; return 1; }
    FAST=$(get "$2" -m 10)
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}

@test "nginx aio off on the slow disk: a slow read holds the one worker, a fast one waits; aio threads: it does not" {
    needs_peer nginx
    mount_slowdisk -x
    for NGINX_MODE in aio-off aio-threads; do
        next_peer nginx -m "$NGINX_MODE" -w 1 -D "$MNT"
        fast_behind_slow 1 /0/fast
        echo "# nginx $NGINX_MODE, one worker: a 0 ms read during a 2000 ms one: $FAST" >&3
        [[ $FAST == "200 "* ]]
        if [ "$NGINX_MODE" = aio-off ]; then
            above 1.0 "${FAST#* }" # it waited for the worker to finish the slow read
            # nginx reads the clock once per turn of its loop, and the 2 s read was all one
            # turn: its own access log says it took no time at all.
            grep -q '^200 0.000s /2000/slow0$' "$SERVER_LOG"
        else
            below 1.0 "${FAST#* }"
        fi
    done
}

@test "nginx on the slow disk: the shared scenario times out with aio off, not with aio threads" {
    needs_peer nginx
    mount_slowdisk -x
    NGINX_MODE=aio-off
    start_peer nginx -m aio-off -D "$MNT"
    shared_scenario_in_curl
    [ "$LATE" -ge 5 ]
    [ "$OTHER" -eq 0 ]
    NGINX_MODE=aio-threads
    next_peer nginx -m aio-threads -D "$MNT"
    shared_scenario_in_curl
    [ "$OK" -eq 10 ]
    # bin/client sees the same, judging nginx's replies (the file itself) by their status.
    # shellcheck disable=SC2086 # the scenario's arguments are words
    client ${SCENARIO_ARGS[shared]} --status-only
    [ "$status" -eq 0 ] && [ "$(field ok)" -eq 10 ] && [ "$(field bad_replies)" -eq 0 ]
}

@test "nginx per-disk: a dying disk fills its own pool; the healthy disk's reads stay fast" {
    needs_peer nginx
    mount_slowdisk -x
    # Pools of two threads, and two 2 s reads on the dying disk (2000/) to fill them.
    for NGINX_MODE in aio-threads per-disk; do
        next_peer nginx -m "$NGINX_MODE" -t 2 -d "2000 50" -D "$MNT"
        fast_behind_slow 2 /50/healthy
        echo "# nginx $NGINX_MODE, pools of 2: a 50 ms read during two 2000 ms ones: $FAST" >&3
        [[ $FAST == "200 "* ]]
        if [ "$NGINX_MODE" = aio-threads ]; then
            above 1.0 "${FAST#* }" # one shared pool: it waited for a thread
        else
            below 1.0 "${FAST#* }"
        fi
    done
}

@test "nginx stopped mid-read: the worker stuck behind the read dies by its master's SIGKILL; nothing left" {
    needs_peer nginx
    mount_slowdisk -x
    local reader
    # aio off: the master says "terminate" through a socket that the worker's loop, stuck in the
    # read, never reads. aio threads: the worker hears it, but before it exits it must hand each
    # pool thread an exit task, and spins until the thread in the read takes one. Either way the
    # master waits about 3 s, then kills the worker with SIGKILL.
    for NGINX_MODE in aio-off aio-threads; do
        next_peer nginx -m "$NGINX_MODE" -D "$MNT"
        get /10000/stuck -m 15 >/dev/null &
        reader=$!
        sleep 0.5
        stops_leaving_nothing 8
        grep -q 'worker process [0-9]* exited on signal 9' "$SERVER_LOG"
        kill "$reader" 2>/dev/null || true
        wait "$reader" || true
    done
}

