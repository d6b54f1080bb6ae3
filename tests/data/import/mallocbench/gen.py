#!/usr/bin/env python3
"""gen.py - writes the malloc-bench test traces (*.trace.gz) from known op
lists, hand-encoding the protobuf wire format of malloc-bench's
proto/tracefile.proto (Tracefile{repeated TraceLine lines = 1;
max_simultaneous_allocs = 2}; TraceLine{oneof op: malloc = 1, free = 2,
realloc = 3, calloc = 4}), and prints, for each, the figures the test
expects, computed here from the op list independently of heapbench:
  name ops allocs callocs memaligns reallocs frees peak_live_bytes threads
and the realities: unknown-frees failed-calls zero-sizes.
Run: python3 gen.py   (in this directory; deterministic, gzip mtime 0)."""
import gzip, random

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def field_varint(num, v):
    return varint(num << 3) + varint(v)

def field_bytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b

def sub(fields):  # fields: {num: value or None (absent)}
    return b"".join(field_varint(n, v) for n, v in sorted(fields.items()) if v is not None)

# op tuples: ("malloc", result, size[, align]), ("calloc", result, nmemb, size),
# ("realloc", result, input, size), ("free", input); None = field absent
def encode_line(op):
    k = op[0]
    if k == "malloc":
        body = sub({1: op[1], 2: op[2], 3: op[3] if len(op) > 3 else None}); num = 1
    elif k == "free":
        body = sub({1: op[1]}); num = 2
    elif k == "realloc":
        body = sub({1: op[1], 2: op[2], 3: op[3]}); num = 3
    elif k == "calloc":
        body = sub({1: op[1], 2: op[2], 3: op[3]}); num = 4
    return field_bytes(1, field_bytes(num, body))

def encode(ops, maxsim=None):
    data = b"".join(encode_line(o) for o in ops)
    if maxsim is not None:
        data += field_varint(2, maxsim)
    return data

def expect(ops):
    live = {}  # id -> bytes
    cur = peak = 0
    n = dict(a=0, c=0, m=0, r=0, f=0)
    unknown = failed = zero = 0
    def alloc(i, sz):
        nonlocal cur, peak
        live[i] = sz; cur += sz; peak = max(peak, cur)
    for o in ops:
        k = o[0]
        if k in ("malloc", "calloc"):
            sz = o[2] if k == "malloc" else o[2] * o[3]
            if o[1] is None:
                failed += 1; continue
            if sz == 0:
                zero += 1
            n["c" if k == "calloc" else ("m" if len(o) > 3 else "a")] += 1
            alloc(o[1], sz)
        elif k == "free":
            if o[1] is None:
                n["f"] += 1  # free(NULL) kept
            elif o[1] in live:
                n["f"] += 1; cur -= live.pop(o[1])
            else:
                unknown += 1
        elif k == "realloc":
            res, inp, sz = o[1], o[2], o[3]
            if res is None:
                failed += 1; continue
            if inp is None or inp not in live:
                n["a"] += 1
                if inp is not None:
                    unknown += 1  # (unknown-reallocs; not used here)
                alloc(res, sz)
            else:
                n["r"] += 1; cur -= live.pop(inp); alloc(res, sz)
    tot = sum(n.values())
    return (f"{tot} {n['a']} {n['c']} {n['m']} {n['r']} {n['f']} {peak} 1",
            f"{unknown} {failed} {zero}")

def prog():
    # every op kind and the realities: free(NULL), malloc(0), a failed
    # malloc (no result_id), realloc(NULL, n), an aligned malloc, a free of
    # an id never allocated, id 0 used
    return [
        ("malloc", 0, 100),
        ("calloc", 1, 10, 8),
        ("realloc", 2, 0, 300),
        ("malloc", 3, 64, 64),
        ("realloc", 4, None, 40),
        ("free", None),
        ("malloc", 5, 0),
        ("malloc", None, 1 << 62),
        ("free", 1),
        ("free", 99),
        ("malloc", 6, 5000, 4096),
        ("free", 2),
        ("free", 3),
        ("free", 4),
        ("free", 5),
        ("free", 6),
    ]

def many(nops, seed):
    rng = random.Random(seed)
    ops, live, nid = [], [], 0
    for _ in range(nops):
        r = rng.random()
        if live and r < 0.4:
            i = live.pop(rng.randrange(len(live))); ops.append(("free", i))
        elif live and r < 0.5:
            i = live.pop(rng.randrange(len(live)))
            ops.append(("realloc", nid, i, rng.randrange(1, 5000))); live.append(nid); nid += 1
        elif r < 0.6:
            ops.append(("calloc", nid, rng.randrange(1, 20), rng.randrange(1, 100))); live.append(nid); nid += 1
        elif r < 0.65:
            ops.append(("malloc", nid, rng.randrange(1, 3000), 1 << rng.randrange(3, 13))); live.append(nid); nid += 1
        else:
            ops.append(("malloc", nid, rng.randrange(1, 2000))); live.append(nid); nid += 1
    return ops

def write(name, data):
    with open(name, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
            g.write(data)

if __name__ == "__main__":
    import sys
    if len(sys.argv) > 2 and sys.argv[1] == "--big":  # gen.py --big OUT: ~50 MB raw
        write(sys.argv[2], encode(many(6_000_000, 7)))
        sys.exit()
    p = prog()
    write("prog.trace.gz", encode(p, 5))
    print("prog", *expect(p))
    m = many(400, 1)
    write("many.trace.gz", encode(m, 200))
    print("many", *expect(m))
    # a corrupt message: line 3's op length overruns it
    bad = encode(p[:2]) + bytes([0x0a, 0x04, 0x0a, 0x09, 0x08, 0x01]) + encode(p[2:])
    write("bad.trace.gz", bad)
    # the same beyond the probe's 512 bytes: line 101 of many's
    bad = encode(m[:100]) + bytes([0x0a, 0x04, 0x0a, 0x09, 0x08, 0x01]) + encode(m[100:])
    write("badlate.trace.gz", bad)
    # uncompressed, the last message cut off
    with open("cut.trace", "wb") as f:
        f.write(encode(p[:4])[:-2])
    print("cut", *expect(p[:3]))
