#!/bin/sh
# The command's symbolizer (tools/symbols/) on corrupt objects: the real
# small objects of fuzz/corpus/fuzz_symbolize/ (fuzz/seed_obj.c built as a
# shared object and as an executable at 0x400000), intact, stripped,
# truncated, cut to the ELF header, with garbage DWARF, and inputs the
# fuzzer found.  Each frame gets its exact name or the exact fallback
# "OBJECT+0xADDR:0 func:0xADDR"; an object that cannot be read is said in
# exactly one line.
# usage: symbolize_corrupt.sh /path/to/alloctag /path/to/source-dir
set -eu
AT=$1
C=$(readlink -f "$2")/fuzz/corpus/fuzz_symbolize
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
A=$(nm "$C/so" | awk '$3 == "seed_alloc" { print $1 }')
[ -n "$A" ] || fail "no seed_alloc in $C/so"
IN=$(printf '%x' $((0x$A + 5))) # inside seed_alloc
# expect OBJECT STDERR LINE1 LINE2: the allocinfo lines of a frame at IN
# and one at 0x4006af (past the shared object's end; seed_alloc + 1 in the
# executable), and the exact stderr
expect() {
    printf 'alloctag-profile 1\nmap 0 0x1000 0x2000 0x0 0x0 - %s\nchain 10 1 0 0 1 0:0x%s\nchain 20 2 0 0 1 0:0x4006af\nend 3\n' \
        "$C/$1" "$IN" >"$T/p.prof"
    "$AT" report --format allocinfo "$T/p.prof" >"$T/out" 2>"$T/err" || fail "$1: status $?"
    got=$(tail -n +3 "$T/out")
    want=$(printf '%12s %8s %s \n' 10 1 "$3" 20 2 "$4")
    [ "$got" = "$want" ] || fail "$1: got
$got
want
$want"
    [ "$(cat "$T/err")" = "$2" ] || fail "$1: stderr '$(cat "$T/err")', want '$2'"
}
far="0x4006af:0 func:0x4006af"
expect so "" "fuzz/seed_obj.c:13 func:seed_alloc" "$C/so+$far"
expect stripped "" "$C/stripped+0x$IN:0 func:seed_alloc+0x5" "$C/stripped+$far"
expect so-debug-info-garbage "" "$C/so-debug-info-garbage+0x$IN:0 func:seed_alloc+0x5" \
    "$C/so-debug-info-garbage+$far"
# truncated: no section headers; an address past the end was named after
# the nearest dynamic symbol (__stop_alloc_tags+0x3fe5ef)
expect so-half "" "$C/so-half+0x$IN:0 func:seed_alloc+0x5" "$C/so-half+$far"
expect so-ehdr-only \
    "alloctag: $C/so-ehdr-only: cannot read: invalid data; its frames are shown as object+offset" \
    "$C/so-ehdr-only+0x$IN:0 func:0x$IN" "$C/so-ehdr-only+$far"
# found by fuzz_symbolize: a DWARF name made empty gave "func:" with no name
expect regress-empty-dwarf-name "" "/:13 func:seed_alloc" "$C/regress-empty-dwarf-name+$far"
expect exe "" "$C/exe+0x$IN:0 func:0x$IN" "$C/exe+0x4006af:0 func:seed_alloc+0x1"
echo "symbolizer on corrupt objects: 7 objects, exact names and fallbacks"
