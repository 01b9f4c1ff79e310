#!/usr/bin/env bash
# build.sh [--no-run] [DECK.md [OUT.html]]: turns the talk (slides/deck.md) into one HTML file
# that opens offline (slides/deck.html): Debian's remark.js and every figure are inside it.
#
# Before it embeds the deck it fills two markers:
#   <!-- more chapters -->  a slide per chapter whose figures the deck does not show yet (its
#                           title, the header comment of its server.c, its figures), so new
#                           chapters join the talk by existing;
#   <!-- compare table -->  the table of bench/compare.md (make compare), when there is one.
# A figure the deck names that is not in slides/figures/ is made first by scripts/compare.sh
# (fresh runs of the chapters it belongs to), unless --no-run.
set -euo pipefail
cd "$(dirname "$0")/.."
REMARK_JS=${REMARK_JS:-/usr/share/javascript/remark-slide/remark.min.js}
FIGURES=${FIGURES_DIR:-slides/figures}
COMPARE_MD=bench/compare.md

run=1
[ "${1:-}" = --no-run ] && { run=; shift; }
deck=${1:-slides/deck.md}
out=${2:-slides/deck.html}
[ -f "$REMARK_JS" ] || { echo "build.sh: no $REMARK_JS (apt-get install libjs-remark-slide)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/deck.XXXXXX")
trap 'rm -rf "$work"' EXIT

# chapter_slide CHAPTER: a slide from what the chapter says of itself, verbatim.
chapter_slide() {
    local ch=$1 figs
    echo '---'
    echo
    local title
    title=$(sed -n '1s/^# *//p' "chapters/$ch/README.md" 2>/dev/null) || true
    [ -n "$title" ] || title="${ch/-/ }"
    echo "# $title"
    echo
    echo "<!-- from chapters/$ch/server.c -->"
    echo '```c'
    sed -n '1,/\*\//p' "chapters/$ch/server.c"
    echo '```'
    # Its two figures side by side; a chapter with variants (compare.conf) shows the shared
    # scenario of up to four of them. With --no-run, only figures already drawn.
    local names
    names=$(scripts/compare.sh --list-figures "$ch")
    [ "$(wc -l <<<"$names")" -le 2 ] || names=$(grep -- '-shared' <<<"$names" | head -4)
    figs=$(while read -r f; do
        if [ -n "$run" ] || [ -f "$FIGURES/$f" ]; then printf '![](figures/%s) ' "$f"; fi
    done <<<"$names")
    local layout=(- one pair trio quad)
    [ -z "$figs" ] || printf '\n.%s[%s]\n' "${layout[$(wc -w <<<"$figs")]}" "$figs"
    echo
}

# The deck with its markers filled.
expand() {
    local line ch
    while IFS= read -r line; do
        case $line in
        '<!-- more chapters -->')
            for ch in chapters/[0-9]*/; do
                ch=$(basename "$ch")
                [ -f "chapters/$ch/server.c" ] || continue
                grep -q "](figures/${ch%%-*}-" "$deck" || chapter_slide "$ch"
            done
            ;;
        '<!-- compare table -->')
            if [ -f "$COMPARE_MD" ]; then
                grep '^|' "$COMPARE_MD"
                echo
                echo ".small[$(grep -o 'Made by .* cores' "$COMPARE_MD" | head -1).]"
            else
                echo '*No table yet: run `make compare`, then `make slides`.*'
            fi
            ;;
        *) printf '%s\n' "$line" ;;
        esac
    done <"$deck"
}
expand >"$work/deck.md"

# Every figure the deck shows must exist; make the missing ones once, from fresh runs.
grep -o '](figures/[A-Za-z0-9._-]*\.svg)' "$work/deck.md" | sed 's|^](figures/||;s|)$||' | sort -u \
    >"$work/figures"
missing=$(while read -r f; do [ -f "$FIGURES/$f" ] || echo "$f"; done <"$work/figures")
if [ -n "$missing" ] && [ -n "$run" ]; then
    echo "build.sh: making the missing figures: $(echo $missing)" >&2
    # Only the chapters whose figures are missing: NN-... names chapters/NN-*/.
    # shellcheck disable=SC2046 # one word per chapter
    scripts/compare.sh --figures "$FIGURES" $(for f in $missing; do
        basename "$(dirname chapters/"${f%%-*}"-*/server.c)"
    done | sort -u) >/dev/null
    missing=$(while read -r f; do [ -f "$FIGURES/$f" ] || echo "$f"; done <"$work/figures")
fi
[ -z "$missing" ] || { echo "build.sh: missing figures (make figures): $(echo $missing)" >&2; exit 1; }

# Figures become data: URIs; the Markdown is escaped for the <textarea> remark reads it from.
while read -r f; do
    printf '%s\t%s\n' "$f" "$(base64 -w0 "$FIGURES/$f")"
done <"$work/figures" >"$work/uris"
awk -F '\t' '
    NR == FNR { uri[$1] = $2; next }
    {
        line = $0; done = ""
        while (match(line, /!\[[^]]*\]\(figures\/[A-Za-z0-9._-]*\.svg\)/)) {
            ref = substr(line, RSTART, RLENGTH)
            alt = ref; sub(/^!\[/, "", alt); sub(/\].*/, "", alt)
            name = ref; sub(/^.*\(figures\//, "", name); sub(/\)$/, "", name)
            done = done substr(line, 1, RSTART - 1) "<img class=\"figure\" alt=\"" alt \
                "\" src=\"data:image/svg+xml;base64," uri[name] "\">"
            line = substr(line, RSTART + RLENGTH)
        }
        print done line
    }' "$work/uris" "$work/deck.md" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' >"$work/body"

{
    cat <<'EOF'
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Blocking disk I/O in event loops</title>
<style>
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; }
h1, h2, h3 { font-weight: normal; color: #1a2a3a; }
.remark-slide-content { font-size: 22px; padding: 0.6em 2em; }
.remark-slide-content h1 { font-size: 1.5em; margin: 0.4em 0 0.5em; }
.remark-slide-content.center h1 { font-size: 2em; }
.remark-code, .remark-inline-code { font-family: 'DejaVu Sans Mono', Menlo, monospace; }
.remark-code { font-size: 14px; line-height: 1.25; }
img.figure { display: block; margin: 0 auto; max-width: 100%; max-height: 360px; }
.pair img.figure { display: inline-block; width: 49.2%; }
.trio img.figure { display: inline-block; width: 32.6%; }
.quad img.figure { display: inline-block; width: 24.3%; }
.small { font-size: 15px; color: #555; }
.remark-slide-content table { border-collapse: collapse; font-size: 12px; margin: 0 auto; }
.remark-slide-content th, .remark-slide-content td { border: 1px solid #bbb; padding: 2px 5px; }
.remark-slide-number { font-size: 12px; }
</style>
</head>
<body>
<textarea id="source">
EOF
    cat "$work/body"
    echo '</textarea>'
    echo '<script>'
    cat "$REMARK_JS"
    echo
    echo '</script>'
    echo "<script>var slideshow = remark.create({ratio: '16:9', highlightLanguage: 'c', highlightStyle: 'github', countIncrementalSlides: false});</script>"
    echo '</body>'
    echo '</html>'
} >"$work/deck.html"
mv "$work/deck.html" "$out"
echo "wrote $out ($(grep -c '^---$' "$work/deck.md") slide breaks, $(wc -l <"$work/figures") figures)" >&2
