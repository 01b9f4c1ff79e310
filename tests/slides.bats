#!/usr/bin/env bats
# The talk never lies about the code or the numbers: every C excerpt on a slide is still,
# verbatim, in the file it cites; every figure it shows is one `make figures` draws; every number
# is filled in from the file a run wrote, and the filled deck quotes only what that file holds.
# Every slide has speaker notes with a time mark, the talk keeps its 30 and 10 minutes, and each
# slide's notes, spoken at 150 words a minute, fit the time its mark gives it. In headless
# Chromium (Debian's, which make test installs), on a 1024 x 768 projector, every slide fits and
# no text, a figure's included, is under 14 px; the printed deck and the speaker's handout have a
# page per slide. The runbook's live moments are slides of the deck. Nothing here starts a server
# or draws the real figures; the browser tests take about 30 s. None of our C runs here but
# chart-svg, on the deck's tables (tests/chart.bats runs it sanitized, and the SVG renderers'
# own tests are chart.bats's and timeline.bats's): under SAN=... every test here skips.
# The deck and its lightning path are built once for the file (setup_file), not once a test: a
# build is seconds of CPU, where make test has little to spare.
#
# The excerpt convention in slides/deck.md: a ```c block must follow, on the very next line, a
# line  <!-- from chapters/NN-name/server.c -->  and its lines must appear, contiguous and
# unchanged (indentation included), in that file. The number markers: slides/build.sh's header.
load helpers

DECK="$ROOT/slides/deck.md"

# setup_file: what the tests only read, made once for the file. In $BATS_FILE_TMPDIR/NAME/, for
# NAME deck (slides/deck.md) and lightning (its --lightning path): build.sh's NAME.html (when
# remark is installed), NAME.md, the deck as build.sh fills it (markers, chapter slides), its
# charts beside it under figures/ with the committed figures, so docs-check can follow its links,
# build.log (what build.sh said) and status. And the figures make figures draws, in drawn.
# Nothing here fails: a build that failed fails each test that reads it, with its message (built).
setup_file() {
    ! sanitized || return 0 # setup skips each test
    local name dir flag what status
    for name in deck lightning; do
        dir=$BATS_FILE_TMPDIR/$name
        flag=""
        [ $name = deck ] || flag=--lightning
        if [ -f /usr/share/javascript/remark-slide/remark.min.js ]; then
            what=(--markdown "$dir/$name.md" "$DECK" "$dir/$name.html")
        else # the HTML needs remark; the tests that open it skip without it
            what=(--markdown-only "$dir/$name.md" "$DECK")
        fi
        mkdir -p "$dir/figures"
        ln -sf "$ROOT"/slides/figures/*.svg "$dir/figures/"
        status=0
        "$ROOT/slides/build.sh" --no-run $flag --charts "$dir/figures" "${what[@]}" >"$dir/build.log" 2>&1 ||
            status=$?
        echo "$status" >"$dir/status"
    done
    status=0
    ("$ROOT/scripts/compare.sh" --list-figures; "$ROOT/scripts/figures.sh" --list) \
        >"$BATS_FILE_TMPDIR/drawn" 2>"$BATS_FILE_TMPDIR/drawn.err" || status=$?
    echo "$status" >"$BATS_FILE_TMPDIR/drawn.status"
}

setup() { skip_when_sanitized "the deck's build, its checks and Chromium"; }

# built NAME: setup_file's build of NAME (deck or lightning) succeeded; else fails, with its message.
built() {
    [ "$(<"$BATS_FILE_TMPDIR/$1/status")" -eq 0 ] || { cat "$BATS_FILE_TMPDIR/$1/build.log"; false; }
}

# drawn_figures: the figures make figures draws, one a line (scripts/compare.sh's and
# scripts/figures.sh's lists, as setup_file found them); fails as the last of them failed.
drawn_figures() {
    cat "$BATS_FILE_TMPDIR/drawn.err" >&2
    cat "$BATS_FILE_TMPDIR/drawn"
    return "$(<"$BATS_FILE_TMPDIR/drawn.status")"
}

# slide_facts DECK: one line a slide: its number, "L" if on the lightning path, "B" if kept for
# questions after the talk (class backup), else "-", the figures it shows, its full-talk time mark
# and its lightning one ("-" when none, "auto" for a slide build.sh made, "backup" for a backup
# slide), whether it has notes (1/0), and its title.
slide_facts() {
    awk '
        function flush() {
            if (!have) return
            printf "%d %s %d %s %s %d %s\n", ++n, (cls ~ /lightning/ ? "L" : cls ~ /backup/ ? "B" : "-"), figs,
                (mark == "" ? "-" : mark), (fast == "" ? "-" : fast), notes, (title == "" ? "-" : title)
            have = 0; cls = ""; figs = 0; mark = ""; fast = ""; notes = 0; title = ""; in_notes = 0
        }
        /^```/ { fence = !fence }
        !fence && /^---[ \t]*$/ { flush(); next }
        { have = 1 }
        !fence && /^class:/ && !in_notes { cls = $0 }
        !fence && /^# / && title == "" && !in_notes { title = substr($0, 3); gsub(/ /, "_", title) }
        !fence && /^\?\?\?[ \t]*$/ { in_notes = 1; next }
        in_notes && /[^ \t]/ { notes = 1 }
        in_notes && mark == "" && match($0, /\[[0-9]+:[0-5][0-9]\]|\[auto\]|\[backup\]/) { mark = substr($0, RSTART + 1, RLENGTH - 2) }
        in_notes && fast == "" && match($0, /\[\xe2\x9a\xa1 [0-9]+:[0-5][0-9]\]/) { fast = substr($0, RSTART + 5, RLENGTH - 6) }
        !in_notes { s = $0; while (match(s, /\]\(figures\/[A-Za-z0-9._-]+\.svg\)/)) { figs++; s = substr(s, RSTART + RLENGTH) } }
        END { flush() }' "$1"
}

# slide_pace DECK: one line a timed slide: how long its notes take to say at 150 words a minute
# against the time its marks give it, on the full path and on the lightning one (a slide's time
# runs to the next slide's mark, the last one's to 30:00 or 10:00), less the time a live command
# takes ("[live 0:15]" in its notes). A word is a run of non-blanks with a letter or a digit; the
# marks are not words. Each share outside 60 % to 110 % is flagged OVER or UNDER: over 110 % the
# notes cannot be said in the slide's time even 10 % faster than 150 words a minute; under 60 %
# the slide's time is mostly silence, which a slide that needs it should have instead (pointing at
# a figure takes time, hence the wide margin below 100 %).
slide_pace() {
    awk -v talk_s=1800 -v lightning_s=600 '
        function sec(m,    a) { split(m, a, ":"); return a[1] * 60 + a[2] }
        function flush() {
            if (!have) return
            n++; title[n] = t == "" ? "-" : t; mark[n] = mk; fast[n] = fm; live[n] = lv; words[n] = w
            have = 0; t = ""; mk = ""; fm = ""; lv = 0; w = 0; in_notes = 0
        }
        /^```/ { fence = !fence }
        !fence && /^---[ \t]*$/ { flush(); next }
        { have = 1 }
        !fence && /^# / && t == "" && !in_notes { t = substr($0, 3) }
        !fence && /^\?\?\?[ \t]*$/ { in_notes = 1; next }
        in_notes {
            line = $0
            if (mk == "" && match(line, /\[[0-9]+:[0-5][0-9]\]/)) mk = substr(line, RSTART + 1, RLENGTH - 2)
            if (fm == "" && match(line, /\[\xe2\x9a\xa1 [0-9]+:[0-5][0-9]\]/)) fm = substr(line, RSTART + 5, RLENGTH - 6)
            if (match(line, /\[live [0-9]+:[0-5][0-9]\]/)) lv = sec(substr(line, RSTART + 6, RLENGTH - 7))
            gsub(/\[[^]]*[0-9]+:[0-5][0-9]\]/, "", line)
            k = split(line, word, /[ \t]+/)
            for (i = 1; i <= k; i++) if (word[i] ~ /[A-Za-z0-9]/) w++
        }
        function share(path, d, i,    spoken, r) {
            spoken = words[i] * 60 / 150
            r = spoken / (d - live[i])
            return sprintf("; %s %d s%s: %d%%%s", path, d, live[i] ? " less " live[i] " s live" : "", 100 * r + 0.5,
                           r > 1.1 ? " OVER" : r < 0.6 ? " UNDER" : "")
        }
        END {
            flush()
            end = talk_s; end_fast = lightning_s
            for (i = n; i >= 1; i--) {
                if (mark[i] != "") { d[i] = end - sec(mark[i]); end = sec(mark[i]) }
                if (fast[i] != "") { df[i] = end_fast - sec(fast[i]); end_fast = sec(fast[i]) }
            }
            for (i = 1; i <= n; i++) {
                if (mark[i] == "") continue
                printf "slide %d (%s): %d words, %.0f s to say%s%s\n", i, title[i], words[i], words[i] * 60 / 150,
                    share("full", d[i], i), fast[i] != "" ? share("lightning", df[i], i) : ""
            }
        }' "$1"
}

# seconds M:SS
seconds() { echo $((10#${1%%:*} * 60 + 10#${1##*:})); }

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
    list=$(drawn_figures)
    for readme in "$ROOT"/chapters/[0-9]*/README.md; do
        figs=$(grep -o '](../../slides/figures/[A-Za-z0-9._-]*\.svg)' "$readme" |
            sed 's|^](../../slides/figures/||;s|)$||')
        [ -n "$figs" ] || { echo "$readme shows no figure"; false; }
        for f in $figs; do
            [[ $'\n'$list$'\n' == *$'\n'"$f"$'\n'* ]] || { echo "$readme shows $f, which make figures does not draw"; false; }
            [ -f "$ROOT/slides/figures/$f" ] || { echo "$readme shows $f, which is not committed"; false; }
        done
    done
}

@test "every figure the deck shows is one make figures draws, and each drawn one is an SVG" {
    local list refs missing f
    list=$(drawn_figures)
    refs=$(figure_refs "$DECK")
    [ -n "$refs" ]
    missing=$(comm -23 <(echo "$refs") <(echo "$list" | sort -u))
    [ -z "$missing" ] || { echo "the deck shows figures make figures does not draw: $missing"; false; }
    # The list follows the chapters: both scenarios for every chapter there is (a line of the list
    # starts with each; matched in the shell, as the loops here run for every chapter and figure).
    for f in "$ROOT"/chapters/[0-9]*/server.c; do
        f=${f%/server.c}
        f=${f##*/}
        [[ $'\n'$list == *$'\n'"${f%%-*}-shared"* ]] || { echo "no shared figure for $f"; false; }
        [[ $'\n'$list == *$'\n'"${f%%-*}-dying-disk"* ]] || { echo "no dying-disk figure for $f"; false; }
    done
    for f in $refs; do
        [ -f "$ROOT/slides/figures/$f" ] || continue # not drawn yet on this machine
        head -c 5 "$ROOT/slides/figures/$f" | grep -q '^<svg' || { echo "$f is not an SVG"; false; }
        grep -qE '<title>request 0[:,]' "$ROOT/slides/figures/$f" || { echo "$f has no bars"; false; }
    done
}

@test "the built deck is one offline file: remark and every figure inside, nothing fetched" {
    [ -f /usr/share/javascript/remark-slide/remark.min.js ] ||
        skip "libjs-remark-slide is not installed (make slides installs it)"
    local f
    for f in $(figure_refs "$DECK"); do
        [ -f "$ROOT/slides/figures/$f" ] || skip "slides/figures/$f not drawn yet (make figures)"
    done
    local out="$BATS_FILE_TMPDIR/deck/deck.html"
    built deck
    ! grep -Eq '(src|href)="(https?:)?//' "$out" || false # a bare `! cmd` never fails a bats test
    ! grep -q '<script src' "$out" || false
    ! grep -q '](figures/' "$out" || false
    [ "$(grep -o 'data:image/svg+xml;base64,' "$out" | wc -l)" -ge "$(figure_refs "$DECK" | wc -l)" ]
    grep -q 'remark.create' "$out"
}

@test "every slide has speaker notes with a time mark, and shows two figures at most" {
    built deck
    run slide_facts "$BATS_FILE_TMPDIR/deck/deck.md"
    echo "$output"
    [ "$(wc -l <<<"$output")" -ge 30 ]
    local n lane figs mark fast notes title bad=0 backups=0
    while read -r n lane figs mark fast notes title; do
        [ "$notes" -eq 1 ] || { echo "slide $n ($title): no speaker notes"; bad=1; }
        [ "$mark" != - ] || { echo "slide $n ($title): notes without a [M:SS] mark"; bad=1; }
        [ "$figs" -le 2 ] || { echo "slide $n ($title): $figs figures"; bad=1; }
        # The lightning path's slides, and only they, carry its time mark.
        if [ "$lane" = L ] && [ "$fast" = - ]; then echo "slide $n ($title): lightning, no ⚡ mark"; bad=1; fi
        if [ "$lane" != L ] && [ "$fast" != - ]; then echo "slide $n ($title): a ⚡ mark off the path"; bad=1; fi
        # A backup slide, kept for questions, is marked so, and comes after the talk's last slide.
        if [ "$lane" = B ]; then
            backups=$((backups + 1))
            [ "$mark" = backup ] || { echo "slide $n ($title): a backup slide marked [$mark], not [backup]"; bad=1; }
        else
            [ "$mark" != backup ] || { echo "slide $n ($title): [backup] on a slide of the talk"; bad=1; }
            [ "$backups" -eq 0 ] || { echo "slide $n ($title): a slide of the talk after a backup slide"; bad=1; }
        fi
    done <<<"$output"
    [ "$bad" -eq 0 ]
    [ "$backups" -ge 2 ]
}

@test "the talk runs 30 minutes and its lightning path 10: the time marks go forward and end in time" {
    run slide_facts "$DECK"
    local n lane figs mark fast notes title last=-1 last_fast=-1 t bad=0 count=0
    while read -r n lane figs mark fast notes title; do
        [ "$mark" = - ] || [ "$mark" = backup ] && continue
        t=$(seconds "$mark")
        [ "$t" -gt "$last" ] || { echo "slide $n ($title): [$mark] is not after the slide before"; bad=1; }
        last=$t
        [ "$fast" = - ] && continue
        count=$((count + 1))
        t=$(seconds "$fast")
        [ "$t" -gt "$last_fast" ] || { echo "slide $n ($title): [⚡ $fast] is not after the one before"; bad=1; }
        last_fast=$t
    done <<<"$output"
    echo "last mark $last s, last lightning mark $last_fast s, $count lightning slides"
    [ "$bad" -eq 0 ]
    # The last slide starts with time left for it, and both paths start at 0:00.
    [ "$last" -ge $((25 * 60)) ] && [ "$last" -le $((29 * 60 + 30)) ]
    [ "$last_fast" -ge $((8 * 60)) ] && [ "$last_fast" -le $((9 * 60 + 30)) ]
    [ "$(sed -n '1p' <<<"$output" | awk '{ print $4, $5 }')" = "0:00 0:00" ]
    [ "$count" -ge 8 ]
    # slides/README.md's outline quotes the marks: each is a slide's.
    local m
    for m in $(grep -oE '`\[[0-9]+:[0-5][0-9]\]`' "$ROOT/slides/README.md" | tr -d '`[]'); do
        grep -q "^\[$m\]" "$DECK" || { echo "slides/README.md quotes [$m], which no slide starts at"; false; }
    done
}

@test "each slide's notes, at 150 words a minute, take 60 % to 110 % of its time on both paths" {
    run slide_pace "$DECK"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(wc -l <<<"$output")" -ge 30 ]
    [ "$(grep -c '; lightning ' <<<"$output")" -ge 8 ]
    ! grep -E ' (OVER|UNDER)' <<<"$output"
}

@test "the pace check flags notes too long or too short for their slide, a live command's time aside" {
    local d=$BATS_TEST_TMPDIR/d.md words
    words=$(printf 'word %.0s' $(seq 100))
    # 100 words (40 s) in 20 s; 5 words in 60 s; 50 words (20 s) in 45 s less 15 s live: fine.
    printf '%s\n' '# crowded' '' '???' '' '[0:00]' "$words" '---' '# silent' '' '???' '' '[0:20]' \
        'five words and no more' '---' '# live' '' '???' '' '[1:20] [live 0:15]' \
        "$(printf 'word %.0s' $(seq 50))" '---' '# end' '' '???' '' '[2:05]' "$(printf 'word %.0s' $(seq 20))" >"$d"
    run slide_pace "$d"
    echo "$output"
    [[ $output == *"slide 1 (crowded): 100 words, 40 s to say; full 20 s: 200% OVER"* ]]
    [[ $output == *"slide 2 (silent): 5 words, 2 s to say; full 60 s: 3% UNDER"* ]]
    [[ $output == *"slide 3 (live): 50 words, 20 s to say; full 45 s less 15 s live: 67%"* ]]
    ! grep -q 'slide 3 .*\(OVER\|UNDER\)' <<<"$output"
}

@test "every number marker resolves, and the filled deck quotes only numbers its sources hold" {
    local out=$BATS_TEST_TMPDIR/out/deck.md
    built deck
    # A copy, the figures' links with it: the test makes a number up in it below.
    cp -a "$BATS_FILE_TMPDIR/deck" "$BATS_TEST_TMPDIR/out"
    # Every marker was filled, and the deck still has its numbers in it.
    ! grep -nE '<!-- (n|table|chart|output|diff|list) |<!-- more chapters -->' "$out" || false
    # The lab's chart (log="yes") runs in decades: its p99s span 10 ms to the 5 s timeout.
    grep -q '>100</text>' "$BATS_TEST_TMPDIR/out/figures/chart-swift-lab.svg"
    grep -q '>10000</text>' "$BATS_TEST_TMPDIR/out/figures/chart-swift-lab.svg"
    [ "$(grep -o '<!-- n ' "$DECK" | wc -l)" -ge 15 ]
    # scripts/docs-check holds each block that names REPORT.md or compare.md, and each one under
    # a <!-- from FILE --> line, to that file: a filled number is in it, row by row.
    run "$ROOT/scripts/docs-check" -C "$ROOT" "$out"
    echo "$output"
    [ "$status" -eq 0 ]
    # And it would say so if one were not: the last cell of a filled row made up.
    local row
    row=$(grep -m1 '^| 04-epoll |' "$out")
    sed -i 's/^\(| 04-epoll |.*| \)[^|]*|$/\112345.6 |/' "$out"
    [ "$row" != "$(grep -m1 '^| 04-epoll |' "$out")" ]
    run "$ROOT/scripts/docs-check" -C "$ROOT" "$out"
    [ "$status" -eq 1 ] && [[ $output == *'in the "04-epoll" rows of bench/REPORT.md'* ]]
}

@test "a marker that finds nothing stops the build, naming its line and what the file holds" {
    local d=$BATS_TEST_TMPDIR/d.md
    printf '%s\n' '# T' '' 'From bench/REPORT.md: <!-- n src="bench/REPORT.md" in="Zero-delay" row="99-nothing" col="req/s" -->' \
        '' '???' '' '[0:00]' >"$d"
    run "$ROOT/slides/build.sh" --no-run --markdown-only "$BATS_TEST_TMPDIR/o.md" "$d"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"d.md:3: <!-- n "*'row="99-nothing"'*"no row \"99-nothing\"; the rows: nginx, 01-blocking"* ]]
    # A column no table of the section has: the section's tables are listed.
    sed -i 's/row="99-nothing" col="req\/s"/row="nginx" col="nothing per second"/' "$d"
    run "$ROOT/slides/build.sh" --no-run --markdown-only "$BATS_TEST_TMPDIR/o.md" "$d"
    [ "$status" -eq 1 ] && [[ $output == *'has the columns "nothing per second"'*"[server | COUNT | req/s"* ]]
    # A section the report does not have.
    sed -i 's/in="Zero-delay"/in="No such section"/' "$d"
    run "$ROOT/slides/build.sh" --no-run --markdown-only "$BATS_TEST_TMPDIR/o.md" "$d"
    [ "$status" -eq 1 ] && [[ $output == *'no heading holds "No such section"'* ]]
    # A number in a block that does not name its source: docs-check could not hold it to it.
    printf '%s\n' '# T' '' 'Fast: <!-- n src="bench/REPORT.md" in="Zero-delay" row="nginx" col="req/s" -->' \
        '' '???' '' '[0:00]' >"$d"
    run "$ROOT/slides/build.sh" --no-run --markdown-only "$BATS_TEST_TMPDIR/o.md" "$d"
    [ "$status" -eq 1 ] && [[ $output == *"d.md:3: a number from bench/REPORT.md in a block that does not name it"* ]]
    # Named, it is filled.
    sed -i 's/^Fast:/From bench\/REPORT.md:/' "$d"
    run "$ROOT/slides/build.sh" --no-run --markdown-only "$BATS_TEST_TMPDIR/o.md" "$d"
    [ "$status" -eq 0 ]
    grep -qE '^From bench/REPORT.md: [0-9]+(\.[0-9]+)?$' "$BATS_TEST_TMPDIR/o.md"
}

@test "a chapter with no slide of its own joins the talk in story order, from its README" {
    local d=$BATS_TEST_TMPDIR/d.md
    printf '%s\n' '# one' '' '![x](figures/01-shared.svg)' '' '???' '' '[0:00]' '' '---' '' \
        '# five' '' '<!-- chapter: 05 -->' '' '???' '' '[1:00]' '' '---' '' \
        '# the end' '' '<!-- more chapters -->' '' '???' '' '[2:00]' >"$d"
    run "$ROOT/slides/build.sh" --no-run --markdown-only "$BATS_TEST_TMPDIR/o.md" "$d"
    [ "$status" -eq 0 ]
    # The titles in order: 02-04 between 01 and 05, every later chapter before the marker's slide.
    local titles expected ch
    titles=$(grep -E '^# ' "$BATS_TEST_TMPDIR/o.md" | sed 's/^# //' | cut -c1-4)
    expected=$(printf '%s\n' one "02 b" "03 s" "04 e" five)
    for ch in "$ROOT"/chapters/[0-9]*/server.c; do
        ch=$(basename "$(dirname "$ch")")
        case ${ch%%-*} in 01 | 02 | 03 | 04 | 05) ;; *) expected+=$'\n'"$(cut -c1-4 <<<"${ch/-/ }")" ;; esac
    done
    expected+=$'\n'"the "
    echo "$titles"
    [ "$titles" = "$expected" ]
    # Each made slide has its README's goal, notes, and none of the README's relative links.
    grep -q 'Its goal: serve every client at once from one thread' "$BATS_TEST_TMPDIR/o.md" # 02's README
    [ "$(grep -c '^\[auto\]' "$BATS_TEST_TMPDIR/o.md")" -eq "$(grep -c '^class: auto' "$BATS_TEST_TMPDIR/o.md")" ]
    ! grep -q '](\.\./' "$BATS_TEST_TMPDIR/o.md" || false
    # The marker is gone, and the deck's own slides are unchanged.
    ! grep -q 'more chapters' "$BATS_TEST_TMPDIR/o.md"
}

@test "the lightning deck is the slides marked lightning, in order, then the backup slides" {
    local out=$BATS_FILE_TMPDIR/lightning/lightning.md
    built lightning
    run slide_facts "$out"
    echo "$output"
    [ "$(awk '$2 == "L" || $2 == "B"' <<<"$output" | wc -l)" -eq "$(wc -l <<<"$output")" ]
    [ "$(awk '{ print $7 }' <<<"$output")" = "$(slide_facts "$DECK" | awk '$2 == "L" || $2 == "B" { print $7 }')" ]
    awk '$2 == "B"' <<<"$output" | grep -q .
}

@test "the runbook's live moments are the deck's live slides: the mark, the title, the command, the fallback" {
    local rows facts at title cmd fallback moment next bad=0 count=0
    rows=$(grep -E '^\| `\[[0-9]+:[0-5][0-9]\]` \|' "$ROOT/slides/RUNBOOK.md")
    facts=$(slide_facts "$DECK")
    while IFS='|' read -r _ at title cmd _ fallback _; do
        count=$((count + 1))
        at=$(tr -d ' `[]' <<<"$at")
        title=$(sed 's/^ *//; s/ *$//' <<<"$title")
        cmd=$(sed 's/^ *`//; s/` *$//' <<<"$cmd")
        fallback=$(sed 's/^ *\*//; s/\* *$//' <<<"$fallback")
        # The slide at that mark has that title and shows that command.
        awk -v m="$at" -v t="${title// /_}" '$4 == m && $7 == t { found = 1 } END { exit !found }' <<<"$facts" ||
            { echo "RUNBOOK.md: no slide \"$title\" at [$at]"; bad=1; }
        awk -v t="# $title" '$0 == t { on = 1; next } on && /^\?\?\?/ { exit } on { print }' "$DECK" | grep -qF "$cmd" ||
            { echo "RUNBOOK.md: the slide \"$title\" does not show $cmd"; bad=1; }
        # The slide after it is the fallback: the same run, recorded.
        next=$(awk -v m="$at" '$4 == m { getline; print $7 }' <<<"$facts")
        [ "$next" = "${fallback// /_}" ] || { echo "RUNBOOK.md: after \"$title\" comes $next, not \"$fallback\""; bad=1; }
        # slides/live.sh knows the moment.
        moment=${cmd#slides/live.sh }
        "$ROOT/slides/live.sh" --list | grep -qx "$moment" || { echo "slides/live.sh has no moment $moment"; bad=1; }
    done <<<"$rows"
    [ "$bad" -eq 0 ]
    # Every live slide of the deck is in the runbook.
    [ "$count" -ge 3 ]
    [ "$count" -eq "$(grep -c '^class: .*\blive\b' "$DECK")" ]
}

@test "live.sh --check says when a live moment does not show what the runbook promises" {
    run "$ROOT/slides/live.sh" --check epoll-file
    echo "$output"
    [ "$status" -eq 0 ] && [[ $output == "live epoll-file: ok, as the runbook says"* ]]
    # An epoll-file that says something else.
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    printf '#!/bin/sh\necho "epoll_ctl(ADD, $1): accepted"\n' >"$BATS_TEST_TMPDIR/bin/epoll-file"
    chmod +x "$BATS_TEST_TMPDIR/bin/epoll-file"
    BIN_DIR=$BATS_TEST_TMPDIR/bin run "$ROOT/slides/live.sh" --check epoll-file
    echo "$output"
    [ "$status" -eq 1 ] && [[ $output == *"live epoll-file: FAILED, not what the runbook promises"* ]]
    [[ $output == *"epoll_ctl(ADD, README.md): accepted"* ]]
    run "$ROOT/slides/live.sh" nothing
    [ "$status" -eq 64 ]
}

# need_browser: skips, saying why, where make test has not installed Chromium and remark.
need_browser() {
    command -v chromium >/dev/null || skip "no chromium (make install-test-deps installs it)"
    [ -f /usr/share/javascript/remark-slide/remark.min.js ] || skip "no libjs-remark-slide (make slides installs it)"
    export TMPDIR=$BATS_TEST_TMPDIR # Chromium's fresh profile goes there and with the test
}

@test "in headless Chromium at 1024 x 768 every slide fits, has notes, two figures at most, no text under 14 px" {
    need_browser
    local d slides
    for d in deck lightning; do
        built $d
        slides=$(sed -n 's/^wrote .* (\([0-9]*\) slides.*/\1/p' "$BATS_FILE_TMPDIR/$d/build.log")
        run "$ROOT/slides/browser.sh" check "$BATS_FILE_TMPDIR/$d/$d.html" $([ $d = deck ] || echo lightning)
        echo "$output"
        [ "$status" -eq 0 ]
        # It drew every slide of the deck, at the smallest projector's size, and measured the text
        # of every figure (slides/browser.sh says why 14 px).
        [[ $output == *"drawn in 1024 x 768 px"* ]]
        [[ $output == *"; at least 14 px wanted"* ]]
        [[ $output == *"checked $slides slides, "*": 0 problem(s)" ]]
        grep -q '^smallest text: [0-9.]* px, .*; smallest figure text: [0-9.]* px, ' <<<"$output"
        # The key figures, 05's, 06's and 11's, are each alone on a slide of the talk.
        [ $d = deck ] || continue
        local f
        for f in 05-shared 05-dying-disk 06-shared 06-dying-disk 11-shared-pool 11-per-disk; do
            grep -q "; smallest figure text: $f.svg [0-9.]* px\$" <<<"$output" ||
                { echo "$f is not alone on a slide"; false; }
        done
    done
}

@test "the browser check fails a slide that overflows, has no notes, shows three figures or small text" {
    need_browser
    local d=$BATS_TEST_TMPDIR/bad.md f=01-shared.svg
    # A figure whose text is small only as drawn: 40 px in its own units, but one text is in a
    # group scaled by 1/4, and the whole is shown 200 px wide, its own size: 10 px, 8.5 on screen.
    mkdir -p "$BATS_TEST_TMPDIR/figures"
    cp "$ROOT/slides/figures/$f" "$BATS_TEST_TMPDIR/figures/"
    printf '%s\n' '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100" font-size="40">' \
        '<text x="0" y="40">big</text><g transform="scale(0.25)"><text x="0" y="360">tiny</text></g></svg>' \
        >"$BATS_TEST_TMPDIR/figures/scaled.svg"
    {
        printf '%s\n' '# too long' '' '```text'
        seq 1 60
        printf '%s\n' '```' '' '???' '' '[0:00]' '' '---' '' '# silent' '' 'no notes here' '' '---' '' \
            '# crowded' '' "![a](figures/$f) ![b](figures/$f) ![c](figures/$f)" '' '???' '' '[1:00]' '' \
            '---' '' '# tiny' '' '<span style="font-size: 9px">small print</span>' '' '???' '' 'no mark' '' \
            '---' '' '# narrow' '' "<div style=\"width: 300px\">![a](figures/$f)</div>" '' '???' '' '[2:00]' '' \
            '---' '' '# scaled' '' '<div style="width: 200px">![s](figures/scaled.svg)</div>' '' '???' '' '[3:00]'
    } >"$d"
    FIGURES_DIR=$BATS_TEST_TMPDIR/figures "$ROOT/slides/build.sh" --no-run "$d" "$BATS_TEST_TMPDIR/bad.html"
    run "$ROOT/slides/browser.sh" check "$BATS_TEST_TMPDIR/bad.html"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"slide 1 (too long): does not fit"* ]]
    [[ $output == *"slide 2 (silent): no speaker notes"* ]]
    [[ $output == *"slide 3 (crowded): 3 figures (two at most)"* ]]
    # 9 px at 1024 / 1210 of the slide's size.
    [[ $output == *"slide 4 (tiny): text of 7.6 px"* ]]
    [[ $output == *"slide 4 (tiny): notes with no time mark"* ]]
    # 12 px in a 580 px wide figure drawn 300 px wide: 12 x 300 / 580 x 0.846.
    [[ $output == *"slide 5 (narrow): figure $f: its smallest text is 5.3 px"* ]]
    [[ $output == *'slide 6 (scaled): figure scaled.svg: its smallest text is 8.5 px ("tiny")'* ]]
    ! grep -q 'slide 6 .*"big"' <<<"$output" || false
}

@test "make slides-pdf's printer writes one page per slide, each the slide's size" {
    need_browser
    built lightning
    run "$ROOT/slides/browser.sh" pdf "$BATS_FILE_TMPDIR/lightning/lightning.html" "$BATS_TEST_TMPDIR/l.pdf"
    echo "$output"
    [ "$status" -eq 0 ]
    head -c 5 "$BATS_TEST_TMPDIR/l.pdf" | grep -q '^%PDF-'
    local pages slides
    pages=$(grep -a -o '/Type */Pages\?' "$BATS_TEST_TMPDIR/l.pdf" | grep -c 'Page$')
    slides=$(slide_facts "$DECK" | awk '$2 == "L" || $2 == "B"' | wc -l)
    [ "$pages" -eq "$slides" ]
    # 1210 x 681 px, a 16:9 slide, in points: 907.5 x 510.75.
    [ "$(grep -a -o '/MediaBox \[[^]]*\]' "$BATS_TEST_TMPDIR/l.pdf" | sort -u | awk '{ printf "%d %d", $4, $5 }')" = "907 510" ]
}

@test "make slides-notes prints the speaker's handout: an A4 page per slide, each with the slide's notes" {
    need_browser
    built lightning
    run "$ROOT/slides/browser.sh" notes "$BATS_FILE_TMPDIR/lightning/lightning.html" "$BATS_TEST_TMPDIR/l-notes.pdf"
    echo "$output"
    [ "$status" -eq 0 ]
    local pages slides
    slides=$(slide_facts "$DECK" | awk '$2 == "L" || $2 == "B"' | wc -l)
    [[ $output == *"the handout: $slides pages, $slides with notes"* ]]
    pages=$(grep -a -o '/Type */Pages\?' "$BATS_TEST_TMPDIR/l-notes.pdf" | grep -c 'Page$')
    [ "$pages" -eq "$slides" ]
    # A4 portrait, 210 x 297 mm, in points.
    [ "$(grep -a -o '/MediaBox \[[^]]*\]' "$BATS_TEST_TMPDIR/l-notes.pdf" | sort -u | awk '{ printf "%d %d", $4, $5 }')" = "594 841" ]
}
