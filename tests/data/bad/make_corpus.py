#!/usr/bin/env python3
"""Regenerates the bad-input corpus (tests/data/bad/).  The committed files
are what the tests use; this script only documents how each was made.
Each entry of EXPECT names a file and a substring its one-line error must
contain.  Run from this directory: python3 make_corpus.py"""
import gzip, struct, subprocess

def w(name, data):
    with open(name, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

MAGIC = b"\x89HBT\r\n\x1a\n"

def hbt(ops, ids, threads=1, version=1, record=24, meta=b"", trailing=b"",
        claim_ops=None, claim_ids=None):
    """ops: list of (kind, id, size, arg, flags, thread)."""
    ops_off = (64 + len(meta) + 7) & ~7
    h = MAGIC + struct.pack("<IIIIQIIQQQ", version, 64, record, 0,
                            len(ops) if claim_ops is None else claim_ops,
                            ids if claim_ids is None else claim_ids, threads,
                            64, len(meta), ops_off)
    body = b"".join(struct.pack("<QQIHBB", size, arg, i, th, kind, fl)
                    for kind, i, size, arg, fl, th in ops)
    return h + meta + b"\0" * (ops_off - 64 - len(meta)) + body + trailing

A, C, M, R, F = 0, 1, 2, 3, 4
good = [(A, 0, 16, 0, 0, 0), (A, 1, 32, 0, 0, 0), (F, 0, 0, 0, 0, 0), (F, 1, 0, 0, 0, 0)]

w("empty.trace", b"")
w("blank-only.trace", "\n  \n\t\n")
w("garbage.bin", bytes((i * 37 + 11) % 256 for i in range(300)))
w("wrong-magic.hbt", b"\x89HBX\r\n\x1a\n" + hbt(good, 2)[8:])
w("hbt-version.hbt", hbt(good, 2, version=99))
w("hbt-record-size.hbt", hbt(good, 2, record=32))
w("hbt-short-header.hbt", hbt(good, 2)[:20])
w("hbt-truncated.hbt", hbt(good, 2)[:-10])
w("hbt-lying-count.hbt", hbt(good, 2, claim_ops=1000000))
w("hbt-trailing.hbt", hbt(good, 2, trailing=b"junk"))
w("hbt-lying-ids.hbt", hbt(good, 2, claim_ids=4000000000))
w("hbt-bad-id.hbt", hbt([(A, 0, 16, 0, 0, 0), (F, 7, 0, 0, 0, 0)], 2))
w("hbt-free-dead.hbt", hbt([(A, 1, 16, 0, 0, 0), (F, 0, 0, 0, 0, 0)], 2))
w("hbt-bad-kind.hbt", hbt([(9, 0, 16, 0, 0, 0)], 1))
w("hbt-size-overflow.hbt", hbt([(A, 0, 2**64 - 1, 0, 0, 0)], 1))
w("hbt-truncated.hbt.zst", subprocess.run(["zstd", "-q", "-c"], input=hbt(good, 2)[:-10],
                                          capture_output=True, check=True).stdout)
w("rep-lying-ops.rep", "20000\n2\n10\n1\na 0 8\na 1 8\nf 0\n")
w("rep-ids-small.rep", "1\n2\n3\n0\na 0 8\na 1 8\na 2 8\n")
w("rep-truncated-header.rep", "20000\n3\n")
w("rep-bad-header.rep", "20000\nthree\n8\n1\n")
w("rep-bad-kind.rep", "1\n2\n2\n0\na 0 8\nx 1 8\n")
w("rep-free-dead.rep", "1\n2\n2\n0\na 0 8\nf 1\n")
w("rep-negative-size.rep", "1\n1\n1\n0\na 0 -8\n")
w("alloc-live.trace", "a 5 10\na 5 20\n")
w("size-overflow.trace", "a 0 99999999999999999999999\n")
w("size-too-big.trace", "a 0 18446744073709551615\n")
w("id-overflow.trace", "a 99999999999999999999 8\n")
w("calloc-overflow.trace", "c 0 4294967296 4294967296\n")
w("align-bad.trace", "m 0 3 64\n")
w("text-version.trace", "# heapbench-trace: 3\na 0 8\n")
w("text-bad-thread.trace", "99999999999999999999999: a 0 8\n")
w("text-trailing.trace", "a 0 8 9\n")
w("text-missing-size.trace", "a 0\n")
w("realloc-dead-free.trace", "a 0 8\nf 0\nf 0\n")
w("not-a-trace.txt", "hello world\nthis is prose\n")
zst = subprocess.run(["zstd", "-q", "-c"], input=b"a 0 8\nf 0\n" * 1000,
                     capture_output=True, check=True).stdout
w("truncated.trace.zst", zst[:len(zst) // 2])
w("corrupt.trace.zst", zst[:4] + bytes(64))
gz = gzip.compress(b"a 0 8\nf 0\n" * 1000)
w("truncated.trace.gz", gz[:len(gz) // 2])
w("corrupt.trace.gz", gz[:10] + bytes(range(256)) * 2)
# found by review: binary bytes after the first 512, lying .hbt counts,
# a thread prefix without an op, live bytes beyond 2^63-1, bad metadata,
# a warning before the error (bad input must still be one line)
w("nul-after-512.trace", b"# " + b"x" * 600 + b"\na 0 8\n\x00\x01\x02\xff\nf 0\n")
w("hbt-lying-threads.hbt", hbt(good, 2, threads=65536))
w("hbt-lying-id-count.hbt", hbt([(A, 0, 16, 0, 0, 0), (F, 0, 0, 0, 0, 0)], 2))
w("hbt-header-size.hbt", hbt(good, 2)[:12] + struct.pack("<I", 72) + hbt(good, 2)[16:])
w("hbt-short-magic.hbt", MAGIC[:7])
w("hbt-bad-meta.hbt", hbt(good, 2, meta=b"heapbench-trace: 1\n"))
w("thread-no-op.trace", "3:\n")
w("live-overflow.trace", "a 0 9223372036854775807\na 1 9223372036854775807\n")
w("rep-warning-then-error.rep", "1\n3\n3\n0\na 0 8\na 1\nf 2\n")
