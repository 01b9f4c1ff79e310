#!/usr/bin/env bash
# figures.sh DIR [CHAPTER...]: the figures that show a chapter's own lesson, beyond the two
# shared scenarios that compare.sh --figures draws for every chapter (make figures runs both).
# Each line of chapters/NN-name/figures.conf is one figure, four or five fields split by '|':
#   NAME | SERVER FLAGS | CLIENT ARGS | TITLE | WARM-UP CLIENT ARGS (optional)
# drawn as DIR/NN-NAME.svg from a fresh server started with -E (its event trace: one lane per
# server thread) and one client run with --timeline, after the warm-up run if there is one.
#   scripts/figures.sh --list     the SVG names it writes, without running anything
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
BIN=${BIN_DIR:-bin}

# figure_lines CHAPTER: its figures.conf without comments and blank lines.
figure_lines() {
    local conf=chapters/$1/figures.conf
    [ -f "$conf" ] && sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$conf"
}
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$1"; }

list="" dir=""
case ${1:-} in
--list) list=1; shift ;;
"" | -*) echo "usage: scripts/figures.sh DIR [CHAPTER...] | --list" >&2; exit 64 ;;
*) dir=$1; shift ;;
esac
chapters=("$@")
[ ${#chapters[@]} -eq 0 ] && for d in chapters/[0-9]*/; do chapters+=("$(basename "$d")"); done

work=$(mktemp -d "${TMPDIR:-/tmp}/figures.XXXXXX")
trap 'stop_server; rm -rf "$work"' EXIT
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
        # shellcheck disable=SC2046
        "$BIN/client" -p "$PORT" -q --timeline "$work/timeline" $(trim "$args") >/dev/null 2>&1
        # The server may still be busy with what the clients gave up on: let the trace settle.
        trace_settled "$work/trace"
        stop_server
        rm -f "$SERVER_OUT" "$SERVER_LOG"
        # The client's path prefixes, so the trace's requests find their rows.
        prefixes=$(grep -oE -- '--(slow-)?path [^ ]+' <<<"$args" | awk '{ print $2 }' | paste -sd,)
        "$BIN/timeline-svg" -t "${ch/-/ }: $(trim "$title")" -e "$work/trace" \
            -p "${prefixes:-/obj/}" "$work/timeline" >"$dir/${ch%%-*}-$name.svg" &&
            echo "wrote $dir/${ch%%-*}-$name.svg" >&2
    done < <(figure_lines "$ch")
done
