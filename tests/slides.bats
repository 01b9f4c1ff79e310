#!/usr/bin/env bats
# The talk never lies about the code: every C excerpt on a slide is still, verbatim, in the file
# it cites, and every figure it shows is one `make figures` draws. Plus the SVG renderer itself.
# Fast: nothing here starts a server or draws the real figures.
#
# The excerpt convention in slides/deck.md: a ```c block must follow, on the very next line, a
# line  <!-- from chapters/NN-name/server.c -->  and its lines must appear, contiguous and
# unchanged (indentation included), in that file.
load helpers

DECK="$ROOT/slides/deck.md"

# check_excerpts DECK: prints each excerpt that is uncited or no longer in its file; fails if any.
check_excerpts() {
    (cd "$ROOT" && awk '
        function report(msg) { printf "%s:%d: %s\n", FILENAME, start, msg; bad = 1 }
        # Is excerpt k, n lines, a contiguous run of lines of file?
        function found(k, n, file,    line, src, m, i, j) {
            m = 0
            while ((getline line < file) > 0) src[++m] = line
            close(file)
            if (m == 0) return -1
            for (i = 1; i + n - 1 <= m; i++) {
                for (j = 1; j <= n && src[i + j - 1] == text[k, j]; j++) ;
                if (j > n) return 1
            }
            return 0
        }
        in_code && /^```/ { in_code = 0; len[k] = n; next }
        in_code { text[k, ++n] = $0; next }
        /^<!-- from [^ ]+ -->$/ { cite = $3; cite_line = FNR; next }
        /^```/ {
            start = FNR
            if (cite != "" && cite_line == FNR - 1) {
                k++; from[k] = cite; at[k] = FNR; in_code = 1; n = 0
            } else if ($0 ~ /^```c[ \t]*$/) {
                report("a C block with no <!-- from FILE --> line just above it")
            } else {
                k++; from[k] = ""; in_code = 1; n = 0 # another language: not an excerpt
            }
            cite = ""
            next
        }
        END {
            for (e = 1; e <= k; e++) {
                if (from[e] == "") continue
                start = at[e]
                r = found(e, len[e], from[e])
                if (r < 0) report("cites " from[e] ", which does not exist")
                else if (r == 0) report("not in " from[e] " any more: " text[e, 1])
                else count++
            }
            if (count == 0 && !bad) { print "no excerpts at all"; bad = 1 }
            exit bad
        }' "$1")
}

# figure_refs DECK: the figure files the deck shows, one a line.
figure_refs() {
    grep -o '](figures/[A-Za-z0-9._-]*\.svg)' "$1" | sed 's|^](figures/||;s|)$||' | sort -u
}

@test "every C excerpt in the deck is still verbatim in the chapter file it cites" {
    run check_excerpts "$DECK"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "the excerpt check catches edited, uncited and dangling excerpts" {
    local deck="$BATS_TEST_TMPDIR/deck.md"
    printf '%s\n' '<!-- from chapters/01-blocking/server.c -->' '```c' \
        '    log_msg("stopping");' '    close(listen_fd);' '```' >"$deck"
    run check_excerpts "$deck"
    [ "$status" -eq 0 ]
    # One changed character.
    printf '%s\n' '<!-- from chapters/01-blocking/server.c -->' '```c' \
        '    log_msg("stopping");' '    close(listen_fd );' '```' >"$deck"
    run check_excerpts "$deck"
    [ "$status" -ne 0 ] && [[ $output == *"not in chapters/01-blocking/server.c"* ]]
    # Two real lines, but not next to each other.
    printf '%s\n' '<!-- from chapters/01-blocking/server.c -->' '```c' \
        '    close(listen_fd);' '    log_msg("stopping");' '```' >"$deck"
    run check_excerpts "$deck"
    [ "$status" -ne 0 ]
    # C code with no citation, and a citation of a file that is not there.
    printf '%s\n' '```c' 'int main(void) { return 0; }' '```' >"$deck"
    run check_excerpts "$deck"
    [ "$status" -ne 0 ] && [[ $output == *"no <!-- from FILE -->"* ]]
    printf '%s\n' '<!-- from chapters/00-none/server.c -->' '```c' 'x' '```' >"$deck"
    run check_excerpts "$deck"
    [ "$status" -ne 0 ] && [[ $output == *"does not exist"* ]]
}

@test "every chapter README shows at least one figure, each one make figures draws" {
    local list readme figs f
    list=$("$ROOT/scripts/compare.sh" --list-figures; "$ROOT/scripts/figures.sh" --list)
    for readme in "$ROOT"/chapters/[0-9]*/README.md; do
        figs=$(grep -o '](../../slides/figures/[A-Za-z0-9._-]*\.svg)' "$readme" |
            sed 's|^](../../slides/figures/||;s|)$||')
        [ -n "$figs" ] || { echo "$readme shows no figure"; false; }
        for f in $figs; do
            grep -qx "$f" <<<"$list" || { echo "$readme shows $f, which make figures does not draw"; false; }
            [ -f "$ROOT/slides/figures/$f" ] || { echo "$readme shows $f, which is not committed"; false; }
        done
    done
}

@test "every figure the deck shows is one make figures draws, and each drawn one is an SVG" {
    local list refs missing f
    list=$("$ROOT/scripts/compare.sh" --list-figures; "$ROOT/scripts/figures.sh" --list)
    refs=$(figure_refs "$DECK")
    [ -n "$refs" ]
    missing=$(comm -23 <(echo "$refs") <(echo "$list" | sort -u))
    [ -z "$missing" ] || { echo "the deck shows figures make figures does not draw: $missing"; false; }
    # The list follows the chapters: both scenarios for every chapter there is.
    for f in "$ROOT"/chapters/[0-9]*/server.c; do
        f=$(basename "$(dirname "$f")")
        echo "$list" | grep -q "^${f%%-*}-shared" || { echo "no shared figure for $f"; false; }
        echo "$list" | grep -q "^${f%%-*}-dying-disk" || { echo "no dying-disk figure for $f"; false; }
    done
    for f in $refs; do
        [ -f "$ROOT/slides/figures/$f" ] || continue # not drawn yet on this machine
        head -c 5 "$ROOT/slides/figures/$f" | grep -q '^<svg' || { echo "$f is not an SVG"; false; }
        grep -q '<title>request 0:' "$ROOT/slides/figures/$f" || { echo "$f has no bars"; false; }
    done
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

@test "the built deck is one offline file: remark and every figure inside, nothing fetched" {
    [ -f /usr/share/javascript/remark-slide/remark.min.js ] ||
        skip "libjs-remark-slide is not installed (make slides installs it)"
    local f
    for f in $(figure_refs "$DECK"); do
        [ -f "$ROOT/slides/figures/$f" ] || skip "slides/figures/$f not drawn yet (make figures)"
    done
    local out="$BATS_TEST_TMPDIR/deck.html"
    run "$ROOT/slides/build.sh" --no-run "$DECK" "$out"
    [ "$status" -eq 0 ]
    ! grep -Eq '(src|href)="(https?:)?//' "$out"
    ! grep -q '<script src' "$out"
    ! grep -q '](figures/' "$out"
    [ "$(grep -o 'data:image/svg+xml;base64,' "$out" | wc -l)" -ge "$(figure_refs "$DECK" | wc -l)" ]
    grep -q 'remark.create' "$out"
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
