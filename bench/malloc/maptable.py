#!/usr/bin/env python3
"""Every mapping of a small process and the page-table pages it costs.

    maptable.py SPAWN start|fork name=[lib][:ENV=VAL...] ...
    maptable.py --runs N SPAWN start|fork name=[lib][:ENV=VAL...] ...
    maptable.py --regions SPAWN start|fork name=[lib][:ENV=VAL...] ...

For each configuration, starts `SPAWN --stop start` (a process that never
allocates, as /bin/true) or `SPAWN --stop fork` (spawn.c's fork-loop
parent, holding its 2000 blocks) with that LD_PRELOAD and environment,
waits until it stops itself, and prints each of its mappings
(/proc/PID/maps and smaps): address range, size, protection, `nr` for
MAP_NORESERVE, resident KiB, name, and the page-table pages it adds: the
2 MiB regions (page-table pages), 1 GiB regions (page-middle-directory
pages) and 512 GiB regions (page-upper-directory pages) that hold a page
of it present (pagemap), counting each region once, at the first mapping
that touches it.  A fork copies every mapping and every one of those
pages.  The last line per configuration: mappings, the pages by level,
their KiB against the kernel's VmPTE (which counts the same three levels).
With --runs N: N rounds, the configurations taking turns, and only one
line per configuration: the mappings seen, the page-table KiB (median,
range) and the mean pages per level (where ASLR puts the libraries, the
stack and the reservations decides which regions they share).
With --regions: under each mapping, the 2 MiB regions it holds present
pages in, as offsets from the mapping's start, with their present KiB
(what each page-table page of the mapping holds).
"""
import os, signal, statistics, subprocess, sys

LEVELS = ((21, 'pte'), (30, 'pmd'), (39, 'pud'))
TOUCHED = bytes(1 if b & 0xC0 else 0 for b in range(256))  # present or swapped


def present_pages(pid, lo, hi):
    """Page numbers of [lo, hi) present or swapped, from pagemap's top bits."""
    out = []
    with open('/proc/%d/pagemap' % pid, 'rb', buffering=0) as f:
        step = 1 << 18  # pages per read: 1 GiB of address space, 2 MiB of entries
        for first in range(lo >> 12, hi >> 12, step):
            n = min(step, (hi >> 12) - first)
            f.seek(first * 8)
            top = f.read(n * 8)[7::8].translate(TOUCHED)
            i = top.find(1)
            while i >= 0:
                out.append(first + i)
                i = top.find(1, i + 1)
    return out


def mappings(pid):
    maps, cur = [], None
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            head = line.split()
            if '-' in head[0] and len(head) >= 5 and not head[0].endswith(':'):
                lo, hi = (int(x, 16) for x in head[0].split('-'))
                cur = {'lo': lo, 'hi': hi, 'prot': head[1], 'name': ' '.join(head[5:]),
                       'rss': 0, 'nr': False}
                maps.append(cur)
            elif head[0] == 'Rss:':
                cur['rss'] = int(head[1])
            elif head[0] == 'VmFlags:':
                cur['nr'] = 'nr' in head[1:]
    return maps


def status_kib(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return -1


def size(n):
    for unit, shift in (('G', 30), ('M', 20), ('K', 10)):
        if n >= 1 << shift:
            return '%.4g%s' % (n / (1 << shift), unit)
    return str(n)


def config_env(spec):
    """The environment of a configuration `[lib][:ENV=VAL...]` (spawn.c's)."""
    lib, *envs = spec.split(':')
    env = {'PATH': '/usr/bin:/bin'}
    if lib:
        env['LD_PRELOAD'] = lib
    for e in envs:
        k, v = e.split('=', 1)
        env[k] = v
    return env


def table(spawn, mode, name, spec, quiet=False, regions=False):
    p = subprocess.Popen([spawn, '--stop', mode], env=config_env(spec))
    _, st = os.waitpid(p.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(st):
        sys.exit('maptable: %s did not stop under %s' % (spawn, name))
    seen = {shift: set() for shift, _ in LEVELS}
    total = {shift: 0 for shift, _ in LEVELS}
    maps = mappings(p.pid)
    out = print if not quiet else (lambda *a: None)
    out('== %s (%s): %d mappings' % (name, mode, len(maps)))
    out('%-29s %7s %4s %2s %7s %-3s %-3s %-3s %s' %
        ('range', 'size', 'prot', 'nr', 'rss_kib', 'pte', 'pmd', 'pud', 'name'))
    for m in maps:
        pages = present_pages(p.pid, m['lo'], m['hi']) if m['rss'] or 'stack' in m['name'] else []
        new = {}
        for shift, _ in LEVELS:
            regions = {pg >> (shift - 12) for pg in pages} - seen[shift]
            seen[shift] |= regions
            new[shift] = len(regions)
            total[shift] += len(regions)
        out('%012x-%012x %7s %4s %2s %7d %3d %3d %3d %s' %
            (m['lo'], m['hi'], size(m['hi'] - m['lo']), m['prot'], 'nr' if m['nr'] else '',
             m['rss'], new[21], new[30], new[39], m['name']))
        if regions and pages:
            count = {}
            for pg in pages:
                count[pg >> 9] = count.get(pg >> 9, 0) + 1
            out('    2 MiB regions: ' + ', '.join(
                '+%s %dK' % (size(max(r << 21, m['lo']) - m['lo']) if (r << 21) > m['lo'] else '0',
                             4 * n) for r, n in sorted(count.items())))
    vmpte = status_kib(p.pid, 'VmPTE')
    os.kill(p.pid, signal.SIGCONT)
    p.wait()
    pages = sum(total.values())
    out('maptable config=%s mode=%s mappings=%d pte=%d pmd=%d pud=%d pt_kib=%d vmpte_kib=%d' %
        (name, mode, len(maps), total[21], total[30], total[39], pages * 4, vmpte))
    if pages * 4 != vmpte:
        sys.exit('maptable: %d KiB of page tables counted, the kernel says %d' % (pages * 4, vmpte))
    return len(maps), total[21], total[30], total[39]


def main():
    args = sys.argv[1:]
    runs = 0
    regions = args[:1] == ['--regions']
    if regions:
        args = args[1:]
    if args[:1] == ['--runs'] and len(args) > 1:
        runs = int(args[1])
        args = args[2:]
    if len(args) < 3 or args[1] not in ('start', 'fork') or runs < 0:
        sys.exit(__doc__)
    cfgs = [c.partition('=') for c in args[2:]]
    if not runs:
        for name, _, spec in cfgs:
            table(args[0], args[1], name, spec, regions=regions)
        return
    seen = {name: [] for name, _, _ in cfgs}
    for r in range(runs):
        for i in range(len(cfgs)):
            name, _, spec = cfgs[(i + r) % len(cfgs)]
            seen[name].append(table(args[0], args[1], name, spec, quiet=True))
    for name, _, _ in cfgs:
        v = seen[name]
        kib = sorted(4 * (m[1] + m[2] + m[3]) for m in v)
        print('maptable config=%s mode=%s runs=%d mappings=%s pt_kib_median=%g pt_kib_range=%d-%d '
              'pte_mean=%.2f pmd_mean=%.2f pud_mean=%.2f' %
              (name, args[1], runs, ','.join(str(x) for x in sorted({m[0] for m in v})),
               statistics.median(kib), kib[0], kib[-1], statistics.mean(m[1] for m in v),
               statistics.mean(m[2] for m in v), statistics.mean(m[3] for m in v)))


if __name__ == '__main__':
    main()
