# Shell helpers shared by the demos (scripts/demo.sh) and the tests (tests/helpers.bash).
# Source it; it defines functions only.
source "$(dirname "${BASH_SOURCE[0]}")/proc.bash"

# wait_for_line PID FILE PATTERN: waits up to 10 s for a line of FILE (a process's stdout) to
# match the extended regex PATTERN. Returns 0 when one does, 1 when PID exited first, 2 when the
# time ran out.
wait_for_line() {
    local i
    for i in $(seq 200); do
        grep -qE -- "$3" "$2" && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
    done
    return 2
}

# stop_process PID: SIGTERM, up to 5 s for a clean exit, then SIGKILL. Returns its exit status
# (137 if it had to be killed).
stop_process() {
    local status=0 i
    kill -TERM "$1" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$1" 2>/dev/null && kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null || status=$?
    return $status
}

# start_server BINARY [FLAGS...]
# Starts a server on port 0 in the background and waits for its "listening on HOST:PORT" line.
# Sets SERVER_PID, PORT, SERVER_LOG (its stderr) and SERVER_OUT (its stdout).
start_server() {
    local bin=$1
    shift
    SERVER_OUT=$(mktemp "${TMPDIR:-/tmp}/server-out.XXXXXX")
    SERVER_LOG=$(mktemp "${TMPDIR:-/tmp}/server-log.XXXXXX")
    # 3>&- : bats waits for every process holding its fd 3; a server must not inherit it.
    "$bin" -p 0 "$@" >"$SERVER_OUT" 2>"$SERVER_LOG" 3>&- &
    SERVER_PID=$!
    local status=0
    wait_for_line "$SERVER_PID" "$SERVER_OUT" '^listening on .*:[0-9]+$' || status=$?
    PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$SERVER_OUT")
    [ "$status" -eq 0 ] && return 0
    if [ "$status" -eq 1 ]; then
        echo "server $bin exited before listening:" >&2
        cat "$SERVER_LOG" >&2
    else
        echo "server $bin printed no 'listening on' line in 10 s" >&2
    fi
    return 1
}

# stop_server: stop_process for the server. Safe to call twice.
stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    local pid=$SERVER_PID
    SERVER_PID=
    stop_process "$pid"
}

# trace_settled FILE: waits, 10 s at most, until a server's event trace (-E FILE) has a "closed"
# for every "accepted" and has not grown for 0.5 s: the reads the clients stopped waiting for
# are in it too. Its size alone cannot tell: a loop writes its events when its turn ends, so a
# loop blocked for seconds (chapter 05) leaves the file still for as long.
trace_settled() {
    local size=-1 now i
    for i in $(seq 100); do
        if [ $((i % 5)) -eq 0 ]; then
            now=$(stat -c %s "$1")
            [ "$now" = "$size" ] &&
                [ "$(grep -c '"event":"closed"' "$1")" -ge "$(grep -c '"event":"accepted"' "$1")" ] &&
                return 0
            size=$now
        fi
        sleep 0.1
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
peer_missing() {
    case $1 in
    eventlet | asyncio)
        if [ ! -x /usr/bin/python3 ]; then
            echo "no /usr/bin/python3 (Debian's python3 runs the Python peers)"
        elif [ "$1" = eventlet ] && ! /usr/bin/python3 -c 'import eventlet' 2>/dev/null; then
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
