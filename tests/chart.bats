#!/usr/bin/env bats
# chart-svg on hostile values: it draws what it can scale and refuses the rest with a message,
# exit status 1 and nothing on stdout, always in bounded time and size. Once `-r 1.7e308` made
# its axis inf and its tick loop wrote "-nan" lines forever (150 MB/s, a full disk). Every run
# here is under `timeout` and its output cut at 1 MiB, so a regression fails instead of hanging
# the suite or filling the disk. At the end, what it draws from a sound table and how it refuses a
# malformed one. (tests/slides.bats checks the charts it draws for the deck.)
load helpers

# chart VALUE [FLAGS...]: draws a one-bar table of VALUE; sets status (chart-svg's, 124 if
# timeout killed it), svg (stdout, at most 1 MiB) and err (stderr).
chart() {
    local value=$1 statuses
    shift
    printf 'L\tA\nx\t%s\n' "$value" >"$BATS_TEST_TMPDIR/in.tsv"
    timeout 5 "$BIN/chart-svg" "$@" "$BATS_TEST_TMPDIR/in.tsv" 2>"$BATS_TEST_TMPDIR/err" |
        head -c 1M >"$BATS_TEST_TMPDIR/out.svg"
    statuses=("${PIPESTATUS[@]}")
    status=${statuses[0]}
    svg=$(cat "$BATS_TEST_TMPDIR/out.svg")
    err=$(cat "$BATS_TEST_TMPDIR/err")
}

# refuses VALUE MESSAGE [FLAGS...]: status 1, MESSAGE on stderr, not a byte of SVG.
refuses() {
    local value=$1 message=$2
    shift 2
    chart "$value" "$@"
    echo "value '$value' flags '$*': status $status, ${#svg} bytes, stderr: $err"
    [ "$status" -eq 1 ] && [ -z "$svg" ] && [[ $err == *"$message"* ]]
}

# draws VALUE [FLAGS...]: status 0, one whole SVG with no nan or inf in it, and an axis of 2 to
# 7 ticks.
draws() {
    chart "$@"
    local ticks
    ticks=$(grep -c '^<line x1="[0-9.]*" y1="[0-9.]*" x2="[0-9.]*" y2="[0-9.]*"/>$' <<<"$svg" || true)
    echo "value '$1' flags '${*:2}': status $status, ${#svg} bytes, $ticks ticks, stderr: $err"
    [ "$status" -eq 0 ] && [[ $svg == "<svg"*"</svg>" ]] && ! grep -qiE 'nan|inf' <<<"$svg" &&
        [ "$ticks" -ge 2 ] && [ "$ticks" -le 7 ]
}

# Each case: VALUE <TAB> what stderr must say <TAB> flags. All run, the failures all shown.
UNSCALABLE=$(
    cat <<'EOF'
1.7e308	in.tsv:2: too large to draw: 1.7e308 (at most 1e15)	
1	bad value for -r: 1.7e308 (at most 1e15)	-r 1.7e308
1.7e308	bad value for -r: 1.7e308	-r 1.7e308
1	bad value for -r: 1e300 (at most 1e15)	-r 1e300
1	bad value for -m: 1e308 (at most 1e15)	-m 1e308
1e999	too large to draw: 1e999	
1000000000000001	too large to draw	
inf	not a number: inf	
nan	not a number: nan	
-1e308	a negative value: -1e308	
-5	a negative value: -5	
1e-320	too small to draw: 1e-320	
1	bad value for -r: inf	-r inf
1	bad value for -r: nan	-r nan
1	bad value for -r: 0	-r 0
1	bad value for -r: -5	-r -5
1	bad value for -m: -1	-m -1
EOF
)

@test "chart-svg: values it cannot scale are refused, with nothing written" {
    local value message flags bad=0
    while IFS=$'\t' read -r value message flags; do
        # shellcheck disable=SC2086  # flags are words
        refuses "$value" "$message" $flags || { echo "  ^ wanted status 1, no SVG, '$message'"; bad=1; }
    done <<<"$UNSCALABLE"
    [ "$bad" -eq 0 ]
}

@test "chart-svg: the extremes it accepts draw a sound axis, in bounded time and size" {
    local bad=0 case
    for case in 0 '1e15' '1000000000000000' '1 -r 1e15' '1 -m 1e15' '1e-300' '1 -r 1e-300' \
        '0.000001 -m 0'; do
        # shellcheck disable=SC2086  # a value, then flags
        draws $case || { echo "  ^ wanted status 0, a whole SVG, 2 to 7 ticks"; bad=1; }
    done
    [ "$bad" -eq 0 ]
}

@test "chart-svg: a number's exponent is part of it, so the bar matches its label" {
    printf 'L\tA\nx\t1.5e3\ny\t1500\nz\t3E+3 ms\n' >"$BATS_TEST_TMPDIR/t.tsv"
    run timeout 5 "$BIN/chart-svg" "$BATS_TEST_TMPDIR/t.tsv"
    [ "$status" -eq 0 ]
    local x y z
    x=$(grep '<title>x, A' <<<"$output" | sed 's/.*width="\([0-9.]*\)".*/\1/')
    y=$(grep '<title>y, A' <<<"$output" | sed 's/.*width="\([0-9.]*\)".*/\1/')
    z=$(grep '<title>z, A' <<<"$output" | sed 's/.*width="\([0-9.]*\)".*/\1/')
    echo "widths: 1.5e3 $x, 1500 $y, 3E+3 $z"
    [ "$x" = "$y" ] && awk -v y="$y" -v z="$z" 'BEGIN { exit !(z > 1.99 * y && z < 2.01 * y) }'
}

@test "chart-svg -l: a log axis over whole decades, each bar as long as its value's logarithm" {
    # Latencies of 5 ms and of 5 s side by side (make swift-lab's figure): on a linear axis the
    # 5 ms bar is a thousandth of the 5 s one; on a log axis every decade is as long as the next.
    printf 'design\tp99 ms\nslow\t5000\nmiddle\t50\nfast\t5\nnone\t0\n' >"$BATS_TEST_TMPDIR/t.tsv"
    run timeout 5 "$BIN/chart-svg" -l -r '5000:client timeout' "$BATS_TEST_TMPDIR/t.tsv"
    [ "$status" -eq 0 ]
    local slow middle fast x0 ticks line
    width() { grep "<title>$1, p99 ms" <<<"$output" | sed 's/.*width="\([0-9.]*\)".*/\1/'; }
    slow=$(width slow) middle=$(width middle) fast=$(width fast)
    echo "widths: 5000 $slow, 50 $middle, 5 $fast"
    # Two decades each: 5 to 50 and 50 to 5000 are equal lengths, 5 is a decade and a half in.
    awk -v s="$slow" -v m="$middle" -v f="$fast" \
        'BEGIN { d = (s - m) / 2; exit !(m - f > 0.99 * d && m - f < 1.01 * d && f > 0.68 * d && f < 0.72 * d) }'
    # The ticks are the decades from 1 (below the smallest value) to 10000 (at or above the largest).
    ticks=$(grep -o '>[0-9]*</text>' <<<"$output" | tr -d '></text' | paste -sd' ')
    [[ $ticks == "1 10 100 1000 10000 "* ]]
    # A 0 has no place on a log axis: no bar, its cell written at the axis.
    [ "$(grep -c '<title>' <<<"$output")" -eq 3 ]
    [[ $output == *'fill="#555">0</text>'* ]]
    # The reference line is where a bar of 5000 ends.
    x0=$(grep '<title>slow' <<<"$output" | sed 's/.*x="\([0-9.]*\)".*width.*/\1/')
    line=$(grep 'stroke-dasharray' <<<"$output" | sed 's/.*x1="\([0-9.]*\)".*/\1/')
    awk -v a="$x0" -v w="$slow" -v l="$line" 'BEGIN { exit !(a + w > l - 1 && a + w < l + 1) }'
    # The extremes it accepts still give a sound axis (2 to 7 ticks), in bounded time and size.
    local case bad=0
    for case in '0 -l' '1e15 -l' '1e-300 -l' '1 -l -m 1e15' '1e-300 -l -r 1e15' '7 -l -r 7'; do
        # shellcheck disable=SC2086  # a value, then flags
        draws $case || { echo "  ^ wanted status 0, a whole SVG, 2 to 7 ticks"; bad=1; }
    done
    [ "$bad" -eq 0 ]
}

@test "chart-svg draws a bar per cell, as long as its value, labelled with the cell as written" {
    printf '%s\n' '# a comment' 'server	req/s	µs per request' 'nginx	18484.3	47.0' \
        '08 <fork> & co	482.9	3866.7' 'none	—	about 12' >"$BATS_TEST_TMPDIR/t.tsv"
    run "$BIN/chart-svg" -t 'a <title>' -H nginx -m 0,200 "$BATS_TEST_TMPDIR/t.tsv"
    [ "$status" -eq 0 ]
    [[ $output == "<svg"* ]] && [[ $output == *"</svg>" ]]
    [[ $output == *'a &lt;title&gt;'* ]] && [[ $output == *'08 &lt;fork&gt; &amp; co'* ]]
    # One bar a cell with a value (the dash has none), in the first panel as long as its value.
    [ "$(grep -c '<title>' <<<"$output")" -eq 5 ]
    local w1 w2
    w1=$(grep '<title>nginx, req/s' <<<"$output" | sed 's/.*width="\([0-9.]*\)".*/\1/')
    w2=$(grep '<title>08 &lt;fork&gt; &amp; co, req/s' <<<"$output" | sed 's/.*width="\([0-9.]*\)".*/\1/')
    awk -v a="$w1" -v b="$w2" 'BEGIN { r = a / b; exit !(r > 18484.3 / 482.9 * 0.99 && r < 18484.3 / 482.9 * 1.01) }'
    # Labels are the cells as written, a cut bar (past -m) says so, the highlighted row is bold.
    [[ $output == *'>18484.3</text>'* ]] && [[ $output == *'>about 12</text>'* ]]
    [[ $output == *'▸ 3866.7</text>'* ]]
    [[ $output == *'font-weight="bold">nginx</text>'* ]]
    # Every text at least 14 px in the SVG's own units.
    ! grep -o 'font-size="[0-9.]*"' <<<"$output" | sed 's/[^0-9.]//g' | awk '$1 < 14 { bad = 1 } END { exit !bad }' || false
    # Grouped: one panel, a bar per series in each row.
    run "$BIN/chart-svg" -g "$BATS_TEST_TMPDIR/t.tsv"
    [ "$status" -eq 0 ] && [ "$(grep -c '<title>' <<<"$output")" -eq 5 ]
}

# refuses_table TABLE MESSAGE: chart-svg refuses TABLE (printf's escapes) with status 1 and MESSAGE.
# shellcheck disable=SC2059 # the table is the format
refuses_table() {
    printf "$1" >"$BATS_TEST_TMPDIR/t.tsv"
    run "$BIN/chart-svg" "$BATS_TEST_TMPDIR/t.tsv"
    echo "$output"
    [ "$status" -eq 1 ] && [[ $output == *"$2"* ]]
}

@test "chart-svg refuses a malformed table with the file and line" {
    local t=$BATS_TEST_TMPDIR/t.tsv
    refuses_table 'label\tv\nx\tten\n' "t.tsv:2: not a number: ten"
    refuses_table 'label\tv\nx\t1\t2\n' "t.tsv:2: 3 cells, the header has 2"
    refuses_table 'label\n' "needs a label and at least one series"
    refuses_table 'label\tv\n' "no rows"
    run "$BIN/chart-svg" "$BATS_TEST_TMPDIR/absent"
    [ "$status" -eq 1 ]
    run "$BIN/chart-svg" -w 10 "$t"
    [ "$status" -eq 1 ]
    run "$BIN/chart-svg" --bogus
    [ "$status" -eq 64 ]
}
