#!/usr/bin/env bash
# tests/cli_import_ltrace.sh - importing ltrace logs of the allocation calls
# (harness/trace/ltrace.c): real recordings of a C program (a thread,
# calloc, realloc, aligned allocs, free(NULL), failed huge malloc and
# realloc) with -f, -t, -tt, -ttt, -r, without -f, with -x (nested calls),
# -i -T on stderr ([pid N]), a posix_memalign prototype, and of a program
# with 3 threads and a fork (split calls); a hand-written log of the rest;
# TAP.  The expected numbers come from tests/data/import/ltrace/expect.py,
# which computes them from the raw logs independently of the importer.
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/ltrace
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"

# last_time FILE: the time of the last op (ns), empty if untimed
last_time() { ops "$1" | tail -1 | sed -n 's/.*@//p'; }

# ---- real recordings (ltrace 0.7.3; see README) -----------------------------------
# numbers from `python3 expect.py`: ops by kind as trace stats counts them
# (realloc(NULL, n) an alloc, realloc(p, 0) a free), peak live bytes, threads
for f in prog-f prog-f-t prog-f-tt prog-f-ttt prog-f-r prog-f-i-T-stderr prog-f-proto; do
	check "$f.log: ops by kind, peak live bytes, 2 threads" "20 4 2 2 2 10 5816 2" "$(shape "$D/$f.log")"
	check "$f.log: realities (2 failed, malloc(0) kept, the +++ exited lines)" \
		"ltrace 0 0 0 2 1 0 2 0 - -" "$(realities "$D/$f.log")"
done
check "-t: whole seconds of the day" 42011000000000 "$(last_time "$D/prog-f-t.log")"
check "-tt: microseconds" 42011886056000 "$(last_time "$D/prog-f-tt.log")"
check "-ttt: seconds since the epoch" 1796298011915632000 "$(last_time "$D/prog-f-ttt.log")"
check "-r: the relative times accumulated (the +++ lines' too)" 8557000 "$(last_time "$D/prog-f-r.log")"
check "no times: none in the trace" "" "$(last_time "$D/prog-f.log")"
ops "$D/prog-f.log" >"$T/prog.ops"
check "realloc(0, 50) and realloc(p, 0) = 0" "r 2 50
r 2 0" "$(grep '^0: r 2' "$T/prog.ops" | sed 's/^0: //')"
check "posix_memalign (block inferred from its free) and aligned_alloc are m ops" "0: m 1 64 200
0: m 3 4096 4096" "$(grep ' m ' "$T/prog.ops")"
check "free(0) kept as f -1 (twice)" 2 "$(grep -c 'f -1$' "$T/prog.ops")"
check "the thread's calls are labeled apart" "1: a 2 200" "$(grep '^1: ' "$T/prog.ops" | head -1)"

check "no -f: the main thread only" "15 3 1 2 1 8 5346 1" "$(shape "$D/prog.log")"
check "no -f: realities" "ltrace 0 0 0 2 1 0 1 0 - -" "$(realities "$D/prog.log")"
check "-x: the nested NAME@libc.so.6 calls skipped, pthread_create's and printf's calloc/malloc kept" \
	"17 4 2 2 1 8 5568 1" "$(shape "$D/prog-x.log")"
check "-x: realities (31 nested or other lines)" "ltrace 0 0 0 2 1 0 31 0 - -" "$(realities "$D/prog-x.log")"
check "threads + fork: every split call completed at its resume line; 4 threads and the child" \
	"184 92 0 0 0 92 132 5" "$(shape "$D/threads.log")"
check "threads + fork: realities (free <no return ...> applied)" "ltrace 0 0 0 0 0 0 6 0 - -" \
	"$(realities "$D/threads.log")"

# ---- hand-written: every spelling -------------------------------------------------
check "edge: ops by kind, peak live bytes, threads" "14 4 1 3 1 5 420 2" "$(shape "$D/edge.log")"
check "edge: realities (unknown free, lost free, 2 failed, unfinished call and cut line truncated)" \
	"ltrace 1 0 1 2 1 2 6 0 - -" "$(realities "$D/edge.log")"
check "edge: -tt times past midnight keep increasing" 86401600000000 "$(last_time "$D/edge.log")"
ops "$D/edge.log" >"$T/edge.ops"
check "edge: mangled new, calloc(0, 8), the split malloc at its resume line" "0: a 0 16 @86399900000000
0: a 1 24 @86399950000000
0: c 2 0 8 @86400100000000
1: a 3 32 @86400500000000
0: r 0 64 @86400600000000" "$(head -5 "$T/edge.ops")"
check "edge: posix_memalign with its block shown (3 arguments) freed by its address" "0: m 1 32 50 @86401410000000
1: f 1 @86401430000000" \
	"$(grep "@8640141\|@8640143" "$T/edge.ops")"

# ---- errors -----------------------------------------------------------------------
run "$HB" trace stats "$D/bad.log"
check "a malformed allocation call: exit 2" 2 "$rc"
check "a malformed allocation call: FILE:LINE and what is wrong" \
	"heapbench: $D/bad.log:3: cannot read the arguments of an allocation call" "$err"
printf '1 prog->malloc(16) = 0x10\n1 prog->free(0x10) = <void>\n1 prog->mall' >"$T/cut.log"
check "a log cut mid-line: the last line counted as truncated" 1 \
	"$("$HB" trace stats --json "$T/cut.log" 2>/dev/null | jq -r '.metadata["import-truncated-lines"]')"
printf '1 prog->malloc(16) = 0x10\n1 prog->free(0x10) = <void>\n1 prog->malloc(16' >"$T/cut2.log"
check "a log cut inside an allocation call: truncated too" 1 \
	"$("$HB" trace stats --json "$T/cut2.log" 2>/dev/null | jq -r '.metadata["import-truncated-lines"]')"
printf '1 prog->malloc(16) = 0x10\n1 prog->free(0x10) = 7\n' >"$T/voidfree.log"
run "$HB" trace stats "$T/voidfree.log"
check "free returning a value: FILE:LINE" "heapbench: $T/voidfree.log:2: free returning a value" "$err"

# ---- detection by content, replay -------------------------------------------------
cp "$D/prog-f-tt.log" "$T/misleading.rep"
check "detected by content, not by name" "ltrace" \
	"$("$HB" trace stats --json "$T/misleading.rep" 2>/dev/null | jq -r .format)"
printf '__libc_start_main(0x1, 1, 0x2 <unfinished ...>\nmalloc(3) = 0x10\nfree(0x10) = <void>\n' >"$T/plain.log"
check "a log without LIB-> or PID, but with = <void>: ltrace's" "ltrace" \
	"$("$HB" trace stats --json "$T/plain.log" 2>/dev/null | jq -r .format)"
printf 'malloc(16) = 0x55aa\nmalloc(32) = 0x55ba\n' >"$T/calllog.log"
check "plain NAME(ARGS) = RESULT lines with nothing of ltrace's: left to the call-log reader" "" \
	"$("$HB" trace stats --json "$T/calllog.log" 2>/dev/null | jq -r 'select(.format == "ltrace") | .format')"
printf -- '--77-- malloc(16) = 0x5000000\n--77-- free(0x5000000)\n' >"$T/vg.log"
check "valgrind's lines are not ltrace's" "" \
	"$("$HB" trace stats --json "$T/vg.log" 2>/dev/null | jq -r 'select(.format == "ltrace") | .format')"
for f in prog-f prog-f-r threads edge; do
	run "$HB" replay -a first-fit "$D/$f.log"
	check "replay -a first-fit of $f.log" 0 "$rc"
done

echo "1..$n"
