#!/usr/bin/env bash
# timeline.sh FILE [WIDTH]: draws a client --timeline file in the terminal, one row a request,
# on a shared time axis:  = waiting for an answer that came in time,  x a request that timed
# out,  L answered RC 1 by the server (late),  ! an error.
set -euo pipefail
file=$1
width=${2:-60}
awk -v width="$width" '
    /^#/ { next }
    { k = n++; id[k] = $1; s[k] = $2; e[k] = $3; out[k] = $4; if ($3 > tmax) tmax = $3 }
    END {
        if (n == 0) exit
        if (tmax < 1) tmax = 1
        mark["ok"] = "="; mark["timeout"] = "x"; mark["late"] = "L"; mark["error"] = "!"
        for (i = 0; i < n; i++) {
            a = int(s[i] * width / tmax); b = int(e[i] * width / tmax); if (b <= a) b = a + 1
            bar = ""
            for (c = 0; c < b; c++) bar = bar (c < a ? " " : mark[out[i]])
            printf "%4d |%-*s| %5d ms %s\n", id[i], width, bar, e[i] - s[i], out[i]
        }
        printf "     0%*s%d ms\n", width - 1, "", tmax
    }' "$file"
