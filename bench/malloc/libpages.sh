#!/usr/bin/env bash
# Which pages of the preload library's own file a small program has
# resident when it exits: its text, read-only data and .eh_frame (three
# r-xp mappings, -z noseparate-code, src/preload/text_order.ld) and its
# file-backed data.  A read fault on a file page maps the whole 64 KiB
# window around it that is in the page cache, within its mapping
# (fault-around), so the figure is set by how the functions a
# program runs are spread over the file, and it moves with the mapping's
# address (ASLR places the windows' edges anywhere in the file).
#
#   bench/malloc/libpages.sh PRELOAD_LIB [ROUNDS]
#
# Programs: smallrss.sh's (smallprogs.sh: /bin/true, cat, sort, git
# --version, python3 with and without a thread), then git status in a
# small repository (5 files, one changed), then bash running a command
# and a builtin (/bin/bash -c '/bin/true; exit 0': one fork, the parent's
# fork handlers; dash's vfork runs none, and a last command is exec'd).
# Configurations: alloctag (PRELOAD_LIB, default ALLOCTAG) and never
# (ALLOCTAG=never); BEFORE=LIB adds LIB (another build of the library,
# the same file name) in both modes as before and before-never.  Each
# round runs every program under every configuration, the order rotated
# each round.  Measured by libpages.c (ptrace's exit stop, pagemap's
# present bits).  Printed per program: the median over rounds of each
# configuration's resident text KiB (file data KiB), and with BEFORE the
# medians of per-round differences alloctag - before and never -
# before-never; then per configuration the file's r-xp pages, each as
# the share of all runs (every program, every round) that had it resident
# (0-9, tenths; '*' every run; '.' none).
. "$(dirname "$0")/prelude.sh" libpages.sh 5 "$@"
gcc -O2 -o "$W/libpages" "$HERE/libpages.c"
NAME=$(basename "$PRE")

NAMES=(alloctag never)
LIBS=("$PRE" "$PRE")
ENVS=("" "ALLOCTAG=never")
[ -z "${BEFORE:-}" ] || { NAMES+=(before before-never); LIBS+=("$BEFORE" "$BEFORE"); ENVS+=("" "ALLOCTAG=never"); }

REPO=$W/repo
git init -q "$REPO"
for i in 1 2 3 4 5; do echo "$i" >"$REPO/f$i"; done
git -C "$REPO" add .
git -C "$REPO" -c user.email=b@example.org -c user.name=bench commit -qm files
echo changed >"$REPO/f1"

. "$HERE/smallprogs.sh"
NPROGS=8
prog() {
    case $1 in
    6) cmd=(git -C "$REPO" status) ;;
    7) cmd=(/bin/bash -c '/bin/true; exit 0') ;;
    *) small_prog "$1" ;;
    esac
}
each_run "$W/libpages $NAME" text_kib data_kib rx

python3 - "$W/data" "$SMALL_PROGS|git status|bash, one fork" "${NAMES[@]}" <<'EOF'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
progs = sys.argv[2].split("|")
names = sys.argv[3:]
d = {}
for p, n, r, t, dk, rx in rows:
    d[(int(p), n, int(r))] = (int(t), int(dk), [] if rx == "-" else [int(x) for x in rx.split(",")])
rounds = sorted({k[2] for k in d})
med = lambda xs: statistics.median(xs)
pairs = [("alloctag", "before"), ("never", "before-never")] if "before" in names else []
print("program | " + " | ".join(f"{n} text KiB (data)" for n in names) +
      "".join(f" | {a} - {b} KiB" for a, b in pairs))
for p, name in enumerate(progs):
    cells = ["%d (%d)" % (med(d[(p, n, r)][0] for r in rounds), med(d[(p, n, r)][1] for r in rounds))
             for n in names]
    diffs = ["%+.0f" % med(d[(p, a, r)][0] - d[(p, b, r)][0] for r in rounds) for a, b in pairs]
    print(f"{name} | " + " | ".join(cells + diffs))
print("\nr-xp pages resident (share of runs, tenths; * all, . none), file page 0 first:")
for n in names:
    runs = [v[2] for k, v in d.items() if k[1] == n]
    top = max((max(x) for x in runs if x), default=-1) + 1
    share = [sum(pg in x for x in runs) / len(runs) for pg in range(top)]
    print("%-13s " % n + "".join("*" if s == 1 else "." if s == 0 else str(min(9, int(s * 10))) for s in share))
EOF
