#!/usr/bin/env bats
# timeline-svg -e: the server's event trace cut into each request's bar, a lane per server
# thread, and the same in the terminal (scripts/timeline.sh). Fast: one test starts a server.
#
# The traces in tests/timeline/ are written by hand to the -E format, with the server's epoch
# 500 ms (05) and 1000 ms (06) before the client's, so every coordinate below also checks that
# the two files are lined up by their mono_ms:
#   05-like: the loop accepts all ten at 1 ms, then reads /obj/I itself from 2+300I to 302+300I
#            ms; each reply is ready when its read ends but sent only at 3003 ms, when the loop
#            is back in epoll_wait; every client gave up at 1508 ms.
#   06-like: the loop hands the reads to four workers: worker-K reads K-1, K+3, K+7, from
#            2.5 + 300.2 J + 0.1 (K-1) ms (J the round); each reply is sent within 0.5 ms.
# At the end, the plain timeline (no -e): a bar per request in its outcome's colour, and what
# timeline-svg refuses.
load helpers

DATA="$ROOT/tests/timeline"

# svg NAME [FLAGS...]: the figure of tests/timeline/NAME-like, into $output.
svg() {
    local name=$1
    shift
    run "$BIN/timeline-svg" -t "$name" -d 1500 -e "$DATA/$name-like.trace" "$@" \
        "$DATA/$name-like.timeline"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

# spans: from the SVG in $output, one line per drawn segment, "KIND NAME CLASS FROM_MS TO_MS
# REQ": KIND req (NAME its id) or lane (NAME the thread); milliseconds from the x axis' ticks.
spans() {
    awk '
        function attr(name,    m) {
            if (match($0, " " name "=\"[^\"]*\"")) {
                m = substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 4)
                return m
            }
            return ""
        }
        /<text class="tick"/ {
            v = $0; sub(/.*">/, "", v); sub(/<.*/, "", v)
            k = n_ticks++; tick_x[k] = attr("x"); tick_v[k] = v
        }
        /<g class="req"/ { kind = "req"; name = attr("data-id") }
        /<g class="lane"/ { kind = "lane"; name = attr("data-name") }
        /<\/g>/ { kind = "" }
        kind != "" && /<rect class="(ph|ln)-/ {
            line[n++] = kind " " name " " attr("class") " " attr("x") " " attr("width") " " \
                (attr("data-req") == "" ? "-" : attr("data-req"))
        }
        END {
            ms_per_px = (tick_v[1] - tick_v[0]) / (tick_x[1] - tick_x[0])
            for (i = 0; i < n; i++) {
                split(line[i], f, " ")
                from = (f[4] - tick_x[0]) * ms_per_px
                printf "%s %s %s %.1f %.1f %s\n", f[1], f[2], f[3], from, from + f[5] * ms_per_px, f[6]
            }
        }' <<<"$output"
}

# has_span "KIND NAME CLASS" FROM TO: such a span exists, from and to within 1 ms.
has_span() {
    grep "^$1 " <<<"$SPANS" | awk -v a="$2" -v b="$3" '
        function near(x, y) { return x - y < 1 && y - x < 1 }
        near($4, a) && near($5, b) { found = 1 }
        END { exit !found }' || { echo "no span '$1' from $2 to $3 ms; spans of it:"; grep "^$1 " <<<"$SPANS"; false; }
}

@test "05: each request's bar is cut where the loop accepted, read and left its reply unsent" {
    svg 05
    SPANS=$(spans)
    # Request 0: read at once (2-302 ms), then its reply waited, ready, until the client left.
    has_span "req 0 ph-read" 2 302
    has_span "req 0 ph-ready" 302 1508
    # Request 3: waited for the loop behind three reads, was read, then waited to be sent.
    has_span "req 3 ph-wait-loop" 1.2 902
    has_span "req 3 ph-read" 902 1202
    has_span "req 3 ph-ready" 1202 1508
    # Request 5 was still being read when its client gave up; 9 never got the loop at all.
    has_span "req 5 ph-read" 1502 1508
    has_span "req 9 ph-wait-loop" 1.4 1508
    ! grep -q '^req 9 ph-read' <<<"$SPANS"
    # Waiting to be accepted: from the send to the accept, 1 ms plus 0.05 ms a connection.
    has_span "req 4 ph-accept" 0 1.2
    # Nothing else: 4 segments for requests 0-4, 3 for 5, 2 for 6-9; none waits for a worker.
    [ "$(grep -c '^req ' <<<"$SPANS")" -eq 31 ]
    ! grep -q 'ph-wait-worker' <<<"$SPANS"
    # The timeout line sits at 1500 ms.
    grep -q 'class="timeout"' <<<"$output"
}

@test "05: the loop's lane is blocked in one read after another, then sleeps" {
    svg 05
    SPANS=$(spans)
    local i
    for i in 0 1 2 3 4 5 6 7 8 9; do
        grep -q "^lane loop ln-read .* $i\$" <<<"$SPANS" || { echo "no read of $i"; false; }
        has_span "lane loop ln-read" $((2 + 300 * i)) $((302 + 300 * i))
    done
    # Asleep in epoll_wait once the replies are out, to the end of the picture (from 3002.1 ms:
    # its 0.4 ms sleep there merges into it, as spans closer than half a pixel do).
    has_span "lane loop ln-asleep" 3002.1 3500
    # The loop is the only thread: no worker lanes.
    [ "$(grep -c '<g class="lane"' <<<"$output")" -eq 1 ]
    # Each read is labelled with its request's id.
    grep -q '>9</text>' <<<"$output"
}

@test "06: four worker lanes read at once, and requests wait for a worker, not for the loop" {
    svg 06
    SPANS=$(spans)
    local lanes
    lanes=$(grep -o '<g class="lane" data-name="[^"]*"' <<<"$output" | sed 's/.*name="//;s/"//' | tr '\n' ' ')
    [ "$lanes" = "loop worker-1 worker-2 worker-3 worker-4 " ] || { echo "lanes: $lanes"; false; }
    has_span "lane worker-1 ln-read" 2.5 302.5
    has_span "lane worker-1 ln-read" 302.7 602.7
    has_span "lane worker-1 ln-read" 602.9 902.9
    has_span "lane worker-4 ln-read" 2.8 302.8
    # The four first reads overlap: the latest start is before the earliest end.
    grep '^lane worker-' <<<"$SPANS" | awk '$6 <= 3 { if ($4 > s) s = $4; if (!e || $5 < e) e = $5; n++ }
        END { exit !(n == 4 && s < e) }'
    # Request 5 waited for a worker for a whole read, then was read by worker-2.
    has_span "req 5 ph-wait-worker" 2.5 302.8
    has_span "req 5 ph-read" 302.8 602.8
    grep -q 'read by worker-2' <<<"$output"
    # No reply waited 1 ms to be sent; the loop slept between its wakes, and from 903.8 ms on.
    grep '^req .* ph-ready' <<<"$SPANS" | awk '{ n++ } $5 - $4 >= 1 { bad = 1 } END { exit bad || n != 10 }'
    has_span "lane loop ln-asleep" 303.4 603.2
    has_span "lane loop ln-asleep" 903.8 1600
}

# keys_and_uses: from the SVG in $output, the legend's keys and, after a "--" line, the classes
# the figure draws 1 px wide or more somewhere (a read on a thread's lane is keyed as the
# request's "being read"; a thinner sliver needs no key); each sorted.
keys_and_uses() {
    grep -o 'class="key [a-z-]*"' <<<"$output" | sed 's/.*key \(.*\)"/\1/' | sort -u
    echo --
    sed '/<g class="legend"/,/<\/g>/d' <<<"$output" | awk '
        match($0, /class="(ph-[a-z-]+|ln-[a-z]+|mark)"/) {
            c = substr($0, RSTART + 7, RLENGTH - 8); w = $0
            if (!sub(/.* width="/, "", w)) next
            sub(/".*/, "", w)
            if (w + 0 >= 1) print (c == "ln-read" ? "ph-read" : c)
        }' | sort -u
}

@test "the legend keys exactly what the figure draws, and the text is 12 px on a slide" {
    local name w h min keys
    for name in 05 06; do
        svg "$name" -s 'a subtitle'
        keys=$(keys_and_uses)
        echo "$name: $(tr '\n' ' ' <<<"$keys")"
        [ "$(awk '/^--$/ { exit } 1' <<<"$keys")" = "$(awk 'after; /^--$/ { after = 1 }' <<<"$keys")" ]
        grep -q '>being read<' <<<"$output"
        # 05 reads on its loop: nothing waits for a worker, so the legend does not offer one.
        [ "$name" != 05 ] || [ "$(grep -c 'waiting for a worker' <<<"$output")" -eq 0 ]
        [ "$name" != 06 ] || grep -q '>waiting for a worker<' <<<"$output"
        # Half a 1280x720 slide: 640 px wide (the deck's .pair gives 586 px, and every figure
        # at most 360 px tall). Each font-size (12 on the root, for text without one), scaled.
        w=$(sed -n '1s/.*viewBox="0 0 \([0-9]*\) \([0-9]*\)".*/\1/p' <<<"$output")
        h=$(sed -n '1s/.*viewBox="0 0 \([0-9]*\) \([0-9]*\)".*/\2/p' <<<"$output")
        min=$(grep -o 'font-size="[0-9.]*"' <<<"$output" | tr -dc '0-9.\n' | sort -n | head -1)
        echo "$name: ${w}x$h, smallest font $min"
        [ "$(head -1 <<<"$output" | grep -o 'font-size="12"')" ]
        awk -v w="$w" -v h="$h" -v f="$min" 'BEGIN {
            pair = 586 / w; if (360 / h < pair) pair = 360 / h
            printf "drawn 640 wide: %.1f px; in the deck pair: %.1f px\n", f * 640 / w, f * pair
            exit !(f * 640 / w >= 12 && f * pair >= 12) }'
        # Small: tens of KB at most.
        [ "${#output}" -lt 40000 ]
    done
}

# row_labels: from the SVG in $output, "ID OUTCOME [MARK]" for each request's row that carries
# its id and outcome as text (the labels drawn beside the bar), and its mark if it has one.
row_labels() {
    awk '/<g class="req"/ {
            id = $0; sub(/.*data-id="/, "", id); sub(/".*/, "", id)
            mark = ""; if (match($0, /data-mark="[^"]*"/)) mark = substr($0, RSTART + 11, RLENGTH - 12)
            marked = 0
        }
        /<rect class="mark"/ { marked = 1 }
        /<text .*text-anchor="end">[0-9]+<\/text><text/ {
            label = $0; sub(/.*<text[^>]*>/, "", label); sub(/<.*/, "", label)
            print id, label, (marked ? mark : "-")
        }' <<<"$output"
}

@test "-m marks the rows whose path had PREFIX, and up to 20 rows each carry id and outcome" {
    # 16 requests of which 0-3 went to the dying disk's /d0/: the 06-like trace, its first four
    # paths renamed, and six rows more that the server never saw.
    sed 's|"/obj/\([0-3]\)"|"/d0/\1"|' "$DATA/06-like.trace" >"$BATS_TEST_TMPDIR/trace"
    { cat "$DATA/06-like.timeline"; for i in 10 11 12 13 14 15; do echo "$i 0 1500 timeout 300 0"; done; } \
        >"$BATS_TEST_TMPDIR/timeline"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" -m '/d0/=the dying disk <d0>' \
        "$BATS_TEST_TMPDIR/timeline"
    [ "$status" -eq 0 ]
    row_labels
    [ "$(row_labels | wc -l)" -eq 16 ]                       # every row, not every other
    [ "$(row_labels | awk '$3 != "-" { print $1 }' | paste -sd,)" = 0,1,2,3 ] # d0's, only
    grep -q 'data-mark="the dying disk &lt;d0&gt;"' <<<"$output"
    grep -q 'class="key mark".*>the dying disk &lt;d0&gt;<' <<<"$output" # and in the legend
    [ "$(row_labels | awk '$2 == "timeout"' | wc -l)" -eq 6 ]  # countable: ten ok, six gave up
    # The other prefix still names its requests: /obj/4-9 are read, not "no server events".
    [ "$(grep -c 'class="ph-read"' <<<"$output")" -eq 10 ]
    # Without a trace there is nothing to mark by; a PREFIX=LABEL is required.
    run "$BIN/timeline-svg" -m /d0/=x "$BATS_TEST_TMPDIR/timeline"
    [ "$status" -eq 1 ] && [[ $output == *"-m needs -e"* ]]
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" -m /d0/ "$BATS_TEST_TMPDIR/timeline"
    [ "$status" -eq 1 ] && [[ $output == *"bad value for -m"* ]]
}

@test "a request no event names keeps its whole bar, the client's view" {
    grep -v '"/obj/[1-9]"' "$DATA/05-like.trace" >"$BATS_TEST_TMPDIR/trace"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$DATA/05-like.timeline"
    [ "$status" -eq 0 ]
    SPANS=$(spans)
    has_span "req 0 ph-read" 2 302
    has_span "req 7 ph-none" 0 1508
    [ "$(grep -c 'ph-none' <<<"$SPANS")" -eq 9 ]
    [ "$(grep -c '^req 7 ' <<<"$SPANS")" -eq 1 ] # the outline alone, no segment on it
    grep -q 'no server events' <<<"$output"
    # A trace with no events at all (a server that does not trace): the client's view.
    : >"$BATS_TEST_TMPDIR/empty"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/empty" "$DATA/05-like.timeline"
    [ "$status" -eq 0 ]
    [[ $output == *"empty: no events: the client's view only"* ]]
    [[ $output == *'<title>request 0: 0 to 1508 ms, timeout</title>'* ]]
}

@test "a malformed trace line is refused with its file and line number" {
    local t="$BATS_TEST_TMPDIR/trace" good='{"t_ms":1,"thread":"loop","event":"wait"}' bad
    # Forward compatibility first: unknown events and keys (any JSON value) are read and ignored.
    printf '%s\n' "$good" '{"t_ms":2e1,"thread":"loop","event":"gc_pause","x":[1,{"y":null}],"z":"\u00e9\"\n"}' \
        '' '  {"thread":"loop","event":"wake","t_ms":-0.5}  ' >"$t"
    run "$BIN/timeline-svg" -e "$t" "$DATA/05-like.timeline"
    [ "$status" -eq 0 ]
    for bad in '{"thread":"loop","event":"wait"}:no "t_ms"' \
        '{"t_ms":1,"event":"wait"}:no "thread"' \
        '{"t_ms":12.,"thread":"loop","event":"wait"}:a bad number' \
        '{"t_ms":"12","thread":"loop","event":"wait"}:is not a number' \
        '{"t_ms":1,"thread":"loop,"event":"wait"}:no '"'"','"'"' or' \
        '{"t_ms":1,"thread":"loop","event":"wait:unterminated string' \
        '{"t_ms":1,"thread":"loop","event":"wait"} trailing:text after' \
        '{"t_ms":1,"thread":"loop","event":"wait","fd":1.5}:not an integer' \
        '{"t_ms":1,"thread":"","event":"wait"}:"thread" is empty' \
        '{"t_ms":1,"thread":"loop","event":"wait","t_ms":2}:appears twice' \
        '{"t_ms":0,"thread":"main","event":"trace_start"}:without "mono_ms"' \
        'garbage:not a JSON object' '[1,2]:not a JSON object' '{"t_ms":1:unterminated object'; do
        printf '%s\n%s\n%s\n' "$good" "$good" "${bad%:*}" >"$t"
        run "$BIN/timeline-svg" -e "$t" "$DATA/05-like.timeline"
        echo "$bad -> $status $output"
        [ "$status" -eq 1 ]
        [[ $output == "timeline-svg: $t:3: "*"${bad##*:}"* ]]
    done
    # The text picture refuses it the same way; a NUL byte is refused too.
    printf '%s\n\0\n' "$good" >"$t"
    run "$BIN/timeline-svg" --text -e "$t" "$DATA/05-like.timeline"
    [ "$status" -eq 1 ] && [[ $output == *"$t:2: a NUL byte"* ]]
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/absent" "$DATA/05-like.timeline"
    [ "$status" -eq 1 ]
}

@test "the terminal shows the segments and the loop's lane, with a legend" {
    run "$ROOT/scripts/timeline.sh" -e "$DATA/05-like.trace" "$DATA/05-like.timeline" 50
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} == *'. accept'*'- loop'*'~ worker'*'= read'*'! ready, unsent'*'x gave up'* ]]
    # 3004 ms in 50 columns: request 0 read in columns 0-4, then its reply waits, unsent, to
    # 1508 ms (column 25), where its client gives up.
    [[ ${lines[1]} == '   0 |=====!!!!!!!!!!!!!!!!!!!x                         |  1508 ms timeout' ]]
    [[ ${lines[10]} == '   9 |------------------------x                         |  1508 ms timeout' ]]
    [[ ${lines[11]} == *'_ asleep'*'h running a handler'* ]]
    [[ ${lines[12]} == 'loop |0====1====2===='* ]]
    # 06: the worker lanes, and requests 4-7 waiting for a worker.
    run "$ROOT/scripts/timeline.sh" -e "$DATA/06-like.trace" "$DATA/06-like.timeline" 50
    echo "$output"
    [[ ${lines[5]} == *'|~~~~~~~~~~~~~~~~~================ '* ]]
    [[ $output == *'worker-4 |3===============7======'* ]]
    # Without a trace: what it always printed.
    printf '# mono_ms 5.000\n0 0 300 ok 300 0\n1 0 600 timeout 300 0\n' >"$BATS_TEST_TMPDIR/t"
    run "$ROOT/scripts/timeline.sh" "$BATS_TEST_TMPDIR/t" 10
    [ "$output" = "$(printf '%s\n' '   0 |=====     |   300 ms ok' '   1 |xxxxxxxxxx|   600 ms timeout' \
        '     0         600 ms')" ]
}

@test "the client's timeline opens with its CLOCK_MONOTONIC epoch; the rows are unchanged" {
    start_server "$BIN/01-blocking"
    local tl="$BATS_TEST_TMPDIR/tl" up_ms mono
    up_ms=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
    client -c 2 -n 2 -d 10 -t 2000 --timeline "$tl"
    [ "$status" -eq 0 ]
    head -1 "$tl" | grep -Eq '^# mono_ms [0-9]+\.[0-9]{3}$'
    mono=$(head -1 "$tl" | cut -d' ' -f3)
    # CLOCK_MONOTONIC counts from boot, as /proc/uptime does (both stop in a suspend).
    awk -v m="$mono" -v u="$up_ms" 'BEGIN { exit !(m - u > -5000 && m - u < 5000) }'
    [ "$(grep -c '^[0-9]* [0-9]* [0-9]* ok 10 0$' "$tl")" -eq 2 ]
}

@test "processes: a connection is linked to its own process's accept, or to its parent's" {
    # 08 prefork: two children accept on their own fd 3; their request lines come in the other
    # order. 08 fork per connection: the parent accepts fd 4, a child reads the request on it.
    printf '%s\n' '# mono_ms 1000.000' '0 0 400 ok 300 0' '1 0 400 ok 300 0' '2 0 500 ok 300 0' \
        >"$BATS_TEST_TMPDIR/tl"
    printf '%s\n' \
        '{"t_ms":0,"pid":100,"thread":"main","event":"trace_start","mono_ms":1000}' \
        '{"t_ms":1,"pid":101,"thread":"proc-101","event":"accepted","fd":3}' \
        '{"t_ms":50,"pid":102,"thread":"proc-102","event":"accepted","fd":3}' \
        '{"t_ms":51,"pid":101,"thread":"proc-101","event":"request","fd":3,"req":"/obj/0"}' \
        '{"t_ms":52,"pid":102,"thread":"proc-102","event":"request","fd":3,"req":"/obj/1"}' \
        '{"t_ms":100,"pid":100,"thread":"main","event":"accepted","fd":4}' \
        '{"t_ms":100.5,"pid":100,"thread":"main","event":"closed","fd":4}' \
        '{"t_ms":101,"pid":103,"thread":"proc-103","event":"request","fd":4,"req":"/obj/2"}' \
        '{"t_ms":102,"pid":103,"thread":"proc-103","event":"read_start","fd":4,"req":"/obj/2"}' \
        '{"t_ms":402,"pid":103,"thread":"proc-103","event":"read_done","fd":4,"req":"/obj/2"}' \
        >"$BATS_TEST_TMPDIR/trace"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    [ "$status" -eq 0 ]
    SPANS=$(spans)
    has_span "req 0 ph-accept" 0 1
    has_span "req 1 ph-accept" 0 50
    has_span "req 2 ph-accept" 0 100
    # The child does the reads: request 2 waited for it (a worker process), not for a loop.
    has_span "req 2 ph-wait-worker" 100 102
    has_span "lane proc-103 ln-read" 102 402
}

@test "a thousand short threads fold into a few rows" {
    # 07 with a thread per connection: 100 rounds of 10 threads, each reads 10 ms and exits.
    awk 'BEGIN { print "# mono_ms 0.000"; for (i = 0; i < 1000; i++) print i, 0, 10 * int(i / 10) + 11, "ok", 10, 0 }' \
        >"$BATS_TEST_TMPDIR/tl"
    awk 'BEGIN {
        print "{\"t_ms\":0,\"pid\":7,\"thread\":\"main\",\"event\":\"trace_start\",\"mono_ms\":0}"
        for (i = 0; i < 1000; i++) {
            t = 10 * int(i / 10) + 0.5
            printf "{\"t_ms\":%.1f,\"pid\":7,\"thread\":\"thread-%d\",\"event\":\"read_start\",\"req\":\"/obj/%d\"}\n", t, 5000 + i, i
            printf "{\"t_ms\":%.1f,\"pid\":7,\"thread\":\"thread-%d\",\"event\":\"read_done\",\"req\":\"/obj/%d\"}\n", t + 9, 5000 + i, i
        } }' >"$BATS_TEST_TMPDIR/trace"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    [ "$status" -eq 0 ]
    # Ten rows, since ten ran at once, each holding a hundred threads one after another.
    [ "$(grep -c '<g class="lane" data-name="thread-\*"><title>100 threads, one at a time' <<<"$output")" -eq 10 ]
    [ "$(grep -c 'class="ln-read"' <<<"$output")" -eq 1000 ]
    run "$BIN/timeline-svg" --text -w 50 -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    [ "$(grep -c '^thread-\* |' <<<"$output")" -eq 10 ]
}

@test "an event within the client's rounding before its start counts as at the start" {
    # The client counts whole milliseconds: an accept 0.6 ms "before" the send is at the send.
    printf '%s\n' '# mono_ms 1000.000' '0 0 400 ok 300 0' >"$BATS_TEST_TMPDIR/tl"
    printf '%s\n' '{"t_ms":0,"thread":"main","event":"trace_start","mono_ms":1000}' \
        '{"t_ms":-0.6,"thread":"loop","event":"accepted","fd":3}' \
        '{"t_ms":1,"thread":"loop","event":"request","fd":3,"req":"/obj/0"}' \
        '{"t_ms":1,"thread":"loop","event":"read_start","fd":3,"req":"/obj/0"}' >"$BATS_TEST_TMPDIR/trace"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    SPANS=$(spans)
    ! grep -q 'ph-accept' <<<"$SPANS"
    has_span "req 0 ph-wait-loop" 0 1
    # Still being read when the trace ends: to the client's end, and on the loop's lane to the
    # picture's.
    has_span "req 0 ph-read" 1 400
    has_span "lane loop ln-read" 1 450 # the axis: 400 ms rounded up a tick
}

@test "a request answered within the millisecond it was sent keeps its row" {
    # The client counts whole milliseconds, down: sent at 50.2 and answered at 50.9 ms, its row
    # says 50 to 50. The server's reply left at 50.8: that is where its bar ends. (A 0 ms bar was
    # no bar: figure 14's first page-cache hit once had no row.)
    printf '%s\n' '# mono_ms 1000.000' '0 50 50 ok 0 0' '1 50 51 timeout 0 0' >"$BATS_TEST_TMPDIR/tl"
    printf '%s\n' '{"t_ms":0,"thread":"main","event":"trace_start","mono_ms":1000}' \
        '{"t_ms":50.3,"thread":"loop","event":"accepted","fd":3}' \
        '{"t_ms":50.4,"thread":"loop","event":"request","fd":3,"req":"/obj/0"}' \
        '{"t_ms":50.6,"thread":"loop","event":"reply_ready","fd":3,"req":"/obj/0","rc":0}' \
        '{"t_ms":50.8,"thread":"loop","event":"reply_sent","fd":3,"req":"/obj/0"}' \
        '{"t_ms":50.5,"thread":"loop","event":"accepted","fd":4}' \
        '{"t_ms":50.6,"thread":"loop","event":"request","fd":4,"req":"/obj/1"}' \
        '{"t_ms":52.2,"thread":"loop","event":"reply_ready","fd":4,"req":"/obj/1","rc":0}' \
        '{"t_ms":52.3,"thread":"loop","event":"reply_sent","fd":4,"req":"/obj/1"}' \
        >"$BATS_TEST_TMPDIR/trace"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    [ "$status" -eq 0 ]
    SPANS=$(spans)
    has_span "req 0 ph-ready" 50.6 50.8
    [ "$(grep -c '^req 0 ' <<<"$SPANS")" -eq 3 ] # accept, loop, ready: 50 to 50.8 ms
    grep -q '<title>request 0, ok: not yet accepted 50.0-50.3 ms; .* 50.6-50.8 ms</title>' <<<"$output"
    # A reply sent after the client's millisecond (it gave up at 51) is not its end: the bar
    # stops at 51 ms, and says so.
    grep -q '<title>request 1, timeout: .*-51.0 ms; reply sent at 52.3 ms, after the client' <<<"$output"
}

@test "a segment drawn 1.00 px wide is keyed, however little short of 1 px it was" {
    # The legend keys a phase some bar shows 1 px wide or more. Decided before the width was
    # rounded to the SVG's 0.01 px, a 0.997 px segment was drawn "1.00" and left unkeyed.
    printf '%s\n' '# mono_ms 1000.000' '0 0 100 ok 10 0' >"$BATS_TEST_TMPDIR/tl"
    # trace READ_DONE REPLY_SENT: request 0 read on the loop from 20 ms, ready until it is sent.
    trace() {
        printf '%s\n' '{"t_ms":0,"thread":"main","event":"trace_start","mono_ms":1000}' \
            '{"t_ms":1,"thread":"loop","event":"accepted","fd":3}' \
            '{"t_ms":2,"thread":"loop","event":"request","fd":3,"req":"/obj/0"}' \
            '{"t_ms":20,"thread":"loop","event":"read_start","fd":3,"req":"/obj/0"}' \
            "{\"t_ms\":$1,\"thread\":\"loop\",\"event\":\"read_done\",\"fd\":3,\"req\":\"/obj/0\"}" \
            "{\"t_ms\":$2,\"thread\":\"loop\",\"event\":\"reply_sent\",\"fd\":3,\"req\":\"/obj/0\"}" \
            >"$BATS_TEST_TMPDIR/trace"
    }
    trace 30 40
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    # The scale, from the first two ticks; then a ready segment of 0.997 px.
    local ready
    ready=$(grep -m2 'class="tick"' <<<"$output" | sed 's/.* x="\([0-9.]*\)".*>\([0-9]*\)<.*/\1 \2/' |
        awk 'NR == 1 { x = $1; v = $2 } NR == 2 { printf "%.4f", 30 + 0.997 * ($2 - v) / ($1 - x) }')
    trace 30 "$ready"
    run "$BIN/timeline-svg" -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl"
    [ "$status" -eq 0 ]
    grep -q '<rect class="ph-ready" [^>]* width="1.00"' <<<"$output"
    keys=$(keys_and_uses)
    echo "$(tr '\n' ' ' <<<"$keys")"
    [ "$(awk '/^--$/ { exit } 1' <<<"$keys")" = "$(awk 'after; /^--$/ { after = 1 }' <<<"$keys")" ]
}

@test "timeline-svg draws one bar per request, as long as the request, coloured by its outcome" {
    printf '%s\n' '# id start_ms end_ms outcome delay_ms rc' '0 0 300 ok 300 0' '1 0 600 late 300 1' \
        '2 0 1500 timeout 300 0' '3 100 250 error 50 2' >"$BATS_TEST_TMPDIR/t"
    run "$BIN/timeline-svg" -t 'a <title> & more' -d 1500 "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 0 ]
    [[ $output == "<svg"* ]] && [[ $output == *"</svg>" ]]
    [[ $output == *'a &lt;title&gt; &amp; more'* ]]
    [ "$(grep -c '<title>request' <<<"$output")" -eq 4 ]
    # Bars in file order, in the outcome's colour, widths in proportion to the time taken.
    local bars
    bars=$(grep '<title>request' <<<"$output" | sed 's/.*width="\([0-9.]*\)".*fill="\([^"]*\)".*/\1 \2/')
    echo "$bars"
    awk '{ width[NR] = $1; colour[NR] = $2 }
         END {
             ok = colour[1] == "#009e73" && colour[2] == "#e69f00" && colour[3] == "#d55e00" &&
                  colour[4] == "#6a3d9a"
             ok = ok && width[2] > 1.99 * width[1] && width[2] < 2.01 * width[1]
             ok = ok && width[3] > 4.99 * width[1] && width[3] < 5.01 * width[1]
             exit !ok
         }' <<<"$bars"
    # The legend counts each outcome.
    [[ $output == *">ok: 1<"* ]] && [[ $output == *"timeout (client gave up): 1<"* ]]
}

@test "timeline-svg refuses a malformed or empty timeline with a clear message" {
    printf '0 0 300 ok 300 0\n1 500 400 ok 300 0\n' >"$BATS_TEST_TMPDIR/t"
    run "$BIN/timeline-svg" "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 1 ] && [[ $output == *":2: not a timeline row"* ]]
    printf '0 0 300 maybe 300 0\n' >"$BATS_TEST_TMPDIR/t"
    run "$BIN/timeline-svg" "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 1 ]
    printf '# nothing\n' >"$BATS_TEST_TMPDIR/t"
    run "$BIN/timeline-svg" "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 1 ] && [[ $output == *"no requests"* ]]
    run "$BIN/timeline-svg" "$BATS_TEST_TMPDIR/absent"
    [ "$status" -eq 1 ]
    run "$BIN/timeline-svg" -w 12 "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 1 ]
}
