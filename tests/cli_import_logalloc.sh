#!/usr/bin/env bash
# tests/cli_import_logalloc.sh - importing Mozilla logalloc logs
# (harness/trace/logalloc.c): hand-made logs following LogAlloc.cpp and
# logalloc_munge.py - the raw spelling (0x pointers, 0x0 for NULL; two
# processes, two threads, every function, jemalloc_stats(), a failed malloc,
# free(NULL), realloc(NULL), malloc(0), an unknown free), the munged one
# (#N slots, recycled; realloc/free of the NULL slot) and the oldest one
# (no TID column); TAP.  The expected numbers come from
# tests/data/import/logalloc/expect.py, which computes them from the raw
# logs independently of the importer.
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/logalloc
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"


# ---- raw: as LogAlloc.cpp writes it -------------------------------------------------
# numbers from `python3 expect.py raw.log munged.log old.log`: ops by kind as
# trace stats counts them (realloc(NULL, n) an alloc; posix_memalign,
# aligned_alloc, memalign, valloc memaligns), peak live bytes, threads
check "raw: ops by kind, peak live bytes, two threads" \
	"20 4 1 4 1 10 7392 2" "$(shape "$D/raw.log")"
check "raw: realities (failed malloc, malloc(0), unknown free, jemalloc_stats, 2 calls of pid 18546)" \
	"logalloc 1 0 0 1 1 0 1 2 18545 2" "$(realities "$D/raw.log")"
run "$HB" trace stats "$D/raw.log"
check_has "raw: the left-out calls are warned about" "$err" "2 calls of other processes (left out)"
run "$HB" trace convert "$D/raw.log" "$T/raw/"
check "raw, convert to DIR/: one trace per process" "1-18545.hbt.zst 2-18546.hbt.zst" \
	"$(cd "$T/raw" && echo *)"
check "raw, convert to DIR/: the first as when read alone, pid 18546's malloc(77) and free" \
	"20 4 1 4 1 10 7392 2 / 2 1 0 0 0 1 77 1" \
	"$(shape "$T/raw/1-18545.hbt.zst") / $(shape "$T/raw/2-18546.hbt.zst")"
ops "$D/raw.log" >"$T/raw.ops"
check "raw: malloc, calloc, realloc, posix_memalign" "0: a 0 32
0: c 1 1 148
0: r 0 64
0: m 2 256 240" "$(sed -n 1,4p "$T/raw.ops")"
check "raw: aligned_alloc, memalign, valloc (page-aligned)" "1: m 4 64 640
1: m 5 32 100
1: m 6 4096 5000" "$(sed -n 6,8p "$T/raw.ops")"
check "raw: realloc(0x0, n), free(0x0)" "0: r 7 200
0: f -1" "$(sed -n 9,10p "$T/raw.ops")"
run "$HB" replay -a first-fit "$D/raw.log"
check "raw: replay -a first-fit works" 0 "$rc"

# ---- munged: as logalloc_munge.py writes it for logalloc-replay -------------------
check "munged: ops by kind, peak live bytes, two threads" \
	"16 4 1 2 1 8 2292 2" "$(shape "$D/munged.log")"
check "munged: realities (a slot never filled is NULL, not unknown)" \
	"logalloc 0 0 0 0 0 0 1 1 1 2" "$(realities "$D/munged.log")"
ops "$D/munged.log" >"$T/munged.ops"
check "munged: realloc(#NULL, 200) is realloc(NULL), free(#NULL) free(NULL)" "0: r 5 200
0: f -1" "$(sed -n 7,8p "$T/munged.ops")"
check "munged: a recycled slot is a new block" "1: f 3
1: a 3 24" "$(sed -n 9,10p "$T/munged.ops")"
run "$HB" replay -a first-fit "$D/munged.log"
check "munged: replay -a first-fit works" 0 "$rc"

# ---- the oldest: no TID column --------------------------------------------------------
check "old: ops by kind, peak live bytes, the pid as thread" "5 2 0 0 1 2 100 1" "$(shape "$D/old.log")"
check "old: realities" "logalloc 0 0 0 0 0 0 0 0 13663 1" "$(realities "$D/old.log")"

# ---- realities and errors ---------------------------------------------------------
{ head -n 5 "$D/raw.log"; printf '18545 18545 malloc(10'; } >"$T/cut.log"
run "$HB" trace stats --json "$T/cut.log"
check "a cut-off last line: loads" 0 "$rc"
# (a line cut inside its result's digits still parses: it is kept, as in every importer)
check "a cut-off last line is counted and dropped" "1 4" \
	"$(jq -r '[.metadata["import-truncated-lines"], .ops] | map(tostring) | join(" ")' <<<"$out")"
{ head -n 5 "$D/raw.log"; printf '18545 18545 mall'; } >"$T/cut2.log"
run "$HB" trace stats --json "$T/cut2.log"
check "a last line cut in its name is counted" 1 "$(jq -r '.metadata["import-truncated-lines"]' <<<"$out")"
head -c -1 "$D/raw.log" >"$T/nonl.log"
run "$HB" trace stats --json "$T/nonl.log"
check "a last line without newline that parses is kept" "0 20" \
	"$(jq -r '[.metadata["import-truncated-lines"], .ops] | map(tostring) | join(" ")' <<<"$out")"
{ head -n 3 "$D/raw.log"; echo '18545 18545 calloc(1)=0x7f9049700000'; tail -n 2 "$D/raw.log"; } >"$T/bad.log"
run "$HB" trace stats "$T/bad.log"
check "a malformed call: exit 2" 2 "$rc"
check "a malformed call: FILE:LINE: message" "heapbench: $T/bad.log:4: malformed logalloc calloc() call" "$err"
{ head -n 3 "$D/raw.log"; echo '18545 18545 malloc(16)=7f9049700000'; } >"$T/bad2.log"
run "$HB" trace stats "$T/bad2.log"
check "a raw result without 0x: FILE:LINE" "heapbench: $T/bad2.log:4: malformed logalloc malloc() call" "$err"
{ head -n 3 "$D/raw.log"; echo '18545 18545 free(0x7f9049537480)=0x1'; } >"$T/bad3.log"
run "$HB" trace stats "$T/bad3.log"
check "free with a result: FILE:LINE" "heapbench: $T/bad3.log:4: malformed logalloc free() call" "$err"
{ head -n 3 "$D/raw.log"; echo 'a banner'; echo '18545 18545 malloc_usable_size(0x7f9049537480)=64'; tail -n 2 "$D/raw.log"; } >"$T/other.log"
run "$HB" trace stats --json "$T/other.log"
check "lines that are no call and other functions are other lines" 2 "$(jq -r '.metadata["import-other-lines"]' <<<"$out")"

# ---- detection by content ---------------------------------------------------------
cp "$D/raw.log" "$T/misleading.rep"
check "detected by content, not by name" "20 4 1 4 1 10 7392 2" "$(shape "$T/misleading.rep")"
run "$HB" trace stats --json "$T/misleading.rep"
check "detected as logalloc" logalloc "$(jq -r .format <<<"$out")"
printf '4242 malloc(32) = 0x55d0c0a012a0\n4242 free(0x55d0c0a012a0) = <void>\n' >"$T/ltrace.log"
run "$HB" trace stats --json "$T/ltrace.log"
check_not "an ltrace -f log (blanks around =) is not taken for logalloc" "$(jq -r .format <<<"$out" 2>/dev/null)" logalloc
gzip -c "$D/munged.log" >"$T/munged.log.gz"
check "gzip-compressed, as the README pipes it: detected after decompression" \
	"16 4 1 2 1 8 2292 2" "$(shape "$T/munged.log.gz")"

echo "1..$n"
