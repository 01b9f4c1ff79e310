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
# Chapters are found with chapters/[0-9]*/server.c, so a new one joins by existing. The real
# systems of peers/ follow them (eventlet, asyncio, nginx; name one to run only it): each a row
# per mode, the same two loads, on the slow disk (bin/slowdisk -x, FUSE) where it can be mounted,
# so that their reads are real ones; the table's last column says which rows read for real. A chapter
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
chapters=() peers=()
while [ $# -gt 0 ]; do
    case $1 in
    --markdown) markdown=$2; shift 2 ;;
    --figures) figures=$2; shift 2 ;;
    --list-figures) list_only=1; shift ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 64 ;;
    *) if [ -n "${PEER_COMMAND[${1%/}]:-}" ]; then peers+=("$1"); else chapters+=("${1%/}"); fi; shift ;;
    esac
done
if [ ${#chapters[@]} -eq 0 ] && [ ${#peers[@]} -eq 0 ]; then
    for dir in chapters/[0-9]*/; do
        [ -f "$dir/server.c" ] && chapters+=("$(basename "$dir")")
    done
    peers=(eventlet asyncio nginx)
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
sampler='' disk_pid=''
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    stop_server
    [ -n "$disk_pid" ] && stop_process "$disk_pid" # slowdisk unmounts on SIGTERM
    [ -d "$work/mnt" ] && "$BIN/slowdisk" -u "$work/mnt" >/dev/null 2>&1
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'CLEANING_UP_AFTER_SIGNAL=1; exit 130' INT TERM # wait_child

# sample_run PID SCENARIO [CLIENT FLAGS...]: the scenario's client against $PORT, while PID and
# its children are sampled. Sets JSON, CPU, WALL, THREADS, HWM_KIB.
sample_run() {
    local pid=$1 sc=$2
    shift 2
    sample_threads "$pid" "$work/threads" &
    sampler=$!
    cpu_window_start "$pid"
    # To a file, not in a $(...): the client is the long wait, where a Ctrl-C lands.
    # shellcheck disable=SC2086 # the scenario's arguments are words
    "$BIN/client" -p "$PORT" --json -q --timeline "$work/timeline" ${SCENARIO_ARGS[$sc]} "$@" >"$work/json"
    cpu_window_end "$pid"
    CPU=$CPU_S WALL=$WALL_S
    HWM_KIB=$(tree_hwm_kib "$pid")
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    sampler=
    THREADS=$(cat "$work/threads")
    JSON=$(cat "$work/json")
}

# measure CHAPTER LABEL SCENARIO FLAGS...: one fresh server, one client run. Sets JSON, CPU,
# THREADS, HWM_KIB; writes the figure when --figures was given. Returns 1 if the server failed.
measure() {
    local ch=$1 label=$2 sc=$3
    shift 3
    : >"$work/trace"
    start_server "$BIN/$ch" -E "$work/trace" "$@" || { stop_server; return 1; }
    sample_run "$SERVER_PID" "$sc"
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

# row NAME MODEL READS: the table's row from the last two runs' figures (shared_timeouts, dying,
# p50, p99, cpu, wall, threads, hwm).
row() {
    local problem=N
    [ "$shared_timeouts" -gt 0 ] && problem='**Y**'
    printf '| %s | %s | %s | %s | %s | %s / %s | %s in %s | %s | %s | %s |' "$1" "$2" "$problem" \
        "$shared_timeouts" "$dying" "$p50" "$p99" "$cpu" "$wall" "$threads" \
        "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')" "$3"
}

header='| chapter | model | Problem? | timeouts (shared) | timeouts (dying disk) | p50 / p99 ms (shared) | server CPU s in wall s (shared) | peak threads | peak RSS MiB | reads |'
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
        failed="$(printf '| %s | %s%s | server did not start ||||||||' "${ch%%-*}" "$(model "$ch")" \
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
        rows+=("$(row "${ch%%-*}" "$(model "$ch")${flags:+ (\`$flags\`)}" simulated)")
    done < <(variants "$ch")
done

# ---- The real systems (peers/README.md), after the chapters: the seed's own baseline, eventlet
# as Swift's object server runs it, and asyncio and nginx, each with its blocking read and with
# its pool. On the slow disk every read really waits in the kernel. Where FUSE cannot be mounted
# the Python peers read the simulated disk, eventlet with the real, unpatched sleep
# (--blocking-sleep; its patched one would hide the bug), and nginx, which reads only files, is
# skipped.
declare -A PEER_MODEL=(
    [eventlet]="the real eventlet as Swift's object server runs it: monkey_patch, a green thread per connection, a plain read"
    [asyncio]="the real asyncio: a coroutine per connection, a plain read"
    [nginx]="the real nginx, one worker"
)
declare -A PEER_MODES=(
    [eventlet]="-|--tpool" [asyncio]="-|--to-thread" [nginx]="-m aio-off|-m aio-threads|-m per-disk"
)
# mount_disk: the slow disk on $work/mnt, once; false where FUSE is unavailable (why in DISK_WHY).
mount_disk() {
    [ -z "$disk_pid" ] || return 0
    [ -z "${DISK_WHY:-}" ] || return 1
    mkdir -p "$work/mnt"
    "$BIN/slowdisk" -x "$work/mnt" >"$work/slowdisk.out" 2>"$work/slowdisk.log" &
    disk_pid=$!
    wait_for_line "$disk_pid" "$work/slowdisk.out" '^mounted on ' && return 0
    wait "$disk_pid" 2>/dev/null
    disk_pid=''
    DISK_WHY="no slow disk here: $(tail -1 "$work/slowdisk.log")"
    echo "compare.sh: $DISK_WHY" >&2
    return 1
}
# measure_peer PEER SCENARIO FLAGS...: one fresh peer, one client run, as measure does. For
# nginx the figures are its master's and worker's (nginx.sh is a shell around them).
measure_peer() {
    local peer=$1 sc=$2 root pid comm client=()
    shift 2
    start_peer "$peer" "$@" || { stop_server; return 1; }
    root=$SERVER_PID
    if [ "$peer" = nginx ]; then
        client=(--status-only) # its body is the file itself
        for pid in $(ps -o pid= --ppid "$SERVER_PID"); do
            comm=$(cat "/proc/$pid/comm" 2>/dev/null) && [ "$comm" = nginx ] && root=$pid
        done
    fi
    sample_run "$root" "$sc" "${client[@]}"
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}
for peer in "${peers[@]}"; do
    IFS='|' read -ra modes <<<"${PEER_MODES[$peer]}"
    for mode in "${modes[@]}"; do
        [ "$mode" = - ] && mode=''
        read -ra flags <<<"$mode"
        reads="slow disk (FUSE)" shown=$mode
        if ! why=$(peer_missing "$peer"); then why=''; fi
        if [ -z "$why" ] && mount_disk; then
            flags+=(-D "$work/mnt")
            # per-disk: a pool for each first directory the loads read, the delays 50, 300, 2500
            [ "$mode" = "-m per-disk" ] && flags+=(-d "50 300 2500") && shown="$mode -d \"50 300 2500\""
        elif [ -z "$why" ] && [ "$peer" = nginx ]; then
            why=$DISK_WHY
        elif [ -z "$why" ]; then
            reads=simulated
            [ "$peer" = eventlet ] && flags+=(--blocking-sleep) && shown="${mode:+$mode }--blocking-sleep"
        fi
        model="${PEER_MODEL[$peer]}${shown:+ (\`$shown\`)}"
        [ "$peer$mode" = eventlet ] && model+=", the seed's baseline"
        if [ -n "$why" ]; then
            echo "compare.sh: $peer ${mode:-}: skipped, $why" >&2
            rows+=("| $peer | $model | skipped: $why ||||||||")
            continue
        fi
        echo "running $peer${mode:+ ($mode)} on the $reads" >&2
        failed="| $peer | $model | server did not start ||||||||"
        measure_peer "$peer" shared "${flags[@]}" || { rows+=("$failed"); continue; }
        shared_timeouts=$(field timeouts) p50=$(field p50_ms) p99=$(field p99_ms)
        cpu=$CPU wall=$WALL threads=$THREADS hwm=$HWM_KIB
        dying=—
        if [ -z "${COMPARE_SHARED_ONLY:-}" ]; then
            measure_peer "$peer" dying-disk "${flags[@]}" || { rows+=("$failed"); continue; }
            [ "$THREADS" -gt "$threads" ] && threads=$THREADS
            [ "$HWM_KIB" -gt "$hwm" ] && hwm=$HWM_KIB
            dying=$(field timeouts)
        fi
        rows+=("$(row "$peer" "$model" "$reads")")
    done
done

table() {
    echo "$header"
    echo '|---|---|---|--:|--:|--:|--:|--:|--:|---|'
    printf '%s\n' "${rows[@]}"
}
echo
table
if [ -n "$markdown" ]; then
    mkdir -p "$(dirname "$markdown")"
    {
        echo "# Every chapter, and the real systems, under the same load"
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
        echo "*Reads* says where each row's reads went. The chapters read the simulated disk, a" \
            "sleep of DELAY_MS. The rows named eventlet, asyncio and nginx are the real programs" \
            "of peers/ (Debian's python3-eventlet, Python's asyncio, nginx), and where they say" \
            "slow disk (FUSE) every read was a real one, a file of \`bin/slowdisk -x\` whose read" \
            "waits in the kernel for DELAY_MS. The eventlet row with no flags is the seed's own" \
            "baseline, \"the eventlet-based CPython implementation\", measured. nginx is judged by" \
            "its HTTP status (\`bin/client --status-only\`: its reply is the file itself), and" \
            "its CPU, threads and RSS are its master's and worker's."
        echo
        table
    } >"$markdown"
    echo "wrote $markdown" >&2
fi
