#!/usr/bin/env bash
# What a program's first call chains cost at start: callgrind instruction
# counts (load-insensitive) of short real programs under glibc, the preload
# library with ALLOCTAG=never and at its default (call chains, depth 8),
# and where the default's extra instructions go (inclusive counts of the
# slow path's parts).
#
#   bench/malloc/firstchains.sh PRELOAD_LIB [OTHER_LIB]
#
# OTHER_LIB (optional): another build of the preload library measured in the
# same run (e.g. the one before a change).  One line per program and
# configuration: total instructions, then for the call-chain configurations
# the inclusive instructions of dladdr, the symbol index of an object's
# file (at_symtab_read), the layer objects' dynamic-symbol index
# (at_dynsym_index), wrapper matching (match_list, the scan of the
# pattern lists, in builds before the index by first byte; at_is_wrapper
# since), naming a frame in all
# (frame_make), building an address's unwind rule (rule_miss), and making a
# chain in all (create: frames named, chain inserted).
set -eu
PRE=${1:?usage: firstchains.sh PRELOAD_LIB [OTHER_LIB]}
OTHER=${2:-}
command -v valgrind >/dev/null || { echo "firstchains.sh: valgrind is needed" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PROGS=("/usr/bin/sqlite3 -version" "/usr/bin/bash -c true" "/usr/bin/python3 -c pass" "/usr/bin/git --version")
CONFS=(glibc never default)
[ -z "$OTHER" ] || CONFS+=(other)
PARTS="dladdr at_symtab_read at_dynsym_index match_list at_is_wrapper frame_make rule_miss create"
for prog in "${PROGS[@]}"; do
    for conf in "${CONFS[@]}"; do
        out=$W/cg.out
        case $conf in
        glibc) env valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out $prog >/dev/null 2>&1 ;;
        never) env ALLOCTAG=never LD_PRELOAD=$PRE valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out $prog >/dev/null 2>&1 ;;
        default) env LD_PRELOAD=$PRE valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out $prog >/dev/null 2>&1 ;;
        other) env LD_PRELOAD=$OTHER valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out $prog >/dev/null 2>&1 ;;
        esac
        callgrind_annotate --inclusive=yes --threshold=100 $out > $W/ann 2>/dev/null
        total=$(awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}' $W/ann)
        line="firstchains prog=\"$prog\" conf=$conf instr=$total"
        if [ "$conf" = default ] || [ "$conf" = other ]; then
            for p in $PARTS; do
                v=$(awk -v f="$p" 'match($0, /%\) +/) { n = substr($0, RSTART + RLENGTH); sub(/ \[.*$/, "", n); sub(/^.*:/, "", n); sub(/@.*/, "", n); sub(/'"'"'[0-9]+$/, "", n); if (n == f) { x = $1; gsub(",", "", x); if (x + 0 > s) s = x + 0 } } END { print s + 0 }' $W/ann)
                line="$line $p=$v"
            done
        fi
        echo "$line"
    done
done
