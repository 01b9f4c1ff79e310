#!/usr/bin/env bats
# The exercises (exercises/NN-name/): each is what its recipe makes from today's chapter, each
# starting point fails the first of its claims (so none ships solved), and the chapter's own
# server passes that claim (so the check can be met). The full claims are make exercise-N's.
load helpers

EXERCISE=$ROOT/scripts/exercise.sh

setup_file() { make_here exercise-bins exercise-wrong-bins >&2; }

@test "exercises: each is what its recipe makes from today's chapter code" {
    run "$EXERCISE" stale
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(ls -d "$ROOT"/exercises/[0-9]*/ | wc -l)" -ge 6 ]
}

@test "exercises: a recipe that no longer fits its chapter stops refresh, saying where" {
    local recipe=$BATS_TEST_TMPDIR/recipe out=$BATS_TEST_TMPDIR/out
    mkdir "$out"
    # A changed line inside the function: the lines to replace are not found.
    sed 's|/\* nothing yet: in this chapter, that is most calls \*/|/* changed */|' \
        "$ROOT/exercises/02-busy-poll/recipe" >"$recipe"
    run "$EXERCISE" make 02-busy-poll "$out" "$recipe"
    [ "$status" -ne 0 ] && [[ $output == *"occur 0 times in chapters/02-busy-poll/server.c's on_readable()"* ]]
    # A changed signature: the stub no longer matches the chapter's function.
    sed 's/^int heap_wait_ms(const struct timer_heap \*h, int64_t now) {$/int heap_wait_ms(void) {/' \
        "$ROOT/exercises/04-epoll/recipe" >"$recipe"
    run "$EXERCISE" make 04-epoll "$out" "$recipe"
    [ "$status" -ne 0 ] && [[ $output == *"heap_wait_ms() now begins"* ]]
    # A renamed function.
    sed 's/^@function on_doorbell$/@function on_bell/' \
        "$ROOT/exercises/06-worker-offload/recipe" >"$recipe"
    run "$EXERCISE" make 06-worker-offload "$out" "$recipe"
    [ "$status" -ne 0 ] && [[ $output == *"0 definitions of on_bell()"* ]]
}

@test "exercises: every claim is a test of its file, every exercise has a TODO and a README" {
    local dir name claim file test
    for dir in "$ROOT"/exercises/[0-9]*/; do
        name=$(basename "$dir")
        [ -s "$dir/README.md" ] && [ -s "$dir/claims" ]
        grep -q 'TODO(exercise)' "$dir"/*.c
        while IFS= read -r claim; do
            if [[ $claim =~ ^(tests/[^\ :]+\.bats):\ (.*)$ ]]; then
                file=$ROOT/${BASH_REMATCH[1]} test=${BASH_REMATCH[2]}
            else
                file=$ROOT/tests/$name.bats test=$claim
            fi
            grep -qxF "@test \"$test\" {" "$file" || { echo "$name: no test '$claim'" >&2; return 1; }
        done < <(grep -vE '^(#|[[:space:]]|$)' "$dir/claims")
    done
}

@test "exercises: their READMEs link only to what exists (scripts/docs-check)" {
    run "$ROOT/scripts/docs-check" exercises/README.md exercises/[0-9]*/README.md
    echo "$output"
    [ "$status" -eq 0 ]
}

# starting_point_fails_and_chapter_passes NAME: the shipped exercise fails its first claim with
# a reason and the way to start; the chapter's binary passes the same claim.
starting_point_fails_and_chapter_passes() {
    local name=$1 number=$((10#${1%%-*}))
    git -C "$ROOT" diff --quiet HEAD -- "exercises/$name/*.[ch]" 2>/dev/null ||
        skip "exercises/$name has edits (your attempt): make exercise-$number checks it"
    run "$EXERCISE" check --first "$name"
    echo "$output"
    [[ $output == *"not checked here:"* ]] && skip "$(sed -n 's/.*not checked here: //p' <<<"$output")"
    [ "$status" -eq 1 ]
    [[ $output == *"as shipped (no attempt yet)"* ]]
    # The verdict, then one line in words under it, then how to start.
    printf '%s\n' "$output" | grep -A1 '^  FAILS  ' | tail -1 | grep -qE '^         [^ ]'
    [[ $output == *"How to start:"* ]] && [[ $output == *"make exercise-$number"* ]]
    run "$EXERCISE" check --first --server "$BIN/$name" "$name"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"  holds  "* ]]
}

@test "exercise 02: the starting point fails, chapter 02 passes (a blocking accept)" {
    starting_point_fails_and_chapter_passes 02-busy-poll
}

@test "exercise 03: the starting point fails, chapter 03 passes (select spins)" {
    starting_point_fails_and_chapter_passes 03-select
}

@test "exercise 04: the starting point fails, chapter 04 passes (no timer heap)" {
    starting_point_fails_and_chapter_passes 04-epoll
}

@test "exercise 06: the starting point fails, chapter 06 passes (the read on the loop)" {
    starting_point_fails_and_chapter_passes 06-worker-offload
}

@test "exercise 10: the starting point fails, chapter 10 passes (sendall)" {
    starting_point_fails_and_chapter_passes 10-slow-clients
}

@test "exercise 14: the starting point fails, chapter 14 passes (every read offloaded)" {
    starting_point_fails_and_chapter_passes 14-cache-aware
}

@test "exercise 15: the starting point fails, chapter 15 passes (the open on the loop)" {
    starting_point_fails_and_chapter_passes 15-hidden-blocking
}

# attempt NAME RECIPE-TEXT: chapter 06 with RECIPE-TEXT applied (a recipe's @ lines, as a
# wrong solution's), built as make exercise-6 builds into $BATS_TEST_TMPDIR/NAME.
attempt() {
    printf '%s\n' "@file chapters/06-worker-offload/server.c" "$2" >"$BATS_TEST_TMPDIR/$1.recipe"
    make_here exercise-attempt EXERCISE=06-worker-offload RECIPE="$BATS_TEST_TMPDIR/$1.recipe" \
        OUT="$BATS_TEST_TMPDIR/$1" >&2
}

@test "exercises: a server that crashes while answering a claim is named by its signal and place" {
    attempt segv "$(printf '%s\n' '@replace on_readable' \
        '    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);' '@with' \
        '    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);' \
        '    *(volatile int *)(intptr_t)(n - n) = 1; /* the bug: a write through NULL */' '@end')"
    run "$EXERCISE" check --first --server "$BATS_TEST_TMPDIR/segv" 06
    echo "$output"
    [ "$status" -eq 1 ]
    local said
    said=$(tr -s ' \n' '  ' <<<"$output") # the verdict, unfolded
    if sanitized; then
        # UBSan's "store to null pointer" or ASan's SEGV, with the line either way.
        [[ $said == *"the sanitizer reported: "*"/segv.src/server.c:"* ]]
    else
        [[ $said == *"the server died of SIGSEGV while answering claim 1"* ]]
        [[ $said == *"the test saw: 10 of 10 got no reply"* ]]
        # Where: from its core, when this kernel writes cores by a plain name and gdb is here.
        if [[ $(cat /proc/sys/kernel/core_pattern) =~ ^[^/\|]+$ ]] && command -v gdb >/dev/null; then
            [[ $said == *"in on_readable() at "*"/segv.src/server.c:"* ]]
        fi
    fi
    [[ $output != *"hint:"* ]] # the claim's hint is beside the point
}

@test "exercises: a server that ignores SIGTERM is named so, not as 'stop_server with status 137'" {
    attempt deaf "$(printf '%s\n' '@replace main' '    install_signal_handlers();' '@with' \
        '    signal(SIGTERM, SIG_IGN); /* the bug */' '@end')"
    run "$EXERCISE" check --server "$BATS_TEST_TMPDIR/deaf" \
        --claim "06: -w sets the number of worker threads" 06
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $(tr -s ' \n' '  ' <<<"$output") == *"the server did not stop within 5 s of SIGTERM: killed (claim 1)"* ]]
    [[ $output != *"status 137"* ]]
}

@test "exercises: a server that exits at start, or never listens, is told at once, no claim run" {
    local exits=$BATS_TEST_TMPDIR/exits silent=$BATS_TEST_TMPDIR/silent
    printf '#!/bin/sh\necho "cannot start: no worker threads" >&2\nexit 1\n' >"$exits"
    printf '#!/bin/sh\ntrap "" TERM\nexec sleep 60\n' >"$silent"
    chmod +x "$exits" "$silent"
    run "$EXERCISE" check --server "$exits" 06
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"the server exited with status 1 before listening"* ]]
    [[ $output == *"| cannot start: no worker threads"* ]]
    [[ $output == *"none was checked"* ]] && [[ $output != *"  FAILS  06:"* ]]
    # Told after the start's 5 s, not after every claim's 10 s (157 s before).
    local start=$SECONDS
    run "$EXERCISE" check --server "$silent" 06
    echo "$output (in $((SECONDS - start)) s)"
    [ "$status" -eq 1 ]
    [[ $output == *"the server printed no 'listening on' line in 5 s"* ]]
    [[ $output == *"none was checked"* ]] && [[ $output != *"  FAILS  06:"* ]]
}

# Each exercise keeps classic wrong solutions beside it (exercises/NN/wrong/), each naming the
# claim that must reject it and how the failure must look; make exercise-wrong (make check) runs
# them all, about a minute. Here only what they say: every exercise has one, and each names one of
# its exercise's claims and a kind of failure.
@test "exercises: every exercise keeps a wrong solution, naming its claim and how it fails (make exercise-wrong runs them)" {
    local dir recipe claim
    for dir in "$ROOT"/exercises/[0-9]*/; do
        ls "$dir"wrong/*.recipe >/dev/null 2>&1 || { echo "$dir: no wrong/*.recipe" >&2; return 1; }
        for recipe in "$dir"wrong/*.recipe; do
            claim=$(sed -n 's/^# Rejected by: //p' "$recipe")
            [ -n "$claim" ] && grep -qxF "$claim" "$dir/claims" ||
                { echo "$recipe: its claim '$claim' is not in $dir/claims" >&2; return 1; }
            grep -q '^# Seen as: [a-z]' "$recipe" || { echo "$recipe: no '# Seen as:'" >&2; return 1; }
        done
    done
}

@test "exercises: make exercise-N names the exercises when N is none of them" {
    run make_here exercise-99
    [ "$status" -ne 0 ]
    [[ $output == *"There is no exercise 99"* ]] && [[ $output == *02-busy-poll* ]]
}
