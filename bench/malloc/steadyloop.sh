#!/usr/bin/env bash
# A wrapper-heavy program's steady loop under callgrind: bash running a
# loop with no fork (every malloc of bash's through its xmalloc, at a few
# stack depths), at two iteration counts N1 and N2; printed per
# configuration, the difference of the two runs over N2 - N1: instructions
# per iteration (the whole process: bash's own work included), mallocs per
# iteration and call-chain walks per iteration (calls of at_chain_walk: a
# memo miss), so that start-up and exit cancel out.
#
#   bench/malloc/steadyloop.sh LIB [LIB...]     (N1=20 N2=40 by default)
#
# Configurations: glibc (no preload), then each LIB at the default
# ALLOCTAG and with ALLOCTAG=never.
set -eu
[ $# -ge 1 ] || { echo "usage: steadyloop.sh LIB [LIB...]" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "steadyloop.sh: valgrind is needed" >&2; exit 1; }
N1=${N1:-20} N2=${N2:-40}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
LOOP='i=0; while [ $i -lt $0 ]; do x=$(( i * 2 )); y="a$x"; unset y; i=$((i+1)); done'
# total instructions, calls of malloc, calls of at_chain_walk in a callgrind output
count() {
    python3 - "$1" <<'PY'
import re, sys
names, fn, calls, total = {}, None, {"malloc": 0, "at_chain_walk": 0}, 0
cfn = None
for line in open(sys.argv[1]):
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        if m.group(1) == "cfn":
            cfn = names.get(m.group(2))
        continue
    if line.startswith("calls=") and cfn in calls:
        calls[cfn] += int(line.split()[0][6:])
    elif line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
print(total, calls["malloc"], calls["at_chain_walk"])
PY
}
FORKLOOP='i=0; while [ $i -lt $0 ]; do x=$(echo $i); i=$((i+1)); done'
# the parent's output of a run whose outputs are $1.PID
parent() { ls "$1".* | sort -t. -k2 -n | head -n1; }
run() { # label, env...
    local label=$1; shift
    local a b
    rm -f "$W"/a* "$W"/b*
    env "$@" valgrind --tool=callgrind --callgrind-out-file="$W/a.%p" bash -c "$LOOP" "$N1" 2>/dev/null
    env "$@" valgrind --tool=callgrind --callgrind-out-file="$W/b.%p" bash -c "$LOOP" "$N2" 2>/dev/null
    read -r ia ma wa < <(count "$(parent "$W/a")")
    read -r ib mb wb < <(count "$(parent "$W/b")")
    local d=$((N2 - N1))
    printf '%-40s instr/iter %7d  mallocs/iter %5.1f  walks/iter %5.2f\n' "$label" \
        $(((ib - ia) / d)) "$(echo "($mb - $ma) / $d" | bc -l)" "$(echo "($wb - $wa) / $d" | bc -l)"
}
table() {
    run glibc -u LD_PRELOAD
    for lib in "$@"; do
        run "$lib" LD_PRELOAD="$lib"
        run "$lib never" LD_PRELOAD="$lib" ALLOCTAG=never
    done
}
echo "bash loop, callgrind, (N=$N2 minus N=$N1) / $((N2 - N1)) iterations"
table "$@"
LOOP=$FORKLOOP
echo "bash fork loop, the parent alone, callgrind, (N=$N2 minus N=$N1) / $((N2 - N1)) iterations"
table "$@"
