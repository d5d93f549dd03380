#!/usr/bin/env python3
"""The CPU time of a fork, exactly: the scheduler's task clock, paired.

    forkclock.py SPAWN rounds forks name=[lib][:ENV=VAL...] ...
    forkclock.py --sh rounds forks name=[lib][:ENV=VAL...] ...

Each round runs `perf stat -e task-clock,page-faults SPAWN --forkloop
forks` (spawn.c's fork loop: the process, its forks and their children,
its own start included) once per configuration, the first configuration
rotating, with that LD_PRELOAD and environment.  One line per
configuration: the median microseconds per fork and their range, the
median of each round's ratio to the first configuration and to the
second (on a shared, noisy machine, ratios within a round move less than
the figures), and the page faults per fork (parent and child; the same
in every round but for the loop's start, which is spread over it).
With --sh the loop is a shell's instead: Debian's bash running `forks`
command substitutions, `x=$(echo $i)` (a fork each: the child, a subshell,
runs code its parent's loop does not, and exits), the shell's start spread
over them.
"""
import statistics, subprocess, sys

from maptable import config_env
from paired import median_ratio, paired_rounds


SH_LOOP = 'i=0; while [ $i -lt $0 ]; do x=$(echo $i); i=$((i+1)); done'


def once(spawn, forks, spec):
    cmd = ['bash', '-c', SH_LOOP, str(forks)] if spawn == '--sh' else [spawn, '--forkloop', str(forks)]
    r = subprocess.run(['perf', 'stat', '-x,', '-e', 'task-clock,page-faults'] + cmd,
                       env=config_env(spec), capture_output=True, text=True)
    if r.returncode:
        sys.exit('forkclock: the fork loop failed under %s: %s' % (spec, r.stderr.strip()))
    got = {}
    for line in r.stderr.splitlines():
        f = line.split(',')
        if len(f) > 2 and f[2] in ('task-clock', 'page-faults'):
            got[f[2]] = float(f[0])
    if len(got) < 2:
        sys.exit('forkclock: no task-clock or page-faults from perf under %s' % spec)
    return got['task-clock'] * 1000 / forks, got['page-faults'] / forks  # ms -> us per fork


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    spawn, rounds, forks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cfgs = [c.partition('=') for c in sys.argv[4:]]
    specs = {name: spec for name, _, spec in cfgs}
    got = paired_rounds(rounds, list(specs), lambda name: once(spawn, forks, specs[name]))
    us = {name: [u for u, _ in v] for name, v in got.items()}
    first, second = cfgs[0][0], cfgs[min(1, len(cfgs) - 1)][0]
    for name in specs:
        v = us[name]
        print('forkclock config=%s rounds=%d us_per_fork=%.1f range=%.1f-%.1f vs_%s=%.3f vs_%s=%.3f '
              'faults_per_fork=%.1f' %
              (name, rounds, statistics.median(v), min(v), max(v), first,
               median_ratio(v, us[first]), second, median_ratio(v, us[second]),
               statistics.median(f for _, f in got[name])))


if __name__ == '__main__':
    main()
