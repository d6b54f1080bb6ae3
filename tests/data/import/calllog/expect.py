#!/usr/bin/env python3
"""Independent expectations for tests/cli_import_calllog.sh: ops by kind (as
trace stats counts them: realloc(NULL, n) an alloc, realloc(p, 0) a free),
peak live bytes, threads and the realities, computed from the raw call logs
with regular expressions.  Usage: expect.py LOG..."""
import re, sys

KIND = {'malloc': 'a', 'valloc': 'a', 'pvalloc': 'a', 'calloc': 'c', 'realloc': 'r',
        'reallocf': 'r', 'memalign': 'm', 'aligned_alloc': 'm', 'posix_memalign': 'm',
        'free': 'f', 'cfree': 'f'}
NUM = r'(?:0x[0-9a-fA-F]+|\d+|\(nil\)|NULL)'
FIRST = re.compile(r'^(.*?)(' + NUM + r')\s*=\s*([a-z_]+)\(([^)]*)\)')
LAST = re.compile(r'^(.*?)(?<![\w(])([a-z_]+)\(((?:[^()]|\(nil\))*)\)\s*(?:=\s*(' + NUM + r'))?')
KD = re.compile(r'^\s*(\d+)\s+(?:(\d+)\s+)?\S+\s+(?:\d+\.\d+\s+)?USER\s*$')

def val(s):
    s = s.strip()
    return 0 if s in ('(nil)', 'NULL') else int(s, 0)

def analyse(path):
    text = open(path).read()
    lines = text.split('\n')
    cut = lines[-1] != ''
    if not cut:
        lines.pop()
    ops = dict(alloc=0, calloc=0, memalign=0, realloc=0, free=0)
    real = {k: 0 for k in ('unknown-frees', 'unknown-reallocs', 'lost-frees', 'failed-calls',
                           'zero-sizes', 'truncated-lines', 'other-lines', 'other-processes')}
    live, cur, peak, first, pids, threads = {}, 0, 0, None, set(), set()

    def add(p, n):
        nonlocal cur, peak
        if p in live:
            real['lost-frees'] += 1; ops['free'] += 1; cur -= live.pop(p)
        live[p] = n; cur += n; peak = max(peak, cur)

    for i, line in enumerate(lines):
        m = FIRST.match(line)
        if m and m.group(3) in KIND:
            pre, res, name, a = m.group(1), val(m.group(2)), m.group(3), m.group(4)
        else:
            m = LAST.match(line)
            if not m or m.group(2) not in KIND or line.startswith('#'):
                cutcall = re.search(r'(?<![\w(])([a-z_]+)\(', line)
                if cut and i == len(lines) - 1 and cutcall and cutcall.group(1) in KIND:
                    real['truncated-lines'] += 1  # a call cut off in its arguments
                else:
                    real['other-lines'] += 1
                continue
            pre, name, a = m.group(1), m.group(2), m.group(3)
            if m.group(4) is None and KIND[name] != 'f':
                if cut and i == len(lines) - 1:
                    real['truncated-lines'] += 1
                    continue
                raise SystemExit(f'{path}:{i+1}: no result')
            res = val(m.group(4)) if m.group(4) else None
        try:
            a = [val(x) for x in a.split(',')] if a.strip() else []
        except ValueError:
            if cut and i == len(lines) - 1:
                real['truncated-lines'] += 1
                continue
            raise
        k = KD.match(pre)
        if k:
            pid = int(k.group(1)); pids.add(pid)
            if first is None: first = pid
            if pid != first:
                real['other-processes'] += 1; continue
            threads.add(int(k.group(2) or 0))
        else:
            threads.add(0)
        kind = KIND[name]
        if kind == 'm' and name == 'posix_memalign' and len(a) == 3:
            real['other-lines'] += 1; continue
        if kind == 'f':
            p = a[0]
            if p and p not in live:
                real['unknown-frees'] += 1; continue
            ops['free'] += 1
            if p: cur -= live.pop(p)
            continue
        if kind == 'r':
            old, n = a
            if n == 0:
                if old in live:
                    ops['free'] += 1; cur -= live.pop(old)
                elif old:
                    real['unknown-frees'] += 1
                if res:
                    real['zero-sizes'] += 1; ops['alloc'] += 1; add(res, 0)
                continue
            if not res:
                real['failed-calls'] += 1; continue
            if old in live:
                cur -= live.pop(old); ops['realloc'] += 1
            else:
                if old: real['unknown-reallocs'] += 1
                ops['alloc'] += 1
            add(res, n); continue
        if not res:
            real['failed-calls'] += 1; continue
        if kind == 'c':
            n = a[0] * a[1]; ops['calloc'] += 1
            if a[0] == 0 or a[1] == 0: real['zero-sizes'] += 1
        elif kind == 'm':
            n = a[1]; ops['memalign'] += 1
            if n == 0: real['zero-sizes'] += 1
        else:
            n = a[0]; ops['alloc'] += 1
            if n == 0: real['zero-sizes'] += 1
        add(res, n)
    return ops, peak, len(threads), real, first, len(pids)

for path in sys.argv[1:]:
    ops, peak, nthreads, real, pid, npids = analyse(path)
    print(path.split('/')[-1], 'ops', sum(ops.values()), ' '.join(f'{k}={v}' for k, v in ops.items()),
          'peak', peak, 'threads', nthreads, 'pid', pid, 'processes', npids)
    print('   ', ' '.join(f'{k}={v}' for k, v in real.items()))
