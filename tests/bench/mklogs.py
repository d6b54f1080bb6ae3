#!/usr/bin/env python3
"""tests/bench/mklogs.py TRACE OUTDIR - the ops of a native text trace spelled
as other recorders' logs (valgrind, ltrace, mtrace, Android record_allocs,
Mozilla logalloc, plain call logs, heaptrack), one file each in OUTDIR, for `make bench-parse`: what the
importers read per second is measured on the same ops in every format.

Block ids become addresses (id * 64 above a base, 16-aligned); a realloc keeps
its address. Only the line shapes matter here, not the realism of the
addresses."""
import os
import sys

BASE = 0x5555_5555_0000


def ops(path):
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            yield line.split()


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | 0x80 if v else b)
        if not v:
            return bytes(out)


def pb_line(num, fields):
    """One malloc-bench Tracefile `lines` field: a TraceLine whose op is
    field num (1 malloc, 2 free, 3 realloc, 4 calloc) with these varint
    fields (None = absent), as tests/data/import/mallocbench/gen.py."""
    body = b"".join(varint(k << 3) + varint(v) for k, v in enumerate(fields, 1)
                    if v is not None)
    line = varint(num << 3 | 2) + varint(len(body)) + body
    return varint(1 << 3 | 2) + varint(len(line)) + line


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    files = {k: open(os.path.join(out, k + ".log"), "w") for k in
             ("valgrind", "ltrace", "mtrace", "android", "logalloc", "calllog", "heaptrack")}
    vg, lt, mt, an, la = (files[k] for k in
                          ("valgrind", "ltrace", "mtrace", "android", "logalloc"))
    cl, ht = files["calllog"], files["heaptrack"]
    # malloc-bench: uncompressed (the reader's own speed, not gzip's);
    # ids are the trace's, absent = NULL
    mb = open(os.path.join(out, "malloc-bench.log"), "wb")
    ht.write("v 10400 3\nX ./prog\nI 1000 5e290c\n")
    infos = {}

    def info(n):
        if n not in infos:
            infos[n] = len(infos)
            ht.write(f"a {n:x} 1\n")
        return infos[n]

    def ht_alloc(i, n):
        ht.write(f"+ {info(n):x}\n")

    def ht_free(i):
        if i in live:
            ht.write(f"- {info(live[i]):x}\n")

    mt.write("= Start\n")
    vg.write("==4242== Memcheck, a memory error detector\n")
    live = {}
    for f in ops(src):
        kind, i = f[0], int(f[1])
        a = BASE + i * 64 if i >= 0 else 0
        slot = i + 1
        if kind == "a":
            n = int(f[2])
            vg.write(f"--4242-- malloc({n}) = 0x{a:x}\n")
            lt.write(f"4242 malloc({n}) = 0x{a:x}\n")
            mt.write(f"@ ./prog:[0x401136] + 0x{a:x} 0x{n:x}\n")
            an.write(f"4242: malloc 0x{a:x} {n}\n")
            la.write(f"4242 4242 malloc({n})=#{slot}\n")
            cl.write(f"malloc({n}) = 0x{a:x}\n")
            mb.write(pb_line(1, (i, n)))
            ht_alloc(i, n)
            live[i] = n
        elif kind == "c":
            m, n = int(f[2]), int(f[3])
            vg.write(f"--4242-- calloc({m},{n}) = 0x{a:x}\n")
            lt.write(f"4242 calloc({m}, {n}) = 0x{a:x}\n")
            mt.write(f"@ ./prog:[0x401136] + 0x{a:x} 0x{m * n:x}\n")
            an.write(f"4242: calloc 0x{a:x} {m} {n}\n")
            la.write(f"4242 4242 calloc({m},{n})=#{slot}\n")
            cl.write(f"calloc({m}, {n}) = 0x{a:x}\n")
            mb.write(pb_line(4, (i, m, n)))
            ht_alloc(i, m * n)
            live[i] = m * n
        elif kind == "m":
            al, n = int(f[2]), int(f[3])
            vg.write(f"--4242-- memalign(al {al}, size {n}) = 0x{a:x}\n")
            lt.write(f"4242 memalign({al}, {n}) = 0x{a:x}\n")
            mt.write(f"@ ./prog:[0x401136] + 0x{a:x} 0x{n:x}\n")
            an.write(f"4242: memalign 0x{a:x} {al} {n}\n")
            la.write(f"4242 4242 memalign({al},{n})=#{slot}\n")
            cl.write(f"memalign({al}, {n}) = 0x{a:x}\n")
            mb.write(pb_line(1, (i, n, al)))
            ht_alloc(i, n)
            live[i] = n
        elif kind == "r":
            n = int(f[2])
            old = a if i in live else 0
            res = a if n else 0
            vg.write(f"--4242-- realloc(0x{old:x},{n}) = 0x{res:x}\n")
            lt.write(f"4242 realloc(0x{old:x}, {n}) = 0x{res:x}\n")
            if old:
                mt.write(f"@ ./prog:[0x401136] < 0x{old:x}\n")
            mt.write(f"@ ./prog:[0x401136] > 0x{res:x} 0x{n:x}\n")
            an.write(f"4242: realloc 0x{res:x} 0x{old:x} {n}\n")
            la.write(f"4242 4242 realloc(#{slot if old else 0},{n})=#{slot}\n")
            cl.write(f"realloc(0x{old:x}, {n}) = 0x{res:x}\n")
            mb.write(pb_line(3, (i if n else None, i if old else None, n)))
            ht_free(i)
            if n:
                ht_alloc(i, n)
            if n:
                live[i] = n
            else:
                live.pop(i, None)
        elif kind == "f":
            vg.write(f"--4242-- free(0x{a:x})\n")
            lt.write(f"4242 free(0x{a:x}) = <void>\n")
            if a:
                mt.write(f"@ ./prog:[0x401136] - 0x{a:x}\n")
            an.write(f"4242: free 0x{a:x}\n")
            la.write(f"4242 4242 free(#{slot if a else 0})\n")
            cl.write(f"free(0x{a:x})\n")
            mb.write(pb_line(2, (i if i >= 0 else None,)))
            ht_free(i)
            live.pop(i, None)
    mt.write("= End\n")
    mb.close()
    for f in files.values():
        f.close()


if __name__ == "__main__":
    main()
