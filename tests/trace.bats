#!/usr/bin/env bats
# The event trace (-E FILE, common/trace.c) and what the pictures draw from it must be true: these
# tests read the trace of a real run and check the mechanism each chapter claims, so a timeline
# that showed a free loop where it was blocked (or the other way round) would fail here.
load helpers

TRACE=

# traced BINARY FLAGS...: starts the server with -E into a fresh trace file.
traced() {
    TRACE=$BATS_TEST_TMPDIR/trace
    : >"$TRACE"
    start_server "$@" -E "$TRACE"
}

# events [EVENT...]: "T_MS THREAD EVENT REQ" for every line of the trace with one of the events
# (all when none is named), in time order.
events() {
    awk -v want=" $* " '
        { t = $0; sub(/.*"t_ms":/, "", t); sub(/,.*/, "", t)
          th = $0; sub(/.*"thread":"/, "", th); sub(/".*/, "", th)
          ev = $0; sub(/.*"event":"/, "", ev); sub(/".*/, "", ev)
          rq = "-"; if ($0 ~ /"req":"/) { rq = $0; sub(/.*"req":"/, "", rq); sub(/".*/, "", rq) }
          if (want == "  " || index(want, " " ev " ")) print t, th, ev, rq }' "$TRACE" | sort -s -g
}

# spans THREAD START END: the length in ms of each START..END span on THREAD's lane.
spans() {
    events "$2" "$3" | awk -v th="$1" -v s="$2" -v e="$3" '
        $2 == th && $3 == s { open = $1 }
        $2 == th && $3 == e && open != "" { printf "%.1f\n", $1 - open; open = "" }'
}

@test "trace: one JSON object a line, trace_start first, every line well-formed" {
    traced "$BIN/04-epoll"
    shared_scenario
    stop_server
    head -1 "$TRACE" | grep -q '"event":"trace_start","mono_ms":'
    # Every line is an object with t_ms, pid, thread and event, in that order.
    ! grep -vE '^\{"t_ms":[0-9]+\.[0-9]{3},"pid":[0-9]+,"thread":"[^"]+","event":"[a-z_]+"' "$TRACE"
    # Each of the ten requests has its whole story, in order, on the loop's lane.
    local id story
    for id in $(seq 0 9); do
        story=$(events | awk -v r="/obj/$id" '$4 == r { printf "%s ", $3 }')
        [ "$story" = "request read_start read_done reply_ready reply_sent " ] ||
            { echo "/obj/$id: $story" >&2; false; }
    done
    [ "$(events accepted | wc -l)" -eq 10 ] && [ "$(events closed | wc -l)" -eq 10 ]
}

@test "trace: a trace file that cannot be opened is refused at start-up" {
    run "$BIN/04-epoll" -p 0 -E /no/such/dir/trace
    [ "$status" -eq 2 ]
    [[ $output == *"bad -E '/no/such/dir/trace': cannot append to it"* ]]
}

@test "trace 05: the loop reads one request after another: each read starts after the last ends" {
    traced "$BIN/05-blocking-in-loop"
    shared_scenario
    # The loop is still reading what the clients gave up on, and writes a turn's events when the
    # turn ends: wait until every connection is closed in the trace.
    trace_settled "$TRACE"
    stop_server
    local lanes
    lanes=$(events read_start read_done | awk '{ print $2 }' | sort -u)
    [ "$lanes" = loop ]
    # Strictly alternating start, done, start, done: never two reads at once on the loop.
    events read_start read_done | awk '
        $3 == "read_start" { if (busy) { print "read_start at " $1 " while reading"; bad = 1 } busy = 1 }
        $3 == "read_done" { busy = 0; n++ }
        END { if (n != 10) { print n " reads done, want 10"; bad = 1 } exit bad }'
    # And the requests wait for the loop: all ten connections are accepted at once, but the loop
    # reads the last request only after nine reads, 2.7 s later.
    events accepted request | awk '
        $3 == "accepted" && !first { first = $1 } $3 == "request" { last = $1 }
        END { print "# the last request read " last - first " ms after the first accept" > "/dev/stderr"
              exit !(last - first >= 2500) }'
}

@test "trace 06: four reads overlap on four workers while the loop's turns stay short" {
    traced "$BIN/06-worker-offload"
    shared_scenario
    stop_server
    # The most reads in flight at once, and on how many distinct threads.
    events read_start read_done | awk '
        $3 == "read_start" { n++; if (n > most) most = n; lanes[$2] = 1 }
        $3 == "read_done" { n-- }
        END { k = 0; for (l in lanes) { k++; if (l !~ /^worker-[0-9]+$/) bad = 1 }
              print "# at most " most " reads at once on " k " workers" > "/dev/stderr"
              exit !(most == 4 && k == 4 && !bad) }'
    # The loop: no turn, from waking to sleeping again, holds a read. A turn that read would last
    # the whole 300 ms; a third of that is left for a loaded machine's preemption (CI's sanitized
    # run saw 5.9 ms), as 09's green hub is held to below.
    local longest
    longest=$(spans loop wake wait | sort -g | tail -1)
    echo "# longest loop turn: $longest ms" >&3
    below 100 "$longest"
}

@test "trace 09: an unpatched read blocks the hub, a green one never does" {
    traced "$BIN/09-green-threads" -m green
    shared_scenario
    stop_server
    local green unpatched
    green=$(spans hub wake wait | sort -g | tail -1)
    traced "$BIN/09-green-threads" -m unpatched
    shared_scenario
    trace_settled "$TRACE" # the hub is still reading what the clients gave up on
    stop_server
    unpatched=$(spans hub wake wait | sort -g | tail -1)
    echo "# the hub's longest turn: green $green ms, unpatched $unpatched ms" >&3
    # Green's turns are short (a timer armed, a reply written); unpatched, one lasts a read.
    below 100 "$green" && above 290 "$unpatched"
    # Unpatched, the reads ran on the hub itself; green, the hub only armed their timers.
    [ "$(events read_start | awk '{ print $2 }' | sort -u)" = hub ]
}

@test "trace 11: per-disk pools: the healthy disk's reads never wait for the dying disk's workers" {
    load part3_helpers
    local design waits
    for design in shared per-disk; do
        traced "$BIN/11-dying-disk" -d 2 -w 2 -T 1000 -m "$design"
        dying_disk_beside_healthy
        sleep 0.5
        stop_server
        # Time each healthy (/d1/) request waited between arriving and its read starting.
        waits=$(events request read_start | awk '
            $4 ~ /^\/d1\// && $3 == "request" { t[$4] = $1 }
            $4 ~ /^\/d1\// && $3 == "read_start" && ($4 in t) { w = $1 - t[$4]; if (w > m) m = w }
            END { printf "%.0f", m }')
        echo "# $design: the longest a healthy read waited for a worker: $waits ms" >&3
        if [ "$design" = per-disk ]; then
            below 200 "$waits" # its own two workers, busy with its own 50 ms reads at most
            # And no thread that read for the dying disk ever read for the healthy one.
            ! events read_start | awk '$4 ~ /^\/d0\// { d0[$2] = 1 } $4 ~ /^\/d1\// { d1[$2] = 1 }
                END { for (l in d1) if (l in d0) { print "shared lane " l; found = 1 } exit !found }'
        else
            above 500 "$waits" # the shared pool: they queued behind the dying reads
        fi
    done
}

@test "trace-chrome: a trace opens in Perfetto: a track a thread, its reads complete events with their request" {
    traced "$BIN/06-worker-offload"
    shared_scenario
    stop_server
    run "$BIN/trace-chrome" "$TRACE"
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/trace.json"
    # The format's required fields, checked by a strict JSON reader of its own.
    run "$BIN/trace-event-check" "$BATS_TEST_TMPDIR/trace.json"
    echo "$output"
    [ "$status" -eq 0 ]
    local json
    json=$(cat "$BATS_TEST_TMPDIR/trace.json")
    # One named track per server thread (main, which starts the trace, the loop, four workers).
    [ "$(grep -c '"name":"thread_name"' <<<"$json")" -eq 6 ]
    grep -q '"args":{"name":"loop"}' <<<"$json"
    [ "$(grep -c '"name":"process_name"' <<<"$json")" -eq 1 ]
    # Each request's read: a complete event of 300 ms or a little more (in µs) on a worker's track, its path in args.
    local id tid
    for id in $(seq 0 9); do
        grep -qE '"name":"read","ph":"X","ts":[0-9.]+,"pid":[0-9]+,"tid":[0-9]+,"dur":3[0-9]{5}\.[0-9]{3},"args":\{"req":"/obj/'"$id"'"' <<<"$json" ||
            { echo "no read of 300 ms for /obj/$id"; false; }
    done
    tid=$(grep '"args":{"name":"loop"}' <<<"$json" | sed 's/.*"tid":\([0-9]*\).*/\1/')
    [ "$(grep '"name":"read"' <<<"$json" | grep -c "\"tid\":$tid,")" -eq 0 ] # none on the loop
    grep '"name":"asleep","ph":"X"' <<<"$json" | grep -q "\"tid\":$tid," # the loop sleeps
    # Moments are instants on the thread that logged them: ten accepts on the loop.
    [ "$(grep '"name":"accepted","ph":"i"' <<<"$json" | grep -c "\"tid\":$tid,")" -eq 10 ]
}

@test "trace-chrome: a loop blocked in a read is one long read inside its handler; bad input names its line" {
    printf '%s\n' \
        '{"t_ms":0.000,"pid":7,"thread":"main","event":"trace_start","mono_ms":5000.000}' \
        '{"t_ms":1.000,"pid":7,"thread":"loop","event":"wake"}' \
        '{"t_ms":1.500,"pid":7,"thread":"loop","event":"read_start","fd":5,"req":"/a\"b"}' \
        '{"t_ms":301.500,"pid":7,"thread":"loop","event":"read_done","fd":5,"req":"/a\"b","rc":0}' \
        '{"t_ms":302.000,"pid":7,"thread":"loop","event":"wait"}' \
        '{"t_ms":400.000,"pid":7,"thread":"loop","event":"gc_pause"}' \
        '{"t_ms":500.000,"pid":7,"thread":"loop","event":"wake"}' \
        '{"t_ms":501.000,"pid":7,"thread":"loop","event":"read_start","fd":6,"req":"/c"}' >"$BATS_TEST_TMPDIR/t"
    run "$BIN/trace-chrome" "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 0 ]
    echo "$output"
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/t.json"
    run "$BIN/trace-event-check" "$BATS_TEST_TMPDIR/t.json"
    [ "$status" -eq 0 ]
    json=$(cat "$BATS_TEST_TMPDIR/t.json")
    # The read nests inside the handler: 1.5-301.5 ms inside 1-302 ms; its path escaped.
    grep -q '"name":"read","ph":"X","ts":1500.000,"pid":7,"tid":2,"dur":300000.000,"args":{"req":"/a\\"b","fd":5,"rc":0}' <<<"$json"
    grep -q '"name":"handler","ph":"X","ts":1000.000,"pid":7,"tid":2,"dur":301000.000' <<<"$json"
    grep -q '"name":"asleep","ph":"X","ts":302000.000,"pid":7,"tid":2,"dur":198000.000' <<<"$json"
    # Still open when the trace ends (the last event, 501 ms): the handler and the read end there.
    grep -q '"name":"read","ph":"X","ts":501000.000,"pid":7,"tid":2,"dur":0.000,"args":{"req":"/c","fd":6,"open":' <<<"$json"
    [ "$(grep -c gc_pause <<<"$json")" -eq 0 ] # an event it does not know is skipped, as timeline-svg does
    # A broken line is refused with its number, as timeline-svg refuses it.
    printf '%s\n' '{"t_ms":1,"thread":"loop","event":"wait"}' '{"t_ms":2,"thread":"loop"' >"$BATS_TEST_TMPDIR/t"
    run "$BIN/trace-chrome" "$BATS_TEST_TMPDIR/t"
    [ "$status" -eq 1 ] && [[ $output == "trace-chrome: $BATS_TEST_TMPDIR/t:2: "* ]]
    run "$BIN/trace-chrome"
    [ "$status" -eq 64 ]
}

@test "trace-event-check fails what Perfetto would refuse: no dur on X, no ts, bad JSON" {
    local f=$BATS_TEST_TMPDIR/x.json bad
    for bad in '[{"name":"a","ph":"X","ts":1,"pid":1,"tid":1}]:without a "dur"' \
        '[{"name":"a","ph":"X","ts":1,"pid":1,"tid":1,"dur":-2}]:without a "dur" of 0 or more' \
        '{"traceEvents":[{"name":"a","ph":"i","pid":1,"tid":1}]}:without a "ts"' \
        '{"traceEvents":[{"ph":"i","ts":1,"pid":1,"tid":1}]}:without a "name"' \
        '{"traceEvents":[{"name":"a","ph":"i","ts":"1","pid":1,"tid":1}]}:without a "ts"' \
        '{"traceEvents":[{"name":"a","ph":"i","ts":1,"pid":1,"tid":1},]}:an event must be an object' \
        '[{"name":"a","ph":"i","ts":01,"pid":1,"tid":1}]:expected in an object' \
        '{"events":[]}:without "traceEvents"' \
        '{"traceEvents":[]} x:text after' \
        '{"traceEvents":[{"name":"a\u12","ph":"i","ts":1,"pid":1,"tid":1}]}:a bad \u escape' \
        '[{"name":"a","ph":"i","s":"x","ts":1,"pid":1,"tid":1}]:"s" is not'; do
        printf '%s\n' "${bad%:*}" >"$f"
        run "$BIN/trace-event-check" "$f"
        echo "$bad -> $status $output"
        [ "$status" -eq 1 ]
        [[ $output == *"not a trace event file: "*"${bad##*:}"* ]]
    done
    printf '%s\n' '[{"name":"a","ph":"X","ts":1.5e3,"pid":1,"tid":1,"dur":0,"args":{"x":[1,{"y":null}]}}]' >"$f"
    run "$BIN/trace-event-check" "$f"
    [ "$status" -eq 0 ] && [ "$output" = "ok: 1 events (1 complete, 0 instant, 0 metadata)" ]
}
