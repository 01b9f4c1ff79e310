#!/usr/bin/env bash
# Installs, from Debian's packages, every tool the tests use that this machine lacks:
# bats (bats-core), nc (netcat-openbsd), curl, ps, prlimit and strace. Does nothing when all are
# present.
set -euo pipefail
missing=()
command -v bats >/dev/null || missing+=(bats)
# The tests use OpenBSD netcat's -N (shut down the socket after stdin ends); other ncs lack it.
nc -h 2>&1 | grep -q 'OpenBSD netcat' || missing+=(netcat-openbsd)
command -v curl >/dev/null || missing+=(curl)
command -v ps >/dev/null || missing+=(procps)                # thread and child counts
command -v prlimit >/dev/null || missing+=(util-linux)       # descriptor and thread limits
command -v strace >/dev/null || missing+=(strace)            # 12: io_uring refusal, injected
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing test tools: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
