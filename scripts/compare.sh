#!/usr/bin/env bash
# compare.sh: every chapter under the same two loads, measured in one sitting on this machine.
# For each chapter (and each variant its compare.conf lists) it starts a fresh server for each
# scenario, runs the load client, samples the server from /proc, and prints the seed's table:
# chapter, model, Problem? (any timeout under the shared scenario), timeouts under both scenarios,
# p50/p99, server CPU seconds, peak threads, peak RSS.
#
#   scripts/compare.sh [--markdown FILE] [--figures DIR] [CHAPTER...]   (make compare, make figures)
#   scripts/compare.sh --list-figures      the SVG names --figures writes, without running anything
#
# Chapters are found with chapters/[0-9]*/server.c, so a new one joins by existing. A chapter
# that needs flags to show its model lists its variants in chapters/NN-name/compare.conf, one a
# line, "LABEL FLAGS..." (e.g. "unpatched -m unpatched"); '#' starts a comment. Without the file
# a chapter runs once, with no flags. Figures are DIR/NN-SCENARIO.svg (NN-SCENARIO-LABEL.svg for
# a chapter with a compare.conf), SCENARIO being "shared" or "dying-disk". COMPARE_CONF_DIR
# (default chapters) is where NN-name/compare.conf files are looked for, and COMPARE_SHARED_ONLY=1
# skips the dying disk, for the tests.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
source scripts/server.bash
BIN=${BIN_DIR:-bin}

source scripts/scenarios.bash
TIMEOUT_MS=$SCENARIO_TIMEOUT_MS

markdown="" figures="" list_only=""
chapters=()
while [ $# -gt 0 ]; do
    case $1 in
    --markdown) markdown=$2; shift 2 ;;
    --figures) figures=$2; shift 2 ;;
    --list-figures) list_only=1; shift ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 64 ;;
    *) chapters+=("${1%/}"); shift ;;
    esac
done
if [ ${#chapters[@]} -eq 0 ]; then
    for dir in chapters/[0-9]*/; do
        [ -f "$dir/server.c" ] && chapters+=("$(basename "$dir")")
    done
fi

# variants CHAPTER: "LABEL FLAGS..." lines; one line "-" (no label, no flags) by default.
variants() {
    local conf=${COMPARE_CONF_DIR:-chapters}/$1/compare.conf
    if [ -f "$conf" ]; then
        sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$conf"
    else
        echo -
    fi
}

# figure_name CHAPTER SCENARIO LABEL: 05-dying-disk.svg, 09-shared-unpatched.svg.
figure_name() {
    echo "${1%%-*}-$2${3:+-$3}.svg"
}

# model CHAPTER: what the server is, from the first line of its header comment.
model() {
    sed -n '1{s|^/\* *Chapter [0-9]*: *||;s|\. .*||;s|\.$||;p}' "chapters/$1/server.c"
}

if [ -n "$list_only" ]; then
    for ch in "${chapters[@]}"; do
        while read -r label _; do
            [ "$label" = - ] && label=
            for sc in "${SCENARIOS[@]}"; do figure_name "$ch" "$sc" "$label"; done
        done < <(variants "$ch")
    done
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
sampler=
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# measure CHAPTER LABEL SCENARIO FLAGS...: one fresh server, one client run. Sets JSON, CPU,
# THREADS, HWM_KIB; writes the figure when --figures was given. Returns 1 if the server failed.
measure() {
    local ch=$1 label=$2 sc=$3
    shift 3
    : >"$work/trace"
    start_server "$BIN/$ch" -E "$work/trace" "$@" || { stop_server; return 1; }
    sample_threads "$SERVER_PID" "$work/threads" &
    sampler=$!
    cpu_window_start "$SERVER_PID"
    # shellcheck disable=SC2086 # the scenario's arguments are words
    JSON=$("$BIN/client" -p "$PORT" --json -q --timeline "$work/timeline" ${SCENARIO_ARGS[$sc]})
    cpu_window_end "$SERVER_PID"
    CPU=$CPU_S WALL=$WALL_S
    HWM_KIB=$(tree_hwm_kib "$SERVER_PID")
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    sampler=
    THREADS=$(cat "$work/threads")
    [ -n "$figures" ] && trace_settled "$work/trace" # the server may still be busy with what clients left
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
    if [ -n "$figures" ]; then
        local name title
        name=$(figure_name "$ch" "$sc" "$label")
        title="${ch/-/ }${label:+ ($label)}: ${SCENARIO_TITLE[$sc],}"
        "$BIN/timeline-svg" -t "$title" -s "${SCENARIO_DETAIL[$sc]}" -d "$TIMEOUT_MS" \
            -e "$work/trace" "$work/timeline" >"$figures/$name" &&
            echo "wrote $figures/$name" >&2
    fi
}

field() { json_field "$1" <<<"$JSON"; }

header='| chapter | model | Problem? | timeouts (shared) | timeouts (dying disk) | p50 / p99 ms (shared) | server CPU s in wall s (shared) | peak threads | peak RSS MiB |'
rows=()
[ -n "$figures" ] && mkdir -p "$figures"
for ch in "${chapters[@]}"; do
    if [ ! -x "$BIN/$ch" ]; then
        echo "compare.sh: $BIN/$ch is not built, skipping it (run make first)" >&2
        continue
    fi
    while read -r label flags; do
        [ "$label" = - ] && label=
        echo "running $ch${label:+ ($label: $flags)}" >&2
        failed="$(printf '| %s | %s%s | server did not start |||||||' "${ch%%-*}" "$(model "$ch")" \
            "${flags:+ (\`$flags\`)}")"
        # shellcheck disable=SC2086 # the variant's flags are words
        measure "$ch" "$label" shared $flags || { rows+=("$failed"); continue; }
        shared_timeouts=$(field timeouts) p50=$(field p50_ms) p99=$(field p99_ms)
        cpu=$CPU wall=$WALL threads=$THREADS hwm=$HWM_KIB
        dying=—
        if [ -z "${COMPARE_SHARED_ONLY:-}" ]; then # (the tests' shortcut)
            # shellcheck disable=SC2086
            measure "$ch" "$label" dying-disk $flags || { rows+=("$failed"); continue; }
            [ "$THREADS" -gt "$threads" ] && threads=$THREADS
            [ "$HWM_KIB" -gt "$hwm" ] && hwm=$HWM_KIB
            dying=$(field timeouts)
        fi
        problem=N
        [ "$shared_timeouts" -gt 0 ] && problem=Y
        rows+=("$(printf '| %s | %s%s | %s | %s | %s | %s / %s | %s in %s | %s | %s |' \
            "${ch%%-*}" "$(model "$ch")" "${flags:+ (\`$flags\`)}" \
            "$([ $problem = Y ] && echo '**Y**' || echo N)" "$shared_timeouts" \
            "$dying" "$p50" "$p99" "$cpu" "$wall" "$threads" \
            "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')")")
    done < <(variants "$ch")
done

table() {
    echo "$header"
    echo '|---|---|---|--:|--:|--:|--:|--:|--:|'
    printf '%s\n' "${rows[@]}"
}
echo
table
if [ -n "$markdown" ]; then
    mkdir -p "$(dirname "$markdown")"
    {
        echo "# Every chapter under the same load"
        echo
        echo "Made by \`make compare\` (scripts/compare.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), Linux" \
            "$(uname -r), $(nproc) cores. Each row is a fresh server per scenario and one run of" \
            "bin/client: the shared scenario is \`client ${SCENARIO_ARGS[shared]}\`, the dying disk" \
            "is \`client ${SCENARIO_ARGS[dying-disk]}\`. Problem? is **Y** when the shared" \
            "scenario had timeouts (the seed's test); a dying-disk count of 1 is the dying read" \
            "alone. CPU is the server's user + system time during the shared run, from" \
            "/proc/PID/stat, beside the wall time of the same window (so a one-thread server" \
            "never shows more than one core); peak threads is sampled every 20 ms (child" \
            "processes included); peak RSS is VmHWM from /proc/PID/status at the end of each run" \
            "(server plus live children), the larger of the two runs. One run each: timings on a" \
            "loaded machine vary, the outcomes (who times out) do not."
        echo
        table
    } >"$markdown"
    echo "wrote $markdown" >&2
fi
