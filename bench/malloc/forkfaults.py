#!/usr/bin/env python3
"""Which pages a fork costs, fault by fault (load-insensitive).

    forkfaults.py SPAWN [forks] name=[lib][:ENV=VAL...] ...
    forkfaults.py --start PROGRAM name=[lib][:ENV=VAL...] ...
    forkfaults.py --sh [forks] name=[lib][:ENV=VAL...] ...

For each configuration, runs `SPAWN --forkloop forks` (spawn.c's fork loop)
under `perf record -d -e exceptions:page_fault_user` and prints every page
fault of one child (the middle one) and the parent's faults per fork
between the first and last quarter of the forks, each with its kind
(cow: a write to a page shared since the fork; write, read: a page not
present; exec: text, 64 KiB by fault-around), where (file and page, or an
anonymous mapping and page; our library's statics by name) and the
function that faulted.  With --start: every fault of PROGRAM (no
arguments) from its exec to its exit.  With --sh the fork loop is
forkclock.py's shell loop (bash running `forks` command substitutions,
`x=$(echo $i)`) and the child's faults are also counted by where, over
the middle half of the children.  Needs perf (root, or perf_event_paranoid <= 1).
"""
import bisect, collections, functools, os, re, subprocess, sys, tempfile


def kind(e):
    return 'exec' if e & 0x10 else 'cow' if e & 3 == 3 else 'write' if e & 2 else 'read'


class Trace:
    def __init__(self, data):
        out = subprocess.run(['perf', 'script', '-i', data, '--show-mmap-events',
                              '--show-task-events', '-F', 'pid,time,ip,trace'],
                             capture_output=True, text=True, check=True).stdout
        self.maps, self.paths, self.forks, self.execs = [], {}, [], {}
        self.faults = collections.defaultdict(list)
        for line in out.splitlines():
            if 'PERF_RECORD_MMAP' in line:
                m = re.search(r'\[0x([0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+|0)[^\]]*\]: \S+ (.*)$', line)
                if m:
                    lo, name = int(m.group(1), 16), m.group(4)
                    if name.startswith('//'):
                        name = ''
                    self.maps.append((lo, lo + int(m.group(2), 16), int(m.group(3), 16), name))
                    if name.startswith('/'):
                        self.paths[name] = 1
            elif 'PERF_RECORD_COMM exec' in line:
                m = re.search(r'([\d.]+): PERF_RECORD_COMM exec: \S+:(\d+)', line)
                if m:
                    self.execs[int(m.group(2))] = float(m.group(1))
            elif 'PERF_RECORD_FORK' in line:
                m = re.search(r'([\d.]+): PERF_RECORD_FORK\((\d+):', line)
                self.forks.append((float(m.group(1)), int(m.group(2))))
            else:
                m = re.match(r'\s*(\d+)\s+([\d.]+):\s+address=0x([0-9a-f]+) ip=0x([0-9a-f]+) error_code=0x([0-9a-f]+)', line)
                if m:
                    self.faults[int(m.group(1))].append(
                        (float(m.group(2)), int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16)))
        self.bases = {}
        for lo, hi, off, name in self.maps:  # the latest mapping of offset 0
            if off == 0 and name.startswith('/'):
                self.bases[name] = lo

    @functools.lru_cache(None)
    def where(self, a):
        best = None
        for lo, hi, off, name in self.maps:  # the latest mapping wins
            if lo <= a < hi:
                best = (lo, hi, off, name)
        return best

    @functools.lru_cache(None)
    def syms(self, path):
        t = []
        for l in subprocess.run(['nm', '-n', '-S', path], capture_output=True, text=True).stdout.splitlines():
            p = l.split()
            if len(p) == 4:
                t.append((int(p[0], 16), int(p[1], 16), p[3]))
        return t

    @functools.lru_cache(None)
    def sym(self, path, v, code):
        if code:  # nearest function at or below
            r = subprocess.run(['addr2line', '-f', '-e', path, hex(v)], capture_output=True, text=True).stdout
            return r.split('\n')[0]
        for a, sz, name in self.syms(path):
            if a <= v < a + sz:
                return name
        return ''

    def place(self, a, code=False):
        m = self.where(a)
        if not m:
            return '?', ''
        lo, hi, off, name = m
        if name.startswith('/'):
            base = self.bases.get(name, lo)
            short = os.path.basename(name)
            return f'{short} page {(a - base) >> 12:#x}', self.sym(name, a - base, code) if code or 'alloctag' in short else ''
        # an anonymous mapping right after a library: its .bss
        for path, base in self.bases.items():
            if 'alloctag' in path and base <= a < base + (1 << 20) and lo < base + (1 << 20):
                return f'{os.path.basename(path)} page {(a - base) >> 12:#x}', self.sym(path, a - base, False)
        return f'{name or "anon"} [{hi - lo >> 10} KiB] page {(a - lo) >> 12:#x}', ''

    def line(self, f):
        t, a, ip, e = f
        where, what = self.place(a)
        fn = self.place(ip, True)
        return f'{kind(e):5} {where} {what}'.ljust(60) + f' by {fn[1] or fn[0]}'


def config_env(cfg):
    name, _, rest = cfg.partition('=')
    parts = rest.split(':')
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    env.pop('ALLOCTAG', None)
    if parts[0]:
        env['LD_PRELOAD'] = parts[0]
    for kv in parts[1:]:
        k, _, v = kv.partition('=')
        env[k] = v
    return name, env


def record(argv, env):
    with tempfile.NamedTemporaryFile(suffix='.data') as data:
        subprocess.run(['perf', 'record', '-q', '-d', '-o', data.name, '-e', 'exceptions:page_fault_user',
                        '--'] + argv, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return Trace(data.name)


def run_start(prog, cfg):
    name, env = config_env(cfg)
    tr = record([prog], env)
    pid, t0 = max(tr.execs.items(), key=lambda kv: kv[1])
    faults = [f for f in tr.faults[pid] if f[0] >= t0]
    print(f'== {name}: {prog} {len(faults)} faults')
    for l, c in collections.Counter(tr.line(f) for f in faults).most_common():
        print(f'  {c} x {l}')


SH_LOOP = 'i=0; while [ $i -lt $0 ]; do x=$(echo $i); i=$((i+1)); done'


def run(spawn, forks, cfg):
    name, env = config_env(cfg)
    argv = ['bash', '-c', SH_LOOP, str(forks)] if spawn == '--sh' else [spawn, '--forkloop', str(forks)]
    tr = record(argv, env)
    kids = [pid for t, pid in tr.forks if pid in tr.faults]
    parent = max((p for p in tr.faults if p not in kids), key=lambda p: len(tr.faults[p]))
    child = kids[len(kids) // 2]
    print(f'== {name}: child {len(tr.faults[child])} faults')
    for f in tr.faults[child]:
        print('  child  ' + tr.line(f))
    times = [t for t, pid in tr.forks if pid in kids]
    lo, hi = times[len(times) // 4], times[3 * len(times) // 4]
    n = 3 * len(times) // 4 - len(times) // 4
    steady = [f for f in tr.faults[parent] if lo <= f[0] < hi]
    if spawn == '--sh':
        mid = kids[len(kids) // 4:3 * len(kids) // 4]
        per = collections.Counter(tr.line(f) for k in mid for f in tr.faults[k])
        print(f'   children {sum(per.values()) / len(mid):.2f} faults each')
        for l, c in per.most_common():
            print(f'  childs {c / len(mid):.2f} x {l}')
    print(f'   parent {len(steady) / n:.2f} faults per fork')
    for l, c in collections.Counter(tr.line(f) for f in steady).most_common():
        print(f'  parent {c / n:.2f} x {l}')


def main():
    args = sys.argv[1:]
    if args and args[0] == '--start' and len(args) > 2:
        for cfg in args[2:]:
            run_start(args[1], cfg)
        return
    if not args or '=' in args[0]:
        sys.exit('usage: forkfaults.py SPAWN [forks] name=[lib][:ENV=VAL...] ...')
    spawn, args = args[0], args[1:]
    forks = int(args.pop(0)) if args and '=' not in args[0] else 40
    for cfg in args:
        run(spawn, forks, cfg)


if __name__ == '__main__':
    main()
