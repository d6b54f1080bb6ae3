#!/usr/bin/env python3
"""Expected numbers of the logalloc test logs, computed from the raw text
independently of heapbench's importer (tests/cli_import_logalloc.sh holds
them).  Usage: expect.py FILE...; prints one JSON object per file.
Munged logs (#N slots): a free or realloc of a slot not live is of NULL."""
import json, re, sys

CALL = re.compile(r'^(\d+) (?:(\d+) )?(\w+)\(([^)]*)\)(?:=(\S+))?\s*$')


def ptr(s):
    if s.startswith('#'):
        return ('slot', int(s[1:]))
    return int(s, 16) or None


def expect(path):
    live, peak, cur = {}, 0, 0
    n = dict(allocs=0, callocs=0, memaligns=0, reallocs=0, frees=0)
    threads, pids = set(), []
    failed = unknown = zero = other = otherproc = 0
    for line in open(path):
        m = CALL.match(line.rstrip('\n'))
        if not m or m[3] == 'jemalloc_stats':
            other += 1
            continue
        pid, tid, name, args, res = int(m[1]), m[2] or m[1], m[3], m[4].split(','), m[5]
        if pid not in pids:
            pids.append(pid)
        if pid != pids[0]:
            otherproc += 1
            continue
        threads.add(tid)
        if name == 'free':
            p = ptr(args[0])
            if p is None or (isinstance(p, tuple) and p not in live):
                n['frees'] += 1
            elif p in live:
                n['frees'] += 1
                cur -= live.pop(p)
            else:
                unknown += 1
            continue
        r = ptr(res)
        if name == 'realloc':
            old, size = ptr(args[0]), int(args[1])
        elif name in ('malloc', 'valloc'):
            size = int(args[0])
        else:
            size = int(args[0]) * int(args[1]) if name == 'calloc' else int(args[1])
        if r is None:
            failed += 1
            continue
        if size == 0:
            zero += 1
        if name == 'realloc' and old in live:
            n['reallocs'] += 1
            cur -= live.pop(old)
        elif name in ('realloc', 'malloc'):
            n['allocs'] += 1
        elif name == 'calloc':
            n['callocs'] += 1
        else:
            n['memaligns'] += 1
        live[r] = size
        cur += size
        peak = max(peak, cur)
    return dict(file=path, **n, threads=len(threads), peak_live_bytes=peak, failed=failed,
                unknown_frees=unknown, zero_sizes=zero, other=other,
                other_processes=otherproc, processes=len(pids), pid=pids[0])


for p in sys.argv[1:]:
    print(json.dumps(expect(p)))
