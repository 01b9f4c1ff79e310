#!/usr/bin/env bash
# install-deps.sh: what `make slides` needs and a fresh Debian lacks: Debian's remark.js (the
# slideshow embedded in slides/deck.html). Viewing tools (librsvg2-bin, chromium) are optional:
# `slides/install-deps.sh --view` adds them, for rendering a figure or a slide to PNG.
set -euo pipefail
packages=(libjs-remark-slide)
[ "${1:-}" = --view ] && packages+=(librsvg2-bin chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}"
