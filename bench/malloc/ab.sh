#!/usr/bin/env bash
# Round-robin A/B of named commands that print "... ops_per_sec=N ...":
# every round runs each command once, the starting one rotating, so that a
# shared machine's slow and fast phases hit all of them alike; prints each
# command's median and best ops/s and their ratios to the first command's,
# and the median of the per-round ratios (each round's run against the same
# round's run of the first command): the figure that survives a machine whose
# speed shifts between phases, as a pair of runs shares its phase.
# usage: bench/malloc/ab.sh REPS name1 'command 1' name2 'command 2' ...
# e.g.   P=build/liballoctag-preload.so
#        bench/malloc/ab.sh 21 mimalloc "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 bench/malloc/build/churn" \
#            never "ALLOCTAG=never LD_PRELOAD=$P bench/malloc/build/churn"
set -eu
[ $# -ge 3 ] && [ $(($# % 2)) -eq 1 ] || { echo "usage: $0 REPS name 'command' [name 'command' ...]" >&2; exit 2; }
REPS=$1
shift
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: REPS must be a positive integer" >&2; exit 2; }
names=() cmds=()
while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
n=${#names[@]}
declare -A res
declare -A rounds # name,round -> ops/s
for ((r = 0; r < REPS; r++)); do
    for ((k = 0; k < n; k++)); do
        i=$(((k + r) % n))
        out=$(eval "${cmds[$i]}") || { echo "ab.sh: '${names[$i]}' failed" >&2; exit 1; }
        v=$(sed -nE 's/.*ops_per_sec=([0-9]+).*/\1/p' <<<"$out" | tail -n1)
        [ -n "$v" ] || { echo "ab.sh: '${names[$i]}' printed no ops_per_sec" >&2; exit 1; }
        res[${names[$i]}]+="$v "
        rounds[${names[$i]},$r]=$v
    done
done
echo "round robin of $n commands, $REPS rounds; ratios to ${names[0]}"
base= bbest=
for name in "${names[@]}"; do
    read -r med best < <(tr ' ' '\n' <<<"${res[$name]}" | grep . | sort -n |
        awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)], a[NR]}')
    [ -n "$base" ] || { base=$med; bbest=$best; }
    awk -v n="$name" -v m="$med" -v b="$base" -v x="$best" -v bx="$bbest" \
        'BEGIN { printf "%-22s median %12d %6.3f   best %12d %6.3f", n, m, m / b, x, x / bx }'
    pr=$(for ((r = 0; r < REPS; r++)); do
        awk -v a="${rounds[$name,$r]}" -v b="${rounds[${names[0]},$r]}" 'BEGIN { printf "%.4f\n", a / b }'
    done | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    echo "   paired $pr"
done
