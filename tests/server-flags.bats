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

@test "servers refuse bad flags with a usage message and exit status 2" {
    for bin in "$BIN"/[0-9][0-9]-*; do
        run "$bin" -p notaport
        [ "$status" -eq 2 ]
        [[ $output == *"usage:"* ]]
        run "$bin" -x
        [ "$status" -eq 2 ]
        run "$bin" --help
        [ "$status" -eq 0 ]
        [[ $output == *"-T DEADLINE_MS"* ]]
    done
}

@test "a server on a port already in use fails with a clear error" {
    start_server "$BIN/01-blocking"
    run "$BIN/01-blocking" -p "$PORT"
    [ "$status" -eq 1 ]
    [[ $output == *"Address already in use"* ]]
}
