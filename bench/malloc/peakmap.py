#!/usr/bin/env python3
"""Where a program's peak RSS is: run CMD, sample every 5 ms the process
(or descendant) with the largest resident set, and print, at the sampled
peak, its RSS, the resident KiB of alloctag's heap and of its metadata
shadow (when the preload library is in use), and its largest mappings.

    bench/malloc/peakmap.py CMD [ARG...]

The heap and the shadow are two 64 GiB reservations (page.h): without an
address-space limit the kernel places the shadow, mapped second, right
below the heap (their mappings merge); under a limit the shadow is 64 GiB
above the heap.  Printed: the first GiB of the lower one and of the one
64 GiB above it.
Their resident pages are counted from /proc/PID/pagemap (first 1 GiB of
each).  Sampling misses peaks shorter than 5 ms: the kernel's ru_maxrss
(measure.c) is the peak figure, this is its breakdown.
"""
import os
import re
import subprocess
import sys
import time

GIB = 1 << 30
SPAN = 64 * GIB


def descendants(pid):
    out = [pid]
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                for c in f.read().split():
                    out += descendants(int(c))
    except OSError:
        pass
    return out


def resident_kib(pid, lo, length):
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek((lo >> 12) * 8)
        b = f.read((length >> 12) * 8)
    return 4 * sum(1 for i in range(7, len(b), 8) if b[i] & 0x80)


def snapshot(pid):
    maps = []
    name = lo = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$", line)
            if m:
                lo, hi = int(m.group(1), 16), int(m.group(2), 16)
                name = m.group(3) or f"[anon {(hi - lo) >> 20} MiB at {lo:x}]"
                maps.append([name, lo, hi, 0])
            elif line.startswith("Rss:"):
                maps[-1][3] = int(line.split()[1])
    split = None
    for _, a, hi, _ in maps:  # a 64 GiB reservation and the one 64 GiB above it
        if hi - a >= SPAN and any(lo <= a + SPAN < h for _, lo, h, _ in maps):
            split = (resident_kib(pid, a, GIB), resident_kib(pid, a + SPAN, GIB))
            break
    return maps, split


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: peakmap.py CMD [ARG...]")
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    best = (0, None, None)
    while p.poll() is None:
        for pid in descendants(p.pid):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    rss = int(re.search(r"Rss:\s+(\d+)", f.read()).group(1))
                if rss > best[0]:
                    maps, split = snapshot(pid)
                    best = (rss, maps, split)
            except (OSError, AttributeError, IndexError):
                pass
        time.sleep(0.005)
    rss, maps, split = best
    print(f"peak_rss_kib={rss} rc={p.returncode}")
    if split:
        print(f"lower_reservation_kib={split[0]} upper_reservation_kib={split[1]}"
              " (no limit: shadow, heap; under RLIMIT_AS: heap, shadow)")
    agg = {}
    for name, _, _, r in maps or []:
        agg[name] = agg.get(name, 0) + r
    for name, r in sorted(agg.items(), key=lambda x: -x[1])[:12]:
        print(f"{r:9d} KiB  {name}")


if __name__ == "__main__":
    main()
