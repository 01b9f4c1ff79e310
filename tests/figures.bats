#!/usr/bin/env bats
# Every picture proves its caption. Each figure of a chapter's own lesson states what it shows
# next to its load (chapters/NN-name/figures.conf, "NAME: claim ..."; scripts/figures.sh says the
# form), and scripts/figures.sh --check measures each claim on the SVG: on the committed figure
# (what readers see) and on a fresh one drawn from a fresh run of the load (the load still shows
# it with today's servers), where the trace also proves the marked rows. The four re-runs take
# about 35 s: every figure's load is a few seconds by design. At the end, scripts/compare.sh, which
# draws the comparison figures: a figure and a row for each variant of a chapter's compare.conf,
# and the real systems' rows beside them.
load helpers

check() {
    run "$ROOT/scripts/figures.sh" --check "$@"
    echo "$output"
    # One status: redraw calls it after ||, where bash's errexit is off inside it.
    [ "$status" -eq 0 ] && [ "$(grep -c '^ok ' <<<"$output")" -gt 0 ]
}

# redraw CHAPTER: its figures from a fresh run into the test's folder, trace kept, then checked.
redraw() {
    run "$ROOT/scripts/figures.sh" --traces "$BATS_TEST_TMPDIR" "$1"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    check "$BATS_TEST_TMPDIR" "$1" || {
        # Which thread read what, and when: a hit is read by the loop, a miss by a worker.
        echo "the fresh traces' reads:"
        grep -h '"event":"read_\(start\|done\)"' "$BATS_TEST_TMPDIR"/*.trace | head -80
        return 1
    }
    grep -q '^ok .*: rows marked are those of ' <<<"$output" || [ "$1" = 10-slow-clients ] ||
        [ "$1" = 13-multicore ]
}

@test "the committed figures show what their captions claim; each states a claim and a subtitle" {
    check "$ROOT/slides/figures"
    # Each figure of figures.sh --list was checked, and said what it shows.
    [ "$(grep -c ': states what it shows' <<<"$output")" -eq "$("$ROOT/scripts/figures.sh" --list | wc -l)" ]
}

@test "every committed timeline figure, compare.sh's too, has a subtitle and keys only what it draws" {
    run "$ROOT/scripts/figures.sh" --check-svg "$ROOT"/slides/figures/[0-9]*.svg
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^ok .*: the legend keys exactly' <<<"$output")" -eq \
        "$(ls "$ROOT"/slides/figures/[0-9]*.svg | wc -l)" ]
}

@test "10, fresh: requests 1-5 wait over 1 s for the loop the slow reader holds; fixed, not" {
    redraw 10-slow-clients
}

@test "11, fresh: the dying disk's rows are marked; its reads starve the shared pool only" {
    redraw 11-dying-disk
}

@test "13, fresh: SO_REUSEPORT strands some behind the blocked loop; EPOLLEXCLUSIVE none" {
    redraw 13-multicore
}

@test "14, fresh: hits answered on the loop while misses hold every worker; offloaded, they queue" {
    redraw 14-cache-aware
    # A mark the trace does not bear out fails: the same picture, but a trace that says /miss/
    # was asked for by requests 5-9, not 0-4.
    sed -i -e 's|"/miss/\([0-4]\)"|"/x/\1"|' -e 's|"/same/\([5-9]\)"|"/miss/\1"|' \
        "$BATS_TEST_TMPDIR/14-hits.trace"
    run "$ROOT/scripts/figures.sh" --check "$BATS_TEST_TMPDIR" 14-cache-aware
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL 14-hits: rows marked are those of /miss/ (marked 0,1,2,3,4; the trace: 5,6,7,8,9)"* ]]
}

@test "a claim the picture does not show fails, and says what it measured" {
    local conf=$BATS_TEST_TMPDIR/conf/10-slow-clients dir=$BATS_TEST_TMPDIR/svg
    mkdir -p "$conf" "$dir"
    cp "$ROOT/slides/figures/10-naive.svg" "$dir/"
    {
        grep '^naive |' "$ROOT/chapters/10-slow-clients/figures.conf"
        echo 'naive: claim requests 1-5 latency < 100 ms' # what the old load drew: false here
        echo 'naive: claim requests 0 outcome ok'
        echo 'naive: claim at least 6 of requests 0-5 outcome ok' # 0 never is
        echo 'naive: claim requests 1-5 start while every worker lane reads'
        echo 'naive: claim requests 1-5 accept+wait-loop >= 1000 ms' # true: the others still fail
    } >"$conf/figures.conf"
    FIGURES_CONF_DIR=$BATS_TEST_TMPDIR/conf run "$ROOT/scripts/figures.sh" --check "$dir" 10-slow-clients
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL 10-naive: requests 1-5 latency < 100 ms (measured "*"; request 1: "* ]]
    [[ $output == *"FAIL 10-naive: requests 0 outcome ok (0 of 1 hold; request 0: timeout)"* ]]
    [[ $output == *"FAIL 10-naive: at least 6 of requests 0-5 outcome ok ("[0-5]" of 6 hold"* ]]
    [[ $output == *"FAIL 10-naive: requests 1-5 start while every worker lane reads"* ]]
    [[ $output == *"ok   10-naive: requests 1-5 accept+wait-loop >= 1000 ms"* ]]
    # A legend key for a colour the figure does not draw; an empty subtitle; no claim at all.
    sed -e '/class="ph-ready"/d' -e 's|^\(<text x="8" y="35"[^>]*>\).*</text>|\1</text>|' \
        "$ROOT/slides/figures/10-naive.svg" >"$dir/10-naive.svg"
    grep '^naive |' "$ROOT/chapters/10-slow-clients/figures.conf" >"$conf/figures.conf"
    FIGURES_CONF_DIR=$BATS_TEST_TMPDIR/conf run "$ROOT/scripts/figures.sh" --check "$dir" 10-slow-clients
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"FAIL 10-naive: has a subtitle (empty)"* ]]
    [[ $output == *"FAIL 10-naive: the legend keys exactly the colours drawn ( keyed, not drawn: ph-ready)"* ]]
    [[ $output == *"FAIL 10-naive: states what it shows (0 claims)"* ]]
}

@test "a bar is measured from its leftmost segment as a number: 82 px is left of 449 px" {
    # Request 0 waits 21-590 ms for a worker, then is read: its segments start at x of two and
    # of three digits. Compared as text, "449..." < "82...", and its 580 ms measured under 10.
    local conf=$BATS_TEST_TMPDIR/conf/14-cache-aware dir=$BATS_TEST_TMPDIR/svg
    mkdir -p "$conf" "$dir"
    printf '%s\n' '# mono_ms 1000.000' '0 20 600 ok 0 0' >"$BATS_TEST_TMPDIR/tl"
    printf '%s\n' '{"t_ms":0,"thread":"main","event":"trace_start","mono_ms":1000}' \
        '{"t_ms":20.5,"thread":"loop","event":"accepted","fd":3}' \
        '{"t_ms":21,"thread":"loop","event":"request","fd":3,"req":"/obj/0"}' \
        '{"t_ms":590,"thread":"worker-1","event":"read_start","fd":3,"req":"/obj/0"}' \
        '{"t_ms":599,"thread":"worker-1","event":"read_done","fd":3,"req":"/obj/0"}' \
        '{"t_ms":599.5,"thread":"loop","event":"reply_sent","fd":3,"req":"/obj/0"}' >"$BATS_TEST_TMPDIR/trace"
    "$BIN/timeline-svg" -t hits -s 'one request' -e "$BATS_TEST_TMPDIR/trace" "$BATS_TEST_TMPDIR/tl" >"$dir/14-hits.svg"
    grep -A9 '<g class="req" data-id="0"' "$dir/14-hits.svg" | grep -q '<rect class="ph-[a-z-]*" x="[0-9][0-9]\.'
    grep -A9 '<g class="req" data-id="0"' "$dir/14-hits.svg" | grep -q '<rect class="ph-read" x="[1-9][0-9][0-9]\.'
    printf '%s\n' 'hits | - | - | -' 'hits: claim requests 0 latency < 100 ms' \
        'hits: claim requests 0 wait-worker >= 500 ms' >"$conf/figures.conf"
    FIGURES_CONF_DIR=$BATS_TEST_TMPDIR/conf run "$ROOT/scripts/figures.sh" --check "$dir" 14-cache-aware
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output =~ "FAIL 14-hits: requests 0 latency < 100 ms (measured 5"[78][0-9]" to " ]]
    [[ $output == *"ok   14-hits: requests 0 wait-worker >= 500 ms"* ]]
}

@test "compare.sh runs each variant of a chapter's compare.conf and marks the ones that time out" {
    # Chapter 06 with one worker is serial again: the shared scenario times out; with ten, not.
    mkdir -p "$BATS_TEST_TMPDIR/conf/06-worker-offload"
    printf '# label flags\nw1   -w 1\nw10  -w 10   # one worker per client\n' \
        >"$BATS_TEST_TMPDIR/conf/06-worker-offload/compare.conf"
    export COMPARE_CONF_DIR="$BATS_TEST_TMPDIR/conf"
    run "$ROOT/scripts/compare.sh" --list-figures 06-worker-offload
    [ "$output" = "$(printf '06-shared-w1.svg\n06-dying-disk-w1.svg\n06-shared-w10.svg\n06-dying-disk-w10.svg')" ]
    COMPARE_SHARED_ONLY=1 run "$ROOT/scripts/compare.sh" --markdown "$BATS_TEST_TMPDIR/compare.md" \
        --figures "$BATS_TEST_TMPDIR/fig" 06-worker-offload
    [ "$status" -eq 0 ]
    grep '^| 06 ' "$BATS_TEST_TMPDIR/compare.md"
    grep -q '^| 06 | .*(`-w 1`) | \*\*Y\*\* |' "$BATS_TEST_TMPDIR/compare.md"
    grep -q '^| 06 | .*(`-w 10`) | N | 0 |' "$BATS_TEST_TMPDIR/compare.md"
    # With ten workers the server had at least 11 threads at its peak; with one, at most 2.
    grep '(`-w 10`)' "$BATS_TEST_TMPDIR/compare.md" | awk -F'|' '{ exit !($9 >= 11) }'
    grep '(`-w 1`)' "$BATS_TEST_TMPDIR/compare.md" | awk -F'|' '{ exit !($9 <= 2) }'
    [ "$(ls "$BATS_TEST_TMPDIR/fig" | wc -l)" -eq 2 ] # the shared scenario of each variant
}

@test "compare.sh adds the real systems: eventlet as Swift runs it times out, its tpool does not, each row saying where it read" {
    local why reads
    if why=$(peer_missing eventlet); then skip "$why"; fi
    COMPARE_SHARED_ONLY=1 run "$ROOT/scripts/compare.sh" --markdown "$BATS_TEST_TMPDIR/compare.md" eventlet
    echo "$output"
    [ "$status" -eq 0 ]
    # On the slow disk where FUSE mounts (every read real); else on the simulated one, with the
    # unpatched sleep that blocks as the read does.
    reads='slow disk (FUSE)'
    grep -q 'no slow disk here' <<<"$output" && reads=simulated
    grep -q "^| eventlet | .*, the seed's baseline | \*\*Y\*\* | [1-9][0-9]* | .* | $reads |\$" "$BATS_TEST_TMPDIR/compare.md"
    grep -q "^| eventlet | .*(\`--tpool\`) | N | 0 | .* | $reads |\$" "$BATS_TEST_TMPDIR/compare.md"
    [ "$(grep -c '^| eventlet |' "$BATS_TEST_TMPDIR/compare.md")" -eq 2 ]
}
