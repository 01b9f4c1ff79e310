#!/usr/bin/env bats
# What every server shares: flags, the listening line, usage on bad flags.
load helpers

@test "servers print exactly one 'listening on 127.0.0.1:PORT' line with the real port" {
    for bin in "$BIN"/[0-9][0-9]-*; do
        start_server "$bin"
        [ "$(wc -l < "$SERVER_OUT")" -eq 1 ]
        [[ $(cat "$SERVER_OUT") =~ ^listening\ on\ 127\.0\.0\.1:[0-9]+$ ]]
        [ "$PORT" -gt 0 ]
        stop_server
    done
}

@test "start_server takes the port from a whole line, however the server writes it in pieces" {
    # Python with PYTHONUNBUFFERED=1 writes print's text, then its newline: the eventlet peer's
    # "listening on" line came in two writes, and a run read the port before the second (CI, once).
    # This one cuts the port itself in two.
    local fake=$BATS_TEST_TMPDIR/pieces
    printf '%s\n' '#!/bin/bash' "printf 'listening on 127.0.0.1:12'" 'sleep 0.3' \
        "printf '345\\n'" 'exec sleep 30' >"$fake"
    chmod +x "$fake"
    start_server "$fake"
    [ "$PORT" = 12345 ] || { echo "PORT '$PORT'" >&2; return 1; }
    stop_server || true # sleep dies of the SIGTERM: 143
}

# refused ARGS...: the server in $bin refuses ARGS with exit status 2, one line naming the flag
# and why, and the usage.
refused() {
    run "$bin" "$@"
    if [ "$status" -ne 2 ] || [[ $output != *"usage: "* ]] || [[ ${lines[0]} != *": "* ]]; then
        echo "$(basename "$bin") $* gave status $status:" >&2
        printf '%s\n' "$output" | head -3 >&2
        return 1
    fi
}

@test "servers refuse bad flags one way: exit status 2, which flag and why, then usage" {
    for bin in "$BIN"/[0-9][0-9]-*; do
        refused -p notaport
        [[ ${lines[0]} == *"bad -p 'notaport'"* ]]
        refused -p ' 80'
        refused -p 65536
        refused -p +80
        refused -h nohost
        [[ ${lines[0]} == *"bad -h 'nohost'"* ]]
        refused -T 0
        refused -x
        refused -p
        refused extra-argument
        if "$bin" --help | grep -q -- '-m MODE'; then
            refused -m no-such-mode
            [[ ${lines[0]} == *"bad -m 'no-such-mode': want "* ]]
        else
            refused -m x
        fi
        run "$bin" --help
        [ "$status" -eq 0 ]
        [[ $output == *"-T DEADLINE_MS"* ]]
    done
}

@test "a flag that the chosen mode does not use is refused, not ignored" {
    bin=$BIN/08-prefork
    refused -m fork -w 2
    [[ ${lines[0]} == *"-w sizes the prefork pool"* ]]
    bin=$BIN/09-green-threads
    refused -m green -w 2
    refused -m unpatched -w 2
}

@test "a server on a port already in use fails with a clear error" {
    start_server "$BIN/01-blocking"
    run "$BIN/01-blocking" -p "$PORT"
    [ "$status" -eq 1 ]
    [[ $output == *"Address already in use"* ]]
}
