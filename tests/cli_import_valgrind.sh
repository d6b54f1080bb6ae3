#!/usr/bin/env bash
# tests/cli_import_valgrind.sh - importing valgrind --trace-malloc=yes logs
# (harness/trace/valgrind.c): real recordings of a C program (threads,
# calloc, realloc, aligned allocs, free(NULL), a failed huge malloc), a C++
# program (new/delete, aligned and nothrow new), a shell script with
# --trace-children=yes, --time-stamp=yes, and a hand-written log of the
# spellings and realities the recordings lack; TAP.  The expected numbers
# come from tests/data/import/valgrind/expect.py, which computes them from
# the raw logs independently of the importer.
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/valgrind
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"


# ---- real recordings (valgrind 3.19.0; see README) ------------------------------
# numbers from `python3 expect.py *.log`: ops by kind as trace stats counts
# them (realloc(NULL, n) an alloc, realloc(p, 0) a free), peak live bytes
check "C program: ops by kind, peak live bytes, one thread (valgrind names none)" \
	"120 5 3 4 3 105 10224 1" "$(shape "$D/prog.log")"
check "C program: realities (the huge malloc failed; malloc(0) kept)" \
	"valgrind 0 0 0 1 1 0 15 0 23501 1" "$(realities "$D/prog.log")"
run "$HB" trace stats "$D/prog.log"
check_has "C program: the failed call is warned about" "$err" "1 failed calls (not replayed)"
ops "$D/prog.log" >"$T/prog.ops"
check "C program: realloc(p, 0) (printed realloc(P,0)free(P), then ' = 0') is r ID 0" \
	"r 3 0" "$(sed -n 12p "$T/prog.ops")"
check "C program: posix_memalign, memalign, aligned_alloc, valloc are m ops" \
	"m 1 64 200
m 3 32 96
m 4 128 256
m 5 4096 100" "$(grep '^m ' "$T/prog.ops")"
check "C program: free(NULL) kept (93 of them, libc's exit included)" 93 "$(grep -c '^f -1$' "$T/prog.ops")"

check "C++ program: new/new[]/aligned new/nothrow new and the deletes" \
	"90 5 0 2 0 83 76800 1" "$(shape "$D/cxx.log")"
check "C++ program: realities" "valgrind 0 0 0 0 0 0 15 0 23503 1" "$(realities "$D/cxx.log")"
check "C++ program: _ZnwmSt11align_val_t(size 64, al 64) is m ID 64 64" \
	"m 3 64 64" "$(ops "$D/cxx.log" | sed -n 4p)"

check "--trace-children: the first process's calls" "133 52 0 0 0 81 9776 1" "$(shape "$D/children.log")"
check "--trace-children: 213 calls of 2 other processes left out, the script's echo skipped" \
	"valgrind 0 0 0 0 0 0 50 213 23781 3" "$(realities "$D/children.log")"
run "$HB" trace stats "$D/children.log"
check_has "--trace-children: the left-out calls are warned about" "$err" "213 calls of other processes (left out)"

# one trace per process: numbers from `python3 expect.py --pid PID children.log`
run "$HB" trace convert "$D/children.log" "$T/children/"
check "--trace-children, convert to DIR/: exit 0" 0 "$rc"
check "--trace-children, convert to DIR/: one trace per process, in the order of first calls" \
	"1-23781.hbt.zst 2-23782.hbt.zst 3-23784.hbt.zst" "$(cd "$T/children" && echo *)"
check "--trace-children, convert to DIR/: the first process as when read alone" \
	"133 52 0 0 0 81 9776 1" "$(shape "$T/children/1-23781.hbt.zst")"
check "--trace-children, convert to DIR/: prog (a failed malloc, malloc(0))" \
	"121 6 3 4 3 105 10760 1 / 0 0 0 1 1 0 23782 3" \
	"$(shape "$T/children/2-23782.hbt.zst") / $(realities "$T/children/2-23782.hbt.zst" |
		cut -d' ' -f2-7,10-)"
check "--trace-children, convert to DIR/: cxx" "91 6 0 2 0 83 77336 1 / 0 0 0 0 0 0 23784 3" \
	"$(shape "$T/children/3-23784.hbt.zst") / $(realities "$T/children/3-23784.hbt.zst" |
		cut -d' ' -f2-7,10-)"
check_has "--trace-children, convert to DIR/: the table of processes on stderr" "$err" \
	"  2-23782.hbt.zst                 23782          121        1            10760"
check "--trace-children, convert to DIR/: no call left out" "0 0 0" \
	"$(for f in "$T"/children/*; do "$HB" trace stats --json "$f" | jq -r '.metadata["import-other-processes"]'; done | xargs)"
check "a single-process log to DIR/: one trace" "1-23501.hbt.zst" \
	"$("$HB" trace convert "$D/prog.log" "$T/one/" 2>/dev/null; cd "$T/one" && echo *)"
mkdir -p "$T/full/2-23782.hbt.zst" # in the way of the second trace
run "$HB" trace convert "$D/children.log" "$T/full"
check "convert to DIR/, a write fails: exit 2, the traces written before removed" \
	"2 2-23782.hbt.zst" "$rc $(cd "$T/full" && echo *)"
check_has "convert to DIR/, a write fails: the error names the file" "$err" "$T/full/2-23782.hbt.zst"

check "--time-stamp=yes: the same calls" "90 5 0 2 0 83 76800 1" "$(shape "$D/timestamps.log")"
check "--time-stamp=yes: times kept (D:HH:MM:SS.mmm, in ns)" "a 0 72704 @431000000" \
	"$(ops "$D/timestamps.log" | head -1)"

# ---- spellings and realities (hand-written) ----------------------------------------
check "edge: ops by kind and peak live bytes" "18 8 2 2 0 6 8526 1" "$(shape "$D/edge.log")"
check "edge: unknown free and realloc, lost free, 2 failed, calloc(0,..), cut-off line, 7 other lines" \
	"valgrind 1 1 1 2 1 1 7 0 4242 1" "$(realities "$D/edge.log")"
check "edge: every op" "a 0 16
a 1 32
r 2 48
m 3 64 100
m 4 4096 8192
a 5 10
f 0
a 0 24
a 6 40
a 7 80
f 6
f 7
f 1
a 1 64
r 1 0
c 1 0 8
f 1
c 1 3 10" "$(ops "$D/edge.log")"

# ---- errors, detection, replay ----------------------------------------------------
run "$HB" trace stats "$D/bad.log"
check "a malformed call: exit 2" 2 "$rc"
check "a malformed call: one line naming FILE:LINE" \
	"heapbench: $D/bad.log:2: unreadable valgrind call: calloc(2,x) = 0x5000100" "$err"
printf -- '--1-- malloc(8) = 0x1000\n--1-- malloc(1' >"$T/cut.log"
check "a cut-off last line is counted, not an error" "valgrind 0 0 0 0 0 1 0 0 1 1" "$(realities "$T/cut.log")"
cp "$D/prog.log" "$T/misleading.trace"
check "detected by content, whatever the name" "valgrind" \
	"$("$HB" trace stats --json "$T/misleading.trace" 2>/dev/null | jq -r .format)"
grep -v '^==' "$D/cxx.log" >"$T/quiet.log"
check "detected without the banner (-q)" "90 5 0 2 0 83 76800 1" "$(shape "$T/quiet.log")"
gzip -c "$D/children.log" >"$T/children.log.gz"
check "a gzip-compressed log" "133 52 0 0 0 81 9776 1" "$(shape "$T/children.log.gz")"
printf '==5== Memcheck, a memory error detector\n==5== Using Valgrind-3.19.0 and LibVEX\n' >"$T/none.log"
run "$HB" trace stats "$T/none.log"
check "a valgrind log without --trace-malloc: exit 2" 2 "$rc"
check_has "a valgrind log without --trace-malloc: said so" "$err" "valgrind log without any allocation call"
for f in prog cxx children edge; do
	run "$HB" replay -a first-fit "$D/$f.log"
	check "replay -a first-fit of $f.log: exit 0" 0 "$rc"
done

echo "1..$n"
