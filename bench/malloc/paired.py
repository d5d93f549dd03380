"""Paired rounds of a measurement over several configurations, for a
shared, noisy machine: in each round every configuration is measured once,
the first one measured rotating from round to round, so that the figures of
one round were taken under the same load and their ratios move less than
the figures themselves.  Used by forkclock.py and startcpu.py.
"""
import statistics


def paired_rounds(rounds, names, measure):
    """measure(name) once per configuration per round, in rotated order;
    {name: [its result in round 0, 1, ...]}."""
    got = {name: [None] * rounds for name in names}
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            got[name][r] = measure(name)
    return got


def median_ratio(values, reference):
    """The median of each round's ratio of values to reference."""
    return statistics.median(a / b for a, b in zip(values, reference))
