#!/usr/bin/env bash
# tests/cli_import_mtrace.sh - importing glibc mtrace (MALLOC_TRACE) logs
# (harness/trace/mtrace.c): a real recording of a C program (a thread,
# calloc, realloc, aligned allocs, free(NULL), failed huge malloc and
# realloc), one of a forking C++ program, and a hand-written log of the
# spellings and realities the recordings lack; TAP.  The expected numbers
# come from tests/data/import/mtrace/expect.py, which computes them from the
# raw logs independently of the importer.
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/mtrace
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"


# ---- real recordings (glibc 2.36; see README) -------------------------------------
# mtrace spells calloc and the aligned functions as malloc (+), realloc(NULL, n)
# as +, realloc(p, 0) as -, and never prints free(NULL): counts by kind differ
# from the program's calls, peak live bytes do not
check "C program: ops by kind, peak live bytes, one thread (mtrace names none)" \
	"20 10 0 0 2 8 6104 1" "$(shape "$D/prog.log")"
check "C program: realities (huge malloc and huge realloc failed; malloc(0) kept; = Start/End)" \
	"mtrace 0 0 0 2 1 0 2 0 - -" "$(realities "$D/prog.log")"
run "$HB" trace stats "$D/prog.log"
check "C program: stats exits 0" 0 "$rc"
check_has "C program: the failed calls are warned about" "$err" "2 failed calls (not replayed)"
ops "$D/prog.log" >"$T/prog.ops"
check "C program: '< OLD' + '> NEW SIZE' is one realloc (moved)" "r 0 1000" "$(sed -n 4p "$T/prog.ops")"
check "C program: the thread's realloc" "r 4 400" "$(sed -n 12p "$T/prog.ops")"
check "C program: a failed realloc (!) leaves its block: freed later" "f 0" "$(sed -n 15p "$T/prog.ops")"
check "C program: malloc(0) is a 0-byte block" "a 0 0" "$(sed -n 18p "$T/prog.ops")"

check "fork (C++): ops by kind, peak live bytes" "20 10 0 0 0 10 353 1" "$(shape "$D/fork.log")"
check "fork (C++): the child's copy of the buffer shows as a lost and an unknown free, the cut line skipped" \
	"mtrace 1 0 1 0 0 0 2 0 - -" "$(realities "$D/fork.log")"

# ---- hand-written: every spelling -------------------------------------------------
check "edge: ops by kind, peak live bytes" "10 6 0 0 2 2 630 1" "$(shape "$D/edge.log")"
check "edge: realities (2 unknown frees, a lost free, 3 failed, a cut last line)" \
	"mtrace 2 0 1 3 1 1 4 0 - -" "$(realities "$D/edge.log")"
check "edge: no caller, FILE with a blank, (SYM-OFF) callers all read" "a 0 16
a 1 32
a 2 48" "$(ops "$D/edge.log" | head -3)"

# ---- errors -----------------------------------------------------------------------
run "$HB" trace stats "$D/bad.log"
check "a malformed call line: exit 2" 2 "$rc"
check "a malformed call line: FILE:LINE and what is wrong" \
	"heapbench: $D/bad.log:3: not an mtrace call line (@ CALLER +|-|<|>|! 0xPTR [0xSIZE])" "$err"
run "$HB" trace stats "$D/unpaired.log"
check "a realloc's '<' without its '>': exit 2" 2 "$rc"
check "a realloc's '<' without its '>': FILE:LINE" \
	"heapbench: $D/unpaired.log:4: realloc's '<' line (line 3) is not followed by its '>' line" "$err"
cp "$D/prog.log" "$T/cut.log"
printf '@ ./prog:[0x13c4] + 0x55940c1482a0' >>"$T/cut.log"
check "a log cut mid-line: the last line counted as truncated" "1" \
	"$("$HB" trace stats --json "$T/cut.log" 2>/dev/null | jq -r '.metadata["import-truncated-lines"]')"
printf '= Start\n= End\n' >"$T/empty.log"
run "$HB" trace stats "$T/empty.log"
check "a log without calls: exit 2" 2 "$rc"
check_has "a log without calls: said so" "$err" "mtrace log without any allocation call"

# ---- detection by content, replay -------------------------------------------------
cp "$D/prog.log" "$T/misleading.trace"
check "detected by content, not by name" "mtrace" \
	"$("$HB" trace stats --json "$T/misleading.trace" 2>/dev/null | jq -r .format)"
sed -n '2,$p' "$D/prog.log" >"$T/excerpt.txt"
check "an excerpt without '= Start' is detected by its first call line" "mtrace" \
	"$("$HB" trace stats --json "$T/excerpt.txt" 2>/dev/null | jq -r .format)"
gzip -c "$D/edge.log" >"$T/edge.log.gz"
check "a gzipped log reads the same" "$(shape "$D/edge.log")" "$(shape "$T/edge.log.gz")"
for f in prog fork edge; do
	run "$HB" replay -a first-fit "$D/$f.log"
	check "replay -a first-fit of $f.log" 0 "$rc"
done

echo "1..$n"
