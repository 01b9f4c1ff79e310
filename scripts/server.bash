# Shell helpers shared by the demos (scripts/demo.sh) and the tests (tests/helpers.bash).
# Source it; it defines functions only.
source "$(dirname "${BASH_SOURCE[0]}")/proc.bash"

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
    local i
    for i in $(seq 200); do
        PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$SERVER_OUT")
        [ -n "$PORT" ] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "server $bin exited before listening:" >&2
            cat "$SERVER_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "server $bin printed no 'listening on' line in 10 s" >&2
    return 1
}

# stop_server: SIGTERM, wait up to 5 s for a clean exit, then SIGKILL. Safe to call twice.
# Returns the server's exit status (137 if it had to be killed).
stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    local pid=$SERVER_PID status=0 i
    SERVER_PID=
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || status=$?
    return $status
}

# json_field NAME: reads one JSON object line on stdin, prints the numeric field NAME.
json_field() {
    sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}
