# The reliability battery's machinery (issue 7), loaded by tests/reliability.bats after helpers.
# A check is a function `check_NAME CHAPTER` run against one chapter's running server; for_each
# runs it against every chapter's server in turn and says which chapters failed and why.

RST="$BIN/rst-client"

# The chapters, found from chapters/NN-name/server.c, so a new chapter joins the battery by
# existing. RELIABILITY_CHAPTERS="06 07" narrows the run (make check uses it for TSan).
# The first battery takes about 20 s a chapter, so `make test` runs it on the three shapes of
# server (serial 01, event loop 04, loop plus pool 06; 02-05 share their handlers); the other
# chapters' own files run the shorter survives_bad_input. The second battery's checks are short
# and run on every chapter (EVERY_CHAPTER=1 for_each ...). RELIABILITY_CHAPTERS=all runs every
# check on every chapter (make check does).
chapters() {
    local dir name
    local wanted=${RELIABILITY_CHAPTERS:-${EVERY_CHAPTER:+all}}
    wanted=${wanted:-01 04 06}
    [ "$wanted" = all ] && wanted=
    for dir in "$ROOT"/chapters/[0-9]*/server.c; do
        name=${dir%/server.c}
        name=${name##*/}
        if [ -n "$wanted" ] && ! [[ " $wanted " == *" ${name%%-*} "* ||
            " $wanted " == *" $name "* ]]; then
            continue
        fi
        echo "$name"
    done
}

# for_each CHECK [SERVER-FLAGS...]: starts each chapter's server (its CHAPTER_FLAGS, then
# SERVER-FLAGS; under RLIMIT_NOFILE=$NOFILE_LIMIT when that is set), runs check_CHECK against it, stops it and insists on a clean exit with no
# sanitizer report. A chapter in OPT_OUT["CHECK NN"] is skipped with its reason. Fails at the
# end, naming every chapter that failed.
for_each() {
    local check=$1 name nn failed=() ran=0
    SPENT_FILES=() # stopped servers' logs, removed at the end: one rm, not one a server
    shift
    for name in $(chapters); do
        nn=${name%%-*}
        if [ -n "${OPT_OUT["$check $nn"]:-}" ]; then
            echo "# $name: not applicable: ${OPT_OUT["$check $nn"]}" >&3
            continue
        fi
        if ! run_one "$check" "$name" "$@"; then
            failed+=("$name")
            echo "# $name: FAILED" >&3
        fi
        ran=$((ran + 1))
    done
    rm -f "${SPENT_FILES[@]}"
    [ "$ran" -gt 0 ] || { echo "no chapter to check" >&2; return 1; }
    if [ "${#failed[@]}" -gt 0 ]; then
        echo "failed in: ${failed[*]}" >&2
        return 1
    fi
}

run_one() {
    local check=$1 name=$2 status=0
    shift 2
    local bin=$BIN/$name
    [ -x "$bin" ] || { echo "$name: $bin is not built" >&2; return 1; }
    if [ -n "${NOFILE_LIMIT:-}" ]; then
        # Soft and hard limit both: the chapters raise their soft limit to the hard one.
        bin=$BATS_TEST_TMPDIR/$name-limited
        printf '#!/bin/sh\nexec prlimit --nofile=%d:%d "%s" "$@"\n' "$NOFILE_LIMIT" \
            "$NOFILE_LIMIT" "$BIN/$name" >"$bin"
        chmod +x "$bin"
    fi
    # shellcheck disable=SC2086  # CHAPTER_FLAGS holds words
    start_server "$bin" ${CHAPTER_FLAGS[${name%%-*}]:-} "$@" || return 1
    "check_$check" "$name" || status=1
    stops_clean "$name" || status=1
    SPENT_FILES+=("$SERVER_OUT" "$SERVER_LOG")
    return $status
}

# restart BINARY FLAGS...: stops the running server (a sanitizer report in its log fails the
# check), leaves its files to for_each to remove, starts BINARY with FLAGS.
restart() {
    stop_server || true
    if sanitizer_report "${SERVER_LOG:-}"; then
        cat "$SERVER_LOG" >&2
        return 1
    fi
    SPENT_FILES+=("${SERVER_OUT:-}" "${SERVER_LOG:-}")
    start_server "$@"
}

# stops_clean NAME: SIGTERM, exit status 0 and no sanitizer report in the log (teardown checks
# the log too, but not the exit status).
stops_clean() {
    local status=0
    stop_server || status=$?
    if [ "$status" -ne 0 ] || sanitizer_report "$SERVER_LOG"; then
        echo "$1: exit status $status after SIGTERM; log:" >&2
        grep -A12 -E 'Sanitizer|runtime error:' "$SERVER_LOG" | head -40 >&2
        return 1
    fi
}

# ----- talking to the server -------------------------------------------------------------------
# A fork costs milliseconds of CPU here (bats's bash is large) and each check runs once per
# chapter, so the helpers below start no process they can do without: a request is one
# rst-client (not printf | timeout | nc), the log is read by bash, and a pause is a nap
# (scripts/server.bash).

# send_raw: sends stdin on one connection, half-closes, prints the answer. Bounded to 10 s. For
# input too big for an argument (the 1 MiB lines); ask_raw does the rest in one process.
send_raw() {
    timeout 10 nc -N 127.0.0.1 "$PORT" 2>/dev/null || true
}

# ask_raw VAR TEXT: sends TEXT (escapes \n \r \\ \xHH and printf's octal \NNN) on one
# connection, half-closes, and sets VAR to the answer: send_raw's bytes, bound and answer (NULs
# dropped), in one process (a $(...) would fork a second).
ask_raw() {
    "$RST" half "$PORT" "$2" >"$BATS_TEST_TMPDIR/answer" 2>/dev/null || true
    slurp "$1" "$BATS_TEST_TMPDIR/answer"
}

# first_line_of VAR FILE: sets VAR to FILE's first line, read by bash (NULs dropped).
first_line_of() {
    IFS= read -r "$1" <"$2" || true
}

# slurp VAR FILE: sets VAR to FILE's text, as VAR=$(tr -d '\0' <FILE) would: NULs dropped,
# trailing newlines removed; read by bash, no process.
slurp() {
    local slurp_line slurp_text= # not VAR's name: printf -v would set these
    while IFS= read -r slurp_line || [ -n "$slurp_line" ]; do
        slurp_text+=$slurp_line$'\n'
    done <"$2"
    while [[ $slurp_text == *$'\n' ]]; do slurp_text=${slurp_text%$'\n'}; done
    printf -v "$1" '%s' "$slurp_text"
}

# split_elapsed FILE: FILE holds what rst-client wrote on stdout and stderr; sets ELAPSED_MS to
# the N of its "elapsed_ms N" line and ANSWER to the rest, trailing newlines removed (what
# sed -n 's/^elapsed_ms //p' and $(grep -v '^elapsed_ms') gave), without a process.
split_elapsed() {
    local line
    ANSWER='' ELAPSED_MS=''
    while IFS= read -r line || [ -n "$line" ]; do
        if [[ $line == "elapsed_ms "* ]]; then
            ELAPSED_MS=${line#elapsed_ms }
        else
            ANSWER+=$line$'\n'
        fi
    done <"$1"
    while [[ $ANSWER == *$'\n' ]]; do ANSWER=${ANSWER%$'\n'}; done
}

# is_refusal REPLY: RC 2 with no path, an HTTP 400 or 414, or nothing at all (a clean close).
is_refusal() {
    case $1 in
    "" | "2,0,0,-" | "HTTP/1.1 400 Bad Request"* | "HTTP/1.1 414 URI Too Long"*) return 0 ;;
    *) return 1 ;;
    esac
}

# log_lines VAR: sets VAR to how many lines the server has logged so far (what wc -l counts: a
# last line still being written is not one yet).
log_lines() {
    local lines
    mapfile lines <"$SERVER_LOG"
    local n=${#lines[@]}
    [ "$n" -eq 0 ] || [[ ${lines[n - 1]} == *$'\n' ]] || n=$((n - 1))
    printf -v "$1" '%d' "$n"
}

# in_log PATTERN [N]: true when a line of the server's log, after the first N (0), matches
# PATTERN (grep -E's syntax): grep -qE, read by bash.
in_log() {
    local line lines
    mapfile -t -s "${2:-0}" lines <"$SERVER_LOG"
    for line in "${lines[@]}"; do
        [[ $line =~ $1 ]] && return 0
    done
    return 1
}

# logged_since N PATTERN: waits up to 3 s for a line matching PATTERN (grep -E) after the first
# N lines: looks at once, then every 50 ms.
logged_since() {
    local i
    for ((i = 1; i <= 60; i++)); do # 60 turns of 50 ms
        in_log "$2" "$1" && return 0
        nap 0.05
    done
    echo "no log line matching '$2' after line $1; the log ends:" >&2
    tail -5 "$SERVER_LOG" >&2
    return 1
}

# still_serves NAME: a good request gets its own correct answer.
GOOD_ID=0
still_serves() {
    GOOD_ID=$((GOOD_ID + 1))
    local reply
    ask_raw reply "10,/good-$GOOD_ID\n"
    reply=${reply%%$'\n'*} # its first line: chapter 10 sends a body
    [[ $reply =~ ^0,[0-9]+,[0-9]+,/good-$GOOD_ID$ ]] && return 0
    echo "$1: afterwards a good request got '${reply:0:300}'" >&2
    return 1
}

# refused NAME LABEL LOG-PATTERN [TEXT]: sends TEXT (ask_raw's escapes), or without TEXT the raw
# bytes on stdin, and insists on a refusal, a log line matching LOG-PATTERN, and a server that
# still answers a good request.
refused() {
    local name=$1 label=$2 pattern=$3 before reply
    log_lines before
    if [ $# -ge 4 ]; then
        ask_raw reply "$4"
    else
        send_raw >"$BATS_TEST_TMPDIR/answer"
        slurp reply "$BATS_TEST_TMPDIR/answer" # NULs dropped, as tr -d '\0' did
    fi
    if ! is_refusal "$reply"; then
        echo "$name: $label got '${reply:0:200}'" >&2
        return 1
    fi
    logged_since "$before" "$pattern" || { echo "$name: $label was not logged" >&2; return 1; }
    still_serves "$name" || return 1
    TRIED=$((TRIED + 1))
}

# refuses_all NAME < TABLE: one input per line, "LABEL<TAB>LOG-PATTERN<TAB>BYTES" (printf's
# escapes, which rst-client reads too).
refuses_all() {
    local name=$1 label pattern bytes status=0
    TRIED=0
    while IFS=$'\t' read -r label pattern bytes; do
        [ -n "$label" ] || continue
        refused "$name" "$label" "$pattern" "$bytes" || status=1
    done
    echo "# $name: $TRIED inputs refused and logged, good requests answered after each" >&3
    return $status
}

# Flags a chapter needs to be started at all (none so far): CHAPTER_FLAGS[NN]="...".
declare -gA CHAPTER_FLAGS=()

# Where a check does not apply to a chapter, and why: OPT_OUT["CHECK NN"]="reason".
declare -gA OPT_OUT=(
    ["descriptors 01"]="serves one connection at a time, so it never holds a second client fd"
    ["descriptors 08"]="each process holds one client at a time (fork mode: the parent closes its copy), so the rest wait in the listen backlog and no process runs out"
    ["idle_cpu 02"]="busy-polls by design (its lesson): it burns a core whether or not accept fails"
)
