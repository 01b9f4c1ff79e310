#!/usr/bin/env bash
# nginx.sh [MODE] [-m MODE] [-p PORT] [-h HOST] -D ROOT [-w WORKERS] [-t THREADS] [-d "DISK..."]
# Runs Debian's nginx as a peer of the chapters, in the foreground, serving the files under ROOT
# (the slow disk's mount point: GET /300/a, or the protocol's GET /300,/a, reads ROOT/300/a).
#   MODE        aio-off (default), aio-threads, per-disk: peers/nginx/MODE.conf
#   -p PORT     port; 0 (default) picks a free one, which nginx cannot do itself
#   -w WORKERS  worker processes (default 1, so that one blocked worker is everyone's wait)
#   -t THREADS  threads in each pool (default 32, nginx's own)
#   -d DISKS    per-disk: the disks, first path components under ROOT, one pool each
# Prints "listening on HOST:PORT" once nginx answers; SIGINT or SIGTERM stops nginx and its
# workers and removes its temp dir, exit status 0. nginx speaks HTTP only, and its reply is the
# file itself, not the protocol's reply line (peers/README.md says what that means).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() {
    sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

mode=aio-off port=0 host=127.0.0.1 root='' workers=1 threads=32 disks=''
if [ $# -gt 0 ] && [[ $1 != -* ]]; then mode=$1 && shift; fi
while getopts m:p:h:D:w:t:d: opt; do
    case $opt in
    m) mode=$OPTARG ;;
    p) port=$OPTARG ;;
    h) host=$OPTARG ;;
    D) root=$OPTARG ;;
    w) workers=$OPTARG ;;
    t) threads=$OPTARG ;;
    d) disks=$OPTARG ;;
    *) usage ;;
    esac
done
[ $OPTIND -gt $# ] || usage
log() { echo "[nginx.sh] $*" >&2; }
fail() { # fail STATUS MESSAGE
    log "$2"
    exit "$1"
}
[ -f "$here/nginx/$mode.conf" ] || fail 2 "no mode '$mode' (aio-off, aio-threads, per-disk)"
[ -d "$root" ] || fail 2 "-D ROOT: a directory to serve"
[ "$mode" != per-disk ] || [ -n "$disks" ] || fail 2 "per-disk needs -d \"DISK...\""
command -v nginx >/dev/null || fail 69 "no nginx here (make peers installs it)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/nginx-peer.XXXXXX")
mkdir "$dir/tmp"
nginx_pid=
# stop: nginx's fast shutdown, then nothing of this run is left. SIGTERM to the master, which
# tells its workers to terminate and kills, about 3 s later, any that has not: a worker stuck in
# a read on a dying disk (peers/README.md).
stop() {
    trap - TERM INT
    if [ -n "$nginx_pid" ]; then
        log "stopping"
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    wait # for the cat of nginx's stderr: nginx gone, it has read the last line
    rm -rf "$dir"
    exit "${1:-0}"
}
trap 'stop 0' TERM INT
trap 'rm -rf "$dir"' EXIT

# The config: the template with its @NAMES@ filled in, the mode's locations, and the pools.
token=$RANDOM$RANDOM
cp "$here/nginx/$mode.conf" "$dir/mode.conf"
# A pool only where a mode uses one: a declared pool starts its threads even with aio off.
: >"$dir/pools.conf"
[ "$mode" = aio-off ] || echo "thread_pool default threads=$threads;" >"$dir/pools.conf"
if [ "$mode" = per-disk ]; then
    for disk in $disks; do
        [[ $disk =~ ^[A-Za-z0-9_.-]+$ ]] || fail 2 "-d: '$disk' is not a plain directory name"
        echo "thread_pool disk_$disk threads=$threads;" >>"$dir/pools.conf"
        echo "location /$disk/ { aio threads=disk_$disk; }" >>"$dir/mode.conf"
    done
fi
write_config() {
    sed -e "s|@DIR@|$dir|g; s|@ROOT@|$(realpath "$root")|g; s|@HOST@|$host|g; s|@PORT@|$1|g" \
        -e "s|@WORKERS@|$workers|g; s|@USER@|$(id -un) $(id -gn)|g; s|@TOKEN@|$token|g" \
        "$here/nginx/nginx.conf" >"$dir/nginx.conf"
    [ "$(id -u)" -eq 0 ] || sed -i '/^user /d' "$dir/nginx.conf" # only root's workers switch
}

# ready PORT: our nginx answers on PORT (its token, so not another server holding the port).
ready() {
    local reply
    reply=$(exec 2>/dev/null 3<>"/dev/tcp/$host/$1" &&
        printf 'GET /.nginx-sh-ready HTTP/1.0\r\n\r\n' >&3 && timeout 2 cat <&3) || return 1
    [[ $reply == *"$token"* ]]
}

# nginx cannot bind port 0 and say which port it got, so we choose: a port no one listens on,
# below the range the kernel gives to outgoing connections (so no client socket holds it either).
# nginx's bind is the real test: if another process took the port meanwhile, nginx exits and we
# try again with another.
read -r lowest _ </proc/sys/net/ipv4/ip_local_port_range
write_config "$((port > 0 ? port : 1))"                  # nginx -t binds nothing, but wants
nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e stderr # a real port; a bad config fails here, once
for _ in 1 2 3 4 5; do
    p=$port
    if [ "$port" -eq 0 ]; then
        p=$((1024 + (RANDOM * 32768 + RANDOM) % (lowest - 1024)))
        (exec 2>/dev/null 3<>"/dev/tcp/$host/$p") && continue # someone listens there
    fi
    write_config "$p"
    # nginx's stderr is a pipe to ours: its access log reopens /dev/stderr, and a second open
    # of a file would write over the error log's lines, a pipe has no offset to overwrite.
    # --pdeathsig: if this script is killed outright, nginx gets SIGTERM instead of living on.
    rm -f "$dir/stderr" && mkfifo "$dir/stderr"
    cat "$dir/stderr" >&2 &
    setpriv --pdeathsig TERM nginx -p "$dir" -c "$dir/nginx.conf" -e stderr 2>"$dir/stderr" &
    nginx_pid=$!
    for _ in $(seq 100); do
        if ready "$p"; then
            log "$mode, $workers worker(s), root $root, config $dir/nginx.conf"
            echo "listening on $host:$p"
            status=0
            wait "$nginx_pid" || status=$? # until SIGTERM (the trap stops nginx) or nginx ends
            log "nginx exited by itself, status $status"
            stop 1
        fi
        kill -0 "$nginx_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait # nginx and its stderr's cat
    nginx_pid=
    [ "$port" -eq 0 ] || break
done
log "nginx would not start on $host:${p:-$port}"
stop 1
