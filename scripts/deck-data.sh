#!/usr/bin/env bash
# deck-data.sh [DIR [NAME...]]: the runs the talk quotes beyond bench/REPORT.md, bench/compare.md
# and the figures, each written to DIR (default slides/data) as its own file, so that
# slides/build.sh fills the deck from what a run wrote and never from a number typed by hand:
#   11-designs.md   chapter 11's four designs beside a dying disk: the last table `make chapter-11`
#                   prints, as a Markdown table (the healthy disk's p99 alone and beside it)
#   12-iou-wrk.md   chapter 12's workers.bash: the kernel's iou-wrk threads for each way of reading
#   debug-5.txt     `make debug-5` (scripts/debug-demo.sh) as it printed it, paths made relative
#   epoll-file.txt  `bin/epoll-file README.md`: epoll refuses a regular file, poll calls it ready
# NAMEs (11-designs, 12-iou-wrk, debug-5, epoll-file) run only those; none runs them all.
# A run that fails leaves the file it would have replaced alone and makes the exit status 1.
# make deck-data runs it, and make figures too (mk/charts.mk): about 20 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
dir=${1:-slides/data}
[ $# -gt 0 ] && shift
wanted=" ${*:-11-designs 12-iou-wrk debug-5 epoll-file} "
for name in $wanted; do
    case $name in
    11-designs | 12-iou-wrk | debug-5 | epoll-file) ;;
    *) echo "deck-data.sh: no run named $name (11-designs, 12-iou-wrk, debug-5, epoll-file)" >&2; exit 64 ;;
    esac
done
# want NAME: NAME is one of the runs asked for.
want() { [[ $wanted == *" $1 "* ]]; }
mkdir -p "$dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/deck-data.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
when=$(date -u '+%Y-%m-%d %H:%M UTC')
machine="$(nproc) cores, Linux $(uname -r)"

# publish NAME: moves the new file into place, or says why not.
publish() {
    if [ -s "$work/$1" ]; then
        mv "$work/$1" "$dir/$1" && echo "wrote $dir/$1" >&2
    else
        echo "deck-data.sh: $1 not written: the run above failed" >&2
        status=1
    fi
}

# 11: the table after "The healthy disk's reads", e.g.
#   design        alone p99   beside the dying disk: ok  RC 1  client timeouts  p99
#   shared            51 ms                          16     0                4  1502 ms
if want 11-designs; then
    echo "running make chapter-11's demo" >&2
    scripts/demo.sh 11-dying-disk >"$work/11.out" 2>&1
    awk -v when="$when" -v machine="$machine" '
        /^The healthy disk.s reads/ { table = 1; next }
        table && /^design / { next }
        table && NF == 8 && $3 == "ms" && $8 == "ms" { row[++n] = $0; d[n] = $1; a[n] = $2; ok[n] = $4
            rc[n] = $5; ct[n] = $6; p[n] = $7; next }
        table && NF { bad = 1 }
        END {
            if (n != 4 || bad) exit 1
            print "# Chapter 11: the healthy disk, alone and beside a dying one"
            print ""
            print "Written by scripts/deck-data.sh (make deck-data) on " when ", " machine ", from the"
            print "last table of `make chapter-11`: 2 disks, `-w 2` per disk, `-T 1000`; disk 0 dying (4 reads"
            print "of 2.5 s), disk 1 healthy (20 reads of 50 ms, 4 at a time, client timeout 1.5 s), once alone"
            print "and once 200 ms after the dying reads. One run of each design; on a busy machine the"
            print "milliseconds vary, the outcomes do not."
            print ""
            print "| design | alone: p99 ms | beside the dying disk: ok | RC 1 | client timeouts | beside the dying disk: p99 ms |"
            print "|---|--:|--:|--:|--:|--:|"
            for (i = 1; i <= n; i++)
                printf "| %s | %s | %s | %s | %s | %s |\n", d[i], a[i], ok[i], rc[i], ct[i], p[i]
        }' "$work/11.out" >"$work/11-designs.md" || { sed -n '/healthy disk.s reads/,$p' "$work/11.out" >&2; : >"$work/11-designs.md"; }
    publish 11-designs.md
fi

if want 12-iou-wrk; then
    echo "running chapter 12's workers.bash" >&2
    if chapters/12-io-uring/workers.bash >"$work/12.out" 2>"$work/12.err"; then
        awk -v when="$when" -v machine="$machine" '
            $1 == "mode" { next }
            NF == 3 { r[++n] = sprintf("| %s | %s | %s |", $1, $2, $3) }
            END {
                if (n == 0) exit 1
                print "# Chapter 12: the kernel threads io_uring starts for a file read"
                print ""
                print "Written by scripts/deck-data.sh (make deck-data) on " when ", " machine ", from"
                print "`chapters/12-io-uring/workers.bash`: 3 bursts of 64 concurrent reads in each mode, the"
                print "io-wq cap `-w` loose or tight, then the iou-wrk threads counted in /proc/PID/task."
                print ""
                print "| mode | cap | iou-wrk |"
                print "|---|--:|--:|"
                for (i = 1; i <= n; i++) print r[i]
            }' "$work/12.out" >"$work/12-iou-wrk.md" || : >"$work/12-iou-wrk.md"
    else
        cat "$work/12.err" >&2
    fi
    publish 12-iou-wrk.md
fi

if want debug-5; then
    echo "running make debug-5's demo" >&2
    scripts/debug-demo.sh 05-blocking-in-loop 2>&1 | sed "s|$PWD/||g" >"$work/debug-5.txt"
    grep -q 'loop blocked' "$work/debug-5.txt" || { cat "$work/debug-5.txt" >&2; : >"$work/debug-5.txt"; }
    publish debug-5.txt
fi

# The why of the whole talk, asked of the kernel: a regular file has no readiness to wait for.
if want epoll-file; then
    echo "running bin/epoll-file" >&2
    { echo '$ bin/epoll-file README.md' && "${BIN_DIR:-bin}/epoll-file" README.md; } >"$work/epoll-file.txt" 2>&1 &&
        grep -q '^epoll_ctl(ADD, README.md): ' "$work/epoll-file.txt" || { cat "$work/epoll-file.txt" >&2; : >"$work/epoll-file.txt"; }
    publish epoll-file.txt
fi
exit "$status"
