#!/usr/bin/env python3
"""expect.py FILE - what a heaptrack data file says, computed independently of
heapbench: allocations, frees, peak live bytes, unknown frees. A free names an
allocation info, whose size is the same for every block of that info, so the
sums do not depend on which block a free releases."""
import gzip
import subprocess
import sys


def lines(path):
    raw = open(path, "rb").read()
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        raw = subprocess.run(["zstd", "-dc"], input=raw, capture_output=True, check=True).stdout
    elif raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode().split("\n")


infos, live_per, live, peak, allocs, frees, unknown = [], {}, 0, 0, 0, 0, 0
for ln in lines(sys.argv[1]):
    f = ln.split()
    if not f:
        continue
    if f[0] == "a":
        infos.append(int(f[1], 16))
    elif f[0] == "+":
        i = int(f[1], 16)
        live_per[i] = live_per.get(i, 0) + 1
        live += infos[i]
        allocs += 1
        peak = max(peak, live)
    elif f[0] == "-":
        i = int(f[1], 16)
        if live_per.get(i, 0):
            live_per[i] -= 1
            live -= infos[i]
            frees += 1
        else:
            unknown += 1
print(f"allocs {allocs} frees {frees} peak {peak} unknown {unknown}")
