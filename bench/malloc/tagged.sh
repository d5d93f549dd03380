#!/usr/bin/env bash
# Profiling cost with real call-site tags: the same workloads compiled with
# -include alloctag/override.h (every malloc/free is a tagged alloctag call)
# and linked with liballoctag.so, run under ALLOCTAG=never, 1,compressed and
# 1,uncompressed.  Prints median ops/s, its ratio to never's median, and the
# median of the per-round ratios to never ("paired": each round's run
# against never's run of the same round; the figure that survives the
# host's phases) per workload.
# usage: bench/malloc/tagged.sh /path/to/build   (REPS=5, WORKLOADS=...,
#        ARGS_<workload>="threads iterations", e.g. ARGS_prodcons="2 20000000")
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: tagged.sh BUILD_DIR}" && pwd)
REPS=${REPS:-5}
WORKLOADS=${WORKLOADS:-churn larson prodcons mixed}
OUT=$BUILD/bench-tagged
mkdir -p "$OUT"
for w in $WORKLOADS; do
    gcc -std=gnu11 -O2 -pthread -include alloctag/override.h -I"$ROOT/include" \
        -o "$OUT/$w" "$HERE/$w.c" -L"$BUILD" -lalloctag -Wl,-rpath,"$BUILD"
done
MODES=(never 1,compressed 1,uncompressed)
echo "tagged workloads (-include alloctag/override.h, liballoctag.so), median of $REPS runs"
echo "modes take turns within each round (start rotated), so drift on a shared machine hits all alike"
printf '%-10s %-16s %14s %10s %8s %12s\n' workload ALLOCTAG ops/s "x never" paired peak_rss_kb
for w in $WORKLOADS; do
    for mode in "${MODES[@]}"; do : >"$OUT/$w.$mode"; done
    for ((r = 0; r < REPS; r++)); do
        for ((k = 0; k < ${#MODES[@]}; k++)); do
            mode=${MODES[$(((k + r) % ${#MODES[@]}))]}
            args_var="ARGS_$w"
            # shellcheck disable=SC2086
            ALLOCTAG=$mode "$OUT/$w" ${!args_var:-} | sed -E 's/.*ops_per_sec=([0-9]+) peak_rss_kb=([0-9]+)/\1 \2/' >>"$OUT/$w.$mode"
        done
    done
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
