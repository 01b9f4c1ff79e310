#!/usr/bin/env bats
# make swift-lab in its quick mode (scripts/swift-lab.sh, SWIFT_LAB_QUICK=1): one node of 8 disks
# on the FUSE slow disk, disk 0 dying by the seed's model, an open loop of 8 reads a second on
# every disk for 3 s, clients giving up after 5 s. The read on the loop (05) times the healthy
# disks' requests out; a pool per disk (11 -m per-disk) and nginx's aio threads, the real nginx,
# time none out. Interrupted, the lab leaves nothing mounted, running or on disk.
# Why 3 s of load and three designs: each design costs its load, then up to the 5 s client
# timeout for its last requests, then about a second to mount, start and stop, so the three take
# about 30 s. Less load would only make it more fragile: in 3 s disk 0 gets 24 reads, of which
# the model makes a few 6 to 20 s and the rest 75 to 400 ms, together far more than the clients'
# 5 s of 05's one loop, and the healthy disks get 168, the margin by which a pool of 4 per disk or
# nginx's 32 threads must keep every one of them. Skips, with the reason, where there is no FUSE,
# and says so where nginx is missing (make peers installs it).
load helpers
load run_helpers # the lab in a session of its own, as a terminal runs it

# nothing_left: no process reading under the lab's TMPDIR (its servers, clients and disks all
# name it), nothing mounted there, nothing in it.
nothing_left() {
    local procs files mounts
    sleep 0.2 # a process the lab killed may still be exiting
    procs=$(pgrep -af -- "$RUN_TMP") || true
    files=$(ls -A "$RUN_TMP")
    mounts=$(grep -c " $RUN_TMP" /proc/self/mounts) || true
    [ -z "$procs" ] && [ -z "$files" ] && [ "$mounts" -eq 0 ] && return 0
    echo "left behind: processes [$procs] files [$files] mounts $mounts" >&2
    return 1
}

# cell LABEL N: the Nth cell (1: the label) of the lab table's row for LABEL, trimmed.
cell() {
    awk -F'|' -v label="$1" -v n="$(($2 + 1))" '
        { k = $2; gsub(/^ +| +$/, "", k) }
        k == label { v = $n; gsub(/^ +| +$/, "", v); print v; exit }' "$BATS_TEST_TMPDIR/lab.md"
}

@test "swift-lab quick: the read on the loop times healthy disks out; a pool per disk and nginx's aio threads do not" {
    TMPDIR=$RUN_TMP SWIFT_LAB_QUICK=1 SWIFT_LAB_OUT=$BATS_TEST_TMPDIR/lab.md \
        run "$ROOT/scripts/swift-lab.sh"
    echo "$output"
    [ "$status" -ne 69 ] || skip "$(grep 'no slow disk' <<<"$output")"
    [ "$status" -eq 0 ]
    # The columns: 1 design, 2 healthy p99, 3 healthy p50 / max, 4 healthy timed out, 5 healthy
    # shed, 6 the dying disk's answered / shed / failed / timed out.
    local loop per_disk nginx
    loop=$(cell "05 the read on the loop" 4)
    per_disk=$(cell "11 a pool of 4 per disk" 4)
    echo "healthy timed out: 05 $loop, 11 per-disk $per_disk"
    [ "$loop" -gt 0 ]
    [ "$per_disk" -eq 0 ] && [ "$(cell "11 a pool of 4 per disk" 5)" -eq 0 ]
    [ "$(cell "11 a pool of 4 per disk" 2)" -lt 5000 ]
    # The dying disk's requests were all accounted for, 24 of them: 8 a second for 3 s.
    awk -F' / ' '{ exit !($1 + $2 + $3 + $4 == 24) }' <<<"$(cell "11 a pool of 4 per disk" 6)"
    # The figure: an SVG with a bar for each design that ran and the client's timeout drawn.
    local svg=$BATS_TEST_TMPDIR/lab.svg bars
    bars=$(grep -c '<title>' "$svg")
    grep -q 'stroke-dasharray' "$svg" && grep -q '>client timeout<' "$svg"
    nothing_left
    nginx=$(cell "nginx aio threads, 32" 2)
    if [[ $nginx == skipped:* ]]; then
        [ "$bars" -eq 2 ]
        skip "05 and 11 checked; nginx $nginx"
    fi
    [ "$bars" -eq 3 ]
    echo "nginx aio threads: $(cell "nginx aio threads, 32" 4) healthy timed out"
    [ "$(cell "nginx aio threads, 32" 4)" -eq 0 ] && [ "$(cell "nginx aio threads, 32" 5)" -eq 0 ]
}

# interrupt_lab SIGNAL group|script: the quick lab, 05 alone, run as a terminal's job; 1 s into
# its load, SIGNAL to the whole group (Ctrl-C) or to the script alone. Sets RUN_STATUS.
interrupt_lab() {
    SWIFT_LAB_QUICK=1 start_run swift-lab.sh 05
    wait_for_line "$RUN_PID" "$RUN_OUT" '^== 05|no slow disk' 20 || { cat "$RUN_OUT"; return 1; }
    if grep -q 'no slow disk' "$RUN_OUT"; then
        wait "$RUN_PID" || true
        skip "$(grep 'no slow disk' "$RUN_OUT")"
    fi
    interrupt_when '^== 05' "$1" "$2" 1 # mounted, started, the clients sending
    cat "$RUN_OUT"
}

@test "swift-lab: Ctrl-C during the load: status 130, nothing mounted, running or left in TMPDIR" {
    interrupt_lab INT group
    [ "$RUN_STATUS" -eq 130 ]
    nothing_left
}

@test "swift-lab: SIGTERM to the script alone during the load: status 143, nothing left" {
    interrupt_lab TERM script
    [ "$RUN_STATUS" -eq 143 ]
    nothing_left
}

@test "swift-lab's quotes: docs-check holds a block that names swift-lab.md to that file" {
    # A paragraph that names bench/swift-lab.md quotes it, as one naming REPORT.md or
    # compare.md quotes those: a number the file does not hold is caught, with FILE:LINE.
    local t=$BATS_TEST_TMPDIR/tree
    mkdir -p "$t/bench"
    printf '%s\n' '| design | healthy p99 ms |' '|---|--:|' '| 11 a pool of 4 per disk | 21 |' \
        >"$t/bench/swift-lab.md"
    printf '%s\n' '# A chapter' '' 'From bench/swift-lab.md: a pool of 4 per disk, 21 ms.' '' \
        'In bench/swift-lab.md a pool of 4 per disk had 23 ms.' >"$t/README.md"
    run "$ROOT/scripts/docs-check" -C "$t"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"README.md:5: 23 is not in bench/swift-lab.md"* ]]
    [ "$(grep -c '^README.md:' <<<"$output")" -eq 1 ]
}
