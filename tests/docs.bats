#!/usr/bin/env bats
# The prose cannot drift: every README links only what exists and quotes from bench/REPORT.md
# and bench/compare.md only what they hold (scripts/docs-check), and make docs pastes a command's
# output between its markers without touching the rest (scripts/docs-update). Fast: no server.
load helpers

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
