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
# the inclusive instructions of dladdr, the symbol index (at_symtab_read),
# the layer objects' dynamic-symbol index (at_dynsym_*), naming a frame
# (frame_make), rule building (rule_miss), chain insert (create), and the
# sites pool's mmap (at_sites_pool_alloc).
set -eu
PRE=${1:?usage: firstchains.sh PRELOAD_LIB [OTHER_LIB]}
OTHER=${2:-}
command -v valgrind >/dev/null || { echo "firstchains.sh: valgrind is needed" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PROGS=("sqlite3 -version" "bash -c true" "python3 -c pass" "git --version")
CONFS=(glibc never default)
[ -z "$OTHER" ] || CONFS+=(other)
PARTS="dladdr at_symtab_read at_dynsym_index at_dynsym_find frame_make rule_miss create at_sites_pool_alloc"
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
                v=$(awk -v f="$p" '$2 ~ /^\(/ { n=$3; sub(/^.*:/,"",n); sub(/@.*/,"",n); sub(/'"'"'[0-9]+$/,"",n); if (n==f) { gsub(",","",$1); if ($1+0 > s) s=$1+0 } } END { print s+0 }' $W/ann)
                line="$line $p=$v"
            done
        fi
        echo "$line"
    done
done
