#!/usr/bin/env bash
# run.sh [--disk] PEER [FLAGS...]: one peer against the shared scenario (scripts/scenarios.bash):
#     starts PEER (eventlet, asyncio or nginx) with FLAGS on a free port, with --disk on a fresh
#     slow disk (bin/slowdisk -x: every read pays its delay; given to the peer as -D, and nginx
#     always reads one), runs bin/client (for nginx in HTTP, judged by the status: its reply is
#     the file itself), prints both commands and what the client said, and stops everything.
# run.sh --table: every peer in every mode, one row each of a Markdown table (peers/README.md).
# Exit status 69 when a peer or FUSE is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/server.bash
source scripts/scenarios.bash
bin=${BIN_DIR:-bin}
read -ra load <<<"${SCENARIO_ARGS[shared]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/peer-run.XXXXXX")
disk_pid=
cleanup() {
    stop_server || true # first: it holds files on the mount
    [ -z "$disk_pid" ] || stop_process "$disk_pid" || true # slowdisk unmounts on SIGTERM
    rm -f "${SERVER_OUT:-}" "${SERVER_LOG:-}"
    rm -rf "$work"
}
trap cleanup EXIT

# mount_disk: the slow disk on $work/mnt, once.
mount_disk() {
    [ -z "$disk_pid" ] || return 0
    mkdir "$work/mnt"
    "$bin/slowdisk" -x "$work/mnt" >"$work/slowdisk.out" 2>"$work/slowdisk.log" &
    disk_pid=$!
    wait_for_line "$disk_pid" "$work/slowdisk.out" '^mounted on ' && return 0
    disk_pid=
    echo "run.sh: no slow disk: $(tail -1 "$work/slowdisk.log")" >&2
    exit 69
}

# run_peer DISK PEER [FLAGS...]: the peer (on the slow disk when DISK is 1) against the shared
# scenario; the client's output in $work/client.
run_peer() {
    local disk=$1 peer=$2 why
    shift 2
    if why=$(peer_missing "$peer"); then echo "run.sh: $why" >&2 && exit 69; fi
    local flags=("$@") http=()
    [ "$peer" != nginx ] || disk=1 http=(--status-only)
    if [ "$disk" = 1 ]; then
        mount_disk
        flags+=(-D "$work/mnt")
    fi
    start_peer "$peer" "${flags[@]}"
    local shown=("${PEER_COMMAND[$peer]#"$PWD/"}" -p 0 "$@")
    [ "$disk" = 0 ] || shown+=(-D MNT)
    echo "\$ ${shown[*]}"
    echo "\$ bin/client -p $PORT ${load[*]}${http:+ ${http[*]}}"
    "$bin/client" -p "$PORT" "${load[@]}" "${http[@]}" >"$work/client" || true # 1: timeouts
    stop_server
    rm -f "$SERVER_OUT" "$SERVER_LOG"
}

# row DISK PEER [FLAGS...]: one table row.
row() {
    local disk=$1 peer=$2 ok late errors
    shift 2
    run_peer "$disk" "$peer" "$@" >/dev/null
    read -r ok late errors < <(sed -n 's/^ok \([0-9]*\) *timeouts \([0-9]*\) *errors \([0-9]*\).*/\1 \2 \3/p' "$work/client")
    local where=simulated
    if [ "$disk" = 1 ] || [ "$peer" = nginx ]; then where="slow disk"; fi
    printf '| %s | %s | %s | %d | %d | %d |\n' "$peer" "${*:+\`$*\`}" "$where" "$ok" "$late" "$errors"
}

if [ "${1:-}" = --table ]; then
    echo "| peer | flags | disk | ok | timeouts | errors |"
    echo "|---|---|---|---|---|---|"
    row 0 eventlet
    row 0 eventlet --blocking-sleep
    row 0 eventlet --blocking-sleep --tpool
    row 1 eventlet
    row 1 eventlet --tpool
    row 0 asyncio
    row 0 asyncio --to-thread
    row 1 asyncio
    row 1 asyncio --to-thread
    row 1 nginx -m aio-off
    row 1 nginx -m aio-threads
    row 1 nginx -m per-disk -d 300
    exit 0
fi
disk=0
if [ "${1:-}" = --disk ]; then disk=1 && shift; fi
[ $# -gt 0 ] || { sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2; }
run_peer "$disk" "$@"
cat "$work/client"
