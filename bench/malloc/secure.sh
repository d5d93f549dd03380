#!/usr/bin/env bash
# The cost of each level of ALLOCTAG_SECURE (the stricter heap; 1: blocks
# from 128 KiB between guard pages, small objects' canaries and neighbour
# checks; 2: also small objects' poison and quarantine): the malloc
# workloads, unmodified, under liballoctag-preload.so with the default
# settings, with ALLOCTAG_SECURE=1 and with ALLOCTAG_SECURE=2, and under
# glibc.  Prints the
# median ops/s, its ratio to the default mode's median, the median of the
# per-round ratios to the default run of the same round ("paired"), and the
# largest peak RSS.
# usage: bench/malloc/secure.sh /path/to/build   (REPS=5, WORKLOADS=...)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: secure.sh BUILD_DIR}" && pwd)
PRE=$BUILD/liballoctag-preload.so
REPS=${REPS:-5}
WORKLOADS=${WORKLOADS:-churn larson prodcons mixed}
OUT=$BUILD/bench-secure
mkdir -p "$OUT"
for w in $WORKLOADS; do
    gcc -std=gnu11 -O2 -pthread -o "$OUT/$w" "$HERE/$w.c"
done
MODES=(default secure1 secure2 glibc)
run() { # mode workload
    case $1 in
    default) LD_PRELOAD=$PRE "$OUT/$2" ;;
    secure1 | secure2) ALLOCTAG_SECURE=${1#secure} LD_PRELOAD=$PRE "$OUT/$2" ;;
    glibc) "$OUT/$2" ;;
    esac
}
echo "ALLOCTAG_SECURE=1 and =2 against the default mode (preload library), median of $REPS runs; modes take turns"
printf '%-10s %-8s %14s %11s %8s %12s\n' workload mode ops/s "x default" paired peak_rss_kb
for w in $WORKLOADS; do
    for mode in "${MODES[@]}"; do : >"$OUT/$w.$mode"; done
    for ((r = 0; r < REPS; r++)); do
        for ((k = 0; k < ${#MODES[@]}; k++)); do
            mode=${MODES[$(((k + r) % ${#MODES[@]}))]}
            run "$mode" "$w" | sed -E 's/.*ops_per_sec=([0-9]+) peak_rss_kb=([0-9]+)/\1 \2/' >>"$OUT/$w.$mode"
        done
    done
    base=
    for mode in "${MODES[@]}"; do
        read -r med rss < <(sort -n "$OUT/$w.$mode" | awk '{a[NR]=$1; if ($2>m) m=$2} END {print a[int((NR+1)/2)], m}')
        [ -n "$base" ] || base=$med
        pr=$(paste "$OUT/$w.$mode" "$OUT/$w.default" | awk '{ print $1 / $3 }' | sort -n |
            awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
        awk -v w="$w" -v m="$mode" -v o="$med" -v b="$base" -v r="$rss" -v pr="$pr" \
            'BEGIN { printf "%-10s %-8s %14d %11.3f %8.3f %12d\n", w, m, o, o / b, pr, r }'
    done
done
