#!/bin/sh
# Reading live processes: `alloctag top --once` and `alloctag snapshot` of a
# program with known live allocations (exact counts), of a process that
# does not run alloctag, of another user's process (refused), of a process
# that exits before answering and of one killed while being read (one line
# each, nothing left behind).
# usage: live.sh ALLOCTAG PRELOAD LIVE_TARGET LIVE_TARGET_SOURCE LIVE_TAGGED
set -eu
AT=$1
PRE=$2
TGT=$3
SRC=$4
TAGGED=$5
T=$(mktemp -d)
chmod 755 "$T"
PIDS=""
MADE_USER=""
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
    [ -z "$MADE_USER" ] || { sleep 0.2; userdel "$MADE_USER" 2>/dev/null || true; }
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
line() { grep -n "/\* line $1 \*/" "$SRC" | cut -d: -f1; }
LA=$(line A)
LB=$(line B)
LC=$(line C)

# start NAME [ARGS]: the target under the preload library, its stdin a fifo
# (held open on fd 7, 8 or 9 by the caller), waits for "ready"; sets PID.
start() {
    fd=$1
    shift
    rm -f "$T/in$fd" "$T/out$fd"
    mkfifo "$T/in$fd"
    env LD_PRELOAD="$PRE" "$@" <"$T/in$fd" >"$T/out$fd" &
    PID=$!
    PIDS="$PIDS $PID"
    eval "exec $fd>\"$T/in$fd\""
    i=0
    until grep -q ready "$T/out$fd" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "the target did not start"
        sleep 0.05
    done
}

# this test's snapshot processes: alloctag-read processes whose program is
# this test's target (other test runs on the machine have their own)
TGT_REAL=$(readlink -f "$TGT")
our_readers() {
    for p in $(pgrep -x alloctag-read); do
        e=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
        case "$e" in "$TGT_REAL" | "$T"/*) echo "$p" ;; esac
    done
}

no_leftovers() {
    sleep 0.2
    # a listening socket lives as long as the tool that made it; another
    # test run's tool may hold one for the length of its read
    i=0
    while grep -q '@alloctag-live' /proc/net/unix; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "$1: an alloctag-live socket is left"
        sleep 0.1
    done
    # a snapshot process ends after its write; its reaper (init, or the
    # nearest subreaper) collects it
    i=0
    while [ -n "$(our_readers)" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "$1: a snapshot process is left: $(ps -o pid,stat,comm -C alloctag-read)"
        sleep 0.1
    done
    ! ls "$T" | grep -q '\.tmp\.' || fail "$1: a temporary file is left"
}

# 1. exact counts, top --once
start 7 "$TGT"
"$AT" top --once "$PID" >"$T/top" 2>"$T/err" || fail "top --once: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "top --once printed: $(cat "$T/err")"
grep -Eq "^ +46\.9 KiB +1000 +46\.9 KiB +1000  main at .*live_target\.c:$LA\$" "$T/top" || fail "top: line A: $(cat "$T/top")"
grep -Eq "^ +10\.0 MiB +10 +10\.0 MiB +10  main at .*live_target\.c:$LB\$" "$T/top" || fail "top: line B: $(cat "$T/top")"
echo "top --once: ok"

# 2. snapshot: a profile that report reads, owner-only, with the target's pid
"$AT" snapshot "$PID" -o "$T/snap.prof" 2>"$T/err" || fail "snapshot: $(cat "$T/err")"
[ "$(stat -c %a "$T/snap.prof")" = 600 ] || fail "snapshot mode $(stat -c %a "$T/snap.prof")"
grep -qx "pid $PID" "$T/snap.prof" || fail "snapshot does not name pid $PID"
"$AT" report --format allocinfo "$T/snap.prof" >"$T/ai" || fail "report of the snapshot"
grep -Eq "^ +48000 +1000 .*live_target\.c:$LA func:main \$" "$T/ai" || fail "allocinfo: line A: $(cat "$T/ai")"
grep -Eq "^ +10485760 +10 .*live_target\.c:$LB func:main \$" "$T/ai" || fail "allocinfo: line B"
grep -Eq "^ +0 +0 .*live_target\.c:$LC func:main \$" "$T/ai" || fail "allocinfo: line C"
# a second read sees the same counts (the process is not changed by a read)
"$AT" snapshot "$PID" -o "$T/snap2.prof"
"$AT" report --format allocinfo "$T/snap2.prof" | cmp -s - "$T/ai" || fail "second read differs"
# a plain kill of the request signal is ignored (only sigqueue requests)
kill -s RTMAX-3 "$PID"
sleep 0.1
kill -0 "$PID" || fail "a plain kill of the request signal ended the target"
no_leftovers snapshot
echo "snapshot: ok"

# 3. a process that does not run alloctag
sleep 30 &
S=$!
PIDS="$PIDS $S"
if "$AT" top --once "$S" >"$T/out" 2>"$T/err"; then fail "top of a plain process succeeded"; fi
[ "$(cat "$T/err")" = "alloctag: process $S does not answer reads: it does not run alloctag (liballoctag or liballoctag-preload.so), or ALLOCTAG_LIVE=0" ] ||
    fail "plain process: $(cat "$T/err")"
kill "$S"
wait "$S" 2>/dev/null || true
echo "plain process: ok"

# 4. another user's process: refused; its owner and root may read it
if [ "$(id -u)" != 0 ]; then
    echo "another user: skipped (needs root to create a second user)"
else
    U=alloctag-live-$$ # one per run: runs side by side do not share (or delete) it
    if ! id -u "$U" >/dev/null 2>&1; then
        useradd -M -r -s /usr/sbin/nologin "$U" || fail "useradd $U"
        MADE_USER=$U
    fi
    cp "$TGT" "$PRE" "$AT" "$T/"
    chmod 755 "$T/$(basename "$TGT")" "$T/$(basename "$PRE")" "$T/$(basename "$AT")"
    rm -f "$T/in8" "$T/out8"
    mkfifo "$T/in8"
    chmod 644 "$T/in8"
    runuser -u "$U" -- env LD_PRELOAD="$T/$(basename "$PRE")" "$T/$(basename "$TGT")" <"$T/in8" >"$T/out8" &
    exec 8>"$T/in8"
    i=0
    until grep -q ready "$T/out8" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 200 ] || fail "the other user's target did not start"; sleep 0.05
    done
    OP=$(pgrep -u "$U" -n -f "$(basename "$TGT")")
    PIDS="$PIDS $OP"
    if setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/$(basename "$AT")" top --once "$OP" >"$T/out" 2>"$T/err"; then
        fail "nobody read $U's process"
    fi
    [ "$(cat "$T/err")" = "alloctag: process $OP belongs to another user: only its owner or root can read it" ] ||
        fail "another user: $(cat "$T/err")"
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/$(basename "$AT")" snapshot "$OP" -o /tmp/alloctag-live-nobody.$$ 2>"$T/err" &&
        fail "nobody took a snapshot of $U's process"
    [ ! -e /tmp/alloctag-live-nobody.$$ ] || fail "a refused snapshot left a file"
    runuser -u "$U" -- "$T/$(basename "$AT")" top --once "$OP" >"$T/top" 2>"$T/err" || fail "the owner cannot read: $(cat "$T/err")"
    grep -Eq "^ +46\.9 KiB +1000 +46\.9 KiB +1000  main at .*live_target\.c:$LA\$" "$T/top" || fail "owner's top: $(cat "$T/top")"
    "$AT" top --once "$OP" >"$T/top" 2>"$T/err" || fail "root cannot read: $(cat "$T/err")"
    grep -Eq "^ +10\.0 MiB +10 +10\.0 MiB +10  main at .*live_target\.c:$LB\$" "$T/top" || fail "root's top: $(cat "$T/top")"
    exec 8>&-
    echo "another user: ok"
fi

# 5. a process that exits before answering (stopped, then killed)
kill -STOP "$PID"
"$AT" snapshot "$PID" -o "$T/gone.prof" 2>"$T/err" &
SN=$!
sleep 0.5
kill -KILL "$PID"
if wait "$SN"; then fail "snapshot of a killed process succeeded"; fi
[ "$(cat "$T/err")" = "alloctag: process $PID exited before it could be read" ] || fail "exit before answering: $(cat "$T/err")"
[ ! -e "$T/gone.prof" ] || fail "a failed snapshot left its file"
exec 7>&-
no_leftovers "exit before answering"
echo "exit before answering: ok"

# 6. killed while being read: either outcome says so in one line
for n in 1 2 3 4 5; do
    start 9 "$TGT"
    "$AT" snapshot "$PID" -o "$T/mid.prof" 2>"$T/err" 9>&- &
    SN=$!
    sleep "0.0$n"
    kill -KILL "$PID"
    rc=0
    wait "$SN" || rc=$?
    case "$rc:$(cat "$T/err")" in
    "0:" | "0:alloctag: process $PID exited during the read; the snapshot is of a moment before")
        "$AT" report --format allocinfo "$T/mid.prof" >/dev/null || fail "mid-read snapshot unreadable" ;;
    "1:alloctag: process $PID exited before it could be read" | "1:alloctag: no process $PID")
        [ ! -e "$T/mid.prof" ] || fail "a failed snapshot left its file" ;;
    *) fail "killed mid-read: status $rc: $(cat "$T/err")" ;;
    esac
    echo "  killed after 0.0${n}s: status $rc $(cat "$T/err")"
    exec 9>&-
    rm -f "$T/mid.prof"
done
no_leftovers "killed mid-read"
# deterministic: killed once its snapshot process runs (300k sites: a long
# write); the snapshot is whole and exact, and the tool says the process
# exited.  On a loaded machine the poll may first see the snapshot process
# only after it ended (the read done): then the step runs again, up to 3 times.
seen=""
for attempt in 1 2 3; do
    start 9 "$TGT" sites 300000
    "$AT" snapshot "$PID" -o "$T/mid.prof" 2>"$T/err" 9>&- &
    SN=$!
    # until a snapshot process is seen while the tool still runs (an ended
    # job stays a zombie until waited for: its state is read, not kill -0)
    while st=$(sed 's/.*) //' "/proc/$SN/stat" 2>/dev/null) && [ "${st%% *}" != Z ]; do
        [ -z "$(our_readers)" ] || { seen=1; break; }
    done
    [ -z "$seen" ] || break
    wait "$SN" || fail "snapshot of a live process: $(cat "$T/err")"
    echo "  attempt $attempt: the read ended before its snapshot process was seen"
    kill -KILL "$PID"
    exec 9>&-
    rm -f "$T/mid.prof"
    no_leftovers "a read not seen"
done
[ -n "$seen" ] || fail "no snapshot process appeared in 3 attempts"
kill -KILL "$PID"
rc=0
wait "$SN" || rc=$?
[ "$rc:$(cat "$T/err")" = "0:alloctag: process $PID exited during the read; the snapshot is of a moment before" ] ||
    fail "killed during the read: status $rc: $(cat "$T/err")"
[ "$(grep -c '^tag 64 1 0 0 ' "$T/mid.prof")" = 300000 ] || fail "the snapshot of a killed process is not whole"
exec 9>&-
no_leftovers "killed during the read"
echo "killed while being read: ok"

# 7. top refreshing (not a terminal: no keys), until the process ends
start 7 "$TGT"
"$AT" top -d 0.2 "$PID" >"$T/tops" 2>"$T/err" 7>&- &
TP=$!
# the target ends once top has printed 3 tables (a loaded machine may take
# longer than 3 refresh intervals for them)
i=0
until [ "$(grep -c '^ *live  *change  *calls  *change  site$' "$T/tops")" -ge 3 ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || fail "top printed fewer than 3 tables in 30 s: $(cat "$T/tops")"
    sleep 0.1
done
exec 7>&-
rc=0
wait "$TP" || rc=$?
case "$rc:$(cat "$T/err")" in
"0:alloctag: process $PID exited before it could be read" | "0:alloctag: no process $PID" | \
"0:alloctag: process $PID exited during the read; the snapshot is of a moment before") ;;
*) fail "top after the end of the process: status $rc: $(cat "$T/err")" ;;
esac
[ "$(grep -c '^ *live  *change  *calls  *change  site$' "$T/tops")" -ge 3 ] || fail "top refreshed fewer than 3 times: $(cat "$T/tops")"
grep -Eq "^ +46\.9 KiB +0 +1000 +0  main at .*live_target\.c:$LA\$" "$T/tops" || fail "top's second table: $(cat "$T/tops")"
no_leftovers "top"
echo "top: ok"

# 8. top in a terminal: changes between refreshes, q quits (the process runs on)
if command -v script >/dev/null; then
    start 7 "$TGT" ramp 300
    (sleep 2; printf q) | timeout 30 script -qec "'$AT' top -d 0.4 $PID" /dev/null >"$T/tty" 2>&1 ||
        fail "top in a terminal: $(cat -v "$T/tty")"
    kill -0 "$PID" || fail "the process ended with top"
    tr -d '\r' <"$T/tty" | grep -Eq "^ +[0-9.]+ MiB +\+[0-9]\.0 MiB +[0-9]+ +[1-9]  main at .*live_target\.c:$(line R)\$" ||
        fail "top shows no change of whole MiB: $(cat -v "$T/tty")"
    exec 7>&-
    echo "top in a terminal: ok"
else
    echo "top in a terminal: skipped (no script command)"
fi

# 9. a program linked with liballoctag (no preload): its compile-time tags
TSRC=$(dirname "$SRC")/live_tagged.c
LT1=$(grep -n '/\* line T1 \*/' "$TSRC" | cut -d: -f1)
LT2=$(grep -n '/\* line T2 \*/' "$TSRC" | cut -d: -f1)
rm -f "$T/in7" "$T/out7"
mkfifo "$T/in7"
"$TAGGED" <"$T/in7" >"$T/out7" &
PID=$!
PIDS="$PIDS $PID"
exec 7>"$T/in7"
i=0
until grep -q ready "$T/out7" 2>/dev/null; do i=$((i + 1)); [ $i -lt 200 ] || fail "live_tagged did not start"; sleep 0.05; done
"$AT" snapshot "$PID" -o "$T/tagged.prof" 2>"$T/err" || fail "snapshot of a linked program: $(cat "$T/err")"
"$AT" report --format allocinfo "$T/tagged.prof" >"$T/ai"
# 100 bytes are charged their size class's 112; order-2 pages are 16 KiB
grep -Eq "^ +22400 +200 tests/live_tagged\.c:$LT1 func:main \$" "$T/ai" || fail "tagged T1: $(cat "$T/ai")"
grep -Eq "^ +49152 +3 tests/live_tagged\.c:$LT2 func:main \$" "$T/ai" || fail "tagged T2: $(cat "$T/ai")"
exec 7>&-
echo "linked program: ok"

# 10. not readable: ALLOCTAG_LIVE=0, a process that is not dumpable
start 7 env ALLOCTAG_LIVE=0 "$TGT"
if "$AT" top --once "$PID" >"$T/out" 2>"$T/err"; then fail "ALLOCTAG_LIVE=0 was read"; fi
grep -qx "alloctag: process $PID does not answer reads: it does not run alloctag (liballoctag or liballoctag-preload.so), or ALLOCTAG_LIVE=0" "$T/err" || fail "ALLOCTAG_LIVE=0: $(cat "$T/err")"
exec 7>&-
# not dumpable: its owner is refused, root reads it (as ptrace)
if [ "$(id -u)" = 0 ]; then
    rm -f "$T/in8" "$T/out8"
    mkfifo "$T/in8"
    chmod 644 "$T/in8"
    runuser -u "$U" -- env LD_PRELOAD="$T/$(basename "$PRE")" "$T/$(basename "$TGT")" nodump <"$T/in8" >"$T/out8" &
    exec 8>"$T/in8"
    i=0
    until grep -q ready "$T/out8" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 200 ] || fail "the nodump target did not start"; sleep 0.05
    done
    OP=$(pgrep -u "$U" -n -f "$(basename "$TGT") nodump")
    PIDS="$PIDS $OP"
    if runuser -u "$U" -- "$T/$(basename "$AT")" snapshot "$OP" -o - >"$T/nodump.prof" 2>"$T/err"; then
        fail "the owner read a process that is not dumpable"
    fi
    [ "$(cat "$T/err")" = "alloctag: process $OP is not dumpable (PR_SET_DUMPABLE 0): it cannot be read" ] || fail "nodump: $(cat "$T/err")"
    "$AT" top --once "$OP" >"$T/top" 2>"$T/err" || fail "root cannot read a process that is not dumpable: $(cat "$T/err")"
    grep -Eq "^ +46\.9 KiB +1000 +46\.9 KiB +1000  main at " "$T/top" || fail "root's top of nodump: $(cat "$T/top")"
    exec 8>&-
fi
no_leftovers "not readable"
echo "not readable: ok"
