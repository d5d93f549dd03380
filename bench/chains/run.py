#!/usr/bin/env python3
"""Call chains on real workloads: wall time and peak RSS of
  sqlite3   Debian's sqlite3 :memory: running a generated 200k-row script
            (200,000 INSERTs in one transaction, two indexes, a GROUP BY, a
            DELETE of a third of the rows, VACUUM)
  cxx       containers.cc (std::map, std::unordered_map, std::vector,
            std::string), built with g++ -O2
under plain glibc, alloctag's preload library at ALLOCTAG_DEPTH = 1, 4, 8,
16 (profiling on, compressed store), heaptrack (Debian package) and jemalloc
in exact profiling mode (prof:true,lg_prof_sample:0).  Each round runs every
configuration once, in an order that rotates; a configuration's figure is
the median over rounds of its wall time divided by glibc's in the same round
(paired), the same for CPU time (user + system, less disturbed by other
load on a shared machine), and its largest peak RSS divided by glibc's.  Outputs are
compared with glibc's (a configuration that changes them fails the run).
BASE_PRELOAD=/path/to/another/liballoctag-preload.so adds configuration
"base": that library with its defaults (a build of an earlier version, to
compare depth 1 with it).
usage: bench/chains/run.py BUILD_DIR   (REPS=3, WORKLOADS="sqlite3 cxx",
       CONFIGS="glibc d1 d4 d8 d16 heaptrack jemalloc", BASE_PRELOAD=)
"""
import os, resource, subprocess, sys, tempfile, time

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
pre = os.path.join(build, "liballoctag-preload.so")
if not os.path.exists(pre):
    sys.exit("run.py: no %s (build first)" % pre)
reps = int(os.environ.get("REPS", "3"))
workloads = os.environ.get("WORKLOADS", "sqlite3 cxx").split()
configs = os.environ.get("CONFIGS", "glibc d1 d4 d8 d16 heaptrack jemalloc").split()
import shutil
for c in configs:
    if c not in ("glibc", "heaptrack", "jemalloc") and not (c[:1] == "d" and c[1:].isdigit()):
        sys.exit("run.py: unknown configuration %s (glibc, dN, heaptrack, jemalloc)" % c)
jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
for c, ok, pkg in (("heaptrack", shutil.which("heaptrack"), "heaptrack"),
                   ("jemalloc", os.path.exists(jemalloc), "libjemalloc2")):
    if c in configs and not ok:
        print("run.py: %s not installed (Debian package %s): skipped" % (c, pkg))
        configs.remove(c)
base_pre = os.environ.get("BASE_PRELOAD")
if base_pre and "base" not in configs:
    configs.insert(1, "base")
tmp = tempfile.mkdtemp(prefix="bench-chains-")

sql = os.path.join(tmp, "rows.sql")
with open(sql, "w") as f:
    import random
    rnd = random.Random(7)
    f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);\nBEGIN;\n")
    for i in range(1, 200001):
        f.write("INSERT INTO t(a, b, c) VALUES(%d, 'name-%d', %.3f);\n"
                % (rnd.randrange(1000), i, rnd.random() * 1e6))
    f.write("COMMIT;\nCREATE INDEX ta ON t(a);\nCREATE INDEX tb ON t(b);\n"
            "SELECT a, count(*), sum(c) FROM t GROUP BY a ORDER BY 2 DESC LIMIT 3;\n"
            "SELECT count(DISTINCT b) FROM t;\nDELETE FROM t WHERE a % 3 = 0;\n"
            "VACUUM;\nSELECT count(*), sum(a) FROM t;\n")
cxx = os.path.join(tmp, "containers")
subprocess.run(["g++", "-O2", "-g", "-o", cxx, os.path.join(here, "containers.cc")], check=True)

cmds = {"sqlite3": (["sqlite3", ":memory:"], sql), "cxx": ([cxx], None)}


def command(cfg, argv):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("ALLOCTAG") or k in ("LD_PRELOAD", "MALLOC_CONF"):
            del env[k]
    if cfg == "base":
        env["LD_PRELOAD"] = base_pre
    elif cfg.startswith("d"):
        env["LD_PRELOAD"] = pre
        env["ALLOCTAG_DEPTH"] = cfg[1:]
    elif cfg == "jemalloc":
        env["LD_PRELOAD"] = jemalloc
        env["MALLOC_CONF"] = "prof:true,lg_prof_sample:0,prof_prefix:" + os.path.join(tmp, "jeprof")
    elif cfg == "heaptrack":
        argv = ["heaptrack", "-o", os.path.join(tmp, "ht")] + argv
    return argv, env


def run(cfg, w):
    argv, stdin = cmds[w]
    argv, env = command(cfg, argv)
    fin = open(stdin) if stdin else subprocess.DEVNULL
    out = tempfile.TemporaryFile()
    t0 = time.monotonic()
    pid = subprocess.Popen(argv, env=env, stdin=fin, stdout=out, stderr=subprocess.DEVNULL).pid
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    if status:
        sys.exit("run.py: %s %s failed (%d)" % (cfg, w, status))
    out.seek(0)
    text = out.read()
    if cfg == "heaptrack":  # heaptrack adds its own lines; keep the program's
        text = b"\n".join(l for l in text.split(b"\n") if not l.startswith(b"heaptrack")
                          and b"heaptrack" not in l and l.strip())
    for name in os.listdir(tmp):
        if name.startswith(("ht", "jeprof")):
            os.unlink(os.path.join(tmp, name))
    return wall, ru.ru_maxrss, text, ru.ru_utime + ru.ru_stime


print("call chains on real workloads: wall and peak RSS, %d rounds, paired ratios to glibc" % reps)
print("host: %d CPUs; sqlite3 %s" % (os.cpu_count(),
      subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout.split()[0]))
print("%-8s %-10s %8s %8s %8s %8s %8s %11s %8s" % ("workload", "config", "wall_s", "x glibc",
      "paired", "cpu_s", "paired", "peak_rss_kb", "x glibc"))
for w in workloads:
    res = {c: [] for c in configs}
    want = None
    for r in range(reps):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for c in order:
            wall, rss, text, cpu = run(c, w)
            if c == "glibc":
                want = want or text
            res[c].append((wall, rss, text, cpu))
    base_text = res["glibc"][0][2] if "glibc" in res else None
    for c in configs:
        walls = sorted(x[0] for x in res[c])
        med = walls[len(walls) // 2]
        rss = max(x[1] for x in res[c])
        if base_text is not None and c != "heaptrack":
            for x in res[c]:
                if x[2].strip() != base_text.strip():
                    sys.exit("run.py: %s %s: output differs from glibc's" % (c, w))
        cpu = sorted(x[3] for x in res[c])[reps // 2]
        if "glibc" in res:
            pr = sorted(res[c][i][0] / res["glibc"][i][0] for i in range(reps))[reps // 2]
            pc = sorted(res[c][i][3] / res["glibc"][i][3] for i in range(reps))[reps // 2]
            gw = sorted(x[0] for x in res["glibc"])[reps // 2]
            grss = max(x[1] for x in res["glibc"])
        else:
            pr, pc, gw, grss = (float("nan"),) * 4
        print("%-8s %-10s %8.3f %8.2f %8.2f %8.3f %8.2f %11d %8.2f" % (w, c, med, med / gw, pr, cpu, pc,
                                                                   rss, rss / grss))
