#!/usr/bin/env bash
# test-repeat.sh N [PATH...]: what `make test-repeat N=5` runs. Runs the bats files (PATH: files
# or folders, default tests/) N times, as make test does (TEST_JOBS files at once, the tests of
# a file in order), then lists every test that failed in any run: its name and which runs. Exit
# 0 when none did. A test that fails one run in five is a race to find, not noise to retry: each
# failing run's TAP is kept in $BIN_DIR/test-repeat/run-K.tap (TEST_REPEAT_OUT=DIR: there) for
# its evidence.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
runs=${1:-}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/test-repeat.sh N [PATH...]" >&2; exit 2; }
shift
[ $# -gt 0 ] || set -- tests
out=${TEST_REPEAT_OUT:-${BIN_DIR:-bin}/test-repeat}
rm -rf "$out"
mkdir -p "$out"

jobs=()
[ "${TEST_JOBS:-4}" -gt 1 ] && jobs=(--jobs "${TEST_JOBS:-4}" --no-parallelize-within-files)

# failed[NAME] = the runs it failed in, "2 5 "; order[] keeps the names in first-failure order.
declare -A failed=()
order=()
broken=() # runs that failed with no test to name, or ran none
for run in $(seq "$runs"); do
    start=$SECONDS
    tap=$out/run-$run.tap
    bats "${jobs[@]}" --tap "$@" >"$tap" 2>&1 3>&-
    status=$?
    names=$(sed -n 's/^not ok [0-9]* \(.*\)$/\1/p' "$tap" | sed 's/ # TODO.*$//')
    while IFS= read -r name; do
        [ -n "$name" ] || continue
        [ -n "${failed[$name]:-}" ] || order+=("$name")
        failed[$name]+="$run "
    done <<<"$names"
    # A failure with no test to name it (a setup_file, bats itself), or a run that ran nothing.
    if { [ "$status" -ne 0 ] && [ -z "$names" ]; } || ! grep -qE '^(not )?ok ' "$tap"; then
        broken+=("$run")
        status=1
    fi
    echo "test-repeat: run $run of $runs: $(grep -c '^ok ' "$tap") ok, $(grep -c '^not ok ' "$tap") failed, $((SECONDS - start)) s"
    [ "$status" -eq 0 ] && rm -f "$tap"
done

if [ ${#order[@]} -eq 0 ] && [ ${#broken[@]} -eq 0 ]; then
    echo "test-repeat: every test passed in all $runs runs of $*"
    exit 0
fi
echo "test-repeat: ${#order[@]} test$([ ${#order[@]} -ne 1 ] && echo s) failed in some of $runs runs of $*:"
for name in "${order[@]}"; do
    in=${failed[$name]% }
    printf '  %s\n      failed in run%s %s: %d of %d\n' "$name" "$([[ $in == *' '* ]] && echo s)" \
        "${in// /, }" "$(wc -w <<<"$in")" "$runs"
done
[ ${#broken[@]} -gt 0 ] &&
    echo "  run(s) ${broken[*]}: bats failed with no test to name, or ran none (a setup_file? bats itself?)"
echo "test-repeat: the failing runs' output is in $out/"
exit 1
