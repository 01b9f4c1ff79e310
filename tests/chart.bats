#!/usr/bin/env bats
# chart-svg on hostile values: it draws what it can scale and refuses the rest with a message,
# exit status 1 and nothing on stdout, always in bounded time and size. Once `-r 1.7e308` made
# its axis inf and its tick loop wrote "-nan" lines forever (150 MB/s, a full disk). Every run
# here is under `timeout` and its output cut at 1 MiB, so a regression fails instead of hanging
# the suite or filling the disk. (tests/slides.bats checks the charts it draws for the deck.)
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
