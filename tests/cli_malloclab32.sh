#!/usr/bin/env bash
# tests/cli_malloclab32.sh - a malloc-lab mm.c written for the 32-bit
# handouts, under mm:PATH:bits=32 (and --lab csapp2002's default): built
# -m32 and run in the 32-bit worker, heapbench-worker32, which shares the
# job's page with the 64-bit parent; and the boundary tags read for usable
# sizes.  The mm.c files are heapbench's own (tests/data/malloclab/).  TAP.
set -u
HB=${HEAPBENCH:-build/heapbench}
. "$(dirname "$0")/lib.sh"
field() { jq -r "$1" <<<"$out"; }
LAB=tests/data/malloclab
E32=$LAB/explicit32/mm.c
W32=$(dirname "$HB")/heapbench-worker32

if ! printf 'int main(void){return 0;}' | ${CC:-cc} -m32 -x c - -o "$T/m32" 2>/dev/null; then
	echo "# skipped: no 32-bit C library here (Debian: gcc-multilib), so no heapbench-worker32"
	echo "1..0"
	exit 0
fi
# an ELF file's fifth byte is its class: 1 for 32-bit objects
check "the 32-bit worker is built beside heapbench: a 32-bit ELF" "ELF 1" \
	"$(head -c4 "$W32" 2>/dev/null | tail -c3) $(od -An -tu1 -j4 -N1 "$W32" 2>/dev/null | tr -d ' ')"

# ---- one page, one layout --------------------------------------------------------
# every member of the page, nested ones too, at the same offset and size in
# the 64-bit parent and the 32-bit worker (their debug information)
if command -v gdb >/dev/null; then
	layout() { gdb -batch -ex 'set max-value-size unlimited' -ex 'ptype/o struct job_page' "$1" 2>&1; }
	l64=$(layout "$HB")
	l32=$(layout "$W32")
	check "struct job_page: the same layout in both (offset, size of each of $(grep -c '|' <<<"$l64") members)" \
		"" "$(diff <(echo "$l64") <(echo "$l32"))"
	check_has "... read from the debug information" "$l64" "struct replay_result {"
fi

# ---- a 32-bit-only mm.c -------------------------------------------------------------
# its free list's links are 4-byte words; the expected figures are the 2002
# CS:APP handout's mdriver built as the handout does (-m32) with this mm.c,
# `mdriver -V -a -f TRACE`, on the same .rep files
for t in ramp random-exponential random-uniform; do
	"$HB" trace convert traces/synthetic/$t.trace "$T/$t.rep" 2>/dev/null
done
for t in traces/examples/coalesce.rep:62 traces/examples/realloc-grow.rep:40 \
	"$T/random-exponential.rep:59" "$T/random-uniform.rep:74"; do
	run "$HB" replay -a "mm:$E32" --lab csapp2002 --repeat 1 --json "${t%:*}"
	check "$(basename "${t%:*}") under csapp2002 (32-bit): ok, util ${t##*:} %, as mdriver -m32 prints it" \
		"ok 32 ${t##*:}" "$(field '"\(.status) \(.mm_bits) \(.utilization * 100 | round)"')"
done
run "$HB" replay -a "mm:$E32:bits=32" --align-strict 8 --repeat 1 --json "$T/random-uniform.rep"
check "bits=32 without a lab, the handout's alignment: the same" "ok 32 74" \
	"$(field '"\(.status) \(.mm_bits) \(.utilization * 100 | round)"')"

# built 64-bit, its truncated links crash: that job's status, the others run
run "$HB" replay -a "mm:$E32:bits=64" -a "mm:$E32" -a first-fit --lab csapp2002 --repeat 1 --json \
	"$T/random-uniform.rep"
row() { jq -rs ".[] | select(.backend == \"$1\") | $2" <<<"$out"; }
check "bits=64: crash, SIGSEGV, in the checked pass" "crash 11 64" \
	"$(row "mm:$E32:bits=64" '"\(.status) \(.signal) \(.mm_bits)"')"
check "... beside it the 32-bit build and first-fit: ok" "ok ok" \
	"$(row "mm:$E32" .status) $(row first-fit .status)"

# the mdriver report says which word size it ran
run "$HB" replay -a "mm:$E32" --lab csapp2002 --repeat 1 traces/examples/coalesce.rep
check_has "the report names the word size" "$out" "Results for mm:$E32 (--lab csapp2002, 32-bit):"

# a run's summary carries it too (from results.jsonl)
cat >"$T/lab.yaml" <<Y
name: lab32
lab: csapp2002
traces: [traces/examples/coalesce.rep]
backends: ["mm:$E32", "mm:$LAB/implicit/mm.c:bits=64"]
repeat: 1
plots: []
output: $T/labrun
Y
run "$HB" run "$T/lab.yaml"
check "a suite: the 32-bit and the 64-bit one, each its report" "0 1 1" \
	"$rc $(grep -c 'csapp2002, 32-bit' "$T/labrun/summary.md") $(grep -c 'csapp2002, 64-bit' "$T/labrun/summary.md")"

# ---- what cannot run ----------------------------------------------------------------
run "$HB" replay -a "mm:$E32:bits=16" traces/examples/coalesce.rep
check "bits=16: exit 2, saying what it takes" "2 heapbench: backend mm:$E32:bits=16: bits is 32 or 64, not '16'" "$rc $err"
mkdir -p "$T/solo"
cp "$HB" "$T/solo/heapbench"
run "$T/solo/heapbench" replay -a "mm:$E32" -a first-fit --lab csapp2002 --repeat 1 --json traces/examples/coalesce.rep
check "no heapbench-worker32 beside the binary: that job's error, first-fit ok" "error ok" \
	"$(row "mm:$E32" .status) $(row first-fit .status)"
check_has "... saying what is missing and what runs instead" "$(row "mm:$E32" .error)" \
	"mm: a 32-bit build runs in the 32-bit worker, which this heapbench lacks ($T/solo/heapbench-worker32: it is built where gcc-multilib is installed); mm:PATH:bits=64 runs it 64-bit"
run "$W32"
check "heapbench-worker32 by hand: exit 2, saying what it is" "2 heapbench-worker32: heapbench runs it for mm:PATH:bits=32 jobs; it takes no command of its own" "$rc $err"

# ---- usable sizes from the boundary tags ----------------------------------------------
# four blocks of 1, 8, 9 and 100 bytes, all live at the end.  4-byte tags
# (a header and a footer, sizes a multiple of 8, at least 16): blocks of
# 16, 16, 24 and 112 bytes, usable 8, 8, 16, 104: 7 + 0 + 7 + 4 = 18 bytes
# of internal fragmentation.  8-byte tags, 16-byte alignment, at least 32
# (the later handouts): 32, 32, 32, 128, usable 16, 16, 16, 112: 15 + 8 + 7
# + 12 = 42.
printf '0\n4\n4\n1\na 0 1\na 1 8\na 2 9\na 3 100\n' >"$T/four.rep"
for c in "$E32 --lab csapp2002:18" "$LAB/implicit/mm.c:bits=64 --lab csapp2002:18" \
	"$LAB/explicit/mm.c --lab cmu2016:42"; do
	spec=${c%:*}
	run "$HB" replay -a "mm:${spec%% *}" ${spec#* } --repeat 0 --json "$T/four.rep"
	check "usable sizes of ${spec%% *} (${spec#* }): internal fragmentation ${c##*:} bytes" \
		"ok ${c##*:}" "$(field '"\(.status) \(.internal_frag_bytes)"')"
done
# no tags: a bump allocator's blocks are not read as tagged, the figure is unknown
mkdir -p "$T/bump"
cat >"$T/bump/mm.c" <<'C'
#include <stddef.h>
#include "memlib.h"
#include "mm.h"
team_t team = {"t", "t", "t", "", ""};
int mm_init(void) { return 0; }
void *mm_malloc(size_t n)
{
	void *p = mem_sbrk((int)((n + 7) / 8 * 8));
	return p == (void *)-1 ? NULL : p;
}
void mm_free(void *p) { (void)p; }
void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }
C
run "$HB" replay -a "mm:$T/bump/mm.c" --lab csapp2002 --repeat 0 --json "$T/four.rep"
check "no boundary tags: ok, internal fragmentation unknown" "ok null" \
	"$(field '"\(.status) \(.internal_frag_bytes)"')"

echo "1..$n"
