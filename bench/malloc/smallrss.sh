#!/usr/bin/env bash
# The fixed cost in memory of a program that allocates almost nothing:
# peak RSS (the kernel's ru_maxrss: anonymous and file pages mapped) and
# minor page faults of small Debian programs under each allocator.
#
#   bench/malloc/smallrss.sh PRELOAD_LIB [ROUNDS]
#
# Programs: /bin/true, cat /etc/passwd, sort /etc/services, git --version,
# /usr/bin/python3 -c pass, /usr/bin/python3 starting and joining a thread
# (the interpreter itself, not a wrapper found in PATH).
# Configurations: glibc (no preload), alloctag (PRELOAD_LIB, default
# ALLOCTAG), never (ALLOCTAG=never), mimalloc (Debian's libmimalloc2.0,
# skipped if absent).  Each round runs every program under every
# configuration, the configurations' order rotated each round.  Printed per
# program: the median over rounds of each configuration's peak RSS (KiB) and
# faults, then the medians of each round's difference alloctag - glibc (KiB)
# and ratio alloctag / never.
# BEFORE=LIB adds LIB (another build of the preload library) in both modes,
# as `before` and `before-never`, to the same rounds, and a second table:
# each configuration's median per-round difference to glibc (KiB).
. "$(dirname "$0")/prelude.sh" smallrss.sh 5 "$@"

NAMES=(glibc alloctag never)
LIBS=("" "$PRE" "$PRE")
ENVS=("" "" "ALLOCTAG=never")
MI=$(so_of libmimalloc2.0 libmimalloc)
[ -z "$MI" ] || { NAMES+=(mimalloc); LIBS+=("$MI"); ENVS+=(""); }
[ -z "${BEFORE:-}" ] || { NAMES+=(before before-never); LIBS+=("$BEFORE" "$BEFORE"); ENVS+=("" "ALLOCTAG=never"); }

. "$HERE/smallprogs.sh"
each_run "$W/measure" maxrss_kb minflt

python3 - "$W/data" "$SMALL_PROGS" "${NAMES[@]}" <<'EOF'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
progs = sys.argv[2].split("|")
names = sys.argv[3:]
d = {}
for p, n, r, rss, flt in rows:
    d[(int(p), n, int(r))] = (int(rss), int(flt))
rounds = sorted({k[2] for k in d})
print("program | " + " | ".join(f"{n} KiB (faults)" for n in names) +
      " | alloctag - glibc KiB | alloctag / never")
for p, name in enumerate(progs):
    cells = []
    for n in names:
        v = [d[(p, n, r)] for r in rounds]
        cells.append("%d (%d)" % (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)))
    diff = statistics.median(d[(p, "alloctag", r)][0] - d[(p, "glibc", r)][0] for r in rounds)
    ratio = statistics.median(d[(p, "alloctag", r)][0] / d[(p, "never", r)][0] for r in rounds)
    print(f"{name} | " + " | ".join(cells) + f" | {diff:+.0f} | {ratio:.3f}")
if "before" in names:
    others = [n for n in names if n != "glibc"]
    print("\nprogram | " + " | ".join(f"{n} - glibc KiB" for n in others))
    for p, name in enumerate(progs):
        print(f"{name} | " + " | ".join("%+.0f" % statistics.median(
            d[(p, n, r)][0] - d[(p, "glibc", r)][0] for r in rounds) for n in others))
EOF
