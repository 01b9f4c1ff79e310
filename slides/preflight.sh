#!/usr/bin/env bash
# preflight.sh: the day before the talk, on the laptop that will give it (make talk-preflight,
# slides/RUNBOOK.md). One line per check and a verdict; exit status 1 if any failed:
#   1. FUSE works: bin/slowdisk mounts, a read of 300 ms takes 300 ms, and it unmounts
#      (the live moments read from it; without FUSE they fall back to a sleep, and the
#      loopwatch moment does not show what the slides say);
#   2. everything builds: the servers and tools (make), both decks, checked in the browser at
#      1024 x 768 (make slides-check), the printed decks and the speaker's handout
#      (make slides-pdf slides-notes);
#   3. each live moment runs once and shows what the runbook promises (slides/live.sh --check);
#   4. the slides show the repository's address, not slides/build.sh's placeholder.
# It takes about two minutes, most of it the build.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
BIN=${BIN_DIR:-bin}
MAKE=${MAKE:-make}
failed=0
say() { printf 'preflight: %s\n' "$*"; }
fail() { printf 'preflight: FAILED: %s\n' "$*"; failed=1; }

# 2 first: FUSE needs bin/slowdisk built.
if $MAKE -s all debug-tools >"${TMPDIR:-/tmp}/preflight-make.$$" 2>&1; then
    say "built the servers and tools (make)"
else
    tail -20 "${TMPDIR:-/tmp}/preflight-make.$$"
    fail "make"
fi
rm -f "${TMPDIR:-/tmp}/preflight-make.$$"

# 1. FUSE: mount, one timed read, unmount.
mnt=$(mktemp -d "${TMPDIR:-/tmp}/preflight-disk.XXXXXX")
"$BIN/slowdisk" "$mnt" >"$mnt.out" 2>"$mnt.log" &
sd=$!
for _ in $(seq 100); do
    grep -q '^mounted on' "$mnt.out" 2>/dev/null && break
    kill -0 "$sd" 2>/dev/null || break
    sleep 0.05
done
if grep -q '^mounted on' "$mnt.out"; then
    start=$(date +%s%N)
    bytes=$(cat "$mnt/300/preflight" | wc -c)
    ms=$((($(date +%s%N) - start) / 1000000))
    kill -TERM "$sd"
    wait "$sd"
    unmounted=$?
    if grep -q " $mnt " /proc/mounts; then
        fail "FUSE: bin/slowdisk did not unmount $mnt (bin/slowdisk -u $mnt takes it down)"
    elif [ "$unmounted" -ne 0 ] || [ "$bytes" -eq 0 ] || [ "$ms" -lt 300 ]; then
        fail "FUSE: a 300 ms read gave $bytes bytes in $ms ms, and bin/slowdisk exited $unmounted"
    else
        say "FUSE works: bin/slowdisk mounted, a 300 ms read took $ms ms, unmounted"
    fi
else
    wait "$sd" 2>/dev/null
    fail "FUSE: bin/slowdisk could not mount: $(tail -1 "$mnt.log") (root and /dev/fuse are needed)"
fi
rm -f "$mnt.out" "$mnt.log"
rmdir "$mnt" 2>/dev/null

# 2. The decks, checked, and what gets printed.
if $MAKE -s slides-check slides-pdf slides-notes >"${TMPDIR:-/tmp}/preflight-slides.$$" 2>&1; then
    say "built and checked both decks; printed $(ls slides/*.pdf | tr '\n' ' ')"
else
    grep -v ': fills ' "${TMPDIR:-/tmp}/preflight-slides.$$" | tail -20
    fail "make slides-check slides-pdf slides-notes"
fi
rm -f "${TMPDIR:-/tmp}/preflight-slides.$$"

# 3. Each live moment, once.
if slides/live.sh --check all | sed 's/^/preflight: /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    :
else
    fail "a live moment (above): rehearse its fallback slide (slides/RUNBOOK.md)"
fi

# 4. The address on the first and the last slide.
url=$(slides/build.sh --repo-url)
if [ "$url" = REPO_URL ]; then
    fail "the slides show the placeholder REPO_URL: set it in slides/build.sh (or REPO_URL=... make slides)"
elif ! grep -qF ".url[$url]" slides/deck.html; then
    fail "slides/deck.html does not show $url: make slides"
else
    say "the first and last slides show $url"
fi

if [ "$failed" -eq 0 ]; then say "ready"; else say "NOT ready: see FAILED above"; fi
exit "$failed"
