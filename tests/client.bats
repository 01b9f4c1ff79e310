#!/usr/bin/env bats
# The load client: its timeout, its percentiles, its exit status, which replies it believes,
# its flags' ranges, and a report it cannot write.
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

# ----- The client believes a reply only when the protocol allows it. tests/tools/bad-server.c
# answers every request with the reply it is given, %p standing for the PATH asked for.

# first_bad_reply: the JSON summary's description of the first bad reply.
first_bad_reply() {
    grep '^{' <<<"$output" | sed -n 's/.*"first_bad_reply":"\(.*\)"}$/\1/p'
}

# against REPLY [CLIENT-ARGS...]: bad-server answers REPLY; the client sends it 2 requests.
against() {
    stop_server
    start_server "$BIN/bad-server" "$1"
    client -c 2 -n 2 -d 10 -t 2000 "${@:2}"
}

# Each case: a reply (with \r and \n) <TAB> the client's flags ("-": none) <TAB> what the
# summary must say is wrong with it.
BAD_REPLIES=$(
    cat <<'EOF'
0,1024,0,/other\n	-	its PATH is not /obj/0
0,-5,-7,%p\n	-	BYTES is not a whole number of 0 or more
0,+5,0,%p\n	-	BYTES is not a whole number of 0 or more
0, 5,0,%p\n	-	BYTES is not a whole number of 0 or more
0,99999999999999999999,0,%p\n	-	BYTES is not a whole number of 0 or more
0,5,-7,%p\n	-	ELAPSED_MS is not a whole number of 0 or more
7,1,0,%p\n	-	RC is not 0, 1 or 2
-1,1,0,%p\n	-	RC is not 0, 1 or 2
00,1,0,%p\n	-	RC is not 0, 1 or 2
0,1,0,-\n	-	its PATH is not /obj/0
0,1,0,%p,more\n	-	its PATH is not /obj/0
0,1,0,%p\r\n	-	its PATH is not /obj/0
0,1,0,%p	-	no newline after the reply line
0,1,0,%p\n	--http	not an HTTP/1.x reply
HTTP/2 200\r\n\r\n0,1,0,%p\n	--http	not an HTTP/1.x reply
HTTP/1.1 200 OK\r\n\r\n1,0,0,%p\n	--http	HTTP 200 with RC 1
HTTP/1.1 200 OK\r\n\r\n2,0,0,%p\n	--http	HTTP 200 with RC 2
HTTP/1.1 500 Internal Server Error\r\n\r\n0,1,0,%p\n	--http	HTTP 500 with RC 0
HTTP/1.1 408 Request Timeout\r\n\r\n2,0,0,%p\n	--http	HTTP 408 with RC 2
HTTP/1.1 200 OK\r\n\r\n0,1,0,/other\n	--http	its PATH is not /obj/0
EOF
)

@test "client: a reply that breaks the protocol is a bad reply, an error, counted, the first shown" {
    local reply flags reason bytes bad=0
    while IFS=$'\t' read -r reply flags reason; do
        printf -v bytes '%b' "$reply" # not $(...), which would drop the last newline
        [ "$flags" = - ] && flags=
        # shellcheck disable=SC2086  # the flags are words
        against "$bytes" $flags
        echo "reply '$reply' $flags: status $status, ok $(field ok), errors $(field errors), bad $(field bad_replies): $(first_bad_reply)"
        [ "$status" -eq 2 ] && [ "$(field ok)" -eq 0 ] && [ "$(field errors)" -eq 2 ] &&
            [ "$(field bad_replies)" -eq 2 ] && [[ $(first_bad_reply) == "request 0 (/obj/0): $reason"* ]] ||
            { echo "  ^ wanted status 2, 2 errors, 2 bad replies, the first: $reason"; bad=1; }
    done <<<"$BAD_REPLIES"
    [ "$bad" -eq 0 ]
}

@test "client: the replies the protocol allows are believed, each for what it says" {
    against $'0,1024,0,%p\n'
    [ "$status" -eq 0 ] && [ "$(field ok)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    against $'1,0,0,%p\n'
    [ "$status" -eq 1 ] && [ "$(field server_timeouts)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    against $'2,0,0,%p\n'
    [ "$status" -eq 2 ] && [ "$(field errors)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    against $'2,0,0,-\n' # a refused request: RC 2, and no path
    [ "$status" -eq 2 ] && [ "$(field errors)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    against $'HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n0,1024,0,%p\n' --http
    [ "$status" -eq 0 ] && [ "$(field ok)" -eq 2 ]
    against $'HTTP/1.1 408 Request Timeout\r\n\r\n1,0,0,%p\n' --http
    [ "$status" -eq 1 ] && [ "$(field server_timeouts)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    against $'HTTP/1.1 414 URI Too Long\r\n\r\n2,0,0,-\n' --http
    [ "$status" -eq 2 ] && [ "$(field errors)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    # Without -q each says what it was: RC 2 is named as such, and RC 7 is not called RC 2.
    against $'2,0,0,%p\n'
    run "$BIN/client" -p "$PORT" -c 1 -n 1 -d 10 -t 2000
    [[ $output == *"***client error 0 (/obj/0: server answered RC 2: I/O failure)"* ]]
    against $'7,1,0,%p\n'
    run "$BIN/client" -p "$PORT" -c 1 -n 1 -d 10 -t 2000
    echo "$output"
    [[ $output == *"***client error 0 (/obj/0: bad reply: RC is not 0, 1 or 2: '7,1,0,/obj/0\n')"* ]]
    [[ $output == *"bad replies 1, the first: request 0 (/obj/0): RC is not 0, 1 or 2"* ]]
}

@test "client --status-only: an HTTP reply is judged by its status, its body (the object) unread" {
    # nginx's reply is the file itself: a strict client (the default, --http) calls it a bad
    # reply; --status-only believes the status: 200 ok, 408 and 504 a timeout the server
    # answered, another status an error; a reply that is not HTTP is still a bad reply.
    local object
    object=$(printf 'line %05d\n' $(seq 700)) # 7 KB of lines, as slowdisk's files are (bad-server
    against "HTTP/1.1 200 OK"$'\r\nContent-Length: 7700\r\n\r\n'"$object" --http # sends 8 KiB at most)
    [ "$status" -eq 2 ] && [ "$(field bad_replies)" -eq 2 ] && [ "$(field ok)" -eq 0 ]
    against "HTTP/1.1 200 OK"$'\r\nContent-Length: 7700\r\n\r\n'"$object" --status-only
    echo "200: status $status, ok $(field ok), bad $(field bad_replies), bytes $(field bytes)"
    [ "$status" -eq 0 ] && [ "$(field ok)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    [ "$(field bytes)" -gt 15400 ] # both bodies read to the end
    against $'HTTP/1.1 200 OK\r\n\r\n' --status-only # an empty object
    [ "$status" -eq 0 ] && [ "$(field ok)" -eq 2 ]
    local code
    for code in '408 Request Time-out' '504 Gateway Time-out'; do
        against "HTTP/1.1 $code"$'\r\n\r\n<html>late</html>' --status-only
        echo "$code: status $status, server timeouts $(field server_timeouts)"
        [ "$status" -eq 1 ] && [ "$(field server_timeouts)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    done
    for code in '404 Not Found' '500 Internal Server Error' '301 Moved Permanently'; do
        against "HTTP/1.1 $code"$'\r\n\r\n<html>no</html>' --status-only
        echo "$code: status $status, errors $(field errors), bad $(field bad_replies)"
        [ "$status" -eq 2 ] && [ "$(field errors)" -eq 2 ] && [ "$(field bad_replies)" -eq 0 ]
    done
    run "$BIN/client" -p "$PORT" -c 1 -n 1 -d 10 -t 2000 --status-only
    [[ $output == *"***client error 0 (/obj/0: server answered HTTP 301)"* ]]
    for code in $'0,1,0,%p\n' $'HTTP/2 200\r\n\r\nx' $'HTTP/1.1 200 OK\r\nno end of headers'; do
        against "$code" --status-only
        echo "'$code': status $status, bad $(field bad_replies): $(first_bad_reply)"
        [ "$status" -eq 2 ] && [ "$(field bad_replies)" -eq 2 ] &&
            [[ $(first_bad_reply) == "request 0 (/obj/0): not an HTTP/1.x reply"* ]]
    done
}

@test "client: a flag out of its range is bad usage, exit status 64" {
    local args
    for args in "-p 70000" "-p 65536" "-p 0" "-p -1" "-p 1 -c 0" "-p 1 -d 3600001" \
        "-p 1 --slow 3600001" "-p 1 -j 257" "-p 1 --sources 255" "-p 99999999999999999999"; do
        # shellcheck disable=SC2086  # words
        run "$BIN/client" $args -n 1
        echo "$args: status $status: ${output%%$'\n'*}"
        [ "$status" -eq 64 ] && [[ ${output%%$'\n'*} == "client: bad "*": want "*" to "* ]]
    done
}

@test "client: a report it cannot write is exit status 3 and a message, never a silent 0" {
    start_server "$BIN/01-blocking"
    run "$BIN/client" -p "$PORT" -c 1 -n 1 -d 1 -q --timeline /dev/full
    echo "$output"
    [ "$status" -eq 3 ] && [[ $output == *"client: cannot write /dev/full: No space left on device"* ]]
    run bash -c "'$BIN/client' -p $PORT -c 1 -n 1 -d 1 >/dev/full"
    [ "$status" -eq 3 ] && [[ $output == *"client: cannot write stdout: No space left on device"* ]]
    run bash -c "'$BIN/client' -p $PORT -c 1 -n 1 -d 1 --json >/dev/full"
    [ "$status" -eq 3 ]
    run bash -c "seq 10 | '$BIN/client' --percentiles >/dev/full"
    [ "$status" -eq 3 ]
    # A timeline it cannot open fails before the run, not after it.
    run "$BIN/client" -p "$PORT" -c 1 -n 1 -d 60000 -t 60000 --timeline "$BATS_TEST_TMPDIR/no/such"
    [ "$status" -eq 3 ] && [[ $output == *"cannot write $BATS_TEST_TMPDIR/no/such: No such file"* ]]
}
