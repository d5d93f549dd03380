#!/bin/sh
# The pull endpoint (ALLOCTAG_HTTP): off by default (no socket, no thread);
# on 127.0.0.1 when only a port is given; /debug/allocinfo read with curl,
# /debug/pprof/heap read by go tool pprof (exact values, mappings with
# build IDs); a UNIX socket (owner-only, removed at exit); bad values.
# usage: live_http.sh ALLOCTAG PRELOAD LIVE_TARGET
set -eu
AT=$1
PRE=$2
TGT=$3
T=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed: skipped"; exit 77; }

# start FD ENV...: the target with the given environment (ALLOCTAG_TOOL is
# the alloctag under test unless given), stdin a fifo held
# open on fd FD; sets PID
start() {
    fd=$1
    shift
    rm -f "$T/in$fd" "$T/out$fd"
    mkfifo "$T/in$fd"
    env LD_PRELOAD="$PRE" ALLOCTAG_TOOL="$AT" "$@" "$TGT" <"$T/in$fd" >"$T/out$fd" 2>"$T/err$fd" &
    PID=$!
    PIDS="$PIDS $PID"
    eval "exec $fd>\"$T/in$fd\""
    i=0
    until grep -q ready "$T/out$fd" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "the target did not start: $(cat "$T/err$fd")"
        sleep 0.05
    done
}
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status"; }
sockets() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'socket:' || true; }

# 1. off by default: one thread, no socket
start 7
[ "$(threads "$PID")" = 1 ] || fail "a thread was started without ALLOCTAG_HTTP: $(threads "$PID")"
[ "$(sockets "$PID")" = 0 ] || fail "a socket was opened without ALLOCTAG_HTTP"
exec 7>&-
echo "off by default: ok"

# 2. a port only: 127.0.0.1
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start 8 ALLOCTAG_HTTP="$PORT"
[ "$(threads "$PID")" = 2 ] || fail "threads with ALLOCTAG_HTTP: $(threads "$PID")"
hexport=$(printf '%04X' "$PORT")
grep -q "^ *[0-9]*: 0100007F:$hexport 00000000:0000 0A" /proc/net/tcp || fail "not listening on 127.0.0.1:$PORT: $(grep ":$hexport" /proc/net/tcp)"
curl -sf "http://127.0.0.1:$PORT/debug/allocinfo" >"$T/ai" || fail "curl /debug/allocinfo"
head -1 "$T/ai" | grep -qx 'allocinfo - version: 2.0' || fail "allocinfo header: $(head -2 "$T/ai")"
grep -Eq "^ +48000 +1000 .*/live_target\+0x[0-9a-f]+:0 func:" "$T/ai" || fail "allocinfo: 48000 1000: $(cat "$T/ai")"
grep -Eq "^ +10485760 +10 .*/live_target\+0x[0-9a-f]+:0 func:" "$T/ai" || fail "allocinfo: 10485760 10"
curl -sf "http://127.0.0.1:$PORT/debug/alloctag/profile" >"$T/raw.prof" || fail "curl /debug/alloctag/profile"
"$AT" report --format allocinfo "$T/raw.prof" | grep -Eq "^ +48000 +1000 .*live_target\.c:[0-9]+ func:main \$" || fail "the raw profile over HTTP"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
[ "$code" = 404 ] || fail "/nope: $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/debug/allocinfo")
[ "$code" = 405 ] || fail "POST: $code"
curl -sf -o "$T/heap.pb.gz" "http://127.0.0.1:$PORT/debug/pprof/heap" || fail "curl /debug/pprof/heap: $(cat "$T/heap.pb.gz")"
[ "$(od -An -tx1 -N2 "$T/heap.pb.gz" | tr -d ' ')" = 1f8b ] || fail "/debug/pprof/heap is not gzip"
if command -v go >/dev/null; then
    mkdir "$T/home"
    HOME="$T/home" GOCACHE="$T/home/cache" GOPATH="$T/home/go" go tool pprof -raw "$T/heap.pb.gz" >"$T/raw" 2>"$T/perr" || fail "go tool pprof -raw: $(cat "$T/perr")"
    grep -Eq '^ +1000 +48000 +1000 +48000: ' "$T/raw" || fail "pprof: 1000 x 48000: $(cat "$T/raw")"
    grep -Eq '^ +10 +10485760 +10 +10485760: ' "$T/raw" || fail "pprof: 10 x 10485760"
    grep -Eq '^ +0 +0 +3 +12288: ' "$T/raw" || fail "pprof: line C, 3 x 4096 allocated and freed"
    grep -Eq "^[0-9]+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ .*/live_target [0-9a-f]{40}" "$T/raw" || fail "pprof: no mapping with a build ID for the program: $(cat "$T/raw")"
    # scraped by URL, as a profiler does: unsymbolized, go tool pprof
    # symbolizes the program from its file (and asks /debug/pprof/symbol)
    HOME="$T/home" GOCACHE="$T/home/cache" go tool pprof -top -sample_index=inuse_space "http://127.0.0.1:$PORT/debug/pprof/heap" >"$T/top" 2>"$T/perr" || fail "go tool pprof -top URL: $(cat "$T/perr")"
    grep -Eq '^ *(10286\.88kB|10\.05MB) .* main$' "$T/top" || fail "pprof -top: $(cat "$T/top")"
    grep -qx "File: $(basename "$TGT")" "$T/top" || fail "pprof's main binary: $(head -3 "$T/top")"
    grep -Eqx 'Build ID: [0-9a-f]{40}' "$T/top" || fail "pprof: no build ID: $(head -3 "$T/top")"
    [ "$(curl -s "http://127.0.0.1:$PORT/debug/pprof/symbol")" = "num_symbols: 0" ] || fail "/debug/pprof/symbol"
    echo "go tool pprof: ok"
else
    echo "go tool pprof: skipped (no go)"
fi
exec 8>&-
echo "port on loopback: ok"

# 3. a UNIX socket: mode 0600, removed at exit
start 9 ALLOCTAG_HTTP="$T/at.sock"
[ "$(stat -c '%F %a' "$T/at.sock")" = "socket 600" ] || fail "socket mode: $(stat -c '%F %a' "$T/at.sock")"
curl -sf --unix-socket "$T/at.sock" http://x/debug/allocinfo | grep -Eq "^ +48000 +1000 " || fail "curl over the UNIX socket"
exec 9>&-
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
[ ! -e "$T/at.sock" ] || fail "the socket was left after exit"
echo "unix socket: ok"

# 4. bad values: one line, no endpoint, the program runs
start 7 ALLOCTAG_HTTP=localhost:http
[ "$(cat "$T/err7")" = 'alloctag: ALLOCTAG_HTTP=localhost:http: cannot listen: Invalid argument (expected PORT, ADDR:PORT, [ADDR6]:PORT or an absolute socket path); no endpoint' ] || fail "bad value: $(cat "$T/err7")"
[ "$(threads "$PID")" = 1 ] || fail "a thread after a bad value"
exec 7>&-
echo "bad value: ok"

# 5. a tool that fails, a tool that is missing: 500 with one line
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -f "$T/in9" "$T/out9"
mkfifo "$T/in9"
env ALLOCTAG_HTTP="$PORT" LD_PRELOAD="$PRE" ALLOCTAG_TOOL=/bin/false "$TGT" <"$T/in9" >"$T/out9" 2>"$T/err9" &
PID=$!
PIDS="$PIDS $PID"
exec 9>"$T/in9"
i=0
until grep -q ready "$T/out9" 2>/dev/null; do i=$((i + 1)); [ $i -lt 200 ] || fail "target did not start"; sleep 0.05; done
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/debug/pprof/heap")
[ "$code:$(cat "$T/body")" = "500:alloctag: the alloctag tool failed" ] || fail "failing tool: $code $(cat "$T/body")"
exec 9>&-
start 9 ALLOCTAG_HTTP="$T/b.sock" ALLOCTAG_TOOL="$T/no-such-tool"
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$T/b.sock" http://x/debug/pprof/heap)
[ "$code:$(cat "$T/body")" = "500:alloctag: the alloctag tool was not found (set ALLOCTAG_TOOL or PATH)" ] || fail "missing tool: $code $(cat "$T/body")"
exec 9>&-
echo "tool failures: ok"
