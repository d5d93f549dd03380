#!/bin/sh
# Call-chain tags of the preload library at depth 1 (src/sites/chains.h) and ALLOCTAG_ALLOCINFO
# (src/exit_report.c), with unmodified programs.
# usage: dyn_tags.sh /path/liballoctag-preload.so /path/dyn_prog
set -eu
PRE=$1
PROG=$(readlink -f "$2")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The return address of FUNC's call to CALLEE@plt, as objdump shows it (hex, no 0x).
ret_addr() {
    objdump -d --no-show-raw-insn "$PROG" | awk -v f="<$1>:" -v c="<$2@plt>" '
        $2 == f { inside = 1; next }
        inside && /^$/ { exit }
        inside && found { sub(":", "", $1); print $1; exit }
        inside && $0 ~ /call/ && index($0, c) { found = 1 }'
}
A=$(ret_addr site_a malloc)
B=$(ret_addr site_b malloc)
C=$(ret_addr site_c malloc)
D=$(ret_addr site_d calloc)
E=$(ret_addr site_e malloc)
[ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] && [ -n "$D" ] && [ -n "$E" ] ||
    fail "no call sites found by objdump in $PROG"

# The exact line of a site: %12lli %8llu <object>+0x<offset>:0 func:<symbol> + ' '
line() { printf '%12s %8s %s+0x%s:0 func:%s \n' "$1" "$2" "$PROG" "$3" "$4"; }
# check_sites ALLOCINFO_FILE USABLE_LINE
check_sites() {
    set -- "$1" $2
    [ "$2" = usable ] || fail "program output: $*"
    ua=$3 ub=$4 ud=$5
    [ "$ua" -ge 100 ] && [ "$ub" -ge 5000 ] && [ "$ud" -ge 300 ] || fail "usable sizes $ua $ub $ud"
    for want in "$(line $((3 * ua)) 3 "$A" site_a)" "$(line "$ub" 1 "$B" site_b)" \
        "$(line 0 0 "$C" site_c)" "$(line "$ud" 1 "$D" site_d)" "$(line 0 0 "$E" site_e)"; do
        grep -qxF "$want" "$1" || { cat "$1" >&2; fail "no line '$want' in $1"; }
    done
    [ "$(grep -c "^ *[0-9]* *[0-9]* $PROG+" "$1")" -eq 5 ] ||
        { cat "$1" >&2; fail "$PROG has not exactly 5 lines in $1"; }
}
header='allocinfo - version: 2.0
#     <size>  <calls> <tag info>'

# Sections 1-4 check depth 1 (one frame per chain: the malloc call's own
# return address); chains.sh checks deeper chains.
export ALLOCTAG_DEPTH=1

# 1. The test program's sites, exact, in both stores.
for mode in 1,compressed 1,uncompressed; do
    out=$(ALLOCTAG=$mode ALLOCTAG_ALLOCINFO="$T/ai" LD_PRELOAD=$PRE "$PROG" 2>"$T/err") ||
        fail "dyn_prog under ALLOCTAG=$mode: $(cat "$T/err")"
    [ ! -s "$T/err" ] || fail "stderr under ALLOCTAG=$mode: $(cat "$T/err")"
    [ "$(head -n2 "$T/ai")" = "$header" ] || fail "allocinfo header under ALLOCTAG=$mode"
    check_sites "$T/ai" "$out"
done
# The documented way back to the source: addr2line at offset - 1.
if command -v addr2line >/dev/null; then
    fn=$(addr2line -f -e "$PROG" "$(printf '0x%x' $((0x$A - 1)))" | head -n1)
    [ "$fn" = site_a ] || fail "addr2line at 0x$A - 1 names '$fn', want site_a"
fi
echo "sites: ok"

# 2. "-": standard error; "%p": the process id.
out=$(ALLOCTAG_ALLOCINFO=- LD_PRELOAD=$PRE "$PROG" 2>"$T/err")
check_sites "$T/err" "$out"
ALLOCTAG_ALLOCINFO="$T/ai.%p" LD_PRELOAD=$PRE sh -c 'echo $$ >"$1"; exec "$2" >/dev/null' sh "$T/pid" "$PROG"
[ -s "$T/ai.$(cat "$T/pid")" ] || fail "no $T/ai.<pid> after %p"
echo "stderr, %p: ok"

# 3. Profiling off: no dynamic tag; never: header only.
LD_PRELOAD=$PRE ALLOCTAG=0 ALLOCTAG_ALLOCINFO="$T/ai" "$PROG" >/dev/null
! grep -q "+0x" "$T/ai" || fail "ALLOCTAG=0 made dynamic tags: $(cat "$T/ai")"
LD_PRELOAD=$PRE ALLOCTAG=never ALLOCTAG_ALLOCINFO="$T/ai" "$PROG" >/dev/null
[ "$(cat "$T/ai")" = "$header" ] || fail "ALLOCTAG=never: $(cat "$T/ai")"
echo "off, never: ok"

# 4. Bad values: one message, the program runs normally, nothing written.
bad() { # VALUE EXPECTED_MESSAGE
    out=$(ALLOCTAG_ALLOCINFO=$1 LD_PRELOAD=$PRE "$PROG" 2>"$T/err") || fail "exit status with ALLOCTAG_ALLOCINFO='$1'"
    [ "${out%% *}" = usable ] || fail "output with ALLOCTAG_ALLOCINFO='$1': $out"
    [ "$(cat "$T/err")" = "$2" ] || fail "ALLOCTAG_ALLOCINFO='$1': got '$(cat "$T/err")', want '$2'"
}
bad "$T/no-such-dir/ai" "alloctag: ALLOCTAG_ALLOCINFO=$T/no-such-dir/ai: cannot open for writing: No such file or directory; no allocinfo will be written"
bad "$T" "alloctag: ALLOCTAG_ALLOCINFO=$T: cannot open for writing: Is a directory; no allocinfo will be written"
bad "" 'alloctag: ALLOCTAG_ALLOCINFO is empty; expected a file path or "-" (standard error); no allocinfo will be written'
[ ! -e "$T/no-such-dir" ] || fail "created $T/no-such-dir"
echo "bad values: ok"

# 5. Real programs from Debian packages, at the default depth: well-formed
# allocinfo, non-zero lines naming the program or libc, output unchanged.
unset ALLOCTAG_DEPTH
wellformed() { # FILE NAME_PATTERN
    [ "$(head -n2 "$1")" = "$header" ] || fail "$1: header"
    tail -n +3 "$1" | grep -vE '^[ 0-9-]{11}[0-9] [ 0-9]{7}[0-9] [^ ]+:[0-9]+ ([[][^]]+[]] )?func:[^ ]+( [a-z]+:[a-z]+)* $' >"$T/bad" &&
        { head "$T/bad" >&2; fail "$1: malformed lines"; }
    [ "$(awk 'NR > 2 && $1 > 0 && $2 > 0' "$1" | grep -cE "$2")" -gt 0 ] ||
        { cat "$1" >&2; fail "$1: no non-zero line matching '$2'"; }
}
awk 'BEGIN { srand(3); for (i = 0; i < 50000; i++) printf "%d x%x\n", int(rand() * 1e9), i }' >"$T/in"
/usr/bin/sort -n "$T/in" >"$T/want"
ALLOCTAG_ALLOCINFO="$T/sort.ai" LD_PRELOAD=$PRE /usr/bin/sort -n "$T/in" >"$T/got"
cmp -s "$T/want" "$T/got" || fail "sort output differs"
wellformed "$T/sort.ai" '(/usr/bin/sort|/libc\.so\.6)\+0x[0-9a-f]+:0 func:'
echo "sort: ok"
if [ -x /usr/bin/python3 ]; then
    ALLOCTAG_ALLOCINFO="$T/py.ai" LD_PRELOAD=$PRE /usr/bin/python3 -c 'x = [str(i) * 3 for i in range(10000)]; print(len(x))' >"$T/got"
    [ "$(cat "$T/got")" = 10000 ] || fail "python3 output"
    wellformed "$T/py.ai" '(/usr/bin/python3[.0-9]*|/libc\.so\.6)\+0x[0-9a-f]+:0 func:'
    echo "python3: ok"
fi
