#!/usr/bin/env bash
# Installs, from Debian's packages, every tool the tests use that this machine lacks:
# bats (bats-core), nc (netcat-openbsd) and curl. Does nothing when all are present.
set -euo pipefail
missing=()
command -v bats >/dev/null || missing+=(bats)
# The tests use OpenBSD netcat's -N (shut down the socket after stdin ends); other ncs lack it.
nc -h 2>&1 | grep -q 'OpenBSD netcat' || missing+=(netcat-openbsd)
command -v curl >/dev/null || missing+=(curl)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing test tools: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
