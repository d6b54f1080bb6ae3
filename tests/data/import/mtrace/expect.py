#!/usr/bin/env python3
"""Expected numbers of the mtrace test logs, computed independently of
heapbench's C importer (regexes, the policies of harness/trace/import.h):
ops by kind as `trace stats` classifies them, peak live bytes, threads and
the import counts.  Usage: expect.py LOG..."""
import re, sys

CALL = re.compile(r'^(?:@ .*?\[0x[0-9a-f]+\] )?([-+<>!]) (\(nil\)|0x[0-9a-f]+)(?: (0x[0-9a-f]+|0))?$')

def num(s):
    return 0 if s == '(nil)' else int(s, 16)

def run(path):
    data = open(path, 'rb').read().decode()
    lines = data.split('\n')
    cut = not data.endswith('\n')
    if not cut:
        lines = lines[:-1]
    cnt = dict.fromkeys(['unknown-frees', 'unknown-reallocs', 'lost-frees', 'failed-calls',
                         'zero-sizes', 'truncated-lines', 'other-lines'], 0)
    live = {}                  # address -> size
    kinds = dict.fromkeys(['allocs', 'callocs', 'memaligns', 'reallocs', 'frees'], 0)
    st = {'cur': 0, 'peak': 0, 'ops': 0}
    def op(kind, delta):
        kinds[kind] += 1
        st['ops'] += 1
        st['cur'] += delta
        st['peak'] = max(st['peak'], st['cur'])
    def alloc(p, size):
        if p in live:
            cnt['lost-frees'] += 1
            op('frees', -live.pop(p))
        live[p] = size
        op('allocs', size)
    pend = None
    for i, l in enumerate(lines):
        m = CALL.match(l)
        if not m:
            if l[:1] in '@+-<>!' and l[:1] and (l[0] == '@' or l[1:2] == ' '):
                assert cut and i == len(lines) - 1, (path, i + 1, l)
                cnt['truncated-lines'] += 1
            else:
                cnt['other-lines'] += 1
            continue
        o, p, s = m.group(1), num(m.group(2)), num(m.group(3) or '0')
        if (m.group(3) is None) != (o in '-<'):  # + > ! have a size, - < none
            assert cut and i == len(lines) - 1, (path, i + 1, l)
            cnt['truncated-lines'] += 1
            continue
        if o == '+' or (o == '-' and p == 0):
            if p == 0:
                cnt['failed-calls'] += 1
                continue
            if s == 0:
                cnt['zero-sizes'] += 1
            alloc(p, s)
        elif o == '-':
            if p not in live:
                cnt['unknown-frees'] += 1
            else:
                op('frees', -live.pop(p))
        elif o == '<':
            pend = p
        elif o == '>':
            old, pend = pend, None
            if old not in live:
                cnt['unknown-reallocs'] += 1
                alloc(p, s)
            else:
                osz = live.pop(old)
                if p != old and p in live:
                    cnt['lost-frees'] += 1
                    op('frees', -live.pop(p))
                live[p] = s
                op('reallocs', s - osz)
        elif o == '!':
            cnt['failed-calls'] += 1
    if pend is not None:
        cnt['truncated-lines'] += 1
    out = {'ops': st['ops'], **kinds, 'threads': 1, 'peak_live_bytes': st['peak']}
    out.update({'import-' + k: v for k, v in cnt.items()})
    print(path, ' '.join('%s=%d' % kv for kv in out.items()))

for a in sys.argv[1:]:
    run(a)
