#!/usr/bin/env python3
"""The CPU time of a short program's whole run under each configuration,
paired (what its first call chains cost in time: system calls included,
which instruction counts leave out).

    startcpu.py ROUNDS REPS name=[lib][:ENV=VAL...] ... -- PROGRAM [ARGS...]

Each round runs PROGRAM REPS times under every configuration (that
LD_PRELOAD and environment, PATH=/usr/bin:/bin), the first configuration
rotating (paired.py), and takes the user + system time of the runs
(getrusage of the children) per run.  One line: the program, then per
configuration the median milliseconds a run and the median of each round's
ratio to the first configuration (on a shared, noisy machine the ratios
within a round move less than the figures).
"""
import os, resource, statistics, subprocess, sys

from maptable import config_env
from paired import median_ratio, paired_rounds


def main():
    args = sys.argv[1:]
    if '--' not in args or len(args) < 5:
        sys.exit(__doc__.strip().split('\n\n')[1])
    rounds, reps = int(args[0]), int(args[1])
    cut = args.index('--')
    confs = dict(a.split('=', 1) for a in args[2:cut])
    prog = args[cut + 1:]

    def cpu_per_run(name):
        env = config_env(confs[name])
        t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(reps):
            if subprocess.run(prog, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode:
                sys.exit('startcpu: %s failed under %s' % (' '.join(prog), name))
        t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (t1.ru_utime + t1.ru_stime - t0.ru_utime - t0.ru_stime) / reps

    per = paired_rounds(rounds, list(confs), cpu_per_run)
    first = next(iter(confs))
    print('startcpu prog="%s" rounds=%d reps=%d' % (' '.join(prog), rounds, reps) + ''.join(
        ' %s_ms=%.3f %s_vs_%s=%.3f' % (n, statistics.median(v) * 1e3, n, first,
                                       median_ratio(v, per[first]))
        for n, v in per.items()))


if __name__ == '__main__':
    main()
