#!/usr/bin/env bash
# figures.sh DIR [CHAPTER...]: the figures that show a chapter's own lesson, beyond the two
# shared scenarios that compare.sh --figures draws for every chapter (make figures runs both).
# chapters/NN-name/figures.conf says what to draw and what each figure shows:
#   NAME | SERVER FLAGS | CLIENT ARGS | TITLE | WARM-UP CLIENT ARGS (optional)
#       one figure, drawn as DIR/NN-NAME.svg from a fresh server started with -E (its event
#       trace: one lane per server thread) and one client run with --timeline, after the
#       warm-up run if there is one
#   NAME: subtitle TEXT          the figure's second line: the load, in words
#   NAME: mark PREFIX LABEL      rows whose path the trace gives as PREFIX+ID carry a mark, and the
#                                legend names them LABEL (the dying disk's, say)
#   NAME: hold WHY               after the warm-up, each file the server holds open keeps
#                                the pages it has in the page cache for the run (bin/hold-pages
#                                maps them): the warm-up's hits stay hits on a machine that pages
#                                out file pages nothing maps (tests/tools/hold-pages.c)
#   NAME: claim CLAIM            what its caption says, in a form --check measures:
#       [at least K of] requests IDS WHAT OP MS ms   each (or K) of IDS (3, 1-5, 0-3,8) spent
#                   OP (<, <=, >=, >) MS in WHAT: latency (its whole bar), or phases joined by
#                   + (accept, wait-loop, wait-worker, read, ready, sent: the legend's colours)
#       [at least K of] requests IDS outcome OUTCOME    ok, late, timeout or error
#       [at least K of] requests IDS start while every PREFIX lane reads
#                   at each one's start, every thread lane named PREFIX... is in a read
#   scripts/figures.sh --check DIR [CHAPTER...]   measures every claim on DIR/NN-NAME.svg, and
#       what holds for every figure: a subtitle, a legend that keys exactly the colours drawn
#       (1 px wide or more somewhere: a thinner sliver needs no key),
#       the mark on some row; with DIR/NN-NAME.trace beside it (--traces), the marked rows
#       are exactly those the trace gives the mark's PREFIX. Exit status 1 if anything fails.
#   scripts/figures.sh --check-svg SVG...   the rules alone, for any figure timeline-svg drew
#       from a trace (compare.sh's too)
#   scripts/figures.sh --traces DIR [CHAPTER...]  draws, and keeps each figure's trace and
#       client timeline beside it (NN-NAME.trace, NN-NAME.timeline)
#   scripts/figures.sh --list     the SVG names it writes, without running anything
# FIGURES_CONF_DIR (default chapters) is where NN-name/figures.conf is read from.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
BIN=${BIN_DIR:-bin}
CONF_DIR=${FIGURES_CONF_DIR:-chapters}

# figure_lines CHAPTER: its figures' lines (with '|') without comments and blank lines.
figure_lines() {
    local conf=$CONF_DIR/$1/figures.conf
    [ -f "$conf" ] && sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$conf" | grep '|'
}
# figure_says CHAPTER NAME KIND: the text of NAME's "NAME: KIND TEXT" lines, one a line.
figure_says() {
    local conf=$CONF_DIR/$1/figures.conf
    [ -f "$conf" ] && sed -e 's/#.*//' "$conf" | grep -v '|' |
        sed -n "s/^[[:space:]]*$2:[[:space:]]*$3[[:space:]][[:space:]]*//p" | sed 's/[[:space:]]*$//'
}
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$1"; }

# check_figure SVG TRACE MARK_PREFIX [GENERAL]: reads the claims on stdin, prints one line for each and
# for each rule every figure keeps ("ok ..." or "FAIL ..." with what was measured). Returns 1 if
# any failed. What it measures is what the SVG draws: each request's segments (the ms of a
# rect from the x axis' ticks), its data-outcome and data-mark, the thread lanes' reads.
check_figure() {
    awk -v svg="$1" -v trace="$2" -v mark_prefix="$3" -v name="$(basename "$1" .svg)" \
        -v general_only="${4:-}" '
        function attr(s, key,    m) {
            if (!match(s, " " key "=\"[^\"]*\"")) return ""
            return substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 4)
        }
        function ms(x) { return t0 + (x - x0) * ms_per_px }
        function report(ok, what, measured) {
            printf "%s %s: %s (%s)\n", ok ? "ok  " : "FAIL", name, what, measured
            if (!ok) failed = 1
        }
        # ids("1-5,8") into list[1..n]; returns n.
        function ids(spec, list,    parts, np, i, range, a, b, n) {
            np = split(spec, parts, ",")
            n = 0
            for (i = 1; i <= np; i++) {
                if (split(parts[i], range, "-") == 2) { a = range[1] + 0; b = range[2] + 0 }
                else a = b = parts[i] + 0
                for (; a <= b; a++) list[++n] = a
            }
            return n
        }
        # The ms request id spent in what ("latency", or phases joined by +); -1 if no such row.
        function spent(id, what,    p, np, i, total) {
            if (!(id in row_from)) return -1
            if (what == "latency") return row_to[id] - row_from[id]
            np = split(what, p, "+")
            total = 0
            for (i = 1; i <= np; i++) total += phase_ms[id, "ph-" p[i]]
            return total
        }
        function compare(v, op, limit) {
            return op == "<" ? v < limit : op == "<=" ? v <= limit : op == ">=" ? v >= limit : op == ">" ? v > limit : -1
        }
        # Is every lane named prefix... reading at t? (and is there one?)
        function all_reading(prefix, t,    l, k, any, busy) {
            any = 0
            for (l = 1; l <= n_lanes; l++) {
                if (index(lane_name[l], prefix) != 1) continue
                any = 1
                busy = 0
                for (k = 1; k <= n_reads[l]; k++)
                    if (read_from[l, k] <= t + 0.5 && t <= read_to[l, k]) busy = 1
                if (!busy) return 0
            }
            return any
        }
        function claim(text,    f, nf, k, i, n, list, what, op, limit, v, good, lo, hi, shown, detail) {
            nf = split(text, f, " ")
            k = 0
            i = 1
            if (f[1] == "at" && f[2] == "least" && f[4] == "of") { k = f[3] + 0; i = 5 }
            if (f[i] != "requests") { report(0, text, "not a claim: see scripts/figures.sh"); return }
            n = ids(f[i + 1], list)
            what = f[i + 2]
            good = 0; lo = ""; hi = ""; detail = ""
            for (j = 1; j <= n; j++) {
                id = list[j]
                if (!(id in row_from)) { v = "no row"; ok_one = 0 }
                else if (what == "outcome") { v = outcome[id]; ok_one = v == f[i + 3] }
                else if (what == "start") {
                    # requests IDS start while every PREFIX lane reads
                    ok_one = all_reading(f[i + 5], row_from[id])
                    v = ok_one ? "all reading" : "not all reading"
                } else {
                    op = f[i + 3]; limit = f[i + 4] + 0
                    v = spent(id, what)
                    ok_one = compare(v, op, limit)
                    if (ok_one < 0) { report(0, text, "no such comparison: " op); return }
                    if (lo == "" || v < lo) lo = v
                    if (hi == "" || v > hi) hi = v
                    v = sprintf("%.0f", v)
                }
                good += ok_one
                if (!ok_one) detail = detail (detail == "" ? "" : ", ") "request " id ": " v
            }
            if (n == 0) { report(0, text, "no requests named"); return }
            shown = lo == "" ? good " of " n " hold" : sprintf("measured %.0f to %.0f ms", lo, hi)
            if (k == 0) report(good == n, text, shown (detail == "" ? "" : "; " detail))
            else report(good >= k, text, good " of " n " hold" (lo == "" ? "" : sprintf(", %.0f to %.0f ms", lo, hi)))
        }
        # The claims, from stdin.
        FILENAME == "-" { claims[++n_claims] = $0; next }
        FILENAME == trace {
            if (mark_prefix != "" && match($0, /"req":"[^"]*"/)) {
                req = substr($0, RSTART + 7, RLENGTH - 8)
                if (index(req, mark_prefix) == 1 && substr(req, length(mark_prefix) + 1) ~ /^[0-9]+$/)
                    traced_mark[substr(req, length(mark_prefix) + 1) + 0] = 1
            }
            next
        }
        /<text class="tick"/ && n_ticks < 2 {
            v = $0; sub(/.*">/, "", v); sub(/<.*/, "", v)
            tick_x[n_ticks + 0] = attr($0, "x"); tick_v[n_ticks++ + 0] = v
            if (n_ticks == 2) { x0 = tick_x[0]; t0 = tick_v[0]; ms_per_px = (tick_v[1] - tick_v[0]) / (tick_x[1] - tick_x[0]) }
        }
        !has_subtitle && /^<text x="8" y="35"/ {
            has_subtitle = 1
            subtitle = $0; sub(/^<text[^>]*>/, "", subtitle); sub(/<\/text>.*/, "", subtitle) }
        /<g class="legend"/ { in_legend = 1 }
        in_legend && /class="key / { k = $0; sub(/.*class="key /, "", k); sub(/".*/, "", k); keys[k] = 1 }
        in_legend && /<\/g>/ { in_legend = 0 }
        /<g class="req"/ {
            kind = "req"; id = attr($0, "data-id") + 0; outcome[id] = attr($0, "data-outcome")
            if (id > max_id) max_id = id
            if (attr($0, "data-mark") != "") marked[id] = attr($0, "data-mark")
            n_rows++
        }
        /<g class="lane"/ { kind = "lane"; lane_name[++n_lanes] = attr($0, "data-name"); n_reads[n_lanes] = 0 }
        /<\/g>/ { kind = "" }
        kind != "" && /<rect class="(ph|ln)-/ {
            # x as a number: as text "340.76" < "92.49", and a bar drawn from 92 to 340 px was
            # measured from its last segments alone.
            cls = attr($0, "class"); from = attr($0, "x") + 0; to = from + attr($0, "width")
            # Visible, so keyed: 1 px as the SVG says (from + width - from can fall just short).
            if (attr($0, "width") + 0 >= 1) uses[cls == "ln-read" ? "ph-read" : cls] = 1
            if (kind == "req") { # in px until the ticks (drawn last) give the scale
                phase_ms[id, cls] += to - from
                if (!(id in row_from) || from < row_from[id]) row_from[id] = from
                if (!(id in row_to) || to > row_to[id]) row_to[id] = to
            } else if (cls == "ln-read") {
                k = ++n_reads[n_lanes]; read_from[n_lanes, k] = from; read_to[n_lanes, k] = to
            }
        }
        kind == "req" && /<rect class="mark"/ { uses["mark"] = 1; mark_drawn[id] = 1 }
        END {
            if (n_ticks < 2 || n_rows == 0) { print "FAIL " name ": not a traced timeline figure"; exit 1 }
            for (key in phase_ms) phase_ms[key] *= ms_per_px
            for (key in row_from) { row_from[key] = ms(row_from[key]); row_to[key] = ms(row_to[key]) }
            for (key in read_from) { read_from[key] = ms(read_from[key]); read_to[key] = ms(read_to[key]) }
            report(subtitle != "", "has a subtitle", subtitle == "" ? "empty" : subtitle)
            missing = ""; unused = ""; keyed = ""
            for (c in uses) if (!(c in keys)) missing = missing " " c
            for (c in keys) if (!(c in uses)) unused = unused " " c; else keyed = keyed " " c
            report(missing unused == "", "the legend keys exactly the colours drawn",
                missing unused == "" ? "keys" keyed : (missing == "" ? "" : "drawn, not keyed:" missing) \
                (unused == "" ? "" : " keyed, not drawn:" unused))
            if (mark_prefix != "") {
                got = ""; want = ""
                for (i = 0; i <= max_id; i++) {
                    if ((i in marked) && (i in mark_drawn)) got = got (got == "" ? "" : ",") i
                    if (i in traced_mark) want = want (want == "" ? "" : ",") i
                }
                if (trace != "/dev/null")
                    report(got == want && got != "", "rows marked are those of " mark_prefix, "marked " got "; the trace: " want)
                else
                    report(got != "", "rows of " mark_prefix " are marked", "marked " got)
            }
            if (!general_only) report(n_claims > 0, "states what it shows", n_claims + 0 " claims")
            for (c = 1; c <= n_claims; c++) claim(claims[c])
            exit failed
        }' - "$2" "$1"
}

list="" dir="" check="" keep=""
case ${1:-} in
--list) list=1; shift ;;
--check) check=1; shift ;;
--check-svg) # FILE...: what every timeline figure keeps, whoever drew it (compare.sh too)
    shift
    status=0
    for svg in "$@"; do check_figure "$svg" /dev/null "" general </dev/null || status=1; done
    exit $status ;;
--traces) keep=1; shift ;;
esac
case ${1:-} in
"" | -*) [ -z "$list" ] && { echo "usage: scripts/figures.sh [--traces|--check] DIR [CHAPTER...] | --list" >&2; exit 64; } ;;
*) dir=$1; shift ;;
esac
chapters=("$@")
[ ${#chapters[@]} -eq 0 ] && for d in chapters/[0-9]*/; do chapters+=("$(basename "$d")"); done

if [ -n "$check" ]; then
    status=0
    for ch in "${chapters[@]}"; do
        while IFS='|' read -r name _; do
            name=$(trim "$name")
            svg=$dir/${ch%%-*}-$name.svg trace=$dir/${ch%%-*}-$name.trace
            [ -f "$svg" ] || { echo "FAIL ${ch%%-*}-$name: $svg is not drawn"; status=1; continue; }
            [ -f "$trace" ] || trace=/dev/null
            mark=$(figure_says "$ch" "$name" mark | head -1)
            figure_says "$ch" "$name" claim | check_figure "$svg" "$trace" "${mark%% *}" || status=1
        done < <(figure_lines "$ch")
    done
    exit $status
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/figures.XXXXXX")
HOLD_DIR=$work
trap 'stop_server; release_pages; rm -rf "$work"' EXIT

# NAME: hold. Every file the server holds open, held in the page cache for the run. A file's link
# names a path; an epoll or eventfd passes -f too, but names anon_inode:[...] and cannot be opened.
hold_server_files() {
    local fd
    for fd in /proc/"$SERVER_PID"/fd/*; do
        [ -f "$fd" ] && [[ $(readlink "$fd") == /* ]] || continue
        hold_pages "$fd" || echo "figures.sh: could not hold $fd's pages" >&2
    done
}
[ -n "$dir" ] && mkdir -p "$dir"
for ch in "${chapters[@]}"; do
    while IFS='|' read -r name flags args title warm; do
        name=$(trim "$name")
        if [ -n "$list" ]; then
            echo "${ch%%-*}-$name.svg"
            continue
        fi
        echo "running $ch ($name: $(trim "$flags"))" >&2
        : >"$work/trace"
        # shellcheck disable=SC2046 # the fields are words
        start_server "$BIN/$ch" -E "$work/trace" $(trim "$flags") || continue
        # shellcheck disable=SC2046
        [ -n "$(trim "${warm:-}")" ] && "$BIN/client" -p "$PORT" -q $(trim "$warm") >/dev/null 2>&1
        [ -n "$(figure_says "$ch" "$name" hold)" ] && hold_server_files
        # shellcheck disable=SC2046
        "$BIN/client" -p "$PORT" -q --timeline "$work/timeline" $(trim "$args") >/dev/null 2>&1
        release_pages
        # The server may still be busy with what the clients gave up on: let the trace settle.
        trace_settled "$work/trace"
        stop_server
        rm -f "$SERVER_OUT" "$SERVER_LOG"
        # The client's path prefixes, so the trace's requests find their rows.
        prefixes=$(grep -oE -- '--(slow-)?path [^ ]+' <<<"$args" | awk '{ print $2 }' | paste -sd,)
        mark=$(figure_says "$ch" "$name" mark | head -1)
        svg=$dir/${ch%%-*}-$name.svg
        "$BIN/timeline-svg" -t "${ch/-/ }: $(trim "$title")" \
            -s "$(figure_says "$ch" "$name" subtitle | head -1)" ${mark:+-m "${mark%% *}=${mark#* }"} \
            -e "$work/trace" -p "${prefixes:-/obj/}" "$work/timeline" >"$svg" &&
            echo "wrote $svg" >&2
        if [ -n "$keep" ]; then
            cp "$work/trace" "${svg%.svg}.trace"
            cp "$work/timeline" "${svg%.svg}.timeline"
        fi
    done < <(figure_lines "$ch")
done
