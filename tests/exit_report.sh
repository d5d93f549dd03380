#!/bin/sh
# Reports written at exit by the preload library (src/report/exit_report.c):
# ALLOCTAG_PROFILE and ALLOCTAG_ALLOCINFO are written to a temporary file
# (O_EXCL, O_NOFOLLOW, mode 0600) and renamed; nothing is left by _exit, a
# signal, or the start-up check; a bad path gets one line.
# usage: exit_report.sh /path/liballoctag-preload.so /path/to/source-dir
set -eu
PRE=$1
SRC=$(readlink -f "$2")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cc -g -O1 -o "$T/prog" "$SRC/tests/tool_prog.c"
cd "$T"

# exit(): both files, complete, owner-only; no temporary file left
ALLOCTAG_PROFILE="$T/p.%p" ALLOCTAG_ALLOCINFO="$T/a.%p" LD_PRELOAD=$PRE \
    sh -c 'echo $$ >"$1"; exec "$2" 2' sh "$T/pid" "$T/prog" >/dev/null
pid=$(cat "$T/pid")
[ "$(head -n1 "$T/p.$pid")" = "alloctag-profile 1" ] || fail "profile first line"
[ "$(tail -n1 "$T/p.$pid" | cut -d' ' -f1)" = end ] || fail "profile last line"
[ "$(head -n1 "$T/a.$pid")" = "allocinfo - version: 2.0" ] || fail "allocinfo first line"
[ "$(stat -c %a "$T/p.$pid")" = 600 ] && [ "$(stat -c %a "$T/a.$pid")" = 600 ] ||
    fail "modes $(stat -c %a "$T/p.$pid") $(stat -c %a "$T/a.$pid"), want 600"
[ -z "$(ls "$T" | grep '\.tmp\.')" ] || fail "temporary files left: $(ls "$T")"
# the profile's chain of site_a: 2 calls, in the program's map
awk -v exe="$T/prog" '$1 == "map" && $NF == exe {m = $2} $1 == "chain" && $3 == 2 && $7 ~ "^" m ":" {ok = 1} END {exit !ok}' \
    "$T/p.$pid" || { cat "$T/p.$pid" >&2; fail "no chain of 2 calls in the program's map"; }

# "-": standard error
ALLOCTAG_PROFILE=- LD_PRELOAD=$PRE "$T/prog" 1 >/dev/null 2>"$T/p.err"
[ "$(head -n1 "$T/p.err")" = "alloctag-profile 1" ] && [ "$(tail -n1 "$T/p.err" | cut -d' ' -f1)" = end ] ||
    fail "ALLOCTAG_PROFILE=-: $(head -n3 "$T/p.err")"

# _exit and SIGSEGV: no file at all (not even an empty one)
for how in "_exit 3" segv; do
    rm -f "$T"/q.* "$T"/b.*
    ALLOCTAG_PROFILE="$T/q.%p" ALLOCTAG_ALLOCINFO="$T/b.%p" LD_PRELOAD=$PRE "$T/prog" $how >/dev/null 2>&1 || true
    [ -z "$(ls "$T" | grep -E '^(q|b)\.')" ] || fail "$how left $(ls "$T" | grep -E '^(q|b)\.')"
done

# symlinks are not followed: a planted temporary name and a link at the path
echo precious >"$T/victim"
ln -s "$T/victim" "$T/link"
ALLOCTAG_PROFILE="$T/link" LD_PRELOAD=$PRE "$T/prog" 1 >/dev/null
[ "$(cat "$T/victim")" = precious ] || fail "the symlink's target was written"
[ ! -L "$T/link" ] && [ "$(head -n1 "$T/link")" = "alloctag-profile 1" ] || fail "the link was not replaced by the profile"

# bad paths: one line at start-up, the program runs, nothing created
bad() { # VAR VALUE MESSAGE
    out=$(env "$1=$2" LD_PRELOAD=$PRE "$T/prog" 1 2>"$T/err") || fail "status with $1='$2'"
    [ "${out%% *}" = usable ] || fail "output with $1='$2': $out"
    [ "$(cat "$T/err")" = "$3" ] || fail "$1='$2': got '$(cat "$T/err")', want '$3'"
}
bad ALLOCTAG_PROFILE "$T/no-dir/p" "alloctag: ALLOCTAG_PROFILE=$T/no-dir/p: cannot open for writing: No such file or directory; no profile will be written"
bad ALLOCTAG_PROFILE "$T" "alloctag: ALLOCTAG_PROFILE=$T: cannot open for writing: Is a directory; no profile will be written"
bad ALLOCTAG_PROFILE "" 'alloctag: ALLOCTAG_PROFILE is empty; expected a file path or "-" (standard error); no profile will be written'
chmod 500 "$T" 2>/dev/null
if [ "$(id -u)" != 0 ]; then
    bad ALLOCTAG_ALLOCINFO "$T/ro" "alloctag: ALLOCTAG_ALLOCINFO=$T/ro: cannot open for writing: Permission denied; no allocinfo will be written"
fi
chmod 700 "$T"
[ ! -e "$T/no-dir" ] && [ ! -e "$T/ro" ] || fail "a bad path was created"
echo "exit reports: ok"
