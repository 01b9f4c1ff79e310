#!/usr/bin/env bats
# The scripts make runs (scripts/): interrupted mid-run, a demo leaves no server, client, slow
# disk or temp file behind, and exits with the shell's status for the signal; make test-repeat
# names every test that failed in any run; make keeps what it built.
load helpers
load run_helpers

# nothing_left: no process of the run's session, nothing in its TMPDIR, nothing mounted there.
nothing_left() {
    local procs files mounts
    sleep 0.2 # a process the script killed may still be exiting
    procs=$(ps -o pid=,args= -s "$RUN_SID") || true # ps fails when it finds none
    files=$(ls -A "$RUN_TMP")
    mounts=$(grep -c " $RUN_TMP" /proc/self/mounts) || true
    [ -z "$procs" ] && [ -z "$files" ] && [ "$mounts" -eq 0 ] && return 0
    echo "left behind: processes [$procs] files [$files] mounts $mounts; its output:" >&2
    tail -20 "$RUN_OUT" >&2
    return 1
}

@test "demo.sh: Ctrl-C while the client runs: status 130, nothing left" {
    start_run demo.sh 06-worker-offload
    interrupt_when '^\$ .*/client -p' INT group 0.3
    [ "$RUN_STATUS" -eq 130 ]
    nothing_left
}

@test "demo.sh: SIGTERM to the script alone while the client runs: status 143, at once" {
    start_run demo.sh 06-worker-offload
    interrupt_when '^\$ .*/client -p .*--slow 2500' TERM script 0.3
    [ "$RUN_STATUS" -eq 143 ]
    nothing_left
    # Handled in the wait for the client, not after its 1.5 s run.
    [ "$(grep -c '^(client exit status' "$RUN_OUT")" -eq 1 ]
}

@test "demo.sh: SIGHUP while it waits for late replies: status 129, nothing left" {
    start_run demo.sh 06-worker-offload
    interrupt_when '^\(client exit status' HUP script 0.1
    [ "$RUN_STATUS" -eq 129 ]
    nothing_left
}

@test "demo.sh: a demo run to its end leaves nothing either" {
    start_run demo.sh 03-select
    timeout 30 tail --pid="$RUN_PID" -f /dev/null
    RUN_STATUS=0
    wait "$RUN_PID" || RUN_STATUS=$?
    [ "$RUN_STATUS" -eq 0 ]
    grep -q 'server log (stderr):' "$RUN_OUT"
    nothing_left
}

@test "disk-demo.sh: Ctrl-C during the slow read: unmounted, status 130, nothing left" {
    start_run disk-demo.sh
    interrupt_when '^(0\.5 s in|no slow disk on this machine)' INT group
    grep -q 'no slow disk on this machine' "$RUN_OUT" && skip "$(grep 'no slow disk' "$RUN_OUT")"
    [ "$RUN_STATUS" -eq 130 ]
    nothing_left
}

@test "disk-demo.sh: SIGTERM to the script alone while strace watches: status 143, nothing left" {
    start_run disk-demo.sh
    interrupt_when '^(the client:|no slow disk on this machine)' TERM script
    grep -q 'no slow disk on this machine' "$RUN_OUT" && skip "$(grep 'no slow disk' "$RUN_OUT")"
    [ "$RUN_STATUS" -eq 143 ]
    nothing_left
}

@test "test-repeat.sh: each test that failed in any of N runs is listed with its runs; exit 1" {
    local dir=$BATS_TEST_TMPDIR/flaky
    mkdir -p "$dir"
    # Three tests: one steady, one failing in run 2, one in every odd run (a counter file). The
    # lines are printed, not in a heredoc: bats would take an @test there for one of this file's.
    printf '%s\n' "@test \"steady\" { true; }" \
        "@test \"fails in run 2\" {" \
        "    n=\$((\$(cat $dir/count 2>/dev/null || echo 0) + 1)); echo \$n >$dir/count" \
        "    [ \$n -ne 2 ]" "}" \
        "@test \"fails in odd runs\" { [ \$((\$(cat $dir/count) % 2)) -eq 0 ]; }" >"$dir/flaky.bats"
    TEST_REPEAT_OUT=$dir/out TEST_JOBS=1 run "$ROOT/scripts/test-repeat.sh" 3 "$dir/flaky.bats"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"2 tests failed in some of 3 runs"* ]]
    [[ $output == *$'fails in odd runs\n      failed in runs 1, 3: 2 of 3'* ]]
    [[ $output == *$'fails in run 2\n      failed in run 2: 1 of 3'* ]]
    [[ $output != *"steady"* ]]
    [ -s "$dir/out/run-1.tap" ] && [ -s "$dir/out/run-2.tap" ] && [ ! -e "$dir/out/run-4.tap" ]
    # The same file with its flaky tests gone passes every run, and says so.
    sed -i '/^@test "fails/,$d' "$dir/flaky.bats"
    TEST_REPEAT_OUT=$dir/out TEST_JOBS=1 run "$ROOT/scripts/test-repeat.sh" 2 "$dir/flaky.bats"
    [ "$status" -eq 0 ] && [[ $output == *"every test passed in all 2 runs"* ]]
}

# The build make test made is the one the tests run, to the end: a make the suite runs (the
# exercises') finds nothing of it to redo. Make once deleted the chapters' objects after the first
# build of a fresh clone, as intermediate files, and the next make relinked every chapter while
# other test files ran them.
@test "make keeps what it built: after the build, make all has nothing to do" {
    run make_here -n all
    echo "$output"
    [ "$status" -eq 0 ] && [ -z "$output" ]
}
