#!/bin/sh
# Call-chain tags of the preload library (src/sites/chains.h), with
# unmodified programs: sites through wrappers, libc and libstdc++, a signal
# handler, a std::thread, frames without CFI, dlopen/dlclose, ALLOCTAG_DEPTH,
# ALLOCTAG_WRAPPERS, and 200,000 distinct chains.
# usage: chains.sh PRELOAD CHAIN_C CHAIN_CXX CHAIN_DL CHAIN_LIB CHAIN_MANY
set -eu
PRE=$1
C=$(readlink -f "$2") CXX=$(readlink -f "$3") DL=$(readlink -f "$4")
LIB=$(readlink -f "$5") MANY=$(readlink -f "$6")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# check ALLOCINFO OBJECT EXPECT_FILE: for each "expect FUNC BYTES CALLS",
# the lines of OBJECT naming FUNC sum to BYTES and CALLS, and each line's
# address (offset - 1: the call) lies inside FUNC as nm sees it.
check() {
    ai=$1 obj=$2 exp=$3
    nm -S --defined-only "$obj" >"$T/nm"
    [ -s "$exp" ] || fail "no expectations"
    while read -r word fn bytes calls; do
        [ "$word" = expect ] || continue
        got=$(awk -v o="$obj+0x" -v f="func:$fn" '
            index($3, o) == 1 && $4 == f { b += $1; c += $2; n++ }
            END { printf "%d %d %d", b, c, n }' "$ai")
        set -- $got
        [ "$3" -ge 1 ] || { cat "$ai" >&2; fail "$obj: no line names $fn"; }
        [ "$1 $2" = "$bytes $calls" ] ||
            { cat "$ai" >&2; fail "$obj $fn: got $1 bytes $2 calls, want $bytes $calls"; }
        for off in $(awk -v o="$obj+0x" -v f="func:$fn" '
            index($3, o) == 1 && $4 == f { s = substr($3, length(o) + 1); sub(":0$", "", s); print s }' "$ai"); do
            awk -v a=$((0x$off - 1)) -v f="$fn" '
                function hex(s,  i, v) { v = 0; s = tolower(s)
                    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
                    return v }
                $4 == f && a >= hex($1) && a < hex($1) + hex($2) { ok = 1 }
                END { exit !ok }' "$T/nm" || fail "$obj+0x$off is not inside $fn (nm)"
        done
    done <"$exp"
}

run() { # OUT_PREFIX PROGRAM ARGS...: allocinfo in OUT_PREFIX.ai, output in OUT_PREFIX.out
    out=$1
    shift
    ALLOCTAG_ALLOCINFO="$out.ai" LD_PRELOAD=$PRE "$@" >"$out.out" 2>"$out.err" ||
        fail "$*: exit status $?: $(cat "$out.err")"
    [ ! -s "$out.err" ] || fail "$*: stderr: $(cat "$out.err")"
}

# 1. C: wrappers (built-in, user-named), strdup/asprintf/getline, a signal
# handler, frames without CFI, lying CFI, generated code; both stores.
for mode in 1,compressed 1,uncompressed; do
    ALLOCTAG=$mode run "$T/c" "$C"
    check "$T/c.ai" "$C" "$T/c.out"
    ALLOCTAG=$mode ALLOCTAG_WRAPPERS='other,pool_[gr]*' run "$T/cp" "$C" pool
    check "$T/cp.ai" "$C" "$T/cp.out"
    ! grep -q "func:pool_" "$T/cp.ai" || fail "a pool_ frame named under ALLOCTAG_WRAPPERS"
    # patterns starting with a glob character (not skipped by their first)
    ALLOCTAG=$mode ALLOCTAG_WRAPPERS='other,?ool_get,[p]ool_raw' run "$T/cq" "$C" pool
    check "$T/cq.ai" "$C" "$T/cq.out"
    ! grep -q "func:pool_" "$T/cq.ai" || fail "a pool_ frame named under ?ool_get,[p]ool_raw"
done
# generated code: no object, named by its absolute address
read -r w jit <<EOF2
$(grep '^jit ' "$T/c.out")
EOF2
set -- $(grep '^expect-jit ' "$T/c.out")
jit=${jit#0x}
grep -qxF "$(printf '%12s %8s ?+0x%s:0 func:0x%s ' "$2" "$3" "$jit" "$jit")" "$T/c.ai" ||
    { cat "$T/c.ai" >&2; fail "no line for the generated code at 0x$jit"; }
! grep -qE "func:(xmalloc|strdup|__strdup|malloc|getdelim|__vasprintf)" "$T/c.ai" ||
    { cat "$T/c.ai" >&2; fail "a wrapper or libc function named as a site"; }
echo "C sites: ok"

# 2. Depth 1: the caller of malloc is the site, wrapper or not.
ALLOCTAG_DEPTH=1 run "$T/d1" "$C"
grep -q " $C+0x[0-9a-f]*:0 func:xmalloc $" "$T/d1.ai" || fail "depth 1: no xmalloc line"
! grep -q "func:parse_config" "$T/d1.ai" || fail "depth 1 named parse_config"
echo "depth 1: ok"

# 3. C++: new, std::string, std::vector, std::map, std::thread.
run "$T/x" "$CXX"
check "$T/x.ai" "$CXX" "$T/x.out"
! grep -qE "func:(_Znwm|_ZNSt)" "$T/x.ai" || { cat "$T/x.ai" >&2; fail "a std:: frame named"; }
echo "C++ sites: ok"

# 4. dlopen/dlclose of a library that allocates.
run "$T/dl" "$DL" "$LIB"
check "$T/dl.ai" "$LIB" "$T/dl.out"
echo "dlopen: ok"

# 5. 200,000 distinct chains: every chain counted, 64 exact site lines.
run "$T/m" "$MANY" 200000
read -r w chains w2 bytes <"$T/m.out"
[ "$w $w2" = "chains bytes" ] || fail "chain stats: $(head -n1 "$T/m.out")"
[ "$chains" -ge 200000 ] && [ "$chains" -le 200010 ] || fail "$chains chains, want 200000"
awk '$1 == "site"' "$T/m.out" | while read -r w k b c; do
    n=$(awk -v o="$MANY+0x" -v b="$b" -v c="$c" 'index($3, o) == 1 && $4 == "func:l3" && $1 == b && $2 == c' "$T/m.ai" | wc -l)
    [ "$n" -ge 1 ] || { cat "$T/m.ai" >&2; fail "no l3 line with $b bytes $c calls"; }
done
[ "$(grep -c "func:l3 $" "$T/m.ai")" -eq 64 ] || fail "not 64 lines for l3"
echo "200000 chains: ok ($bytes bytes)"

# 6. Bad values: one line, the default used.
bad() { # VARIABLE VALUE MESSAGE
    env "$1=$2" LD_PRELOAD=$PRE "$C" >"$T/b.out" 2>"$T/b.err" || fail "$1=$2: exit status"
    [ "$(cat "$T/b.err")" = "$3" ] || fail "$1='$2': got '$(cat "$T/b.err")', want '$3'"
}
for v in 0 65 x 8k -1 ""; do
    bad ALLOCTAG_DEPTH "$v" "alloctag: ignoring ALLOCTAG_DEPTH=\"$v\": expected a number of frames from 1 to 64; using 8"
done
for v in "" "a,,b" ",x" "x,"; do
    bad ALLOCTAG_WRAPPERS "$v" "alloctag: ignoring ALLOCTAG_WRAPPERS=\"$v\": expected comma-separated function names or shell globs, none empty, 4095 bytes in all; only the built-in wrappers are skipped"
done
echo "bad values: ok"
