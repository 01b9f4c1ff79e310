#!/usr/bin/env bats
# The load client: its timeout, its percentiles, its exit status.
load helpers

@test "client: a server that never answers is reported as a timeout, on time" {
    start_server "$BIN/01-blocking"
    start=$(date +%s%N)
    client -c 1 -n 1 -d 60000 -t 500
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    check '[ "$status" -eq 1 ]'
    check '[ "$(field client_timeouts)" -eq 1 ] && [ "$(field ok)" -eq 0 ]'
    check '[ "$elapsed_ms" -ge 500 ] && [ "$elapsed_ms" -lt 1500 ]'
}

@test "client: prints the seed's ***client timeout line" {
    start_server "$BIN/01-blocking"
    run "$BIN/client" -p "$PORT" -c 1 -n 1 -d 60000 -t 300
    [ "$status" -eq 1 ]
    [[ $output == *"***client timeout 0 "* ]]
}

@test "client: percentiles are nearest-rank on a known set" {
    run bash -c "seq 1 100 | '$BIN/client' --percentiles"
    [ "$output" = "n 100 p50 50 p90 90 p99 99 max 100" ]
    run bash -c "printf '5\n1\n3\n' | '$BIN/client' --percentiles"
    [ "$output" = "n 3 p50 3 p90 5 p99 5 max 5" ]
}

@test "client: a refused connection is an error, exit status 2" {
    # A port that was just free: bind-and-release by a server we then stop.
    start_server "$BIN/01-blocking"
    stop_server
    client -c 2 -n 2 -d 10 -t 1000
    [ "$status" -eq 2 ]
    [ "$(field errors)" -eq 2 ]
}

@test "client: all answered in time is exit status 0, and the timeline has a row each" {
    start_server "$BIN/01-blocking"
    tl=$(mktemp)
    client -c 2 -n 3 -d 10 -t 2000 --timeline "$tl"
    [ "$status" -eq 0 ]
    [ "$(grep -c ' ok ' "$tl")" -eq 3 ]
    rm -f "$tl"
}

@test "client: bad usage says so and exits 64" {
    run "$BIN/client" -c 3
    [ "$status" -eq 64 ]
    [[ $output == *"-p PORT is required"* ]]
}
