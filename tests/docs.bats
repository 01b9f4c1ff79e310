#!/usr/bin/env bats
# The prose cannot drift: every README links only what exists and quotes from bench/REPORT.md
# and bench/compare.md only what they hold, and no pasted block is shorter than its command
# promises (scripts/docs-check); make docs pastes a command's output between its markers without
# touching the rest (scripts/docs-update). Fast: no server, and none of our C (under SAN=... it
# skips).
load helpers

setup() { skip_when_sanitized "scripts/docs-check and docs-update"; }

@test "the READMEs, GUIDELINES.md and the deck link only what exists and quote only what bench/ holds" {
    run "$ROOT/scripts/docs-check"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "docs-check reports a dangling link and a figure the report does not hold, each with FILE:LINE" {
    local t=$BATS_TEST_TMPDIR/tree
    mkdir -p "$t/bench" "$t/common"
    touch "$t/common/loop.c"
    printf '%s\n' '## 2. Requests per second' '| server | req/s | ÷ nginx |' '|---|---:|---:|' \
        '| nginx | 18484.3 | 1.00 |' '| 08-prefork -m prefork | 14534.9 | 0.79 |' >"$t/bench/REPORT.md"
    printf '%s\n' '# A chapter' '' \
        'See [the loop](common/loop.c), [the bench](bench/), [a heading](bench/REPORT.md#top),' \
        '[gone](common/hub.c), `common/heap.c` and [the web](https://example.org/x).' '' \
        'From bench/REPORT.md, at `-c 50`: 14,534.9 req/s, 0.79 of nginx, and 16,051 req/s.' '' \
        'Not a quote: 16,051 and 0.67.' '' \
        'In bench/REPORT.md, section 2:' '' \
        '| server | req/s |' '|---|---:|' '| 08-prefork -m prefork | 18484.3 |' >"$t/README.md"
    run "$ROOT/scripts/docs-check" -C "$t"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"README.md:4: links common/hub.c, which does not exist"* ]]
    [[ $output == *"README.md:4: links common/heap.c, which does not exist"* ]]
    [[ $output == *"README.md:6: 16051 is not in bench/REPORT.md"* ]]
    # A number taken from another row of the source is caught too.
    [[ $output == *"README.md:14: 18484.3 is not in the \"08-prefork -m prefork\" rows of bench/REPORT.md"* ]]
    # Exactly those four: what exists, what the report holds, code spans and prose are fine.
    [ "$(grep -c '^README.md:' <<<"$output")" -eq 4 ]
}

@test "docs-check fails a paste shorter than its command promises: empty, only a title, a filter that keeps nothing" {
    local t=$BATS_TEST_TMPDIR/tree fence='```'
    mkdir -p "$t/bench"
    printf '%s\n' '## 7. Where the CPU goes' '' '| | nginx |' '|---|---:|' '| µs | 29.6 |' \
        '## 8. The trace' >"$t/bench/REPORT.md"
    printf '%s\n' '# A chapter' '' \
        "<!-- docs: make chapter-6 | grep -E '^(ok |latency)' -->" "$fence" "$fence" '<!-- /docs -->' '' \
        "<!-- docs: make chapter-6 | awk '/^The /{print} /^ok /; /^The dying/{d=1} d && /^   [0-6] \\|/' -->" \
        "$fence" 'The dying disk: one read of 2500 ms' 'ok 10   timeouts 0' '       0 |====|  2500 ms ok' \
        "$fence" '<!-- /docs -->' '' \
        "<!-- docs: make chapter-1 | grep -E '^(\\\$ bin/client|ok |     waiting:)' | tr -s ' ' -->" \
        "$fence" '$ bin/client -p 1 -c 10' 'ok 4 timeouts 6' "$fence" '<!-- /docs -->' '' \
        "<!-- docs: make bench-x | sed -n '/^## 7\\./,/^## 8\\./{/^|/p}' -->" \
        'nginx: 29.6 µs' '<!-- /docs -->' '' \
        "<!-- docs: make bench-x | sed -n '/^## 7\\./{s/^## \\(.*\\)/**\\1**/p}; /^## 7\\./,/^## 8\\./{/^|/p}' -->" \
        '**7. Where the CPU goes**' '<!-- /docs -->' '' \
        "<!-- docs: sed -n '/^## 7\\./,/^## 8\\./{/^|/p}' bench/REPORT.md -->" \
        '| | nginx |' '|---|---:|' '| µs | 29.6 |' '<!-- /docs -->' '' \
        "<!-- docs: sed -n '/^## 7\\./,/^## 8\\./{/^|/p}' bench/REPORT.md | head -2 -->" \
        '| | nginx |' '|---|---:|' '| µs | 29.6 |' '<!-- /docs -->' >"$t/README.md"
    run "$ROOT/scripts/docs-check" -C "$t"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"README.md:3: the pasted output is empty"* ]]
    # 06's bars are indented to the thread names' width: an awk that wants three spaces keeps none.
    [[ $output == *"README.md:8: no pasted line matches /^   [0-6] \|/, which its command keeps"* ]]
    # Each alternative of a grep -E pattern is promised; tr after it only reshapes.
    [[ $output == *"README.md:16: no pasted line matches /^     waiting:/"* ]]
    [ "$(grep -c '^README.md:16:' <<<"$output")" -eq 1 ] # "$ bin/client" and "ok " were there
    # A sed that keeps table rows, run on output that has none; a title with nothing under it.
    [[ $output == *"README.md:23: no pasted line matches /^\|/"* ]]
    [[ $output == *"README.md:27: the pasted output is only a title (**7. Where the CPU goes**)"* ]]
    # A command that only filters a file is re-run: the right paste passes, a stale one fails.
    [ "$(grep -c '^README.md:31:' <<<"$output")" -eq 0 ]
    [[ $output == *"README.md:37: the paste is not what its command prints now: make docs DOCS=README.md"* ]]
    [ "$(grep -c '^README.md:' <<<"$output")" -eq 6 ]
}

@test "make docs pastes a command's fresh output between its markers and leaves the rest alone" {
    local t=$BATS_TEST_TMPDIR/tree
    mkdir -p "$t"
    printf '%s\n' 'before' "<!-- docs: printf '\\033[1mfresh\\033[0m  \\n' ; echo two -->" '```text' \
        'stale' '```' '<!-- /docs -->' 'between' '<!-- docs: false -->' 'kept' '<!-- /docs -->' \
        'after' >"$t/README.md"
    run "$ROOT/scripts/docs-update" -C "$t" README.md
    echo "$output"
    [ "$status" -ne 0 ] # the second command failed
    [[ $output == *"README.md:8: the command failed"* ]]
    diff <(printf '%s\n' 'before' "<!-- docs: printf '\\033[1mfresh\\033[0m  \\n' ; echo two -->" \
        '```text' 'fresh' 'two' '```' '<!-- /docs -->' 'between' '<!-- docs: false -->' 'kept' \
        '<!-- /docs -->' 'after') "$t/README.md"
}
