#!/usr/bin/env bash
# Cost of dynamic tags in the preload library: the plain workloads (no
# alloctag header: every malloc is tagged by its caller's address, one
# dynamic tag per call site) under LD_PRELOAD=liballoctag-preload.so with
# ALLOCTAG=never (no store, no lookup), 0 (store, profiling off: no lookup),
# 1,compressed and 1,uncompressed (a table lookup per allocation, charged).
# Prints median ops/s, its ratio to never's, and the median of the per-round
# ratios to never ("paired"); the modes take turns within each round, the
# starting one rotating.
# usage: bench/malloc/preload.sh /path/to/build   (REPS=5, WORKLOADS=...)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: preload.sh BUILD_DIR}" && pwd)
PRE=$BUILD/liballoctag-preload.so
[ -f "$PRE" ] || { echo "preload.sh: no $PRE (build first)" >&2; exit 1; }
REPS=${REPS:-5}
WORKLOADS=${WORKLOADS:-churn larson prodcons mixed}
MODES=(never 0 1,compressed 1,uncompressed)
OUT=$BUILD/bench-preload
mkdir -p "$OUT"
for w in $WORKLOADS; do
    gcc -std=gnu11 -Wall -Wextra -O2 -pthread -o "$OUT/$w" "$HERE/$w.c"
done
for w in $WORKLOADS; do
    for mode in "${MODES[@]}"; do : >"$OUT/$w.$mode"; done
    for ((r = 0; r < REPS; r++)); do
        for ((k = 0; k < ${#MODES[@]}; k++)); do
            mode=${MODES[$(((k + r) % ${#MODES[@]}))]}
            ALLOCTAG=$mode LD_PRELOAD=$PRE "$OUT/$w" |
                sed -E 's/.*ops_per_sec=([0-9]+) peak_rss_kb=([0-9]+)/\1 \2/' >>"$OUT/$w.$mode"
        done
    done
done
echo "plain workloads under LD_PRELOAD=$PRE, median of $REPS runs"
echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
printf '%-10s %-16s %14s %10s %8s %12s\n' workload ALLOCTAG ops/s "x never" paired peak_rss_kb
for w in $WORKLOADS; do
    base=
    for mode in "${MODES[@]}"; do
        read -r med rss < <(sort -n "$OUT/$w.$mode" | awk '{a[NR]=$1; if ($2>m) m=$2} END {print a[int((NR+1)/2)], m}')
        [ -n "$base" ] || base=$med
        pr=$(paste "$OUT/$w.$mode" "$OUT/$w.never" | awk '{ print $1 / $3 }' | sort -n |
            awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
        awk -v w="$w" -v m="$mode" -v o="$med" -v b="$base" -v r="$rss" -v pr="$pr" \
            'BEGIN { printf "%-10s %-16s %14d %10.3f %8.3f %12d\n", w, m, o, o / b, pr, r }'
    done
done
# The tags the last run made: one line per call site of the workload.
ALLOCTAG_ALLOCINFO=- LD_PRELOAD=$PRE "$OUT/churn" 2>&1 >/dev/null | grep -c '+0x' |
    sed 's/^/dynamic tags made by one churn run: /'
