#!/usr/bin/env python3
"""CPU time (user + system, from wait4's rusage) of named commands run in
turns, the starting one rotating each round: on a shared machine the CPU
a run uses moves less than its wall time.  Prints each command's median and
least CPU seconds, the median of its per-round ratios to the first
command's run in the same round (paired), and the ratio of the least.
usage: bench/malloc/cpupair.py ROUNDS name1 'command 1' name2 'command 2' ...
e.g.   bench/malloc/cpupair.py 31 before "exec env LD_PRELOAD=$O W" after "exec env LD_PRELOAD=$P W"
"""
import os, statistics, subprocess, sys

if len(sys.argv) < 4 or len(sys.argv) % 2:
    sys.exit(__doc__.split("\n")[-3])
reps = int(sys.argv[1])
names, cmds = sys.argv[2::2], sys.argv[3::2]
res = {n: [] for n in names}
for r in range(reps):
    for k in range(len(names)):
        i = (k + r) % len(names)
        p = subprocess.Popen(cmds[i], shell=True, stdout=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        if st:
            sys.exit(f"cpupair.py: '{names[i]}' failed")
        res[names[i]].append(ru.ru_utime + ru.ru_stime)
print(f"CPU seconds, {reps} rounds; ratios to {names[0]}")
for n in names:
    pr = [x / y for x, y in zip(res[n], res[names[0]])]
    print(f"{n:12s} median {statistics.median(res[n]):.4f}  least {min(res[n]):.4f}"
          f"  paired {statistics.median(pr):.4f}  least/least {min(res[n]) / min(res[names[0]]):.4f}")
