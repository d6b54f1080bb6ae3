#!/usr/bin/env python3
"""Expected numbers of the ltrace test logs, computed independently of
heapbench's C importer (regexes, the policies of harness/trace/import.h):
ops by kind as `trace stats` classifies them, peak live bytes, threads, the
import counts and the time of the last op (ns).  Usage: expect.py LOG..."""
import re, sys

PREFIX = re.compile(r'^\s*(?:\[pid (\d+)\]\s+|(\d+)\s+)?'
                    r'(?:(\d+):(\d+):(\d+)(?:\.(\d+))?\s+|(\d+)\.(\d+)\s+)?'
                    r'(?:\[0x[0-9a-f]+\]\s+)?(.*)$')
RESUMED = re.compile(r'^<\.\.\. (\w+) resumed> .*?\)\s+= (\S+)(?: <[\d.]+>)?$')
CALL = re.compile(r'^(?:[\w.+-]+->)?(\w+)(?:@[\w.+-]+)?\((.*?)'
                  r'( <unfinished \.\.\.>| <no return \.\.\.>|\)\s+= (\S+)(?: <[\d.]+>)?)$')
FNS = {'malloc': 'a', '_Znwm': 'a', '_Znam': 'a', 'calloc': 'c', 'realloc': 'r',
       'free': 'f', '_ZdlPv': 'f', '_ZdaPv': 'f', 'memalign': 'm', 'aligned_alloc': 'm',
       'valloc': 'v', 'posix_memalign': 'p'}

def val(s):
    if s in ('nil', '(nil)', 'NULL'):
        return 0
    return int(s, 16) if s.startswith('0x') else int(s)

def run(path):
    data = open(path, 'rb').read().decode()
    lines = data.split('\n')
    cut = not data.endswith('\n')
    if not cut:
        lines = lines[:-1]
    cnt = dict.fromkeys(['unknown-frees', 'unknown-reallocs', 'lost-frees', 'failed-calls',
                         'zero-sizes', 'truncated-lines', 'other-lines'], 0)
    kinds = dict.fromkeys(['allocs', 'callocs', 'memaligns', 'reallocs', 'frees'], 0)
    live, threads, pend, pms = {}, set(), {}, []
    st = {'cur': 0, 'peak': 0, 'ops': 0, 'now': 0, 'mode': None, 'last': None, 'day': 0, 'pmn': 0}
    def op(kind, delta, tid):
        kinds[kind] += 1
        st['ops'] += 1
        st['cur'] += delta
        st['peak'] = max(st['peak'], st['cur'])
        threads.add(tid)
        st['last'] = st['now']
    def alloc(kind, p, size, tid):
        if p in live:
            cnt['lost-frees'] += 1
            op('frees', -live.pop(p), tid)
        live[p] = size
        op(kind, size, tid)
    def call(fn, args, r, tid):
        k = FNS[fn]
        if k == 'p':  # the block is not shown: a stand-in, bound at its free
            if r:
                cnt['failed-calls'] += 1
                return
            st['pmn'] += 1
            sid = ('pm', st['pmn'])
            pms.append([sid, args[0] if len(args) == 3 else 0, args[1] or 1])
            live[sid] = args[2]
            op('memaligns', args[2], tid)
            return
        if k in 'fr' and args[0] and args[0] not in live:
            x = args[0]
            hit = [p for p in pms if p[1] == x] or [p for p in pms if p[1] == 0 and x % p[2] == 0]
            if hit:
                pms.remove(hit[0])
                args = [hit[0][0]] + args[1:]
        if k != 'f' and r:
            for p in pms:
                if p[1] == r:
                    pms.remove(p)
                    cnt['lost-frees'] += 1
                    op('frees', -live.pop(p[0]), tid)
                    break
        if k == 'f':
            p = args[0]
            if p and p not in live:
                cnt['unknown-frees'] += 1
            else:
                op('frees', -live.pop(p) if p else 0, tid)
            return
        if k == 'r':
            old, size = args[0], args[1]
            known = old in live and old != 0
            if size == 0:
                if known:
                    op('frees', -live.pop(old), tid)
                elif old:
                    cnt['unknown-frees'] += 1
                if r:
                    cnt['zero-sizes'] += 1
                    alloc('allocs', r, 0, tid)
                return
            if not r:
                cnt['failed-calls'] += 1
                return
            if not known:
                if old:
                    cnt['unknown-reallocs'] += 1
                alloc('allocs', r, size, tid)
                return
            osz = live.pop(old)
            if r != old and r in live:
                cnt['lost-frees'] += 1
                op('frees', -live.pop(r), tid)
            live[r] = size
            op('reallocs', size - osz, tid)
            return
        if not r:
            cnt['failed-calls'] += 1
            return
        if k == 'c':
            size, kind = args[0] * args[1], 'callocs'
            zero = args[0] == 0 or args[1] == 0
        elif k == 'm':
            size, kind, zero = args[1], 'memaligns', args[1] == 0
        else:
            size, kind, zero = args[0], ('memaligns' if k == 'v' else 'allocs'), args[0] == 0
        if zero:
            cnt['zero-sizes'] += 1
        alloc(kind, r, size, tid)
    for i, l in enumerate(lines):
        m = PREFIX.match(l)
        tid = int(m.group(1) or m.group(2) or 0)
        if m.group(3):
            t = ((int(m.group(3)) * 60 + int(m.group(4))) * 60 + int(m.group(5))) * 10**9
            t += int((m.group(6) or '').ljust(9, '0')) + st['day']
            if st['last'] is not None and t + 43200 * 10**9 < st['now']:
                st['day'] += 86400 * 10**9
                t += 86400 * 10**9
            st['now'] = t
        elif m.group(7):
            t = int(m.group(7)) * 10**9 + int(m.group(8).ljust(9, '0'))
            if st['mode'] is None:
                st['mode'] = 'r' if t < 10**15 else 'a'
            st['now'] = st['now'] + t if st['mode'] == 'r' else t
        body = m.group(9)
        if body.startswith('+++') and tid in pend:  # it never returned; the tid may be reused
            del pend[tid]
            cnt['truncated-lines'] += 1
        rm = RESUMED.match(body)
        cm = CALL.match(body)
        if rm and rm.group(1) in FNS:
            d = pend.get(tid)
            if not d:
                cnt['other-lines'] += 1
                continue
            d[0] -= 1
            if d[0]:
                cnt['other-lines'] += 1
                continue
            del pend[tid]
            call(d[1], d[2], val(rm.group(2)) if rm.group(2) != '<void>' else 0, tid)
        elif cm and cm.group(1) in FNS:
            fn, args = cm.group(1), [val(a) for a in cm.group(2).split(', ') if a]
            if tid in pend:
                if cm.group(3) == ' <unfinished ...>':
                    pend[tid][0] += 1
                cnt['other-lines'] += 1
            elif cm.group(3) == ' <unfinished ...>':
                pend[tid] = [1, fn, args]
            elif cm.group(3) == ' <no return ...>':
                if FNS[fn] == 'f':
                    call(fn, args, 0, tid)
                else:
                    cnt['truncated-lines'] += 1
            else:
                r = cm.group(4)
                call(fn, args, 0 if r == '<void>' else val(r), tid)
        elif cut and i == len(lines) - 1:
            cnt['truncated-lines'] += 1
        else:
            cnt['other-lines'] += 1
    cnt['truncated-lines'] += len(pend)
    out = {'ops': st['ops'], **kinds, 'threads': len(threads), 'peak_live_bytes': st['peak']}
    out.update({'import-' + k: v for k, v in cnt.items()})
    out['last_time_ns'] = st['last'] if (m.group(3) or m.group(7)) else -1
    print(path, ' '.join('%s=%d' % kv for kv in out.items()))

for a in sys.argv[1:]:
    run(a)
