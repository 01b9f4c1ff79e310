#!/usr/bin/env bash
# build.sh [--no-run] [--lightning] [--markdown FILE | --markdown-only FILE] [--charts DIR]
#          [DECK.md [OUT.html]], or build.sh --repo-url: turns the talk (slides/deck.md) into one
# HTML file that opens offline (slides/deck.html): Debian's remark.js, every figure and chart in it.
# --lightning keeps only the slides of the 10-minute path (class `lightning`) and writes
# slides/lightning.html; --markdown also writes the filled-in Markdown (what scripts/docs-check
# reads in tests/slides.bats), --markdown-only only that; --charts DIR keeps the charts' SVGs.
# --no-run starts nothing: a figure not drawn yet is an error instead of a run of compare.sh.
# --repo-url prints the repository's address the first and last slides show (REPO_URL below).
#
# No number on a slide is typed by hand: the deck names where each comes from, and this script
# fills it in from that file, which a run wrote (bench/REPORT.md, bench/compare.md, slides/data/,
# a chapter README's pasted output). Markers, each in an HTML comment:
#
#   <!-- n src="FILE" in="SECTION" row="ROW" col="COLUMN" -->   inline: one cell of a table
#   <!-- n src="FILE" re="ERE" [else="TEXT"] -->                  inline: the first text that matches
#                                                                 ERE (grep -oE), or TEXT if none
#   <!-- table src= in= cols="A; B; C" rows="R1; R2" -->          a whole line: a Markdown table
#   <!-- chart name=N src= in= cols= rows= [label= title= sub= note= grouped=yes highlight=ROW
#        max="0,300" ref="1:TEXT" log=yes] -->                    a whole line: a bar chart
#   <!-- output src=FILE from=ERE to=ERE [skip=ERE] [cut=N] -->   a whole line: real output, verbatim
#                                                                 (a line over N columns cut at a word)
#   <!-- diff a=FILE b=FILE hunks=ERE [context=N] -->             a whole line: the hunks of a diff
#   <!-- list src=FILE re=ERE -->                                 a whole line: a numbered list of
#                                                                 the first group of each match
#   <!-- more chapters -->                                        chapters with no slide of their own
#   <!-- repo-url -->                                             inline: the repository's address
#
# A table is found by what it says, not where it is: SECTION is a piece of a heading (case does
# not matter; "" or no `in` means the whole file; "a|b" tries each), the table is the section's
# first whose header holds every COLUMN (its exact text, else the one header that contains it;
# "÷ bound#2" is the second of two equal headers; "X as Y" shows X's column headed Y), and ROW is
# the first cell of a row (exactly, else the one row that starts with it; "08 ~ -m fork": the row
# that also holds "-m fork"; "#1": the first row; rows="*": every row of every such table in the
# section). A chart's `label` may join cells: "{chapter} N={N}". Anything not found stops the build
# with the marker's line and what the file does hold, except that a table or a chart marked
# optional="yes" whose section the file does not have (yet) is left out, saying so on stderr.
# A number goes into a block (paragraph, list
# item, table) that names its source, REPORT.md or compare.md, or under a <!-- from FILE --> line,
# so that scripts/docs-check can hold it to that file.
#
# Slides: `???` starts a slide's speaker notes (remark's presenter view, key P). A chapter whose
# figures and excerpts no slide shows (no ](figures/NN-, <!-- from chapters/NN-, <!-- chapter: NN
# -->) gets a slide from its README (title, first figure; goal and caption in the notes) or else
# its server.c header, in story order: before the first slide of a later chapter, else before the slide that
# holds <!-- more chapters -->. A figure the deck names that is not in slides/figures/ is made
# first by scripts/compare.sh (fresh runs of its chapter), unless --no-run. Classes the CSS below
# knows: full (a figure alone, as large as the slide allows), live (a live moment's command, large),
# backup (kept for questions, after the talk, on both paths; "[backup]" in its notes).
set -euo pipefail
cd "$(dirname "$0")/.."
REMARK_JS=${REMARK_JS:-/usr/share/javascript/remark-slide/remark.min.js}
FIGURES=${FIGURES_DIR:-slides/figures}
BIN=${BIN_DIR:-bin}
# The repository's address, on the first and the last slide (<!-- repo-url -->): REPO_URL from the
# environment, else the git remote "origin" (git@host:owner/name.git shown as https://host/owner/
# name), else the placeholder below. The repository names no public home yet (no remote, no
# address in its README): set it here once it has one. Until then the slides show the
# placeholder, this script warns, and make talk-preflight fails.
REPO_URL_PLACEHOLDER=REPO_URL
if [ -z "${REPO_URL:-}" ]; then
    REPO_URL=$(git remote get-url origin 2>/dev/null |
        sed -E 's|^git@([^:]+):|https://\1/|; s|^ssh://git@|https://|; s|\.git$||') || true
fi
REPO_URL=${REPO_URL:-$REPO_URL_PLACEHOLDER}

run=1 lightning="" markdown_out="" charts_out="" html=1
while [ $# -gt 0 ]; do
    case $1 in
    --no-run) run="" ;;
    --lightning) lightning=1 ;;
    --markdown) markdown_out=${2:?--markdown needs a FILE}; shift ;;
    --markdown-only) markdown_out=${2:?--markdown-only needs a FILE}; html=""; shift ;;
    --charts) charts_out=${2:?--charts needs a DIR}; shift ;;
    --repo-url) echo "$REPO_URL"; exit 0 ;;
    -h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $1 (--help)" >&2; exit 64 ;;
    *) break ;;
    esac
    shift
done
deck=${1:-slides/deck.md}
out=${2:-slides/$([ -n "$lightning" ] && echo lightning || echo deck).html}
[ -f "$deck" ] || { echo "build.sh: no $deck" >&2; exit 1; }
[ -z "$html" ] || [ -f "$REMARK_JS" ] ||
    { echo "build.sh: no $REMARK_JS (scripts/need libjs-remark-slide)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/deck.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/charts"

die_at() { # die_at LINE MESSAGE: the build stops, naming the deck's line
    echo "build.sh: $deck:$1: $2" >&2
    exit 1
}

# attr VAR NAME SPEC: sets VAR to the value of NAME="..." in a marker's SPEC; to "", status 1,
# when it has none. It sets rather than prints: a $(...) is a fork, and the deck's markers ask for
# some 300 attributes (a fork costs milliseconds where CPU is scarce, as in make test).
attr() {
    [[ " $3" =~ [[:space:]]$2=\"([^\"]*)\" ]] || { printf -v "$1" ''; return 1; }
    printf -v "$1" '%s' "${BASH_REMATCH[1]}"
}

# ---- Tables, found by their section, header and row labels ----

# extract FILE SECTION COLS ROWS LABEL: the rows asked for, tab-separated: the label (the row's
# first cell, or LABEL's template filled) then each column's cell, as written; the first line is
# the header (LABEL's column name, then each column's header or its "as" name), the second each
# column's alignment from the source's separator row. Status 2 and a reason on stderr when the
# file has no such section, table, column or row.
EXTRACT_AWK='
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
function bare(s) { gsub(/\*\*|`/, "", s); return trim(s) }
function norm(s) { s = tolower(bare(s)); gsub(/[ \t]+/, " ", s); return s }
function split_cells(line, out,    n, t, i) {
    sub(/^[ \t]*\|/, "", line); sub(/\|[ \t]*$/, "", line)
    n = split(line, t, /\|/)
    for (i = 1; i <= n; i++) out[i] = trim(t[i])
    return n
}
function fail(msg) { print msg > "/dev/stderr"; failed = 1; exit 2 }
function heading_level(line,    m) { match(line, /^#+/); return RLENGTH }
# in_wanted(text): the heading names one of the sections asked for.
function in_wanted(text,    i) {
    for (i = 1; i <= nsect; i++) if (index(tolower(text), tolower(trim(sect_alt[i])))) return 1
    return 0
}
BEGIN {
    nsect = sect == "" ? 0 : split(sect, sect_alt, /\|/)
    inside = nsect == 0; level = 0; t = 0; intable = 0
}
/^#+[ \t]/ {
    intable = 0
    if (nsect) {
        if (inside && heading_level($0) <= level) inside = 0
        if (!inside && in_wanted($0)) { inside = 1; level = heading_level($0); found_sect = 1 }
    }
    next
}
/^[ \t]*\|/ {
    if (!inside) next
    if (!intable) { t++; nrow[t] = 0; intable = 1; nh[t] = split_cells($0, c); for (i = 1; i <= nh[t]; i++) hdr[t, i] = c[i]; next }
    if ($0 ~ /^[ \t]*\|[ \t:|-]*$/ && nrow[t] == 0 && !(t in sep_seen)) { sep_seen[t] = 1; n = split_cells($0, c); for (i = 1; i <= n; i++) sep[t, i] = c[i]; next }
    r = ++nrow[t]; raw[t, r] = $0; n = split_cells($0, c)
    for (i = 1; i <= n; i++) cell[t, r, i] = c[i]
    next
}
{ intable = 0 }
# resolve(k, spec): the index of spec (alternatives a|b, "#N" for the Nth equal header) in table
# the header of table k, 0 when it has none, -1 when it is ambiguous.
function resolve(k, spec,    alts, na, a, want, nth, m, i, hits, hit, sub_hits, sub_hit) {
    na = split(spec, alts, /\|/)
    for (a = 1; a <= na; a++) {
        want = trim(alts[a]); nth = 0
        if (match(want, /#[0-9]+$/)) { nth = substr(want, RSTART + 1) + 0; want = trim(substr(want, 1, RSTART - 1)) }
        want = norm(want); hits = 0; sub_hits = 0
        for (i = 1; i <= nh[k]; i++) {
            if (norm(hdr[k, i]) == want) { hits++; if (hits == nth || (!nth && hits == 1)) hit = i }
            else if (index(norm(hdr[k, i]), want)) { sub_hits++; sub_hit = i }
        }
        if (nth) { if (hits >= nth) return hit; continue }
        if (hits == 1) return hit
        if (hits > 1) return -1
        if (sub_hits == 1) return sub_hit
        if (sub_hits > 1) return -1
    }
    return 0
}
function headers(k,    i, s) { s = ""; for (i = 1; i <= nh[k]; i++) s = s (i > 1 ? " | " : "") bare(hdr[k, i]); return "[" s "]" }
function label_of(k, r,    s, out, name, j, at, len) {
    if (label == "") return bare(cell[k, r, 1])
    s = label; out = ""
    while (match(s, /[{][^}]*[}]/)) {
        at = RSTART; len = RLENGTH # resolve() matches too
        name = substr(s, at + 1, len - 2)
        j = resolve(k, name)
        if (j <= 0) fail("label: no column \"" name "\" in " headers(k))
        out = out substr(s, 1, at - 1) bare(cell[k, r, j]); s = substr(s, at + len)
    }
    return out s
}
function emit(k, r,    line, i) {
    line = label_of(k, r)
    for (i = 1; i <= ncol; i++) line = line "\t" cell[k, r, colidx[k, i]]
    print line
}
END {
    if (failed) exit 2
    if (nsect && !found_sect) fail("no heading holds \"" sect "\"")
    ncol = split(cols, col, /;/)
    for (i = 1; i <= ncol; i++) {
        col[i] = trim(col[i]); shown[i] = col[i]
        if (match(col[i], / as /)) { shown[i] = trim(substr(col[i], RSTART + 4)); col[i] = trim(substr(col[i], 1, RSTART - 1)) }
    }
    ok = 0; list = ""
    for (k = 1; k <= t; k++) {
        good[k] = 1
        for (i = 1; i <= ncol; i++) { j = resolve(k, col[i]); if (j <= 0) good[k] = 0; colidx[k, i] = j }
        if (good[k] && !first_good) first_good = k
        ok += good[k]; list = list " " headers(k)
    }
    if (!t) fail("no table" (nsect ? " under \"" sect "\"" : ""))
    if (!ok) fail("no table" (nsect ? " under \"" sect "\"" : "") " has the columns \"" cols "\" (one each); its tables:" list)
    k = first_good
    line = label == "" ? bare(hdr[k, 1]) : label
    for (i = 1; i <= ncol; i++) line = line "\t" (shown[i] != col[i] ? shown[i] : bare(hdr[k, colidx[k, i]]))
    print line
    line = "---"
    for (i = 1; i <= ncol; i++) { s = sep[k, colidx[k, i]]; line = line "\t" (s == "" ? "---" : s) }
    print line
    if (trim(rows) == "*") {
        for (k = 1; k <= t; k++) if (good[k]) for (r = 1; r <= nrow[k]; r++) emit(k, r)
        exit 0
    }
    nr = split(rows, want, /;/)
    for (w = 1; w <= nr; w++) {
        spec = trim(want[w]); text = ""
        if (spec ~ /^#[0-9]+$/) {
            r = substr(spec, 2) + 0
            if (r < 1 || r > nrow[first_good]) fail("no row " spec " (the table has " nrow[first_good] ")")
            emit(first_good, r); continue
        }
        if (match(spec, / ~ /)) { text = tolower(trim(substr(spec, RSTART + 3))); spec = trim(substr(spec, 1, RSTART - 1)) }
        key = norm(spec); hits = 0; pre = 0; names = ""
        for (k = 1; k <= t; k++) {
            if (!good[k]) continue
            for (r = 1; r <= nrow[k]; r++) {
                c1 = norm(cell[k, r, 1]); names = names (names == "" ? "" : ", ") bare(cell[k, r, 1])
                if (text != "" && !index(tolower(raw[k, r]), text)) continue
                if (c1 == key) { hits++; hk = k; hr = r }
                else if (index(c1, key " ") == 1) { pre++; pk = k; pr = r }
            }
        }
        if (hits > 1) fail(hits " rows are \"" spec "\": say which with \"" spec " ~ TEXT\"")
        if (hits == 1) { emit(hk, hr); continue }
        if (pre == 1) { emit(pk, pr); continue }
        if (pre > 1) fail(pre " rows start with \"" spec "\": name one exactly")
        fail("no row \"" want[w] "\"; the rows: " names)
    }
}'

# extract FILE SECTION COLS ROWS [LABEL]
extract() {
    [ -f "$1" ] || { echo "no file $1 (make bench, make compare, make deck-data)"; return 2; }
    awk -v sect="$2" -v cols="$3" -v rows="$4" -v label="${5:-}" "$EXTRACT_AWK" "$1" 2>&1
}

# absent SPEC RESULT: true when the marker is optional and its file has no such section.
absent() {
    local optional
    attr optional optional "$1" || true
    [ "$optional" = yes ] && [[ $2 == *"no heading holds"* ]] || return 1
    echo "build.sh: $deck: left out, the source has no such section yet: <!-- ${1:0:100} -->" >&2
}

# one_cell VAR LINENO SPEC: sets VAR to the value an inline <!-- n ... --> marker stands for (as
# attr does, and with no process but the one that reads the file: the deck has dozens).
one_cell() {
    local var=$1 at=$2 spec=$3 src sect re value
    attr src src "$spec" || die_at "$at" "<!-- n $spec -->: no src=\"FILE\""
    [ -f "$src" ] || die_at "$at" "<!-- n $spec -->: no file $src"
    if attr re re "$spec"; then # the first text that matches, leftmost and longest
        value=$(grep -oE -m1 -- "$re" "$src") || true
        value=${value%%$'\n'*} # -m1 stops at the first line that matches; -o prints each match
        if [ -z "$value" ]; then
            attr value else "$spec" || die_at "$at" "<!-- n $spec -->: $src has nothing that matches /$re/"
        fi
        printf -v "$var" '%s' "$value"
        return
    fi
    attr sect in "$spec" || sect=""
    local row col result lines
    attr row row "$spec" || die_at "$at" "<!-- n $spec -->: no row=\"...\""
    attr col col "$spec" || die_at "$at" "<!-- n $spec -->: no col=\"...\""
    result=$(extract "$src" "$sect" "$col" "$row") || die_at "$at" "<!-- n $spec -->: $src: $result"
    # The cell is the second field of the third line (the first two are the header and the
    # alignments), shown without its Markdown emphasis, ** and `.
    mapfile -t lines <<<"$result"
    value=${lines[2]:-}
    value=${value#*$'\t'}
    value=${value%%$'\t'*}
    value=${value//'**'/}
    value=${value//'`'/}
    [ -n "$value" ] || die_at "$at" "<!-- n $spec -->: $src: the cell is empty"
    printf -v "$var" '%s' "$value"
}

# fill_inline LINENO LINE: LINE with each <!-- n ... --> replaced by its value.
fill_inline() {
    local at=$1 line=$2 done="" spec cell
    while [[ $line == *'<!-- n '* ]]; do
        done+=${line%%'<!-- n '*}
        line=${line#*'<!-- n '}
        [[ $line == *' -->'* ]] || die_at "$at" "a <!-- n marker that does not end with -->"
        spec=${line%%' -->'*}
        line=${line#*' -->'}
        one_cell cell "$at" "$spec"
        done+=$cell
    done
    printf '%s\n' "$done$line"
}

# table_block LINENO SPEC: a Markdown table of the rows and columns asked for, under a
# <!-- from FILE --> line.
table_block() {
    local at=$1 spec=$2 src sect cols rows result
    attr src src "$spec" || die_at "$at" "<!-- table -->: no src"
    attr sect in "$spec" || sect=""
    attr cols cols "$spec" || die_at "$at" "<!-- table $spec -->: no cols"
    attr rows rows "$spec" || rows="*"
    result=$(extract "$src" "$sect" "$cols" "$rows") || {
        absent "$spec" "$result" && return
        die_at "$at" "<!-- table $spec -->: $src: $result"
    }
    echo "<!-- from $src -->"
    awk -F '\t' '{ line = "|"; for (i = 2; i <= NF; i++) line = line " " $i " |"; print line }' <<<"$result"
}

# chart_block LINENO SPEC: draws the chart with bin/chart-svg and shows it as a figure.
chart_block() {
    local at=$1 spec=$2 name src sect cols rows label result args=() v
    attr name name "$spec" || die_at "$at" "<!-- chart -->: no name"
    [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die_at "$at" "<!-- chart -->: name=\"$name\": letters, digits, . _ - only"
    [ ! -f "$work/charts/chart-$name.svg" ] || die_at "$at" "<!-- chart -->: a second chart named $name"
    attr src src "$spec" || die_at "$at" "<!-- chart $name -->: no src"
    attr sect in "$spec" || sect=""
    attr cols cols "$spec" || die_at "$at" "<!-- chart $name -->: no cols"
    attr rows rows "$spec" || rows="*"
    attr label label "$spec" || label=""
    result=$(extract "$src" "$sect" "$cols" "$rows" "$label") || {
        absent "$spec" "$result" && return
        die_at "$at" "<!-- chart $name -->: $src: $result"
    }
    [ -x "$BIN/chart-svg" ] || die_at "$at" "<!-- chart $name -->: no $BIN/chart-svg (make)"
    attr v title "$spec" && args+=(-t "$v")
    attr v sub "$spec" && args+=(-s "$v")
    attr v note "$spec" || v="from $src"
    args+=(-f "$v")
    attr v highlight "$spec" && args+=(-H "$v")
    attr v max "$spec" && args+=(-m "$v")
    attr v ref "$spec" && args+=(-r "$v")
    attr v width "$spec" && args+=(-w "$v")
    attr v grouped "$spec" && [ "$v" = yes ] && args+=(-g)
    attr v log "$spec" && [ "$v" = yes ] && args+=(-l)
    sed -E '2d; s/\*\*|`//g' <<<"$result" >"$work/charts/$name.tsv"
    "$BIN/chart-svg" "${args[@]}" "$work/charts/$name.tsv" >"$work/charts/chart-$name.svg" 2>"$work/err" ||
        die_at "$at" "<!-- chart $name -->: $(cat "$work/err")"
    attr v title "$spec" || v=$name
    printf '![%s](figures/chart-%s.svg)\n' "$v" "$name"
}

# output_block LINENO SPEC: lines FROM..TO of a file a run wrote, verbatim, as a text block.
output_block() {
    local at=$1 spec=$2 src from to skip cut lines
    attr src src "$spec" || die_at "$at" "<!-- output -->: no src"
    [ -f "$src" ] || die_at "$at" "<!-- output $spec -->: no file $src (make deck-data)"
    attr from from "$spec" || die_at "$at" "<!-- output $spec -->: no from"
    attr to to "$spec" || to=$from
    attr skip skip "$spec" || skip='^$.'
    attr cut cut "$spec" || cut=0
    lines=$(awk -v from="$from" -v to="$to" -v skip="$skip" -v cut="$cut" '
        !on && $0 ~ from { on = 1 }
        on && $0 !~ skip {
            sub(/[ \t]+$/, "")
            # Cut at the end of a word, so that no number is shown cut short (65536 as 6553).
            if (cut > 0 && length($0) > cut) { s = substr($0, 1, cut - 2); sub(/[^ ]*$/, "", s); $0 = s "…" }
            print; n++
        }
        on && n && $0 ~ to { exit }' "$src")
    [ -n "$lines" ] || die_at "$at" "<!-- output $spec -->: nothing in $src matches /$from/"
    echo "<!-- from $src -->"
    echo '```text'
    printf '%s\n' "$lines"
    echo '```'
}

# diff_block LINENO SPEC: the hunks of diff -u A B that hold HUNKS, as a diff block.
diff_block() {
    local at=$1 spec=$2 a b hunks context lines
    attr a a "$spec" || die_at "$at" "<!-- diff -->: no a"
    attr b b "$spec" || die_at "$at" "<!-- diff -->: no b"
    [ -f "$a" ] && [ -f "$b" ] || die_at "$at" "<!-- diff $spec -->: no file $a or $b"
    attr hunks hunks "$spec" || hunks=.
    attr context context "$spec" || context=1
    lines=$(diff -U"$context" "$a" "$b" | awk -v want="$hunks" '
        NR <= 2 { next }
        /^@@/ { if (keep) printf "%s", hunk; hunk = ""; keep = 0 }
        { hunk = hunk $0 "\n"; if ($0 ~ /^[-+]/ && $0 ~ want) keep = 1 }
        END { if (keep) printf "%s", hunk }') || true
    [ -n "$lines" ] || die_at "$at" "<!-- diff $spec -->: no hunk of the diff holds /$hunks/"
    echo '```diff'
    printf '%s\n' "$lines"
    echo '```'
}

# list_block LINENO SPEC: a numbered list of the first group of each line of FILE that matches RE.
list_block() {
    local at=$1 spec=$2 src re items
    attr src src "$spec" || die_at "$at" "<!-- list -->: no src"
    [ -f "$src" ] || die_at "$at" "<!-- list $spec -->: no file $src"
    attr re re "$spec" || die_at "$at" "<!-- list $spec -->: no re"
    items=$(sed -nE "s/$re.*/\\1/p" "$src")
    [ -n "$items" ] || die_at "$at" "<!-- list $spec -->: no line of $src matches /$re/"
    sed 's/^/1. /' <<<"$items"
}

# ---- Chapters with no slide of their own ----

# covered DECK: the chapter numbers the deck's slides show or cite, one a line.
covered() {
    grep -oE '\]\(figures/[0-9]{2}-|<!-- from chapters/[0-9]{2}-|<!-- chapter: [0-9 ]+-->' "$1" |
        grep -oE '[0-9]{2}' | sort -u || true
}

# README_AWK: what chapter_slide takes from a README, a line each, tab-separated, Markdown links
# as their text (a README's links are relative to its folder): "title\tTITLE" (its first line's
# heading), "goal\tGOAL" (the **Goal: ...** paragraph, on one line), "figure\tFILE\tCAPTION" for
# each figure of slides/figures/ it shows (the caption is the line after it), "table\tLINE" for
# each line of its first table. One awk for all: a small deck gets a slide for every chapter, and
# a process a part made those slides most of its build.
README_AWK='
function unlink(s,    out, link) {
    out = ""
    while (match(s, /\[[^]]*\]\([^)]*\)/)) {
        link = substr(s, RSTART, RLENGTH)
        out = out substr(s, 1, RSTART - 1) substr(link, 2, index(link, "]") - 2)
        s = substr(s, RSTART + RLENGTH)
    }
    return out s
}
NR == 1 && sub(/^# */, "") { print "title\t" $0 }
!goal_done && /^\*\*Goal: / { goal_on = 1 }
goal_on && !goal_done { goal = goal (goal == "" ? "" : " ") $0; if (/\*\*$/) goal_done = 1 }
{
    if (fig != "") { cap = $0; gsub(/^\*|\*$/, "", cap); print "figure\t" unlink(fig "\t" cap); fig = "" }
    else if (match($0, /\]\(\.\.\/\.\.\/slides\/figures\/[A-Za-z0-9._-]+\.svg\)/)) fig = substr($0, RSTART + 23, RLENGTH - 24)
}
!table_done && /^\|/ { print "table\t" unlink($0); in_table = 1; next }
in_table { table_done = 1 }
END {
    sub(/^\*\*Goal: /, "", goal); sub(/\*\*$/, "", goal); print "goal\t" unlink(goal)
    # A figure on the last line: no caption line, the one before stands (as getline leaves it).
    if (fig != "") { gsub(/^\*|\*$/, "", cap); print "figure\t" unlink(fig "\t" cap) }
}'

# chapter_slide CHAPTER: a slide from what the chapter says of itself, verbatim: its README's
# title, goal, first figure and its caption, or without a README its server.c header. A figure is
# shown alone and full size (class full: legible on a 1024 x 768 projector, slides/browser.sh), so
# the goal goes with the caption into the notes; a slide with no figure shows the goal.
chapter_slide() {
    local ch=$1 nn=${1%%-*} readme="chapters/$1/README.md" title="" goal="" fig="" f caption notes="" body=""
    local line part figures=() table="" table_rows=0
    if [ -f "$readme" ]; then
        while IFS= read -r line; do
            part=${line#*$'\t'}
            case ${line%%$'\t'*} in
            title) title=$part ;;
            goal) goal=$part ;;
            figure) figures+=("$part") ;;
            table) table+=$part$'\n' table_rows=$((table_rows + 1)) ;;
            esac
        done < <(awk "$README_AWK" "$readme")
        # The README's first figure that is drawn, with its caption.
        for part in "${figures[@]}"; do
            IFS=$'\t' read -r f caption <<<"$part"
            [ -f "$FIGURES/$f" ] || [ -n "$run" ] || continue
            fig="![$nn](figures/$f)"
            notes+="- $f: $caption"$'\n'
            break
        done
        # No figure in the README: its first table (one short enough for a slide), verbatim.
        if [ -z "$fig" ] && [ "$table_rows" -gt 0 ] && [ "$table_rows" -le 10 ]; then
            body=$'\n'"<!-- from $readme -->"$'\n'${table%$'\n'}
            notes+="- the README's first table, as it stands there"$'\n'
        fi
    else
        body=$(printf '\n<!-- from chapters/%s/server.c -->\n```c\n%s\n```' "$ch" "$(sed -n '1,/\*\//p' "chapters/$ch/server.c")")
    fi
    [ -n "$title" ] || title="${ch/-/ }"
    if [ -z "$fig" ] && [ -z "$body" ]; then # the shared scenario, as make figures draws it
        f=$(scripts/compare.sh --list-figures "$ch" | grep -m1 -- '-shared' || true)
        if [ -n "$f" ] && { [ -n "$run" ] || [ -f "$FIGURES/$f" ]; }; then fig="![$nn](figures/$f)"; fi
    fi
    echo "class: auto${fig:+, full}"
    echo
    echo "# $title"
    echo
    echo "<!-- chapter: $nn -->"
    if [ -n "$fig" ]; then
        printf '\n%s\n' "$fig"
    else
        [ -z "$goal" ] || printf '\n.takeaway[Goal: %s]\n' "$goal"
        [ -z "$body" ] || printf '%s\n' "$body"
    fi
    echo
    echo '???'
    echo
    echo "[auto] This slide is made from chapters/$ch/ at build time: the chapter has no hand-written"
    echo "slide yet.${goal:+ Its goal: $goal}"
    echo
    [ -z "$notes" ] || { echo "Point at the figure:"; echo; printf '%s' "$notes"; }
    [ -n "$notes" ] || echo "- the shared scenario, as for every chapter: who waited for whom."
}

# with_chapters DECK: DECK with a slide for each chapter it does not show, in story order.
with_chapters() {
    local deck=$1 ch nn have
    have=$'\n'$(covered "$deck")$'\n' # each number on a line of its own, the first one too
    : >"$work/auto.list"
    for ch in chapters/[0-9]*/; do
        ch=${ch%/}
        ch=${ch##*/}
        [ -f "chapters/$ch/server.c" ] || continue
        nn=${ch%%-*}
        [[ $have == *$'\n'$nn$'\n'* ]] && continue
        chapter_slide "$ch" >"$work/auto-$nn.md"
        echo "$nn $work/auto-$nn.md" >>"$work/auto.list"
    done
    awk -v list="$work/auto.list" '
        function slide_chapters(text,    s, out, m) {
            out = ""; s = text
            while (match(s, /\]\(figures\/[0-9][0-9]-|<!-- from chapters\/[0-9][0-9]-|<!-- chapter: [0-9 ]+-->/)) {
                m = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
                while (match(m, /[0-9][0-9]/)) { out = out " " substr(m, RSTART, 2); m = substr(m, RSTART + 2) }
            }
            return out
        }
        function put_auto(i,    line, f) {
            f = auto_file[i]; done[i] = 1
            printf "%s", (started ? "---\n\n" : "")
            while ((getline line < f) > 0) print line
            print ""
            close(f); started = 1
        }
        function flush(    i, n, c, k, later, marker) {
            if (!have_slide) return
            n = split(slide_chapters(buf), c, " ")
            marker = index(buf, "<!-- more chapters -->") > 0
            for (i = 1; i <= nauto; i++) {
                if (done[i]) continue
                later = 0
                for (k = 1; k <= n; k++) if (c[k] + 0 > auto_nn[i] + 0) later = 1
                if (later || marker) put_auto(i)
            }
            gsub(/<!-- more chapters -->\n?/, "", buf)
            printf "%s%s", (started ? "---\n" : ""), buf
            started = 1; buf = ""
        }
        BEGIN { while ((getline line < list) > 0) { split(line, p, " "); nauto++; auto_nn[nauto] = p[1]; auto_file[nauto] = p[2] } }
        /^```/ { fence = !fence }
        !fence && /^---[ \t]*$/ { flush(); have_slide = 0; next }
        { buf = buf $0 "\n"; have_slide = 1 }
        END {
            flush()
            for (i = 1; i <= nauto; i++) if (!done[i]) put_auto(i)
        }' "$deck"
}

# ---- The deck with its markers filled ----

# lint DECK: a number marker must sit in a block that names its source, or under <!-- from -->,
# with blocks as scripts/docs-check sees them (a paragraph, a list item, a table; a quote ending
# with a colon quotes the block after it too).
lint() {
    awk -v deck="$deck" '
        function end_block(    i, src, base, srcs) {
            srcs = block_src
            if (block ~ /REPORT\.md/) srcs = srcs " bench/REPORT.md"
            if (block ~ /compare\.md/) srcs = srcs " bench/compare.md"
            for (i = 1; i <= nm; i++) {
                src = msrc[i]; base = src; sub(/.*\//, "", base)
                if (!index(block, base) && !index(" " srcs " ", " " src " ")) {
                    printf "build.sh: %s:%d: a number from %s in a block that does not name it: say %s in it, or put <!-- from %s --> above it\n", deck, mline[i], src, base, src > "/dev/stderr"
                    bad = 1
                }
            }
            carry = (nlines && srcs != "" && last ~ /:[ \t]*$/) ? srcs : ""
            nm = 0; nlines = 0; block = ""; block_src = ""
        }
        /^```/ { end_block(); fence = !fence; pending = ""; carry = ""; next }
        fence { next }
        /^[ \t]*<!--.*-->[ \t]*$/ && $0 !~ /<!-- n / {
            end_block()
            if (match($0, /<!-- from [^ ]+ -->/)) pending = pending " " substr($0, RSTART + 10, RLENGTH - 14)
            if (carry != "") pending = pending " " carry
            carry = ""
            next
        }
        /^[ \t]*$/ { end_block(); pending = ""; next }
        /^#/ { end_block(); pending = ""; carry = ""; next }
        /^[ \t]*([-*+]|[0-9]+\.)[ \t]/ { end_block() }
        {
            if (!nlines) { block_src = pending " " carry; pending = ""; carry = "" }
            nlines++; last = $0
            block = block "\n" $0
            s = $0
            while (match(s, /<!-- n [^>]*src="[^"]*"/)) {
                m = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
                sub(/.*src="/, "", m); sub(/"$/, "", m)
                msrc[++nm] = m; mline[nm] = NR
            }
        }
        END { end_block(); exit bad }' "$1"
}

expand() {
    local line n=0 spec
    while IFS= read -r line; do
        n=$((n + 1))
        line=${line//'<!-- repo-url -->'/"$REPO_URL"}
        case $line in
        '<!-- table '*' -->') spec=${line#'<!-- table '}; table_block "$n" "${spec%' -->'}" ;;
        '<!-- chart '*' -->') spec=${line#'<!-- chart '}; chart_block "$n" "${spec%' -->'}" ;;
        '<!-- output '*' -->') spec=${line#'<!-- output '}; output_block "$n" "${spec%' -->'}" ;;
        '<!-- diff '*' -->') spec=${line#'<!-- diff '}; diff_block "$n" "${spec%' -->'}" ;;
        '<!-- list '*' -->') spec=${line#'<!-- list '}; list_block "$n" "${spec%' -->'}" ;;
        *'<!-- n '*) fill_inline "$n" "$line" ;;
        *) printf '%s\n' "$line" ;;
        esac
    done <"$1"
}

# keep_lightning: only the slides whose class names `lightning`, and the ones kept for questions
# (`backup`), which come after the talk on both paths.
keep_lightning() {
    awk '
        function flush() { if (have && buf ~ /(^|\n)class:[^\n]*(lightning|backup)/) { printf "%s%s", (n++ ? "---\n" : ""), buf } buf = ""; have = 0 }
        /^```/ { fence = !fence }
        !fence && /^---[ \t]*$/ { flush(); next }
        { buf = buf $0 "\n"; have = 1 }
        END { flush() }'
}

lint "$deck" || exit 1
[ "$REPO_URL" != "$REPO_URL_PLACEHOLDER" ] || ! grep -q '<!-- repo-url -->' "$deck" ||
    echo "build.sh: the slides show the placeholder $REPO_URL_PLACEHOLDER for the repository's address: set REPO_URL in $0" >&2
with_chapters "$deck" >"$work/with-chapters.md"
expand "$work/with-chapters.md" >"$work/deck.md"
# with_chapters and expand change the line numbers: a marker's error names the line in
# $work/with-chapters.md, which is the deck's own until the first slide it adds.
if [ -n "$lightning" ]; then
    keep_lightning <"$work/deck.md" >"$work/lightning.md"
    mv "$work/lightning.md" "$work/deck.md"
fi
[ -z "$markdown_out" ] || cp "$work/deck.md" "$markdown_out"

# Every figure the deck shows must exist; make the missing ones once, from fresh runs.
grep -o '](figures/[A-Za-z0-9._-]*\.svg)' "$work/deck.md" | sed 's|^](figures/||;s|)$||' | sort -u \
    >"$work/figures"
# where VAR FIGURE: sets VAR to FIGURE's file, a chart this build drew or else one in $FIGURES.
# It and find_missing set variables, as attr does: a $(...) a figure is a fork a figure.
where() {
    if [ -f "$work/charts/$2" ]; then printf -v "$1" '%s' "$work/charts/$2"; else printf -v "$1" '%s' "$FIGURES/$2"; fi
}
# find_missing: sets missing to the figures the deck shows that have no file, one a line.
find_missing() {
    local f file
    missing=""
    while read -r f; do
        where file "$f"
        [ -f "$file" ] || missing+=$f$'\n'
    done <"$work/figures"
}
find_missing
if [ -n "$missing" ] && [ -n "$run" ]; then
    echo "build.sh: making the missing figures: $(echo $missing)" >&2
    # Only the chapters whose figures are missing: NN-... names chapters/NN-*/.
    # shellcheck disable=SC2046 # one word per chapter
    scripts/compare.sh --figures "$FIGURES" $(for f in $missing; do
        basename "$(dirname chapters/"${f%%-*}"-*/server.c)"
    done | sort -u) >/dev/null
    find_missing
fi
[ -z "$missing" ] || { echo "build.sh: missing figures (make figures): $(echo $missing)" >&2; exit 1; }
[ -z "$charts_out" ] || { mkdir -p "$charts_out" && find "$work/charts" -name '*.svg' -exec cp {} "$charts_out/" \; ; }
[ -n "$html" ] || exit 0

# Figures become data: URIs; the Markdown is escaped for the <textarea> remark reads it from.
while read -r f; do
    where file "$f"
    printf '%s\t' "$f"
    base64 -w0 "$file" # one line, no newline at its end
    echo
done <"$work/figures" >"$work/uris"
awk -F '\t' '
    NR == FNR { uri[$1] = $2; next }
    {
        line = $0; done = ""
        while (match(line, /!\[[^]]*\]\(figures\/[A-Za-z0-9._-]*\.svg\)/)) {
            ref = substr(line, RSTART, RLENGTH)
            alt = ref; sub(/^!\[/, "", alt); sub(/\].*/, "", alt)
            name = ref; sub(/^.*\(figures\//, "", name); sub(/\)$/, "", name)
            done = done substr(line, 1, RSTART - 1) "<img class=\"figure" \
                (name ~ /^chart-/ ? " chart" : "") "\" alt=\"" alt \
                "\" data-name=\"" name "\" src=\"data:image/svg+xml;base64," uri[name] "\">"
            line = substr(line, RSTART + RLENGTH)
        }
        print done line
    }' "$work/uris" "$work/deck.md" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' >"$work/body"

{
    cat <<'EOF'
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Blocking disk I/O in event loops</title>
<style>
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; }
h1, h2, h3 { font-weight: normal; color: #1a2a3a; }
/* A 16:9 slide is 1210 x 681 px. The smallest projector the talk plans for, 1024 x 768, shows
 * it at 0.846, and tests/slides.bats wants every text there, a figure's included, to be at least
 * 14 screen px (slides/browser.sh says why): so no text here is under 17 px, and a timeline or a
 * chart is drawn alone, as wide as the slide lets it. */
.remark-slide-content { font-size: 22px; padding: 0.4em 1.3em 0.3em; }
.remark-slide-content h1 { font-size: 1.45em; margin: 0.3em 0 0.4em; }
.remark-slide-content.center h1 { font-size: 2em; }
.remark-slide-content p, .remark-slide-content ul, .remark-slide-content ol { margin: 0.35em 0; }
.remark-slide-content li { margin: 0.15em 0; }
.remark-code, .remark-inline-code { font-family: 'DejaVu Sans Mono', Menlo, monospace; }
.remark-code { font-size: 17px; line-height: 1.25; }
.remark-slide-content pre { margin: 0.3em 0; }
.remark-slide-content pre > code { display: block; background: #f6f6f6; padding: 0.3em 0.5em; }
.remark-slide-content.center pre { display: inline-block; text-align: left; }
/* A figure fills the slide's width, or its height under the title and one line (class full);
 * object-fit keeps its aspect, and browser.sh measures the text as drawn. */
img.figure { display: block; margin: 0 auto; width: 100%; height: 470px; object-fit: contain; }
.full img.figure { height: 552px; }
.remark-slide-content.full h1 { margin: 0.25em 0 0.15em; }
.remark-slide-content.full p { margin: 0.2em 0; }
img.chart { height: auto; max-height: 520px; }
.split { display: flex; gap: 0.8em; align-items: flex-start; }
.split > div { flex: 1 1 0; min-width: 0; }
.takeaway { display: block; border-left: 5px solid #0072b2; padding: 0.1em 0.5em; margin: 0.3em 0 0.4em;
    color: #1a2a3a; }
.small { font-size: 18px; color: #444; }
.url { font-family: 'DejaVu Sans Mono', Menlo, monospace; font-size: 26px; color: #0072b2; margin: 0.6em 0; }
.rules ol { font-size: 26px; }
/* A live moment: the command, large, and what to look for (slides/RUNBOOK.md). */
.live pre .remark-code { font-size: 30px; }
.remark-slide-content table { border-collapse: collapse; font-size: 19px; margin: 0.2em auto; }
.remark-slide-content th, .remark-slide-content td { border: 1px solid #bbb; padding: 1px 6px; }
.remark-slide-number { font-size: 13px; }
.remark-slide-notes { font-size: 16px; }
/* Printed (make slides-pdf): one page a slide, at its own size, where remark would scale each
 * slide to its 4:3 page. */
@page { size: 1210px 681px; margin: 0; }
@media print {
  .remark-slide-container { width: 1210px !important; height: 681px !important; overflow: hidden; }
  .remark-slide-scaler { transform: none !important; -webkit-transform: none !important;
      left: 0 !important; top: 0 !important; width: 1210px !important; height: 681px !important; }
}
</style>
</head>
<body>
<textarea id="source">
EOF
    cat "$work/body"
    echo '</textarea>'
    echo '<script>'
    cat "$REMARK_JS"
    echo
    echo '</script>'
    echo "<script>var slideshow = remark.create({ratio: '16:9', highlightLanguage: 'c', highlightStyle: 'github', countIncrementalSlides: false});</script>"
    echo '</body>'
    echo '</html>'
} >"$work/deck.html"
mv "$work/deck.html" "$out"
slides=$(awk '/^```/ { f = !f } !f && /^---[ \t]*$/ { n++ } END { print n + 1 }' "$work/deck.md")
echo "wrote $out ($slides slides, $(wc -l <"$work/figures") figures and charts)" >&2
