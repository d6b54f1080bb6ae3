#!/usr/bin/env python3
"""threads_order.py TRACE.trace LOG - checks, for every pass that the
orderlog backend (tests/backends/orderlog.c) recorded in LOG, that the ops
of each block arrived in the trace's order: the proof that the threaded
replay keeps causal order per block.

The trace is the text form (`heapbench trace convert X.hbt.zst X.trace`).
A call is matched to its trace op by its request size when that size is
unique among the trace's allocating ops (tests/record/threads.c makes every
size it asks for unique); a free by the address, whose block the log knows
from the call that returned it.  Ops with shared sizes (the C library's own
allocations in the recorded program) are not checked.

Prints "PASSES passes, CHECKED ops checked, 0 out of order" and exits 0, or
names the first op out of order and exits 1.
"""
import struct
import sys
from collections import Counter


def read_trace(path):
    ops = []  # (kind, id, bytes)
    for line in open(path):
        line = line.split('#')[0].strip()
        if not line:
            continue
        f = line.split()
        if f[0].endswith(':'):
            f = f[1:]
        k, i = f[0], int(f[1])
        n = {'a': lambda: int(f[2]), 'r': lambda: int(f[2]), 'f': lambda: 0,
             'c': lambda: int(f[2]) * int(f[3]), 'm': lambda: int(f[3])}[k]()
        ops.append((k, i, n))
    return ops


def read_log(path):
    with open(path, 'rb') as f:  # a sparse file: read the records only
        (n,) = struct.unpack('<Q', f.read(8))
        data = f.read(32 * n)
    recs = list(struct.iter_unpack('<4Q', data))
    passes, cur = [], None
    for kind, size, inp, out in recs:
        if kind == ord('I'):
            cur = []
            passes.append(cur)
        elif cur is not None:
            cur.append((chr(kind), size, inp, out))
    return passes


def check_pass(ops, nxt, by_size, recs, p):
    """The number of ops of pass p checked; exits on one out of order."""
    block = {}  # address -> (id, index of the op that returned it) or None
    last = {}   # id -> the trace index of its last op seen in this pass
    checked = 0
    for kind, size, inp, out in recs:
        if kind == 'f':
            hit = block.pop(inp, None) if inp else None
            idx = None
            if hit:  # the op after the block's last one on its id, if a free
                j = nxt[hit[1]]
                idx = j if j is not None and ops[j][0] == 'f' else None
        else:
            idx = by_size.get(size)
            if kind == 'r' and inp:
                block.pop(inp, None)
            block[out] = (ops[idx][1], idx) if idx is not None else None
        if idx is None:
            continue
        i = ops[idx][1]
        if i in last and last[i] >= idx:
            raise SystemExit(f'pass {p}: op {idx} ({ops[idx][0]} of id {i}) arrived after '
                             f'op {last[i]} of the same id')
        last[i] = idx
        checked += 1
    return checked


def main():
    ops = read_trace(sys.argv[1])
    sizes = Counter(n for k, i, n in ops if k != 'f')
    by_size = {n: j for j, (k, i, n) in enumerate(ops) if k != 'f' and sizes[n] == 1}
    nxt, seen = [None] * len(ops), {}  # the next op on the same id
    for j in range(len(ops) - 1, -1, -1):
        nxt[j] = seen.get(ops[j][1])
        seen[ops[j][1]] = j
    # an init without calls: the harness trying the backend's start
    passes = [r for r in read_log(sys.argv[2]) if r]
    total = 0
    for p, recs in enumerate(passes):
        if len(recs) < len(ops):
            raise SystemExit(f'pass {p}: {len(recs)} calls, fewer than the trace\'s {len(ops)} ops')
        total += check_pass(ops, nxt, by_size, recs, p)
    print(f'{len(passes)} passes, {total} ops checked, 0 out of order')


if __name__ == '__main__':
    main()
