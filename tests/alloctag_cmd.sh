#!/bin/sh
# The alloctag command (tools/): run, report in every format, diff, errors.
# usage: alloctag_cmd.sh /path/to/alloctag /path/to/source-dir
# Builds its programs (tests/tool_prog.c, tests/tool_prog_cxx.cc) with cc
# and c++: with -g, without -g, stripped.
set -eu
AT=$1
SRC=$(readlink -f "$2")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$T"

# ---- usage --------------------------------------------------------------
"$AT" --help | grep -q '^usage: alloctag COMMAND' || fail "alloctag --help"
for c in run report diff; do
    "$AT" $c --help | grep -q "^usage: alloctag $c " || fail "alloctag $c --help"
    "$AT" help $c | grep -q "^usage: alloctag $c " || fail "alloctag help $c"
done
# expect_err STATUS MESSAGE CMD...: exactly one line on stderr, that status
expect_err() {
    want_st=$1 want=$2
    shift 2
    st=0
    "$@" >"$T/out" 2>"$T/err" || st=$?
    [ "$st" = "$want_st" ] || fail "$*: status $st, want $want_st ($(cat "$T/err"))"
    [ "$(cat "$T/err")" = "$want" ] || fail "$*: stderr '$(cat "$T/err")', want '$want'"
}
expect_err 2 "alloctag: unknown command 'frob' (see alloctag --help)" "$AT" frob
expect_err 2 "alloctag: no command given (see alloctag --help)" "$AT"
expect_err 2 "alloctag: report: no profile given (see alloctag report --help)" "$AT" report
expect_err 2 "alloctag: report: unknown format 'xml'; expected allocinfo, top, json, pprof or html (see alloctag report --help)" \
    "$AT" report --format xml p
expect_err 2 "alloctag: report: option '--bogus' is unknown or needs a value (see alloctag report --help)" \
    "$AT" report --bogus p
expect_err 2 "alloctag: report: --min-bytes 'lots': expected a byte count such as 4096 or 1M (see alloctag report --help)" \
    "$AT" report --min-bytes lots p
expect_err 2 "alloctag: run: no command given (alloctag run [OPTIONS] -- CMD [ARGS...]) (see alloctag run --help)" \
    "$AT" run --
expect_err 2 "alloctag: run: --depth '0': expected a number of frames, 1 to 64 (see alloctag run --help)" \
    "$AT" run --depth 0 -- true
expect_err 2 "alloctag: diff: expected two snapshots, OLD and NEW; got 1 (see alloctag diff --help)" \
    "$AT" diff a
echo "usage: ok"

# ---- the C program: -g, no -g, stripped ----------------------------------
cp "$SRC/tests/tool_prog.c" "$T/prog.c"
cc -g -O1 -o "$T/prog" "$T/prog.c"
cc -O1 -o "$T/prog_nodebug" "$T/prog.c"
strip -o "$T/prog_stripped" "$T/prog"
line_of() { grep -n "$1" "$T/prog.c" | cut -d: -f1; }
LA=$(line_of SITE_A) LB=$(line_of SITE_B) LC=$(line_of SITE_C)
# The return address of FUNC's call to malloc@plt in PROG (hex, no 0x).
ret_addr() {
    objdump -d --no-show-raw-insn "$1" | awk -v f="<$2>:" '
        $2 == f { inside = 1; next }
        inside && /^$/ { exit }
        inside && found { sub(":", "", $1); print $1; exit }
        inside && /call/ && /<malloc@plt>/ { found = 1 }'
}
sym_addr() { nm "$1" | awk -v s="$2" '$3 == s { print $1 }'; }
# ai_line BYTES CALLS NAME: the exact allocinfo line
ai_line() { printf '%12s %8s %s \n' "$1" "$2" "$3"; }
has_line() { grep -qxF "$2" "$1" || { cat "$1" >&2; fail "no line '$2' in $1"; }; }

out=$("$AT" run --top 3 -o "$T/c.prof" -- "$T/prog" 5 2>"$T/run.err")
set -- $out
[ "$1" = usable ] || fail "prog output: $out"
UA=$2 UB=$3 UC=$4
[ "$UA" -ge 100 ] && [ "$UB" -ge 5000 ] || fail "usable sizes $UA $UB"
[ -s "$T/c.prof" ] || fail "no profile at -o $T/c.prof"
[ "$(sed -n 1p "$T/run.err")" = "alloctag: top allocation sites of $T/prog (pid $(awk '$1 == "pid" {print $2}' "$T/c.prof")) at exit:" ] ||
    { cat "$T/run.err" >&2; fail "run: first stderr line"; }
grep -q "site_a at $T/prog.c:$LA\$" "$T/run.err" || { cat "$T/run.err" >&2; fail "run: top lacks site_a at $T/prog.c:$LA"; }
N=$(awk '$1 == "chains" {print $2}' "$T/c.prof") B=$(awk '$1 == "chains" {print $3}' "$T/c.prof")
# in the unit its size takes (KiB for a few chains' pages)
H=$(python3 -c "
b = $B
u = ['B', 'KiB', 'MiB', 'GiB']
i = 0
while b >= 1024 and i < 3:
    b /= 1024
    i += 1
print(f'{b} B' if i == 0 else f'{b:.1f} {u[i]}')")
case "$H" in *KiB) ;; *) fail "run: profiling memory $B bytes for $N chains, want KiB" ;; esac
grep -qx "alloctag: profiling memory: $N call chains, $H" "$T/run.err" ||
    { cat "$T/run.err" >&2; fail "run: profiling memory line"; }
[ "$(tail -n1 "$T/run.err")" = "alloctag: profile: $T/c.prof" ] || { cat "$T/run.err" >&2; fail "run: last line"; }
"$AT" report --format allocinfo "$T/c.prof" >"$T/c.ai"
[ "$(head -n2 "$T/c.ai")" = "allocinfo - version: 2.0
#     <size>  <calls> <tag info>" ] || fail "allocinfo header"
has_line "$T/c.ai" "$(ai_line $((5 * UA)) 5 "$T/prog.c:$LA func:site_a")"
has_line "$T/c.ai" "$(ai_line "$UB" 1 "$T/prog.c:$LB func:site_b")"
has_line "$T/c.ai" "$(ai_line 0 0 "$T/prog.c:$LC func:site_c")"
# JSON: the same numbers, and the chain's frame
"$AT" report --format json -o "$T/c.json" "$T/c.prof"
[ "$(stat -c %a "$T/c.json")" = 600 ] || fail "report -o: mode $(stat -c %a "$T/c.json"), want 600"
python3 - "$T/c.json" "$T/prog.c" "$LA" "$((5 * UA))" "$T/prog" "$((4 * UC))" <<'PY' || fail "json"
import json, sys
d = json.load(open(sys.argv[1]))
# the call-chain table's size: one chain per site of the program (and libc's);
# the memory, what profiling's structures hold (a few chains: their pages, not
# the 1 MiB block their pool maps)
assert d["profiling_memory"]["chains"] >= 3 and 0 < d["profiling_memory"]["bytes"] < 1 << 20, d
c = [x for x in d["sites"] if x["function"] == "site_c"]
assert len(c) == 1 and (c[0]["live_bytes"], c[0]["live_calls"], c[0]["alloc_bytes"],
                        c[0]["alloc_calls"]) == (0, 0, int(sys.argv[6]), 4), c
s = [x for x in d["sites"] if x["function"] == "site_a"]
assert len(s) == 1, s
s = s[0]
assert (s["file"], s["line"], s["live_bytes"], s["live_calls"], s["kind"]) == \
    (sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), 5, "chain"), s
f = s["chains"][0]["frames"][s["chains"][0]["site"] - 1]
assert f["object"] == sys.argv[5] and f["lines"][-1]["function"] == "site_a", f
assert d["total"]["live_bytes"] == sum(x["live_bytes"] for x in d["sites"]), d["total"]
PY
# filters
"$AT" report --format allocinfo --match 'site_[ab]$' "$T/c.prof" >"$T/f.ai"
[ "$(tail -n +3 "$T/f.ai" | wc -l)" = 2 ] || { cat "$T/f.ai" >&2; fail "--match: 2 lines"; }
has_line "$T/f.ai" "$(ai_line "$UB" 1 "$T/prog.c:$LB func:site_b")"
"$AT" report --format allocinfo --min-bytes "$UB" "$T/c.prof" >"$T/f.ai"
has_line "$T/f.ai" "$(ai_line "$UB" 1 "$T/prog.c:$LB func:site_b")"
! grep -q "func:site_c" "$T/f.ai" || fail "--min-bytes kept site_c"
echo "run, allocinfo, json, filters: ok"

# top: a table, largest first, human sizes, a total line
"$AT" report --format top --match '^site_' "$T/c.prof" >"$T/c.top"
[ "$(sed -n 1p "$T/c.top" | tr -s ' ')" = " live calls allocated calls site" ] || fail "top header: $(sed -n 1p "$T/c.top")"
sed -n 2p "$T/c.top" | grep -q "  site_b at $T/prog.c:$LB\$" || { cat "$T/c.top" >&2; fail "top: site_b first"; }
sed -n 3p "$T/c.top" | grep -q "  site_a at $T/prog.c:$LA\$" || { cat "$T/c.top" >&2; fail "top: site_a second"; }
# site_c holds nothing at exit: after the sites holding memory, with what it allocated
[ "$(sed -n 4p "$T/c.top" | tr -s ' ')" = "$(printf '%s' " 0 B 0 $(python3 -c "b = $((4 * UC)); print((f'{b} B' if b < 1024 else f'{b / 1024:.1f} KiB') + ' 4')") site_c at $T/prog.c:$LC")" ] ||
    { cat "$T/c.top" >&2; fail "top: site_c's row"; }
[ "$(tail -n1 "$T/c.top" | tr -s ' ')" = "$(printf '%s' " $(python3 -c "
b = $((UB + 5 * UA)); a = b + $((4 * UC)); print(f'{b / 1024:.1f} KiB 6 {a / 1024:.1f} KiB 10')") total, 3 of 3 sites")" ] ||
    { cat "$T/c.top" >&2; fail "top: total line"; }
echo "top: ok"

# the other processes of a run: listed by PID, the first 8 and how many more;
# when the program wrote no profile (dash ends through _exit), the top sites
# of those that allocated the most, none of those that allocated nothing
"$AT" run --top 2 -o "$T/sh.prof" -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; "$0" 3 >/dev/null' "$T/prog" >/dev/null 2>"$T/sh.err" ||
    { cat "$T/sh.err" >&2; fail "run of a shell"; }
grep -qx "alloctag: profiles of 11 other processes of the run:" "$T/sh.err" || { cat "$T/sh.err" >&2; fail "others: count line"; }
sed -n '/other processes of the run:$/,$p' "$T/sh.err" | sed -n '2,9p' | sed 's/.*\.//' >"$T/pids"
[ "$(wc -l <"$T/pids")" = 8 ] && sort -n -c "$T/pids" || { cat "$T/sh.err" >&2; fail "others: 8 listed by PID"; }
grep -qx "  and 3 more: $T/sh.prof.\*" "$T/sh.err" || { cat "$T/sh.err" >&2; fail "others: the rest counted"; }
if grep -q "wrote no profile" "$T/sh.err"; then
    [ "$(grep -c "^alloctag: top allocation sites of " "$T/sh.err")" = 1 ] &&
        grep -q "^alloctag: top allocation sites of $T/prog (pid [0-9]*) at exit:\$" "$T/sh.err" ||
        { cat "$T/sh.err" >&2; fail "others: the top sites of the one that allocated"; }
fi
echo "other processes: ok"

# without DWARF: .symtab names (func+0xoff), then object+0xoffset
RA=$(ret_addr "$T/prog_nodebug" site_a)
SA=$(sym_addr "$T/prog_nodebug" site_a)
"$AT" run --top 0 -o "$T/n.prof" -- "$T/prog_nodebug" 2 >/dev/null 2>&1
"$AT" report --format allocinfo "$T/n.prof" >"$T/n.ai"
has_line "$T/n.ai" "$(ai_line $((2 * UA)) 2 "$(printf '%s+0x%s:0 func:site_a+0x%x' "$T/prog_nodebug" "$RA" $((0x$RA - 0x$SA)))")"
RA=$(ret_addr "$T/prog" site_a)
"$AT" run --top 0 -o "$T/s.prof" -- "$T/prog_stripped" 2 >/dev/null 2>&1
"$AT" report --format allocinfo "$T/s.prof" >"$T/s.ai"
has_line "$T/s.ai" "$(ai_line $((2 * UA)) 2 "$T/prog_stripped+0x$RA:0 func:0x$RA")"
# stripped, with its DWARF in a separate file found by .gnu_debuglink
mkdir "$T/dl"
objcopy --only-keep-debug "$T/prog" "$T/dl/prog.debug"
strip -o "$T/dl/prog" "$T/prog"
(cd "$T/dl" && objcopy --add-gnu-debuglink=prog.debug prog)
"$AT" run --top 0 -o "$T/dl.prof" -- "$T/dl/prog" 2 >/dev/null 2>&1
"$AT" report --format allocinfo "$T/dl.prof" >"$T/dl.ai"
has_line "$T/dl.ai" "$(ai_line $((2 * UA)) 2 "$T/prog.c:$LA func:site_a")"
echo "symtab, stripped, debuglink: ok"

# a mismatched build ID: said once, frames unsymbolized
cp "$T/prog" "$T/prog_v1"
"$AT" run --top 0 -o "$T/m.prof" -- "$T/prog_v1" 2 >/dev/null 2>&1
old_id=$(awk '$1 == "map" && $NF == "'"$T/prog_v1"'" {print $7}' "$T/m.prof")
sed 's/SITE_C \*\//SITE_C *\/ KEEP(n);/' "$T/prog.c" >"$T/prog2.c"
cc -g -O1 -o "$T/prog_v1" "$T/prog2.c"
new_id=$(readelf -n "$T/prog_v1" | awk '/Build ID/ {print $3}')
[ -n "$old_id" ] && [ "$old_id" != "$new_id" ] || fail "build IDs '$old_id' '$new_id'"
"$AT" report --format allocinfo "$T/m.prof" >"$T/m.ai" 2>"$T/m.err"
[ "$(cat "$T/m.err")" = "alloctag: $T/prog_v1: build ID $new_id differs from the profile's $old_id (the file changed since the profile was written); its frames are not symbolized" ] ||
    fail "build ID mismatch: '$(cat "$T/m.err")'"
has_line "$T/m.ai" "$(ai_line $((2 * UA)) 2 "$T/prog_v1+0x$RA:0 func:0x$RA")"
echo "build ID mismatch: ok"

# ---- exit status, signals, fork + exec -------------------------------------
st=0; "$AT" run --top 0 -o "$T/e.prof" -- "$T/prog" exit 7 >/dev/null 2>&1 || st=$?
[ "$st" = 7 ] || fail "exit 7: status $st"
[ -s "$T/e.prof" ] || fail "exit 7: no profile"
st=0; "$AT" run --top 0 -o "$T/x.prof" -- "$T/prog" _exit 9 >/dev/null 2>"$T/x.err" || st=$?
[ "$st" = 9 ] || fail "_exit 9: status $st"
[ -z "$(ls "$T" | grep '^x\.prof')" ] || fail "_exit left $(ls "$T" | grep '^x\.prof')"
st=0; sh -c '"$1" run --top 0 -o "$2/k.prof" -- "$2/prog" segv; echo "status $?" >"$2/k.st"' sh "$AT" "$T" >/dev/null 2>"$T/k.err" || st=$?
grep -q "alloctag: run: $T/prog was killed by signal 11 (Segmentation fault) and wrote no profile" "$T/k.err" ||
    fail "segv message: $(cat "$T/k.err")"
[ "$(cat "$T/k.st")" = "status 139" ] || fail "segv: alloctag's $(cat "$T/k.st"), want 139 (killed by SIGSEGV)"
[ -z "$(ls "$T" | grep '^k\.prof')" ] || fail "SIGSEGV left $(ls "$T" | grep '^k\.prof')"
out=$("$AT" run --top 0 -o "$T/fk.prof" -- "$T/prog" fork 2>"$T/fk.err")
child=$(echo "$out" | awk '$1 == "child" {print $2}')
[ -n "$child" ] && [ -s "$T/fk.prof" ] && [ -s "$T/fk.prof.$child" ] || fail "fork: profiles $(ls "$T" | grep fk)"
grep -qxF "  $T/fk.prof.$child" "$T/fk.err" || fail "fork: child's profile not listed: $(cat "$T/fk.err")"
[ "$(awk '$1 == "pid" {print $2}' "$T/fk.prof.$child")" = "$child" ] || fail "fork: child's pid"
"$AT" report --format allocinfo "$T/fk.prof" >"$T/p.ai"
"$AT" report --format allocinfo "$T/fk.prof.$child" >"$T/ch.ai"
has_line "$T/p.ai" "$(ai_line $((3 * UA)) 3 "$T/prog.c:$LA func:site_a")"
has_line "$T/ch.ai" "$(ai_line $((7 * UA)) 7 "$T/prog.c:$LA func:site_a")"
# the program ends through _exit, its child wrote a profile: the child's top
# a relative -o names a file of the run's directory, even when the program
# changes its own (git -C, make -C)
mkdir "$T/cd"
(cd "$T/cd" && "$AT" run --top 0 -o rel.prof -- "$T/prog" chdir >/dev/null 2>"$T/cd.err") ||
    { cat "$T/cd.err" >&2; fail "run of a program that changes its directory"; }
[ -s "$T/cd/rel.prof" ] && [ ! -e /rel.prof ] && [ -z "$(ls / | grep '^rel\.prof')" ] ||
    { cat "$T/cd.err" >&2; fail "chdir: the profile is not in the run's directory"; }
out=$("$AT" run --top 5 -o "$T/fx.prof" -- "$T/prog" fork_exit 2>"$T/fx.err")
child=$(echo "$out" | awk '$1 == "child" {print $2}')
[ ! -e "$T/fx.prof" ] && [ -s "$T/fx.prof.$child" ] || fail "fork_exit: profiles $(ls "$T" | grep fx)"
grep -qxF "alloctag: top allocation sites of $T/prog (pid $child) at exit:" "$T/fx.err" ||
    { cat "$T/fx.err" >&2; fail "fork_exit: the child's top"; }
grep -q "  site_a at $T/prog.c:$LA\$" "$T/fx.err" || { cat "$T/fx.err" >&2; fail "fork_exit: site_a"; }
echo "exit status, signal, fork + exec: ok"

# ---- run's options: --format, --never, --uncompressed ----------------------
"$AT" run --format json -o "$T/r.json" -- "$T/prog" 4 >/dev/null 2>"$T/r.err"
[ "$(tail -n1 "$T/r.err")" = "alloctag: report: $T/r.json" ] || fail "run --format: $(cat "$T/r.err")"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert [x["live_calls"] for x in d["sites"] if x["function"] == "site_a"] == [4], d' "$T/r.json" ||
    fail "run --format json: site_a"
[ -z "$(ls "$T" | grep '^r\.json\.')" ] || fail "run --format left $(ls "$T" | grep '^r\.json\.')"
"$AT" run --never --top 0 -o "$T/nv.prof" -- "$T/prog" >/dev/null 2>&1
[ "$(grep -v '^time \|^pid ' "$T/nv.prof")" = "alloctag-profile 1
exe $T/prog
depth 0
store never
end 0" ] || fail "run --never: $(cat "$T/nv.prof")"
"$AT" run --uncompressed --top 0 -o "$T/un.prof" -- "$T/prog" 2 >/dev/null 2>&1
grep -qx 'store uncompressed' "$T/un.prof" || fail "run --uncompressed: $(grep store "$T/un.prof")"
"$AT" report --format allocinfo "$T/un.prof" >"$T/un.ai"
has_line "$T/un.ai" "$(ai_line $((2 * UA)) 2 "$T/prog.c:$LA func:site_a")"
# the environment passes through; the options become ALLOCTAG* variables;
# LD_PRELOAD keeps what was there after the preload library
out=$(FOO=bar LD_PRELOAD=libm.so.6 "$AT" run --top 0 --depth 4 --wrappers 'xmalloc,g_*' --uncompressed \
    -o "$T/env.prof" -- sh -c 'echo "$FOO|$ALLOCTAG_DEPTH|$ALLOCTAG_WRAPPERS|$ALLOCTAG|$LD_PRELOAD|$ALLOCTAG_PROFILE"' 2>/dev/null)
PRELOAD_LIB=$(readlink -f "$(dirname "$AT")/../liballoctag-preload.so")
[ "$out" = "bar|4|xmalloc,g_*|1,uncompressed|$PRELOAD_LIB:libm.so.6|$T/env.prof.%p" ] ||
    fail "run's environment: '$out'"
echo "run --format, --never, --uncompressed, environment: ok"

# ---- C++: operator new through std::string, std::vector, std::map ----------
cp "$SRC/tests/tool_prog_cxx.cc" "$T/cxx.cc"
c++ -g -O2 -o "$T/cxx" "$T/cxx.cc"
strip -o "$T/cxx_stripped" "$T/cxx"
for prog in cxx_stripped cxx; do
out=$("$AT" run --depth 1 --top 0 -o "$T/$prog.prof" -- "$T/$prog" 2>/dev/null)
"$AT" report --format json "$T/$prog.prof" >"$T/cxx.json"
python3 - "$T/cxx.json" "${out#usable }" <<'PY' || fail "C++ json ($prog)"
import json, sys
d = json.load(open(sys.argv[1]))
calls = bytes_ = 0
for s in d["sites"]:
    for c in s["chains"]:
        if c["frames"][0]["lines"][0]["function"].startswith("operator new"):
            calls += c["live_calls"]; bytes_ += c["live_bytes"]
assert (calls, bytes_) == (7003, int(sys.argv[2])), (calls, bytes_, sys.argv[2])
PY
done
# The site of a call inlined from system headers is the program's own line:
# a profile naming the return addresses of build_map's and load_names' calls
# of operator new (build_map's inlines std::map::operator[] down to
# std::__new_allocator::allocate).
ret_call() { # FUNC CALLEE_PATTERN: the return address of FUNC's first call of CALLEE
    objdump -d --no-show-raw-insn "$T/cxx" | awk -v f="$1" -v c="$2" '
        $2 ~ "^<" f ">:$" { inside = 1; next }
        inside && /^$/ { exit }
        inside && found { sub(":", "", $1); print $1; exit }
        inside && /call/ && $0 ~ c { found = 1 }'
}
BM=$(ret_call _Z9build_mapi '<_Znwm@plt>') LN=$(ret_call _Z10load_namesi '<_Znwm@plt>')
RI=$(ret_call '_ZNSt6vector.*_M_realloc_insert.*' '<_Znwm@plt>')
LRI=$(ret_call _Z10load_namesi '_M_realloc_insert')
[ -n "$BM" ] && [ -n "$LN" ] && [ -n "$RI" ] && [ -n "$LRI" ] || fail "calls not found in $T/cxx: '$BM' '$LN' '$RI' '$LRI'"
LBM=$(grep -n '(\*m)\[i\] = i;' "$T/cxx.cc" | cut -d: -f1)
LLN=$(grep -n 'names->push_back(new std::string' "$T/cxx.cc" | cut -d: -f1)
bid=$(readelf -n "$T/cxx" | awk '/Build ID/ {print $3}')
# The vector's out-of-line _M_realloc_insert (all of it in system headers)
# as the site frame: the site is its caller's line, push_back in load_names.
printf 'alloctag-profile 1\nmap 0 0x1000 0x2000 0x1000 0x0 %s %s\nchain 64 1 128 2 1 0:0x%s\nchain 32 1 0 0 2 -:0x10 0:0x%s\nchain 8 1 0 0 1 0:0x%s 0:0x%s\nend 4\n' \
    "$bid" "$T/cxx" "$BM" "$LN" "$RI" "$LRI" >"$T/inl.prof"
"$AT" report --format allocinfo "$T/inl.prof" >"$T/inl.ai"
has_line "$T/inl.ai" "$(ai_line 64 1 "$T/cxx.cc:$LBM func:build_map")"
has_line "$T/inl.ai" "$(ai_line 40 2 "$T/cxx.cc:$LLN func:load_names")"
"$AT" report --format json "$T/inl.prof" | python3 -c '
import json, sys
d = json.load(sys.stdin)
lines = d["sites"][0]["chains"][0]["frames"][0]["lines"]
assert lines[0]["file"] == "/usr/include/c++/12/bits/new_allocator.h" or lines[0]["file"].startswith("/usr/include/"), lines[0]
assert lines[-1]["function"] == "build_map(int)", lines[-1]
assert any(l["function"].startswith("std::map<int, int") for l in lines), lines
' || fail "inlined frames in json"
echo "C++: ok"

# ---- pprof, read by go tool pprof -----------------------------------------
if command -v go >/dev/null; then
    export GOCACHE="$T/go-cache" HOME="$T/home" GOPATH="$T/gopath" GOFLAGS=-mod=mod GOTOOLCHAIN=local
    mkdir -p "$HOME"
    "$AT" report --format pprof -o "$T/c.pb.gz" "$T/c.prof"
    [ "$(od -An -tx1 -N2 "$T/c.pb.gz" | tr -d ' ')" = 1f8b ] || fail "pprof: not gzip"
    go tool pprof -top -unit=byte -sample_index=inuse_space "$T/c.pb.gz" >"$T/pp.top" 2>&1 || { cat "$T/pp.top" >&2; fail "go tool pprof -top"; }
    grep -Eq "^ +$((5 * UA))B .* site_a\$" "$T/pp.top" || { cat "$T/pp.top" >&2; fail "pprof -top: site_a $((5 * UA))B"; }
    grep -Eq "^ +${UB}B .* site_b\$" "$T/pp.top" || { cat "$T/pp.top" >&2; fail "pprof -top: site_b ${UB}B"; }
    go tool pprof -top -sample_index=inuse_objects "$T/c.pb.gz" 2>&1 | grep -Eq "^ +5 .* site_a\$" || fail "pprof inuse_objects"
    go tool pprof -lines -top -unit=byte "$T/c.pb.gz" 2>&1 | grep -q "site_a $T/prog.c:$LA\$" || fail "pprof -lines"
    "$AT" report --format pprof -o "$T/inl.pb.gz" "$T/inl.prof"
    go tool pprof -traces "$T/inl.pb.gz" 2>&1 | grep -q "build_map" || fail "pprof -traces"
    go tool pprof -top -unit=byte "$T/inl.pb.gz" 2>&1 | grep -q "std::map::operator\[\] (inline)\$" ||
        fail "pprof: the inlined std::map::operator[] frame"
    echo "pprof: ok"
fi

# ---- diff: two snapshots of a growing program ------------------------------
"$AT" run --top 0 -o "$T/g1.prof" -- "$T/prog" 10 >/dev/null 2>&1
"$AT" run --top 0 -o "$T/g2.prof" -- "$T/prog" 30 >/dev/null 2>&1
"$AT" diff --format allocinfo "$T/g1.prof" "$T/g2.prof" >"$T/d.ai"
[ "$(tail -n +3 "$T/d.ai")" = "$(ai_line $((20 * UA)) 20 "$T/prog.c:$LA func:site_a")" ] ||
    { cat "$T/d.ai" >&2; fail "diff: only site_a grew, by 20"; }
"$AT" diff "$T/g1.prof" "$T/g2.prof" >"$T/d.top"
sed -n 2p "$T/d.top" | grep -q "+20 .* site_a at $T/prog.c:$LA\$" || { cat "$T/d.top" >&2; fail "diff top"; }
# --allocated: what was allocated since start, where the live bytes are the
# same (site_c's 4 and then 9 allocations, all freed)
"$AT" run --top 0 -o "$T/g3.prof" -- "$T/prog" 10 9 >/dev/null 2>&1
"$AT" diff "$T/g1.prof" "$T/g3.prof" | tail -n1 | grep -q "total, 0 sites changed, [0-9]* unchanged\$" ||
    { "$AT" diff "$T/g1.prof" "$T/g3.prof" >&2; fail "diff: live unchanged"; }
"$AT" diff --allocated --format allocinfo "$T/g1.prof" "$T/g3.prof" >"$T/d3.ai"
[ "$(tail -n +3 "$T/d3.ai")" = "$(ai_line $((5 * UC)) 5 "$T/prog.c:$LC func:site_c")" ] ||
    { cat "$T/d3.ai" >&2; fail "diff --allocated: site_c, by 5"; }
"$AT" diff --allocated "$T/g1.prof" "$T/g3.prof" | sed -n 1p | grep -q "old alloc  new alloc  site\$" ||
    fail "diff --allocated: header"
"$AT" diff --allocated --format json "$T/g1.prof" "$T/g3.prof" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["measure"] == "allocated" and [(x["old_calls"], x["new_calls"]) for x in d["sites"]] == [(4, 9)], d
' || fail "diff --allocated json"
# an allocinfo text against a profile
"$AT" report --format allocinfo -o "$T/g1.ai" "$T/g1.prof"
expect_err 1 "alloctag: diff: $T/g1.ai has no allocated (cumulative) counts (an allocinfo text?): --allocated compares raw profiles" \
    "$AT" diff --allocated "$T/g1.ai" "$T/g3.prof"
"$AT" diff --format json "$T/g1.ai" "$T/g2.prof" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = [x for x in d["sites"] if x["name"].endswith("func:site_a")]
assert len(s) == 1 and s[0]["delta_calls"] == 20 and s[0]["old_calls"] == 10, d
' || fail "diff allocinfo vs profile"
if command -v go >/dev/null; then
    "$AT" diff --format pprof -o "$T/d.pb.gz" "$T/g1.prof" "$T/g2.prof"
    go tool pprof -top -unit=byte -sample_index=inuse_space "$T/d.pb.gz" 2>&1 | grep -Eq "^ +$((20 * UA))B .* site_a\$" ||
        fail "diff pprof"
    "$AT" report --format pprof -o "$T/g1.pb.gz" "$T/g1.prof"
    "$AT" report --format pprof -o "$T/g2.pb.gz" "$T/g2.prof"
    go tool pprof -top -unit=byte -diff_base "$T/g1.pb.gz" "$T/g2.pb.gz" 2>&1 | grep -Eq "^ +$((20 * UA))B .* site_a\$" ||
        fail "go tool pprof -diff_base"
fi
# report reads allocinfo texts too: the kernel's format, module names kept
printf 'allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n        8192        2 mm/slub.c:10 [xfs] func:xfs_alloc \n       40960       10 mm/page.c:3 func:alloc_pages accurate:no \n' >"$T/k.ai"
"$AT" report --format allocinfo "$T/k.ai" >"$T/k2.ai"
cmp -s "$T/k.ai" "$T/k2.ai" || { diff "$T/k.ai" "$T/k2.ai" >&2; fail "allocinfo -> allocinfo is not the same text"; }
"$AT" report "$T/k.ai" | sed -n 2p | grep -q "alloc_pages at mm/page.c:3\$" || fail "allocinfo -> top"
echo "diff: ok"

# ---- bad profiles: one line each, exit status 1 ----------------------------
: >"$T/empty.prof"
expect_err 1 "alloctag: $T/empty.prof: empty file" "$AT" report "$T/empty.prof"
head -c 200 "$T/c.prof" >"$T/trunc.prof"
expect_err 1 "alloctag: $T/trunc.prof: line $(($(head -c 200 "$T/c.prof" | wc -l) + 1)): truncated (the last line has no end)" "$AT" report "$T/trunc.prof"
grep -v '^end ' "$T/c.prof" >"$T/noend.prof"
expect_err 1 "alloctag: $T/noend.prof: truncated (no end record)" "$AT" report "$T/noend.prof"
sed '/^chain/d' "$T/c.prof" >"$T/count.prof"
n=$(grep -c '^\(map\|chain\|tag\) ' "$T/c.prof")
expect_err 1 "alloctag: $T/count.prof: truncated or corrupt: the end record counts $n records, the file has $(grep -c '^\(map\|tag\) ' "$T/c.prof")" \
    "$AT" report "$T/count.prof"
head -c 4096 "$T/prog" >"$T/elf.prof"
expect_err 1 "alloctag: $T/elf.prof: not an alloctag profile (no \"alloctag-profile\" line)" "$AT" report "$T/elf.prof"
sed '1s/.*/alloctag-profile 99/' "$T/c.prof" >"$T/v99.prof"
expect_err 1 "alloctag: $T/v99.prof: unsupported profile version 99 (this alloctag reads version 1)" "$AT" report "$T/v99.prof"
printf 'alloctag-profile 1\nmap 0 0x1000 0x2000 0x0 0x0 - /x\nchain 1 1 0 0 1 4:0x10\nend 2\n' >"$T/map.prof"
expect_err 1 "alloctag: $T/map.prof: line 3: chain names map 4, which is not declared" "$AT" report "$T/map.prof"
printf 'alloctag-profile 1\nchain 1 x 0 0 1 -:0x10\nend 1\n' >"$T/num.prof"
expect_err 1 "alloctag: $T/num.prof: line 2: malformed chain record (live calls)" "$AT" report "$T/num.prof"
printf 'alloctag-profile 1\nchain 1 1 0 0 3 -:0x10\nend 1\n' >"$T/site.prof"
expect_err 1 "alloctag: $T/site.prof: line 2: malformed chain record (site 3 beyond 1 frames)" "$AT" report "$T/site.prof"
printf 'alloctag-profile 1\ntime 1e300\nend 0\n' >"$T/time.prof"
expect_err 1 "alloctag: $T/time.prof: line 2: malformed time record (expected SECONDS.MICROS)" "$AT" report "$T/time.prof"
expect_err 1 "alloctag: $T/none.prof: cannot open: No such file or directory" "$AT" report "$T/none.prof"
expect_err 1 "alloctag: $T/empty.prof: empty file" "$AT" diff "$T/c.prof" "$T/empty.prof"
# an object that is gone: said once, frames as object+offset
printf 'alloctag-profile 1\nmap 0 0x1000 0x2000 0x0 0x0 abcd /nonexistent/libx.so\nchain 10 1 0 0 1 0:0x10\nchain 20 2 0 0 1 0:0x20\nend 3\n' >"$T/gone.prof"
expect_err 0 "alloctag: /nonexistent/libx.so: cannot read: No such file or directory; its frames are shown as object+offset" \
    "$AT" report --format allocinfo "$T/gone.prof"
has_line "$T/out" "$(ai_line 20 2 "/nonexistent/libx.so+0x20:0 func:0x20")"
# a program that cannot be run: one line, the shell's status
expect_err 127 "alloctag: run: cannot run $T/nonexistent: No such file or directory" "$AT" run -- "$T/nonexistent"
echo "bad profiles, missing objects: ok"

# ---- the symbolizer against llvm-symbolizer: every call in the C++ program --
LLVM_SYM=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
if [ -n "$LLVM_SYM" ]; then
    bid=$(readelf -n "$T/cxx" | awk '/Build ID/ {print $3}')
    objdump -d --no-show-raw-insn "$T/cxx" | awk '
        found { sub(":", "", $1); print $1; found = 0 }
        /\tcall/ { found = 1 }' | sort -u >"$T/calls"
    { printf 'alloctag-profile 1\nmap 0 0x1000 0x2000 0x0 0x0 %s %s\n' "$bid" "$T/cxx"
      awk '{ printf "chain 1 1 0 0 1 0:0x%s\n", $1 }' "$T/calls"
      echo "end $(($(wc -l <"$T/calls") + 1))"; } >"$T/calls.prof"
    "$AT" report --format json -o "$T/calls.json" "$T/calls.prof"
    python3 -c 'import sys; [print(hex(int(a, 16) - 1)) for a in open(sys.argv[1]).read().split()]' "$T/calls" |
        "$LLVM_SYM" --inlining --obj="$T/cxx" >"$T/calls.llvm"
    python3 - "$T/calls.json" "$T/calls.llvm" "$T/calls" <<'PY' || fail "symbolizer vs llvm-symbolizer"
import json, sys
d = json.load(open(sys.argv[1]))
mine = {}
for s in d["sites"]:
    for c in s["chains"]:
        f = c["frames"][0]
        mine[int(f["address"], 16)] = [(l["function"], l["file"], l["line"]) for l in f["lines"]]
addrs = [int(a, 16) for a in open(sys.argv[3]).read().split()]
blocks = open(sys.argv[2]).read().strip().split("\n\n")
assert len(blocks) == len(addrs) > 20, (len(blocks), len(addrs))
bad = []
for a, b in zip(addrs, blocks):
    ls = b.splitlines()
    theirs = [(ls[i], ls[i + 1].rsplit(":", 2)[0], int(ls[i + 1].rsplit(":", 2)[1]))
              for i in range(0, len(ls), 2)]
    if theirs[0][0] == "??" or theirs[0][1] == "??" or theirs[0][2] == 0:
        continue  # no line there (_init, crtstuff.c): nothing to compare
    # llvm-symbolizer names a function's cold part by its symbol, "f (.cold)"
    # and leaves a few long template names mangled (libstdc++'s demangler
    # does them): those names are not compared
    theirs = [(f.replace(" (.cold)", ""), fl, ln) for f, fl, ln in theirs]
    theirs = [(m[0] if f.startswith("_Z") and i < len(mine[a]) else f, fl, ln)
              for i, ((f, fl, ln), m) in enumerate(zip(theirs, mine[a] + [("",)] * len(theirs)))]
    if mine[a] != theirs:
        bad.append((hex(a), mine[a], theirs))
assert not bad, bad[:3]
print("symbolizer = llvm-symbolizer on", len(addrs), "return addresses")
PY
    echo "symbolizer vs llvm-symbolizer: ok"
fi
