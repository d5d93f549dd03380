#!/usr/bin/env bash
# Instructions per operation of every workload under each allocator, counted
# by valgrind's callgrind: a figure the machine's load cannot move (wall
# time on a shared 2-core host moves by 2x between runs; there are no
# hardware counters to read).  Instructions are not time (cache misses,
# page faults, lock waits and the cores' parallelism do not show), so this
# complements run.sh, it does not replace it.
#
#   bench/malloc/callgrind.sh PRELOAD_LIB
#
# Each workload runs once per configuration with a reduced count
# (callgrind runs threads one at a time, about 50x slower); printed per
# workload: instructions per op (the workload's own included: the same for
# every allocator) and the ratio to mimalloc's.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PRE=${1:?usage: callgrind.sh PRELOAD_LIB}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
so_of() { dpkg -L "$1" 2>/dev/null | grep -E "/$2\.so\.[0-9]+$" | head -n1 || true; }
NAMES=(mimalloc glibc alloctag alloctag-depth1 alloctag-never)
LIBS=("$(so_of libmimalloc2.0 libmimalloc)" "" "$PRE" "$PRE" "$PRE")
ENVS=("" "" "" "ALLOCTAG_DEPTH=1" "ALLOCTAG=never")
for spec in "jemalloc libjemalloc2 libjemalloc" "tcmalloc libtcmalloc-minimal4 libtcmalloc_minimal"; do
    set -- $spec
    so=$(so_of "$2" "$3")
    [ -z "$so" ] || { NAMES+=("$1"); LIBS+=("$so"); ENVS+=(""); }
done
[ -n "${LIBS[0]}" ] || { echo "callgrind.sh: mimalloc (libmimalloc2.0) is needed as the reference" >&2; exit 1; }

# workload, arguments, operations they make
RUNS="churn 1 400000 400000
larson 2 200000 399360
prodcons 2 200000 200000
mixed 2 4000 8000
shbench 2 40 160000
gmthread 1 200000 200000
gmthread 2 100000 200000
realloc 1 100000 100000
bigblocks 1 4000 4000
espresso 1 20 20"

for w in $(echo "$RUNS" | cut -d' ' -f1 | sort -u); do
    gcc -std=gnu11 -O2 -pthread -o "$W/$w" "$HERE/$w.c" -lm
done
echo "callgrind: instructions per op (workload's own included), ratio to mimalloc"
echo "$RUNS" | while read -r w t n ops; do
    line="$(printf '%-10s threads=%s' "$w" "$t")"
    ref=0
    for i in "${!NAMES[@]}"; do
        cmd=(env -u LD_PRELOAD)
        [ -z "${LIBS[$i]}" ] || cmd+=("LD_PRELOAD=${LIBS[$i]}")
        [ -z "${ENVS[$i]}" ] || cmd+=("${ENVS[$i]}")
        ir=$("${cmd[@]}" valgrind --tool=callgrind --callgrind-out-file="$W/out" "$W/$w" "$t" "$n" 2>&1 >/dev/null |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        [ -n "$ir" ] || { echo "callgrind.sh: $w under ${NAMES[$i]} failed" >&2; exit 1; }
        per=$((ir / ops))
        [ "$i" -ne 0 ] || ref=$per
        line="$line $(printf '%s=%d(%.2f)' "${NAMES[$i]}" "$per" "$(echo "$per / $ref" | bc -l)")"
    done
    echo "$line"
done
