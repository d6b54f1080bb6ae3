#!/usr/bin/env python3
"""Expected numbers of the android test logs, computed from the raw text
independently of heapbench's importer (tests/cli_import_android.sh holds
them).  Usage: expect.py FILE...; prints one JSON object per file."""
import json, re, sys

REC = re.compile(r'^(\d+): (\w+) (?:0x)?([0-9a-fA-F]+)(?: (.*))?$')


def expect(path):
    live, peak, cur = {}, 0, 0
    n = dict(allocs=0, callocs=0, memaligns=0, reallocs=0, frees=0)
    threads, gen, other = set(), {}, 0
    failed = unknown = zero = 0
    for line in open(path):
        m = REC.match(line.rstrip('\n'))
        if not m:
            other += 1
            continue
        tid, name, ptr, rest = int(m[1]), m[2], int(m[3], 16), (m[4] or '').split()
        if name == 'thread_done':
            gen[tid] = gen.get(tid, 0) + 1
            other += 1
            continue
        threads.add((tid, gen.get(tid, 0)))
        if name == 'free':
            if ptr == 0:
                n['frees'] += 1
            elif ptr in live:
                n['frees'] += 1
                cur -= live.pop(ptr)
            else:
                unknown += 1
            continue
        if name == 'realloc':
            old, size = int(rest[0], 16), int(rest[1])
        elif name == 'malloc':
            size = int(rest[0])
        else:
            size = int(rest[0]) * int(rest[1]) if name == 'calloc' else int(rest[1])
        if ptr == 0:
            failed += 1
            continue
        if size == 0:
            zero += 1
        if name == 'realloc' and old in live:
            n['reallocs'] += 1
            cur -= live.pop(old)
        elif name == 'realloc' or name == 'malloc':
            n['allocs'] += 1
        else:
            n[name + 's'] += 1
        live[ptr] = size
        cur += size
        peak = max(peak, cur)
    return dict(file=path, **n, threads=len(threads), peak_live_bytes=peak,
                failed=failed, unknown_frees=unknown, zero_sizes=zero, other=other)


for p in sys.argv[1:]:
    print(json.dumps(expect(p)))
