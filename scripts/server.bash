# Shell helpers shared by the demos (scripts/demo.sh) and the tests (tests/helpers.bash).
# Source it by a path (scripts/server.bash, "$ROOT/scripts/server.bash"); it defines functions.
#
# The polls below run thousands of times in make test, and every process costs: a fork of the
# test's bash is 5-7 ms of CPU on a small VM, more than the check it does. So they use bash's
# own loops, reads and tests, and wait with nap rather than sleep.
source "${BASH_SOURCE[0]%/*}/proc.bash"

# nap SECONDS: a sleep that a trapped signal cuts short (its trap runs as soon as wait returns,
# not when the sleep ends). In the tests, where nothing traps signals and a fork is the cost
# (tests/helpers.bash sets NAP_BY_READ=1), a read that times out on a pipe nobody writes sleeps
# with no process at all. Never in a script that traps signals: a trap that runs inside read -t
# can be abandoned half-way (bash 5.2: 4 of 30 SIGTERMs to disk-demo.sh began its cleanup, and
# then the script went on).
NAP_FD=
nap() {
    if [ -n "${NAP_BY_READ:-}" ]; then
        nap_open
        read -r -t "$1" -u "$NAP_FD" || true
    else
        sleep "$1" &
        wait $!
    fi
}
# nap_open: opens nap's pipe, held read-write so that it never ends. Bash cannot mark it
# close-on-exec, so start_server closes it for the server: a server's descriptors are its own.
nap_open() {
    [ -n "$NAP_FD" ] || exec {NAP_FD}<> <(:)
}

# say TEXT...: a heading in a demo's output, after a blank line; bold on a terminal, plain in a
# pipe or a file (make docs pastes it into a README, where an escape would show).
say() {
    if [ -t 1 ]; then printf '\n\033[1m%s\033[0m\n' "$*"; else printf '\n%s\n' "$*"; fi
}

# clean_up_on_signals MESSAGE: the caller's cleanup() runs when the script exits; on Ctrl-C,
# SIGTERM or SIGHUP it prints "MESSAGE" (what is being stopped), cleans up once (a second Ctrl-C
# does not cut it short) and exits with the shell's conventional status, 128 + the signal's
# number. The demos, the disk demo and the Swift lab each start servers, clients or a mount.
clean_up_on_signals() {
    CLEAN_UP_MESSAGE=$1
    trap cleanup EXIT
    trap 'interrupted 130' INT
    trap 'interrupted 143' TERM
    trap 'interrupted 129' HUP
}
# shellcheck disable=SC2317 # clean_up_on_signals's traps call it
interrupted() {
    trap '' INT TERM HUP
    echo "$CLEAN_UP_MESSAGE" >&2
    CLEANING_UP_AFTER_SIGNAL=1 # wait_child: no wait for a child that is gone
    cleanup
    trap - EXIT
    exit "$1"
}

# wait_for_line PID FILE PATTERN [SECONDS]: waits up to SECONDS (10) for a line of FILE (a
# process's stdout) to match the extended regex PATTERN. Returns 0 when one does, 1 when PID
# exited first, 2 when the time ran out. Empty FILE before PID starts: its shell opens it only
# after the fork, and a line an earlier process left there would count. A line counts once its
# newline is written: a writer may write a line in pieces (Python with PYTHONUNBUFFERED=1 writes
# print's text, then its newline), and a piece may match too soon, a port cut short, or be
# found here and not by whoever reads the file next.
wait_for_line() {
    local i line
    for ((i = 0; i < ${4:-10} * 20; i++)); do
        [ -e "$2" ] && while IFS= read -r line; do
            [[ $line =~ $3 ]] && return 0
        done <"$2"
        kill -0 "$1" 2>/dev/null || return 1
        nap 0.05
    done
    return 2
}

# stop_process PID: SIGTERM, up to 5 s for a clean exit, then SIGKILL. Returns its exit status
# (137 if it had to be killed). Sets STOP_FOUND_ENDED=1 when PID had ended before the SIGTERM
# (a crash, not a stop), STOP_KILLED=1 when it had to be killed.
stop_process() {
    local status=0 i
    STOP_FOUND_ENDED=0 STOP_KILLED=0
    process_ended "$1" && STOP_FOUND_ENDED=1
    kill -TERM "$1" 2>/dev/null || true
    # Ended, not gone: a child that has exited and is not reaped yet is a zombie, which kill -0
    # still finds; it needs no SIGKILL, only the wait below.
    for ((i = 0; i < 100; i++)); do
        process_ended "$1" && break
        nap 0.05
    done
    process_ended "$1" || { kill -KILL "$1" 2>/dev/null && STOP_KILLED=1; }
    wait_child "$1" || status=$?
    return $status
}

# wait_child PID: wait PID, except in the cleanup after a trapped signal (a trap that runs it sets
# CLEANING_UP_AFTER_SIGNAL=1) for a child already gone from /proc. Such a child may be lost to
# bash, not just reaped: bash 5.2 jumps out of a wait that the signal interrupts, and a child its
# waitpid reaped in that instant is never marked done. A wait for it blocks until another child
# ends: disk-demo.sh's cleanup waited so for its nap's sleep, with slowdisk still running, one
# SIGTERM in tens. Its status is no use there: the script is about to exit.
wait_child() {
    [ -n "${CLEANING_UP_AFTER_SIGNAL:-}" ] && [ ! -e "/proc/$1" ] && return 0
    wait "$1" 2>/dev/null
}

# "${CTRL_C_ENDS[@]}" COMMAND... &: a background job that a Ctrl-C ends, as it ends the script.
# A script's job ignores SIGINT (no job control: POSIX), so a client would run on after a Ctrl-C,
# which the terminal sends to the whole process group, and the server that the same Ctrl-C stops
# would end its run while the cleanup stops it. A sanitized client killed during its exit's leak
# check leaves LeakSanitizer's tracer, a child named as it is, orphaned: a zombie of the session
# until pid 1 reaps it, which this VM's does late (disk-demo.sh's Ctrl-C test, 2 runs in 100).
CTRL_C_ENDS=(env --default-signal=INT)

# stop_jobs_except PID...: stop_process for each background job of this shell but the PIDs, all
# sent SIGTERM at once first. A script's cleanup stops its clients (and tracers, samplers) so,
# before its server, whose stop would end a client's run: the SIGTERM must find it running, not
# exiting (above).
stop_jobs_except() {
    local keep=" $* " pid others=()
    for pid in $(jobs -p); do [[ $keep == *" $pid "* ]] || others+=("$pid"); done
    for pid in "${others[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${others[@]}"; do stop_process "$pid" || true; done
}

# hold_pages FILE: keeps those of FILE's pages that are in the page cache now there until
# release_pages: "$BIN/hold-pages" maps them, one process a file (their pids in HOLD_PIDS), its
# line in "$HOLD_DIR". The kernel may drop a page nothing maps at any moment (this VM's DAMON
# does: tests/tools/hold-pages.c), and a read that must be a hit, in a test or a figure, must not
# depend on it.
HOLD_PIDS=()
hold_pages() {
    local out=${HOLD_DIR:?hold_pages: HOLD_DIR is not set}/hold.${#HOLD_PIDS[@]}
    : >"$out"
    "$BIN/hold-pages" "$1" >"$out" 3>&- &
    HOLD_PIDS+=("$!")
    wait_for_line "$!" "$out" '^holding [0-9]+ of [0-9]+ pages$'
}
release_pages() {
    local pid
    for pid in "${HOLD_PIDS[@]}"; do stop_process "$pid"; done
    HOLD_PIDS=()
}

# process_ended PID: true when PID is gone or a zombie (it ended, and is not reaped yet).
process_ended() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
    stat=${stat##*) } # the state follows the command's name, which may hold spaces
    [ "${stat%% *}" = Z ]
}

# status_in_words STATUS: how a process ended, from the status wait gave: "died of SIGSEGV" for
# 128 + a signal's number, "exited with status N" otherwise.
status_in_words() {
    local sig
    if [ "$1" -gt 128 ] && sig=$(kill -l "$(($1 - 128))" 2>/dev/null); then
        echo "died of SIG$sig"
    else
        echo "exited with status $1"
    fi
}

# note_server_fate WORDS: with SERVER_FATE set to a file (make exercise-N sets it), appends
# WORDS, how a server ended badly, and the last lines of its log ("| " before each), so that
# a verdict can name a crash that the test itself only saw as replies that never came.
note_server_fate() {
    [ -n "${SERVER_FATE:-}" ] || return 0
    {
        echo "$1"
        [ -s "${SERVER_LOG:-}" ] && tail -n 5 "$SERVER_LOG" | sed 's/^/| /'
    } >>"$SERVER_FATE"
}

# start_server BINARY [FLAGS...]
# Starts a server on port 0 in the background and waits for its "listening on HOST:PORT" line,
# START_SECONDS (10) at most. Sets SERVER_PID, PORT, SERVER_LOG (its stderr) and SERVER_OUT (its
# stdout). The server runs under bin/loopwatch when WATCHED_BY holds its command line
# (start_watched sets it), or, with LOOP_STRICT=1 in the environment, under `bin/loopwatch -S`
# (appendix A1).
start_server() {
    local bin=$1
    shift
    SERVER_OUT=$(mktemp "${TMPDIR:-/tmp}/server-out.XXXXXX")
    SERVER_LOG=$(mktemp "${TMPDIR:-/tmp}/server-log.XXXXXX")
    local watched_by=("${WATCHED_BY[@]}")
    if [ ${#watched_by[@]} -eq 0 ] && [ "${LOOP_STRICT:-}" = 1 ]; then
        watched_by=("${LOOPWATCH:-$(dirname "$bin")/loopwatch}" -S --)
    fi
    # 3>&- : bats waits for every process holding its fd 3; a server must not inherit it.
    nap_open
    "${watched_by[@]}" "$bin" -p 0 "$@" >"$SERVER_OUT" 2>"$SERVER_LOG" 3>&- {NAP_FD}>&- &
    SERVER_PID=$!
    local status=0
    wait_for_line "$SERVER_PID" "$SERVER_OUT" '^listening on .*:[0-9]+$' "${START_SECONDS:-10}" || status=$?
    PORT=
    local line
    while IFS= read -r line; do
        [[ $line =~ ^listening\ on\ .*:([0-9]+)$ ]] && PORT=${BASH_REMATCH[1]}
    done <"$SERVER_OUT"
    [ "$status" -eq 0 ] && return 0
    if [ "$status" -eq 1 ]; then
        # Reaped here, so that its status can be told: a crash leaves no line in its log.
        status=0
        wait "$SERVER_PID" 2>/dev/null || status=$?
        SERVER_PID=
        echo "server $bin $(status_in_words "$status") before listening; its log:" >&2
        cat "$SERVER_LOG" >&2
        note_server_fate "$(status_in_words "$status") before listening"
    else
        echo "server $bin printed no 'listening on' line in ${START_SECONDS:-10} s" >&2
        note_server_fate "printed no 'listening on' line in ${START_SECONDS:-10} s"
    fi
    return 1
}

# start_watched [LOOPWATCH FLAGS...] -- BINARY [FLAGS...]: start_server under bin/loopwatch
# ($LOOPWATCH, else the one beside BINARY), which keeps the server's pid and adds its reports to
# SERVER_LOG.
WATCHED_BY=()
start_watched() {
    local flags=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        flags+=("$1")
        shift
    done
    shift
    WATCHED_BY=("${LOOPWATCH:-$(dirname "$1")/loopwatch}" "${flags[@]}" --)
    local status=0
    start_server "$@" || status=$?
    WATCHED_BY=()
    return $status
}

# stop_server: stop_process for the server. Safe to call twice.
stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    local pid=$SERVER_PID status=0
    SERVER_PID=
    stop_process "$pid" || status=$?
    if [ "$STOP_FOUND_ENDED" = 1 ] && [ "$status" -ne 0 ]; then
        note_server_fate "$(status_in_words "$status") before it was stopped"
    elif [ "$STOP_KILLED" = 1 ]; then
        note_server_fate "did not stop within 5 s of SIGTERM: killed"
    elif [ "$status" -ne 0 ]; then
        note_server_fate "$(status_in_words "$status") when stopped with SIGTERM"
    fi
    return $status
}

# trace_settled FILE: waits, 10 s at most, until a server's event trace (-E FILE) has a "closed"
# for every "accepted" and has not grown for 0.5 s: the reads the clients stopped waiting for
# are in it too. Its size alone cannot tell: a loop writes its events when its turn ends, so a
# loop blocked for seconds (chapter 05) leaves the file still for as long.
trace_settled() {
    local size=-1 now i
    for ((i = 1; i <= 100; i++)); do
        if [ $((i % 5)) -eq 0 ]; then
            now=$(stat -c %s "$1")
            [ "$now" = "$size" ] &&
                [ "$(grep -c '"event":"closed"' "$1")" -ge "$(grep -c '"event":"accepted"' "$1")" ] &&
                return 0
            size=$now
        fi
        nap 0.1
    done
    return 1
}

# json_field NAME: reads one JSON object line on stdin, prints the numeric field NAME.
json_field() {
    sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

# The real systems beside the chapters (peers/README.md): eventlet and asyncio on Debian's
# /usr/bin/python3, and nginx. Each speaks the chapters' protocol (nginx: HTTP only) and is started
# like a chapter, by start_server, so its port, pid and log land in the same variables.
PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../peers" && pwd)
declare -gA PEER_COMMAND=(
    [eventlet]=$PEERS_DIR/eventlet_server.py
    [asyncio]=$PEERS_DIR/asyncio_server.py
    [nginx]=$PEERS_DIR/nginx.sh
)

# peer_missing NAME: prints why peer NAME cannot run on this machine and returns 0; returns 1
# when it can. `make peers` installs what is missing (python3-eventlet, nginx).
# Found, not imported: an import of eventlet is half a second of CPU, and every peer test asks.
EVENTLET_FOUND='import importlib.util, sys; sys.exit(importlib.util.find_spec("eventlet") is None)'
peer_missing() {
    case $1 in
    eventlet | asyncio)
        if [ ! -x /usr/bin/python3 ]; then
            echo "no /usr/bin/python3 (Debian's python3 runs the Python peers)"
        elif [ "$1" = eventlet ] && ! /usr/bin/python3 -c "$EVENTLET_FOUND" 2>/dev/null; then
            echo "no eventlet for /usr/bin/python3 (make peers installs python3-eventlet)"
        else
            return 1
        fi
        ;;
    nginx)
        if ! command -v nginx >/dev/null; then
            echo "no nginx (make peers installs it)"
        elif ! nginx -V 2>&1 | grep -q -- --with-threads; then
            echo "this nginx is built without thread pools (--with-threads): no aio threads"
        else
            return 1
        fi
        ;;
    *) echo "no peer '$1' (eventlet, asyncio, nginx)" ;;
    esac
}

# start_peer NAME [FLAGS...]: start_server for peer NAME on port 0 (nginx.sh picks a free port
# itself, since nginx cannot bind port 0 and tell), e.g. start_peer eventlet --tpool -D "$MNT".
start_peer() {
    local name=$1
    shift
    [ -n "${PEER_COMMAND[$name]:-}" ] || { echo "start_peer: no peer '$name'" >&2; return 2; }
    start_server "${PEER_COMMAND[$name]}" "$@"
}
