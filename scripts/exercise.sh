#!/usr/bin/env bash
# exercise.sh: the exercises of exercises/NN-name/, each a chapter with its lesson cut out.
#   scripts/exercise.sh refresh [--force] [NAME...]  remake each exercise from its chapter's code
#                                                     today (make exercises); --force overwrites
#                                                     your edits too
#   scripts/exercise.sh stale [NAME...]               list the exercises refresh would change;
#                                                     exit 1 if any (tests/exercises.bats)
#   scripts/exercise.sh check [--first] [--claim CLAIM]... [--server BIN] N|NAME
#                                                     the chapter's claims against the exercise's
#                                                     build, one verdict each (make exercise-N);
#                                                     --first: only the first claim; --claim: only
#                                                     those; --server: a binary of your own
#                                                     instead of the build
#   scripts/exercise.sh sweep                         every claim of every exercise, against the
#                                                     chapter and the starting point (make check)
#   scripts/exercise.sh wrong [--rejections-only]     each wrong solution (exercises/*/wrong/) is
#                                                     rejected by its claim, with its hint; the
#                                                     chapter meets those claims (make
#                                                     exercise-wrong)
#   scripts/exercise.sh make NAME DIR [RECIPE]        write the exercise's files into DIR
# An exercise is made by its recipe (exercises/NN-name/recipe): which functions of which chapter
# files lose their body, and which exact lines inside a named function give way to a TODO. The
# files it makes are committed, so that a learner has them without running anything; the claims
# it is judged by are tests of tests/NN-name.bats, named in exercises/NN-name/claims.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
BIN=${BIN_DIR:-bin}
source scripts/server.bash # start_server, stop_server: as the tests start and stop a server

die() {
    echo "exercise.sh: $*" >&2
    exit 2
}

all_names() { for r in exercises/[0-9]*/recipe; do [ -f "$r" ] && basename "$(dirname "$r")"; done; }

# resolve N|NAME: the exercise's folder name (2, 02 and 02-busy-poll all name 02-busy-poll).
resolve() {
    local arg=$1 n
    [ -f "exercises/$arg/recipe" ] && { echo "$arg"; return; }
    if [[ $arg =~ ^[0-9]+$ ]]; then
        n=$(printf %02d "$((10#$arg))")
        for name in $(all_names); do
            [[ $name == "$n"-* ]] && { echo "$name"; return; }
        done
    fi
    return 1
}

# make_files NAME DIR [RECIPE]: applies exercises/NAME/recipe (or RECIPE) to the chapter files it
# names and writes each result, under the file's own name, into DIR. The recipe's language (its @ lines start at column
# 0, which C code never does):
#   @file PATH            the file the following operations change (a chapter's or common/'s)
#   @function NAME ... @end   the lines between replace NAME's whole definition; they must repeat
#                         its signature as it stands, so a changed signature stops refresh
#   @replace NAME ... @with ... @end   the exact lines before @with, found once inside NAME's
#                         body, give way to the lines after it
# Lines outside those blocks that start with # are comments. Functions are found by name: a line
# at column 0 naming NAME( that leads to a "{" before any ";", up to the next "}" at column 0.
make_files() {
    local recipe=${3:-exercises/$1/recipe} dir=$2
    awk -v recipe="$recipe" -v dir="$dir" -v number="${1%%-*}" '
    function fail(msg) {
        printf "%s:%d: %s\n", recipe, lineno, msg > "/dev/stderr"
        failed = 1
        exit 1
    }
    function load(path,   line, n) {
        n = 0
        while ((getline line < path) > 0)
            src[++n] = line
        close(path)
        if (n == 0)
            fail("cannot read " path)
        nsrc = n
        file = path
    }
    # find_def NAME: sets def_start, sig_end, def_end (lines of src) or fails.
    function find_def(fn,   i, j, k, hits) {
        hits = 0
        for (i = 1; i <= nsrc; i++) {
            if (src[i] !~ /^[A-Za-z_]/ || src[i] !~ ("(^|[^A-Za-z0-9_])" fn "\\("))
                continue
            for (j = i; j <= nsrc; j++)
                if (src[j] ~ /;[ \t]*(\/\*.*\*\/)?[ \t]*$/ || src[j] ~ /\{[ \t]*$/)
                    break
            if (j > nsrc || src[j] !~ /\{[ \t]*$/)
                continue # a declaration, not the definition
            for (k = j + 1; k <= nsrc && src[k] != "}"; k++)
                ;
            if (k > nsrc)
                fail(file ": no closing brace for " fn "()")
            hits++
            def_start = i; sig_end = j; def_end = k
        }
        if (hits != 1)
            fail(file " has " hits " definitions of " fn "(), not one: was it renamed?")
    }
    # splice FROM TO: src[FROM..TO] gives way to blk[1..nblk].
    function splice(from, to,   out, n, i) {
        n = 0
        for (i = 1; i < from; i++) out[++n] = src[i]
        for (i = 1; i <= nblk; i++) out[++n] = blk[i]
        for (i = to + 1; i <= nsrc; i++) out[++n] = src[i]
        delete src
        for (i = 1; i <= n; i++) src[i] = out[i]
        nsrc = n
    }
    function replace_function(fn,   i, j, found) {
        find_def(fn)
        found = 0
        for (i = 1; i + (sig_end - def_start) <= nblk && !found; i++) {
            found = 1
            for (j = def_start; j <= sig_end; j++)
                if (blk[i + j - def_start] != src[j]) { found = 0; break }
        }
        if (!found)
            fail(file "'"'"'s " fn "() now begins \"" src[def_start] "\": this stub does not")
        splice(def_start, def_end)
    }
    function replace_lines(fn,   i, j, match_at, hits) {
        find_def(fn)
        hits = 0
        for (i = sig_end + 1; i + nold - 1 < def_end; i++) {
            for (j = 1; j <= nold; j++)
                if (src[i + j - 1] != old[j]) break
            if (j > nold) { hits++; match_at = i }
        }
        if (hits != 1)
            fail("the lines to replace occur " hits " times in " file "'"'"'s " fn "(), not once: \"" old[1] "\"")
        splice(match_at, match_at + nold - 1)
    }
    function flush(   path, base, i) {
        if (file == "")
            return
        base = file; sub(/.*\//, "", base)
        path = dir "/" base
        printf "/* Exercise %s (make exercise-%d checks it): write each TODO(exercise); the README beside\n", number, number + 0 > path
        printf " * this file says what. Made by `make exercises` from %s. */\n", file > path
        for (i = 1; i <= nsrc; i++) print src[i] > path
        close(path)
        file = ""
    }
    BEGIN {
        mode = "top"
        while ((getline line < recipe) > 0) {
            lineno++
            if (mode == "top") {
                if (line ~ /^#/ || line ~ /^[ \t]*$/) continue
                if (line ~ /^@file /) { flush(); load(substr(line, 7)); continue }
                if (line ~ /^@(function|replace) [A-Za-z_][A-Za-z0-9_]*$/) {
                    if (file == "") fail("an operation before any @file")
                    split(line, w, " "); op = w[1]; fn = w[2]
                    nblk = nold = 0; delete blk; delete old
                    mode = op == "@function" ? "block" : "old"
                    continue
                }
                fail("not a recipe line: " line)
            }
            if (line ~ /^@with$/ && mode == "old") {
                for (i = 1; i <= nblk; i++) old[i] = blk[i]
                nold = nblk; nblk = 0; delete blk
                mode = "block"
                continue
            }
            if (line ~ /^@end$/) {
                if (mode == "old") fail("@replace " fn " has no @with")
                if (op == "@function") replace_function(fn); else replace_lines(fn)
                mode = "top"
                continue
            }
            if (line ~ /^@/) fail("unexpected " line " inside " op " " fn)
            blk[++nblk] = line
        }
        if (mode != "top") fail(op " " fn " has no @end")
        flush()
    }'
}

# stale [NAME...]: the exercises whose committed files are not what the recipe makes from today's
# chapters. A working copy you have edited (your attempt) does not count, as long as what is
# committed is current.
stale() {
    local names=("$@") tmp status=0 name f base committed
    [ ${#names[@]} -gt 0 ] || mapfile -t names < <(all_names)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/exercise.XXXXXX")
    for name in "${names[@]}"; do
        mkdir -p "$tmp/$name"
        if ! make_files "$name" "$tmp/$name"; then
            echo "$name: its recipe no longer applies to today's chapter (above)"
            status=1
            continue
        fi
        for f in "$tmp/$name"/*; do
            base=exercises/$name/$(basename "$f")
            cmp -s "$f" "$base" && continue
            committed=$(git show "HEAD:$base" 2>/dev/null) &&
                [ "$committed" = "$(cat "$f")" ] && continue # your edits, on a current exercise
            echo "$base is not what its recipe makes from today's code: run make exercises"
            status=1
        done
        for f in exercises/"$name"/*.[ch]; do
            [ -e "$f" ] && [ ! -e "$tmp/$name/$(basename "$f")" ] &&
                { echo "$f is made by no @file of the recipe"; status=1; }
        done
    done
    rm -rf "$tmp"
    return $status
}

# refresh [--force] [NAME...]: remakes the exercises' files; leaves alone a file you have edited
# since it was committed (your attempt), unless --force.
refresh() {
    local force=0 names=() tmp name f dest status=0
    [ "${1:-}" = --force ] && { force=1; shift; }
    names=("$@")
    [ ${#names[@]} -gt 0 ] || mapfile -t names < <(all_names)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/exercise.XXXXXX")
    for name in "${names[@]}"; do
        name=$(resolve "$name") || die "no exercise $1 (the exercises: $(all_names | tr '\n' ' '))"
        mkdir -p "$tmp/$name"
        make_files "$name" "$tmp/$name" || { status=1; continue; }
        for f in "$tmp/$name"/*; do
            dest=exercises/$name/$(basename "$f")
            cmp -s "$f" "$dest" && continue
            if [ $force -eq 0 ] && [ -e "$dest" ] && git ls-files --error-unmatch "$dest" >/dev/null 2>&1 &&
                ! git diff --quiet HEAD -- "$dest"; then
                echo "refresh: $dest has edits of yours (an attempt?): left alone; --force to overwrite" >&2
                status=1
                continue
            fi
            cp "$f" "$dest"
            echo "refresh: $dest made from today's code"
        done
    done
    rm -rf "$tmp"
    return $status
}

# ---- check: the verdict per claim -------------------------------------------------------------

# claims NAME: the claim names, one a line (exercises/NAME/claims, without its hints).
claims() { grep -vE '^(#|[[:space:]]|$)' "exercises/$1/claims"; }

# hint NAME CLAIM KIND: the hint to show under CLAIM when its test failed in the way KIND names
# (observe's OBS_KIND). Under a claim in exercises/NAME/claims, indented lines that start with
# [KIND ...] are the hint for those kinds, up to the next such line; the indented lines before
# any of them are the hint for any other failure of the claim's own kind. A crash, a start that
# failed or a sanitizer's report gets only a hint written for it: the claim's own is beside the
# point then.
hint() {
    awk -v claim="$2" -v kind="$3" '
        $0 == claim { on = 1; tag = ""; next }
        on && /^[ \t]+/ {
            sub(/^[ \t]+/, "")
            if (match($0, /^\[[a-z -]+\] */)) {
                tag = " " substr($0, 2, index($0, "]") - 2) " "
                $0 = substr($0, RLENGTH + 1)
            }
            if (tag == "")
                any = any (any == "" ? "" : " ") $0
            else if (index(tag, " " kind " "))
                hit = hit (hit == "" ? "" : " ") $0
            next
        }
        { on = 0 }
        END {
            if (hit != "")
                print hit
            else if (kind !~ /^(crashed|exited|silent|stuck|sanitizer)$/)
                print any
        }' "exercises/$1/claims"
}

# claim_test NAME CLAIM: "FILE NAME" of the test a claim names: the chapter's test of that name,
# or, for a claim written "tests/FILE.bats: NAME", that file's (one that starts the chapter's
# binary as "$BIN/NN-name" too).
claim_test() {
    if [[ $2 =~ ^(tests/[^\ :]+\.bats):\ (.*)$ ]]; then
        echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    else
        echo "tests/$1.bats $2"
    fi
}

# test_names FILE: the names of the tests in a bats file.
test_names() { sed -n 's/^@test "\(.*\)" {$/\1/p' "$1"; }

regex_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# json_num JSON FIELD
json_num() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }

# observe TAPFILE FATE RUNDIR NUMBER: what the test of claim NUMBER saw, for its verdict. Sets
# OBS_TEXT (a line in words, then maybe the server's last log lines) and OBS_KIND, the kind of
# failure, by which the claim's hint is chosen (exercises/README.md lists them). FATE is the run's
# SERVER_FATE file (scripts/server.bash): how each server of the test ended, if badly; RUNDIR the
# test's working directory, where a crashed server left its core.
observe() {
    local out=$1 fate=$2 rundir=$3 number=$4 saw saw_kind kind text how where
    saw=$(observed "$out")
    kind=${saw%%$'\t'*} text=${saw#*$'\t'} saw_kind=$kind
    OBS_KIND=$kind OBS_TEXT=$text
    [ "$kind" = sanitizer ] && return # its report says what and where, better than a core
    [ -s "$fate" ] || return
    how=$(grep -m1 -v '^| ' "$fate")
    case $how in
    "died of"*) kind=crashed ;;
    "exited with"*) kind=exited ;;
    "printed no"*) kind=silent ;;
    "did not stop"*) kind=stuck ;;
    esac
    where=$(core_where "$rundir")
    case $how in
    *"before it was stopped") how="the server ${how% before it was stopped} while answering claim $number" ;;
    *) how="the server $how (claim $number)" ;;
    esac
    OBS_KIND=$kind
    OBS_TEXT="$how${where:+, $where}"
    # What the test saw follows, when it says more than the crash: replies that never came.
    [[ $text == *"before listening"* || $text == *"'listening on'"* || $saw_kind == other ]] ||
        OBS_TEXT+="; the test saw: $text"
    if grep -q '^| ' "$fate"; then
        OBS_TEXT+=$'\n'"its log ended:"$'\n'"$(sed -n '0,/^[^|]/d; /^| /!q; p' "$fate" | tail -4)"
    fi
    if [ "$kind" = crashed ] && [ -z "$where" ] && [[ $BIN != */san-* ]]; then
        OBS_TEXT+=$'\n'"(make exercise-$((10#${name%%-*})) SAN=address,undefined names the line)"
    fi
}

# core_where DIR: "in FUNCTION() at FILE:LINE", the innermost frame of our code in the core a
# crashed server left in DIR, when the kernel writes cores there (core_pattern a plain name) and
# gdb is installed; nothing otherwise. Removes the cores.
core_where() {
    local core frame
    for core in "$1"/core*; do
        [ -f "$core" ] || continue
        command -v gdb >/dev/null &&
            frame=$(gdb -batch -nx -ex bt -c "$core" "$exercise_real" 2>/dev/null |
                sed -n 's/^#[0-9]* *\(0x[0-9a-f]* in \)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\) (.*) at \([^ ]*\):\([0-9]*\)$/\2 \3 \4/p' |
                while read -r fn file line; do
                    [ -f "$file" ] || continue # libc's frames name sources not installed here
                    echo "in $fn() at ${file#"$ROOT/"}:$line"
                    break
                done)
        rm -f "$core"
        [ -n "$frame" ] && { echo "$frame"; break; }
    done
    rm -f "$1"/core*
}

# observed TAPFILE: "KIND<tab>WORDS": one line saying what a failing test saw, from its output,
# and its kind (observe's).
observed() {
    local out=$1 json cond line
    line=$(grep -m1 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$out")
    if [ -n "$line" ]; then # UBSan puts FILE:LINE first; ASan and TSan in their first frame
        local at
        at=$(sed -n 's/^# *#[0-9]* 0x[0-9a-f]* in \([^ ]*\) \([^ ]*\)$/\2 (\1)/p' "$out" | head -1)
        line=$(sed 's/^# //; s/^==[0-9]*==//; s/^ERROR: //; s/ on address 0x[0-9a-f]*//; s/ at pc 0x.*//
                    s/^\([^ ]*\): runtime error: /runtime error at \1: /' <<<"$line")
        printf 'sanitizer\t%s\n' "the sanitizer reported: ${line:0:200}${at:+, at ${at#"$ROOT/"}}"
        return
    fi
    if line=$(grep -m1 -E '^# server .* before listening; its log:$' "$out"); then
        line=${line#*server }
        printf 'exited\t%s\n' "the server ${line#* }" | sed 's/; its log:$//'
        return
    fi
    if grep -q "printed no 'listening on' line" "$out"; then
        printf 'silent\t%s\n' "the server printed no 'listening on' line in 10 s: is it stuck before it listens?"
        return
    fi
    json=$(sed -n 's/^# client said: \({.*}\)$/\1/p' "$out" | tail -1)
    cond=$(sed -n 's/^# failed: //p' "$out" | tail -1)
    if [[ $cond == *CPU_RATIO* ]] && line=$(grep -m1 '^# server CPU: ' "$out"); then
        local ratio limit
        ratio=${line##*: }
        limit=$(sed -n 's/.*\(below\|above\) \([0-9.]*\).*/\2/p' <<<"$cond")
        if [[ $cond == *below* ]]; then
            printf 'spins\t%s\n' "the server burnt $ratio s of CPU per second while its requests only waited (the claim allows $limit): the loop spins"
        else
            printf 'idle\t%s\n' "the server used only $ratio s of CPU per second (the claim wants at least $limit)"
        fi
        return
    fi
    if [ -n "$json" ]; then
        local n ct st err tmo parts=() kind=
        n=$(json_num "$json" requests)
        ct=$(json_num "$json" client_timeouts) st=$(json_num "$json" server_timeouts)
        err=$(json_num "$json" errors) tmo=$(json_num "$json" timeout_ms)
        [ "${ct:-0}" -gt 0 ] && parts+=("$ct of $n clients timed out (they give up after $tmo ms)") && kind=${kind:-timeouts}
        [ "${st:-0}" -gt 0 ] && parts+=("$st of $n answered RC 1, past the server's deadline") && kind=${kind:-late}
        [ "${err:-0}" -gt 0 ] && parts+=("$err of $n got no reply, the connection closed or reset$(logged "$out")") && kind=${kind:-no-reply}
        if [ ${#parts[@]} -eq 0 ]; then
            local what
            for what in max_ms p99_ms p90_ms p50_ms; do
                [[ $cond == *"$what"* ]] || continue
                parts+=("all $n were answered, but ${what%_ms} was $(json_num "$json" "$what") ms (the claim: ${cond#check })")
                kind=latency
                break
            done
        fi
        if [ ${#parts[@]} -eq 0 ] && [[ $cond == *"field bytes"* ]]; then
            parts+=("all $n were answered, but with $(json_num "$json" bytes) bytes in all, lines and payloads (the claim: ${cond#check })")
            kind=short
        fi
        if [ ${#parts[@]} -gt 0 ]; then
            line=$(printf '%s; ' "${parts[@]}")
            printf '%s\t%s\n' "$kind" "${line%; }"
            return
        fi
    fi
    # A helper's own words (survives_bad_input, stops_cleanly_mid_read...), else the failing line.
    line=$(awk '/^# \(/ || /^#  in test file/ { next } /^#   `.*'"'"' failed$/ { seen = 1; next }
                seen && /^# / && !/^# (failed:|client said:|server log:)/ { sub(/^# /, ""); print; exit }
                /^# server log:/ { exit }' "$out")
    if [ -n "$line" ]; then
        local kind=other
        # "cut off after N ms, want ~M": closed too early (N < M) or let run too long.
        [[ $line =~ cut\ off\ after\ ([0-9]+)\ ms,\ want\ ~([0-9]+) ]] && kind=cut-late &&
            [ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ] && kind=cut-early
        printf '%s\t%s\n' "$kind" "$line"
        return
    fi
    line=$(sed -n "s/^#   \`\(.*\)' failed\( with status [0-9]*\)\{0,1\}\$/\1\2/p" "$out" | tail -1)
    [ -n "$line" ] && { in_words "$line"; return; }
    printf 'other\t%s\n' "it failed; bats said: $(grep -m1 '^# ' "$out" | sed 's/^# //')"
}

# in_words COMMAND: "KIND<tab>WORDS" for a test's failing command: what the server did not do
# when it is a look at its log, else the command itself.
in_words() {
    local cmd=$1 pat='' n
    cmd=$(sed -E 's/^[a-z-]+\) //; s/ *;;$//' <<<"$cmd") # a branch of a case
    [[ $cmd =~ grep\ -[a-zE]*\ \'([^\']*)\'\ \"\$SERVER_LOG\" ]] && pat=${BASH_REMATCH[1]}
    if [ -n "$pat" ] && [[ $cmd =~ -c\ .*\)\"\ -(eq|ge)\ ([0-9]+) ]]; then
        n="exactly ${BASH_REMATCH[2]} times"
        [ "${BASH_REMATCH[1]}" = ge ] && n="at least ${BASH_REMATCH[2]} times"
        [ "$n" = "exactly 1 times" ] && n="exactly once"
        printf 'log\t%s\n' "the server did not log \"${pat%\$}\" $n"
    elif [ -n "$pat" ] && [[ $cmd == '!'* ]]; then
        printf 'log\t%s\n' "the server logged \"${pat%\$}\""
    elif [ -n "$pat" ]; then
        printf 'log\t%s\n' "the server never logged \"${pat%\$}\""
    elif [[ $cmd =~ (.*)\ with\ status\ 124$ ]]; then
        printf 'timeouts\t%s\n' "no answer in time: \`${BASH_REMATCH[1]}\` ran out of time"
    else
        printf 'other\t%s\n' "this did not hold: \`$cmd\`"
    fi
}

# logged TAPFILE: ", and the server logged: LINE" for the server's most frequent log line.
logged() {
    local line
    line=$(sed -n '/^# server log:$/,$p' "$1" | sed '1d; s/^# //; s/^[^[]*\[ *[0-9.]*\] //' |
        grep -v '^listening on' | sort | uniq -c | sort -rn | sed -n '1s/^ *[0-9]* //p')
    [ -n "$line" ] && printf ' (the server logged "%s")' "$line"
}

# indent TEXT: TEXT under a verdict, folded to 100 columns.
indent() {
    [ -n "$1" ] && printf '%s\n' "$1" | fold -s -w 91 | sed 's/ *$//; s/^/         /'
}

check() {
    local first=0 server='' arg name number chapter_tests exercise_bin only=()
    while [ $# -gt 0 ]; do
        case $1 in
        --first) first=1 ;;
        --server) server=$2; shift ;;
        --claim) only+=("$2"); shift ;;
        -*) die "check: unknown option $1" ;;
        *) arg=$1 ;;
        esac
        shift
    done
    [ -n "${arg:-}" ] || die "usage: scripts/exercise.sh check [--first] [--claim CLAIM]... [--server BIN] N|NAME"
    if ! name=$(resolve "$arg"); then
        echo "There is no exercise $arg. The exercises: $(all_names | tr '\n' ' ')" >&2
        exit 2
    fi
    number=${name%%-*}
    chapter_tests=tests/$name.bats
    exercise_bin=${server:-$BIN/exercise/$name}
    [ -x "$exercise_bin" ] || die "$exercise_bin is not built: make exercise-$((10#$number)) builds it"
    exercise_real=$(readlink -f "$exercise_bin")

    # The chapter's tests start "$BIN/NN-name": give them a bin/ of their own in which that name
    # is the binary under test and every other program (the client...) is the real one.
    mkdir -p "$BIN/exercise"
    overlay=$(mktemp -d "$BIN/exercise/.check.XXXXXX")
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/exercise.XXXXXX")
    trap 'rm -rf "$overlay" "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local prog progs=()
    for prog in "$BIN"/*; do
        [ -f "$prog" ] && [ -x "$prog" ] && [ "${prog##*/}" != "$name" ] && progs+=("$ROOT/$prog")
    done
    ln -s "${progs[@]}" "$overlay/"
    ln -s "$exercise_real" "$overlay/$name"

    # An attempt, or the exercise as shipped: what the recipe makes from the chapter today.
    local files=() attempt=1 f
    if [ -z "$server" ]; then
        mkdir "$tmp/made"
        make_files "$name" "$tmp/made" || die "exercises/$name/recipe no longer applies: make exercises"
        attempt=0
        for f in "$tmp"/made/*; do
            files+=("exercises/$name/$(basename "$f")")
            cmp -s "$f" "exercises/$name/$(basename "$f")" || attempt=1
        done
    fi

    local list=() claim
    mapfile -t list < <(claims "$name")
    [ $first -eq 1 ] && list=("${list[0]}")
    if [ ${#only[@]} -gt 0 ]; then
        for claim in "${only[@]}"; do
            printf '%s\n' "${list[@]}" | grep -qxF -- "$claim" || die "exercises/$name/claims has no claim \"$claim\""
        done
        list=("${only[@]}")
    fi
    local who="your ${files[*]}"
    [ -n "$server" ] && who=$server
    [ $attempt -eq 0 ] && who="${files[*]} as shipped (no attempt yet)"
    echo "Exercise $number: $who"
    echo "against ${#list[@]} claim$([ ${#list[@]} -gt 1 ] && echo s) of chapter $number ($chapter_tests):"

    # Each test runs in a directory of its own, where a crashing server leaves its core (where the
    # kernel writes cores by a plain name), and with SERVER_FATE: how each server it started ended.
    local rundir=$tmp/run fate=$tmp/fate
    mkdir -p "$rundir"
    [[ $(cat /proc/sys/kernel/core_pattern 2>/dev/null) =~ ^[^/\|]+$ ]] && ulimit -c unlimited 2>/dev/null

    local held=0 out verdict test_file test_name i=0
    if ! started "$rundir" "$fate"; then
        printf '  %-6s %s\n' FAILS "the server starts and prints 'listening on HOST:PORT', as every claim needs"
        indent "$OBS_TEXT"
        echo
        echo "0 of ${#list[@]} claims hold: none was checked, as none can hold until it starts."
        [ -n "${EXERCISE_RECORD:-}" ] && printf 'FAILS\t%s\t%s\n' "$OBS_KIND" "(start)" >>"$EXERCISE_RECORD"
        return 1
    fi
    for claim in "${list[@]}"; do
        i=$((i + 1))
        read -r test_file test_name < <(claim_test "$name" "$claim")
        if ! test_names "$test_file" | grep -qxF -- "$test_name"; then
            printf '  %-6s %s\n         %s\n' "?" "$claim" "$test_file has no test of that name (exercises/$name/claims is out of date)"
            continue
        fi
        out=$tmp/claim.tap
        : >"$fate"
        # RELIABILITY_CHAPTERS: a claim of tests/reliability.bats checks this chapter only.
        (cd "$rundir" && SERVER_FATE=$fate BIN_DIR=$overlay RELIABILITY_CHAPTERS=$name \
            bats --tap -f "^$(regex_quote "$test_name")\$" "$ROOT/$test_file" >"$out" 2>&1)
        if grep -q '^ok .* # skip' "$out"; then
            verdict=skip
        elif grep -q '^ok ' "$out" && ! grep -q '^not ok ' "$out"; then
            verdict=holds
        else
            verdict=FAILS
        fi
        case $verdict in
        holds)
            held=$((held + 1))
            printf '  %-6s %s\n' holds "$claim"
            ;;
        skip)
            printf '  %-6s %s\n         not checked here: %s\n' "-" "$claim" \
                "$(sed -n 's/^ok .* # skip *(\?\(.*\))\?$/\1/p' "$out" | head -1)"
            ;;
        FAILS)
            local h
            printf '  %-6s %s\n' FAILS "$claim"
            observe "$out" "$fate" "$rundir" "$i"
            indent "$OBS_TEXT"
            h=$(hint "$name" "$claim" "$OBS_KIND")
            [ -n "$h" ] && indent "hint: $h"
            [ -n "${EXERCISE_VERBOSE:-}" ] && sed 's/^/         | /' "$out"
            ;;
        esac
        [ -n "${EXERCISE_RECORD:-}" ] && printf '%s\t%s\t%s\n' "$verdict" "${OBS_KIND:--}" "$claim" >>"$EXERCISE_RECORD"
        OBS_KIND=
        rm -f "$rundir"/core*
    done

    echo
    if [ $held -eq ${#list[@]} ]; then
        echo "$held of ${#list[@]} claims hold."
        if [ -z "$server" ] && [ $first -eq 0 ] && [ ${#only[@]} -eq 0 ]; then
            echo "Exercise $number is done. Yours beside the chapter's:"
            sed -n 's|^@file \(.*\)|  diff -u \1 exercises/'"$name"'/|p' "exercises/$name/recipe" |
                while read -r d u src dest; do echo "  $d $u $src $dest$(basename "$src")"; done
        fi
        return 0
    fi
    echo "$held of ${#list[@]} claims hold: not yet.$([ -z "$EXERCISE_VERBOSE" ] && echo " (EXERCISE_VERBOSE=1 shows each failing test's output.)")"
    if [ $attempt -eq 0 ]; then
        echo
        echo "How to start:"
        sed '1{/^# /d}' "exercises/$name/README.md" | sed '/./,$!d; s/^/  /'

    elif [ -z "$server" ]; then
        echo "Edit ${files[*]} and run make exercise-$((10#$number)) again."
    fi
    return 1
}

# started RUNDIR FATE: starts the server under test once, as every claim's test will (-p 0), and
# stops it. A server that crashes, exits or hangs before it listens fails every claim the same
# way, each after up to 10 s: this says so once, at once, and sets OBS_TEXT and OBS_KIND.
started() {
    local how log where
    : >"$2"
    (
        cd "$1" || exit 2
        # 5 s: a server starts in milliseconds; the learner waits for this verdict.
        SERVER_FATE=$2 START_SECONDS=5
        if ! start_server "$exercise_real" 2>/dev/null; then
            # One that never listened gets no 5 s for a clean stop: it is not serving anyway.
            [ -n "${SERVER_PID:-}" ] && kill -KILL "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
            rm -f "$SERVER_OUT" "$SERVER_LOG"
            exit 1
        fi
        stop_server # how it stops is a claim's business, not this one's
        rm -f "$SERVER_OUT" "$SERVER_LOG"
        exit 0
    ) && return 0
    how=$(head -1 "$2")
    case $how in
    "died of"*) OBS_KIND=crashed ;;
    "printed no"*) OBS_KIND=silent how+=": is it stuck before it listens?" ;;
    *) OBS_KIND=exited ;;
    esac
    where=$(core_where "$1")
    OBS_TEXT="the server $how${where:+, $where}"
    log=$(sed -n 's/^| /| /p' "$2" | tail -4)
    [ -n "$log" ] && OBS_TEXT+=$'\n'"its log:"$'\n'"$log"
    [ "$OBS_KIND" = crashed ] && [ -z "$where" ] && [[ $BIN != */san-* ]] &&
        OBS_TEXT+=$'\n'"(make exercise-$((10#${name%%-*})) SAN=address,undefined names the line)"
    return 1
}

# sweep: every claim of every exercise: the chapter's server passes them all, and the starting
# point (when it is as shipped) fails at least one.
sweep() {
    local name status=0 out
    for name in $(all_names); do
        out=$("$0" check --server "$BIN/$name" "$name" 2>&1) ||
            { echo "$out"; echo "sweep: chapter $name fails a claim of its own exercise"; status=1; }
        echo "sweep: $name: $(grep -m1 -o '^[0-9]* of [0-9]* claims hold' <<<"$out") on chapter ${name%%-*}'s server"
        # An attempt is an edit of the exercise's code; its claims or README may change freely.
        git diff --quiet HEAD -- "exercises/$name/*.[ch]" 2>/dev/null ||
            { echo "sweep: $name: edited (an attempt), its starting point not checked"; continue; }
        if out=$("$0" check "$name" 2>&1); then
            echo "$out"
            echo "sweep: the starting point of $name passes every claim: it is solved as shipped"
            status=1
        fi
        echo "sweep: $name: $(grep -m1 -o '^[0-9]* of [0-9]* claims hold' <<<"$out") on the starting point"
    done
    return $status
}

# wrong: every wrong solution (exercises/NN-name/wrong/NAME.recipe, a classic mistake applied to
# the chapter's code and built by make exercise-wrong-bins into $BIN/exercise/wrong/NN-name/NAME)
# fails the claim its header names ("# Rejected by: CLAIM"), the failure seen as the kind its
# header names ("# Seen as: KIND"), for which the claims hold a hint of its own; and the chapter's
# own server meets every such claim, so that each rejection is the mistake's, not the claim's.
# --rejections-only: not the chapters' side (each claim is a test of the chapter's own file, which
# make test runs on the chapter anyway): tests/exercises.bats, where time counts.
wrong() {
    local recipe name what claim kind got took status=0 start=$SECONDS chapters=1
    [ "${1:-}" = --rejections-only ] && chapters=0
    local -A claims_of
    wrong_record=$(mktemp "${TMPDIR:-/tmp}/exercise-wrong.XXXXXX")
    trap 'rm -f "$wrong_record"' EXIT
    for recipe in exercises/[0-9]*/wrong/*.recipe; do
        [ -f "$recipe" ] || continue
        name=${recipe#exercises/} name=${name%%/*} what=$name/$(basename "$recipe" .recipe)
        claim=$(sed -n 's/^# Rejected by: //p' "$recipe")
        kind=$(sed -n 's/^# Seen as: //p' "$recipe")
        if [ -z "$claim" ] || [ -z "$kind" ]; then
            echo "wrong: $recipe: its header names no claim (# Rejected by:) or kind (# Seen as:)"
            status=1
            continue
        fi
        if ! has_hint_for "$name" "$claim" "$kind"; then
            echo "wrong: $what: exercises/$name/claims has no [$kind] hint under \"$claim\""
            status=1
        fi
        : >"$wrong_record"
        took=$SECONDS
        out=$(EXERCISE_RECORD=$wrong_record "$0" check --server "$BIN/exercise/wrong/$what" --claim "$claim" "$name" 2>&1)
        took=$((SECONDS - took))
        got=$(cut -f1,2 "$wrong_record")
        case $got in
        "FAILS"$'\t'"$kind") echo "wrong: $what: rejected in $took s, seen as $kind: $claim" ;;
        skip*) echo "wrong: $what: not checked here: $(sed -n 's/^ *not checked here: //p' <<<"$out")" ;;
        *)
            echo "$out"
            echo "wrong: $what: should fail \"$claim\" seen as $kind, got: ${got:-no verdict}"
            status=1
            ;;
        esac
        claims_of[$name]+=$claim$'\n'
    done
    [ $chapters -eq 1 ] || claims_of=()
    for name in $(printf '%s\n' "${!claims_of[@]}" | sort); do
        local args=()
        while IFS= read -r claim; do
            [ -n "$claim" ] && args+=(--claim "$claim")
        done < <(sort -u <<<"${claims_of[$name]}")
        took=$SECONDS
        if out=$("$0" check --server "$BIN/$name" "${args[@]}" "$name" 2>&1); then
            echo "wrong: chapter ${name%%-*}'s own server meets them: $(grep -c '^  holds ' <<<"$out") held, in $((SECONDS - took)) s"
        else
            echo "$out"
            echo "wrong: chapter ${name%%-*}'s own server fails a claim that rejects a wrong solution"
            status=1
        fi
    done
    echo "wrong: $((SECONDS - start)) s"
    return $status
}

# has_hint_for NAME CLAIM KIND: exercises/NAME/claims has a hint tagged for KIND under CLAIM.
has_hint_for() {
    awk -v claim="$2" -v kind="$3" '
        $0 == claim { on = 1; next }
        on && /^[ \t]+\[/ { tag = " " substr($0, index($0, "[") + 1); sub(/\].*/, " ", tag)
                            if (index(tag, " " kind " ")) found = 1; next }
        on && /^[ \t]+/ { next }
        { on = 0 }
        END { exit !found }' "exercises/$1/claims"
}

case ${1:-} in
sweep) sweep ;;
wrong) shift; wrong "$@" ;;
refresh) shift; refresh "$@" ;;
stale) shift; stale "$@" ;;
check) shift; EXERCISE_VERBOSE=${EXERCISE_VERBOSE:-}; check "$@" ;;
make)
    [ $# -ge 3 ] || die "usage: scripts/exercise.sh make NAME DIR [RECIPE]"
    make_files "$2" "$3" "${4:-}"
    ;;
list) all_names ;;
*)
    sed -n '2,/^set /{/^set /d; s/^# \{0,1\}//p;}' "$0" >&2
    exit 2
    ;;
esac
