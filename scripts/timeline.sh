#!/usr/bin/env bash
# timeline.sh [-e TRACE] FILE [WIDTH]: draws a client --timeline file in the terminal, one row a
# request, on a shared time axis WIDTH characters wide (60). Alone:  = waiting for an answer that
# came in time,  x a request that timed out,  L answered RC 1 by the server (late),  ! an error.
# With the server's event trace (its -E TRACE), each row shows where the request waited and a
# lane a server thread what it was doing; a legend line explains the marks. An empty or absent
# TRACE (a server that does not trace) draws the client's view. It is `timeline-svg --text`
# (tools/timeline-svg.c), so the terminal and the slides agree.
set -euo pipefail
trace=()
if [ "${1:-}" = -e ]; then
    [ -s "${2:-}" ] && trace=(-e "$2")
    shift 2
fi
[ $# -ge 1 ] || { echo "usage: scripts/timeline.sh [-e TRACE] FILE [WIDTH]" >&2; exit 64; }
tool="$(dirname "$0")/../${BIN_DIR:-bin}/timeline-svg"
[ -x "$tool" ] || { echo "timeline.sh: $tool is not built (run make)" >&2; exit 1; }
exec "$tool" --text -w "${2:-60}" "${trace[@]}" "$1"
