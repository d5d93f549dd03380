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

NPROGS=6
prog() {
    case $1 in
    0) cmd=(/bin/true) ;;
    1) cmd=(cat /etc/passwd) ;;
    2) cmd=(sort /etc/services) ;;
    3) cmd=(git --version) ;;
    4) cmd=(/usr/bin/python3 -c pass) ;;
    5) cmd=(/usr/bin/python3 -c 'import threading; t = threading.Thread(target=print); t.start(); t.join()') ;;
    esac
}
N=${#NAMES[@]}
for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < N; k++)); do
        c=$(((k + r) % N))
        for ((p = 0; p < NPROGS; p++)); do
            prog $p
            line=$(env ${ENVS[$c]} ${LIBS[$c]:+LD_PRELOAD=${LIBS[$c]}} "$W/measure" "${cmd[@]}")
            case $line in *" rc=0"*) ;; *) echo "smallrss: ${cmd[*]} failed under ${NAMES[$c]}: $line" >&2; exit 1 ;; esac
            rss=${line#*maxrss_kb=}; rss=${rss%% *}
            flt=${line#*minflt=}; flt=${flt%% *}
            echo "$p ${NAMES[$c]} $r $rss $flt" >>"$W/data"
        done
    done
done

python3 - "$W/data" "${NAMES[@]}" <<'EOF'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
names = sys.argv[2:]
progs = ["/bin/true", "cat /etc/passwd", "sort /etc/services", "git --version",
         "python3 -c pass", "python3, one thread"]
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
