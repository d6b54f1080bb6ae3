#!/usr/bin/env python3
"""Independent expectations for tests/cli_import_valgrind.sh: op counts by
kind, peak live bytes, threads and the realities, computed from the raw
valgrind --trace-malloc=yes logs with regular expressions (not with the
importer's code).  Usage: expect.py LOG..."""
import re, sys

PFX = re.compile(r'^--(?:\d+:\d+:\d+:\d+\.\d{3} )?(\d+)-- ?(.*)$')
CALL = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)\((.*?)\)(.*)$')
RES = re.compile(r'^\s*=\s*(0x[0-9A-Fa-f]+|0|\(nil\))\s*$')

def kind(name):
    if name.startswith('_Zn') or name in ('malloc', 'valloc', '__builtin_new', '__builtin_vec_new'):
        return 'alloc'
    if name.startswith('_Zd') or name in ('free', 'cfree', '__builtin_delete', '__builtin_vec_delete'):
        return 'free'
    return {'calloc': 'calloc', 'realloc': 'realloc', 'memalign': 'aligned',
            'posix_memalign': 'aligned', 'aligned_alloc': 'aligned'}.get(name)

def num(s):
    s = s.strip()
    for lab in ('al ', 'size '):
        if s.startswith(lab):
            return lab.strip(), int(s[len(lab):], 0)
    return None, int(s, 0)

def analyse(path, want=None):
    lines = open(path, 'rb').read().decode().split('\n')
    unterminated = lines[-1] != ''
    if not unterminated:
        lines.pop()
    ops = dict(alloc=0, calloc=0, memalign=0, realloc=0, free=0)
    real = {k: 0 for k in ('unknown-frees', 'unknown-reallocs', 'lost-frees', 'failed-calls',
                           'zero-sizes', 'truncated-lines', 'other-lines', 'other-processes')}
    live, cur, peak = {}, 0, 0
    pids, first = set(), want
    pending = None  # (name, args) waiting for " = R"
    expect_zero = False

    def add(p, size):
        nonlocal cur, peak
        if p in live:
            real['lost-frees'] += 1
            ops['free'] += 1
            cur -= live.pop(p)
        live[p] = size
        cur += size
        peak = max(peak, cur)

    def drop(p):
        nonlocal cur
        cur -= live.pop(p)

    def apply(name, a, res):
        k = kind(name)
        if k == 'free':
            p = a[0][1]
            if p and p not in live:
                real['unknown-frees'] += 1
                return
            ops['free'] += 1
            if p:
                drop(p)
            return
        if k == 'realloc':
            old, size = a[0][1], a[1][1]
            if size == 0:
                if old in live:
                    ops['free'] += 1  # trace stats counts realloc(p, 0) as a free
                    drop(old)
                elif old:
                    real['unknown-frees'] += 1
                if res:
                    real['zero-sizes'] += 1
                    ops['alloc'] += 1
                    add(res, 0)
                return
            if not res:
                real['failed-calls'] += 1
                return
            if old not in live:
                if old:
                    real['unknown-reallocs'] += 1
                    ops['alloc'] += 1
                else:
                    ops['alloc'] += 1  # and realloc(NULL, n) as an allocation
                add(res, size)
                return
            drop(old)
            ops['realloc'] += 1
            add(res, size)
            return
        if not res:
            real['failed-calls'] += 1
            return
        if k == 'calloc':
            n, size = a[0][1], a[1][1]
            ops['calloc'] += 1
            if n == 0 or size == 0:
                real['zero-sizes'] += 1
            add(res, n * size)
            return
        d = {lab: v for lab, v in a}
        if k == 'aligned' or 'al' in d:
            size = d.get('size', a[1][1] if a[0][0] is None else None)
            ops['memalign'] += 1
        else:
            size = a[0][1]
            ops['alloc'] += 1
        if size == 0:
            real['zero-sizes'] += 1
        add(res, size)

    for i, line in enumerate(lines):
        last = unterminated and i == len(lines) - 1
        m = PFX.match(line)
        if not m:
            real['other-lines'] += 1
            continue
        pid, rest = int(m.group(1)), m.group(2)
        r = RES.match(rest)
        if r:
            if pending and pid == first:
                apply(pending[0], pending[1], int(r.group(1).replace('(nil)', '0'), 0))
                pending = None
            elif expect_zero and pid == first:
                expect_zero = False
            else:
                real['other-lines'] += 1
            continue
        if pending and pid == first:
            apply(pending[0], pending[1], 0)
            pending = None
        expect_zero = False
        c = CALL.match(rest)
        if not c or not kind(c.group(1)):
            if last and rest.split('(')[0] and kind(rest.split('(')[0]):
                real['truncated-lines'] += 1
            else:
                real['other-lines'] += 1
            continue
        pids.add(pid)
        if first is None:
            first = pid
        if pid != first:
            real['other-processes'] += 1
            continue
        name, a, tail = c.group(1), [num(x) for x in c.group(2).split(',')], c.group(3)
        inner = re.match(r'^([A-Za-z_]\w*)\([^)]*\)(.*)$', tail)
        if inner:
            if kind(inner.group(1)) == 'free':
                apply(name, a, 0)
                expect_zero = True
                continue
            tail = inner.group(2)
        if kind(name) == 'free':
            apply(name, a, None)
            continue
        r = RES.match(tail)
        if r:
            apply(name, a, int(r.group(1).replace('(nil)', '0'), 0))
        else:
            pending = (name, a)
    if pending:
        apply(pending[0], pending[1], 0)
    return ops, peak, real, first, len(pids)

# --pid N: the calls of process N instead of the first one's
args, want = sys.argv[1:], None
if args[:1] == ['--pid']:
    want, args = int(args[1]), args[2:]
for path in args:
    ops, peak, real, pid, npids = analyse(path, want)
    print(path.split('/')[-1], 'ops', ' '.join(f'{k}={v}' for k, v in ops.items()),
          'peak', peak, 'threads 1 pid', pid, 'processes', npids)
    print('   ', ' '.join(f'{k}={v}' for k, v in real.items()))
