# What a server costs, read from /proc: CPU time, threads, memory, for a process and its children
# (08, 11 and 13 serve in child processes). Sourced by scripts/server.bash, so the demos, the
# tests, make compare and make bench all measure the same way.

# tree_pids PID: PID and its live children.
tree_pids() {
    echo "$1"
    ps -o pid= --ppid "$1" 2>/dev/null
}

# tree_cpu PID: CPU seconds (user + system) used so far by PID, by the children it has reaped and
# by its live children, from /proc/PID/stat (after "pid (comm) ": utime 12, stime 13, cutime 14,
# cstime 15, in clock ticks).
tree_cpu() {
    local p
    for p in $(tree_pids "$1"); do
        sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null
    done | awk -v hz="$(getconf CLK_TCK)" '{ s += $12 + $13 + $14 + $15 } END { printf "%.2f\n", s / hz }'
}

# cpu_seconds PID: the same for PID alone (no children).
cpu_seconds() {
    sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($12 + $13) / hz }'
}

# runnable_seconds PID: the seconds PID's threads have been runnable so far, on a CPU or waiting
# for one (/proc/PID/task/*/schedstat: ns on a CPU, ns in the run queue). What a spinning loop
# burns depends on who else wants the cores; that it never sleeps does not.
runnable_seconds() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 + $2 } END { printf "%.2f\n", ns / 1e9 }'
}

# cpu_window_start PID ... cpu_window_end PID: sets CPU_S, the CPU seconds PID's tree used in
# between, and WALL_S, the wall time of the same window: each clock is read just outside its CPU
# sample, so CPU_S can never exceed WALL_S times the threads that ran (a one-thread server never
# shows more than one core).
cpu_window_start() {
    CPU_WINDOW_T0=$(date +%s.%N)
    CPU_WINDOW_C0=$(tree_cpu "$1")
}
cpu_window_end() {
    local c1 t1
    c1=$(tree_cpu "$1")
    t1=$(date +%s.%N)
    CPU_S=$(awk -v a="$CPU_WINDOW_C0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
    WALL_S=$(awk -v a="$CPU_WINDOW_T0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# proc_value VAR FILE NAME: sets VAR to the number after "NAME:" in a /proc file such as
# /proc/PID/status (VmHWM, VmRSS in kB; Threads) or /proc/meminfo (KernelStack in kB); fails when
# the file or the name is not there. The file is read whole, in one go: read a line at a time,
# bash seeks back after each line, and the kernel writes a /proc file anew at each seek, from a
# process that has moved on since; a line came out shifted ("hreads: 1" for "Threads: 1") and
# the name was not found (09's thread sampler, 1 run in 4 under ASan).
proc_value() {
    local -n proc_value_out=$1
    local proc_text proc_key proc_number _
    IFS= read -r -d '' proc_text <"$2" || [ -n "$proc_text" ] || return 1 # 1 at the end: no NUL
    while read -r proc_key proc_number _; do
        [ "$proc_key" = "$3:" ] && { proc_value_out=$proc_number; return 0; }
    done <<<"$proc_text"
    return 1
}
# proc_field FILE NAME: the same number, printed.
proc_field() {
    local number
    proc_value number "$1" "$2" && echo "$number"
}
status_field() { proc_field "/proc/$1/status" "$2"; }

# thread_count PID: the number of threads the process has now.
thread_count() { status_field "$1" Threads; }

# tree_hwm_kib PID: peak resident set (VmHWM) of PID plus its live children, in KiB.
tree_hwm_kib() {
    local p kib=0 v
    for p in $(tree_pids "$1"); do
        v=$(status_field "$p" VmHWM 2>/dev/null)
        kib=$((kib + ${v:-0}))
    done
    echo "$kib"
}

# sample_threads PID FILE: until PID exits or this is killed, keeps in FILE the most threads PID
# and its children have had at once (one ps every 20 ms).
sample_threads() {
    local peak=0 now
    echo 0 >"$2"
    while kill -0 "$1" 2>/dev/null; do
        now=$(ps -o nlwp= -p "$1" --ppid "$1" 2>/dev/null | awk '{ n += $1 } END { print n + 0 }')
        if [ "$now" -gt "$peak" ]; then
            peak=$now
            echo "$peak" >"$2"
        fi
        nap 0.02
    done
}
