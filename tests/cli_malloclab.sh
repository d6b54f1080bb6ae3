#!/usr/bin/env bash
# tests/cli_malloclab.sh - a malloc-lab mm.c, unmodified, under mm:PATH
# (docs/malloclab.md): built against heapbench's memlib, scored with the
# utilization the handout's mdriver prints for the same code and traces,
# and each way a student's file goes wrong as that job's status.
# The mm.c files are heapbench's own (tests/data/malloclab/), written to the
# lab's interface.  TAP output.
set -u
HB=${HEAPBENCH:-build/heapbench}
BUILD=${BUILD:-build}
. "$(dirname "$0")/lib.sh"
field() { jq -r "$1" <<<"$out"; }
LAB=tests/data/malloclab
IMPLICIT=$LAB/implicit/mm.c

# ---- utilization as mdriver prints it ---------------------------------------------
# The expected figures are the 2002 CS:APP handout's mdriver (built -m64
# with this mm.c, `mdriver -V -f TRACE`), on the same .rep files: its util
# column is a whole percentage.
for t in ramp random-exponential random-uniform; do
	"$HB" trace convert traces/synthetic/$t.trace "$T/$t.rep" 2>/dev/null
done
expect() { # trace file, mdriver's util
	run "$HB" replay -a "mm:$IMPLICIT" --lab csapp2002 --repeat 1 --json "$1"
	check "$(basename "$1"): ok under --lab csapp2002" ok "$(field .status)"
	check "$(basename "$1"): utilization $2 %, as mdriver prints it" "$2" \
		"$(field '.utilization * 100 | round')"
}
expect traces/examples/coalesce.rep 62
expect traces/examples/realloc-grow.rep 40
expect "$T/random-exponential.rep" 82
expect "$T/random-uniform.rep" 87
# mdriver 2002 rejects ramp.rep ("mm_realloc did not preserve the data"):
# its check compares a signed char with the id's low byte, and fails for
# ids 128-255 mod 256; heapbench checks every byte and passes the block
run "$HB" replay -a "mm:$IMPLICIT" --lab csapp2002 --repeat 1 --json "$T/ramp.rep"
check "ramp.rep: ok where mdriver's own check is wrong" ok "$(field .status)"
check "the footprint is the heap's high-water mark" true \
	"$(field '.peak_footprint_bytes >= .peak_live_bytes and .footprint_source == "simulated-heap"')"

# the later handouts' interface (bool mm_init, mm_checkheap, its own mm.h
# beside it): the Fall 2020 handout's mdriver (built with this mm.c,
# `mdriver -V -f TRACE`) prints util to a tenth of a percent
EXPLICIT=$LAB/explicit/mm.c
for t in random-exponential:59.2 random-uniform:75.3 ramp:40.8; do
	run "$HB" replay -a "mm:$EXPLICIT" --lab cmu2016 --repeat 1 --json "$T/${t%%:*}.rep"
	check "${t%%:*}.rep under cmu2016: ok, util ${t#*:} %, as mdriver prints it" "ok ${t#*:}" \
		"$(field '"\(.status) \(.utilization * 1000 | round / 10)"')"
done
# its perf index, as that mdriver printed it for random-exponential:
# 60 x (0.592 - 0.55) / (0.74 - 0.55) = 13.3, and 40 when the throughput is
# past 0.9 of the reference
run "$HB" replay -a "mm:$EXPLICIT" --lab cmu2016 --repeat 1 "$T/random-exponential.rep"
check "cmu2016 index without a reference: the util part" \
	"Perf index = 13.3 (util) + ? (thru): the throughput part needs the course's reference, HEAPBENCH_LAB_REF_KOPS=KOPS" \
	"$(grep '^Perf index' <<<"$out")"
HEAPBENCH_LAB_REF_KOPS=1 run "$HB" replay -a "mm:$EXPLICIT" --lab cmu2016 --repeat 1 "$T/random-exponential.rep"
check "... with one the machine passes" "Perf index = 13.3 (util) + 40.0 (thru) = 53.3/100" \
	"$(grep '^Perf index' <<<"$out")"
# Fall 2020's table: each trace weighed by its .rep header's first number
# (0 ignored, 1 util and throughput, 2 util only, 3 throughput only), the
# util averaged over weights 1 and 2, the throughput over 1 and 3
for w in 0 2 3; do
	sed "1s/^1$/$w/" "$T/random-uniform.rep" >"$T/w$w.rep"
done
sed "1s/^1$/2/" "$T/random-exponential.rep" >"$T/w2e.rep"
HEAPBENCH_LAB_REF_KOPS=1 run "$HB" replay -a "mm:$EXPLICIT" --lab cmu2016 --repeat 1 \
	"$T/random-uniform.rep" "$T/w0.rep" "$T/w2e.rep" "$T/w3.rep"
check "cmu2016: Fall 2020's header" "  valid    util     ops   msecs  Kops/s  trace" \
	"$(sed -n '/^Results for/{n;p}' <<<"$out")"
check "... a row per trace: its weight's mark, util or --, ops or --" \
	"* yes 75.3% 20000 random-uniform|yes 75.3% 20000 w0|u yes 59.2% -- -- -- w2e|p yes -- 20000 w3" \
	"$(sed -n '/^Results for/,/^Average/p' <<<"$out" | grep ' yes ' |
		awk '{ if ($1 == "yes") print $1, $2, $3, $NF; else if ($4 == "--") print $1, $2, $3, $4, $5, $6, $NF; else print $1, $2, $3, $4, $NF }' | paste -sd'|')"
check "... the sums: 2 util traces, 2 throughput ones, util (75.3 + 59.2) / 2, ops of 1 and 3" "2 2 67.3% 40000" \
	"$(grep -E '^ 2  2 ' <<<"$out" | awk '{ print $1, $2, $3, $4 }')"
check "... Average utilization, as mdriver prints it" "Average utilization = 67.3%." \
	"$(grep '^Average utilization' <<<"$out")"
check "... the index from that util: 60 x (0.6726 - 0.55) / 0.19" "Perf index = 38.7 (util) + 40.0 (thru) = 78.7/100" \
	"$(grep '^Perf index' <<<"$out")"
run "$HB" replay -a "mm:$EXPLICIT" --lab cmu2016 --repeat 0 --json "$T/w3.rep" traces/examples/coalesce.rep
check "lab_weight: the header's, or none for a trace without one" "3 null" \
	"$(jq -rs 'map(.lab_weight) | map(tostring) | join(" ")' <<<"$out")"
# --mm-check K calls mm_checkheap; one that says false fails the job there
run "$HB" replay -a "mm:$EXPLICIT" --lab cmu2016 --mm-check 1 --repeat 0 --json "$T/random-uniform.rep"
check "--mm-check 1: a sound heap passes every check" ok "$(field .status)"
mkdir -p "$T/badcheck"
cp "$LAB/explicit/mm.h" "$T/badcheck/"
sed 's/^\t(void)lineno;$/\tif (free_list \&\& free_list == first) return false;/' "$EXPLICIT" >"$T/badcheck/mm.c"
run "$HB" replay -a "mm:$T/badcheck/mm.c" --lab cmu2016 --mm-check 1 --repeat 0 --json traces/examples/coalesce.rep
check_has "a checker saying false: the job fails with it" "$(field .status) $(field .error)" "error"
check_has "... naming mm_checkheap" "$(field .error)" "mm_checkheap returned false"

# the object is built once, then found by content
objs=$(ls "$BUILD"/mm/*.so | wc -l)
run "$HB" replay -a "mm:$IMPLICIT" --lab csapp2002 --repeat 0 --json traces/examples/coalesce.rep
check "a second run builds nothing" "$objs" "$(ls "$BUILD"/mm/*.so | wc -l)"

# config.h gives a file the constants of the lab it is built under
mkdir -p "$T/consts"
sed 's|^#include "mm.h"$|#include "mm.h"\n#include "config.h"\n_Static_assert(ALIGNMENT == 8 \&\& MAX_HEAP == 20 * (1 << 20), "the 2002 constants");|' \
	"$IMPLICIT" >"$T/consts/mm.c"
run "$HB" replay -a "mm:$T/consts/mm.c" --lab csapp2002 --repeat 0 --json traces/examples/coalesce.rep
check "config.h under csapp2002: ALIGNMENT 8, MAX_HEAP 20 MiB" ok "$(field .status)"
run "$HB" replay -a "mm:$T/consts/mm.c" --lab cmu2016 --repeat 0 --json traces/examples/coalesce.rep
check_has "... and not under cmu2016" "$(field .error)" "static assertion failed"

# ---- alignment: the lab's rule ----------------------------------------------------
# a bump allocator whose payloads sit at 4 mod 8, on a trace of 12-byte blocks
mkdir -p "$T/mis4"
cat >"$T/mis4/mm.c" <<'C'
#include <string.h>
#include "memlib.h"
#include "mm.h"
int mm_init(void) { return mem_sbrk(4) == (void *)-1 ? -1 : 0; }
void *mm_malloc(size_t n)
{
	char *p = mem_sbrk((int)((n + 7) / 8 * 8 + 8));
	return p == (void *)-1 ? NULL : p + 4 + (8 - (size_t)p % 8) % 8;
}
void mm_free(void *p) { (void)p; }
void *mm_realloc(void *p, size_t n)
{
	void *q = mm_malloc(n);
	if (p && q)
		memcpy(q, p, n);
	return q;
}
C
printf '1\n4\n8\n1\na 0 12\na 1 12\nf 0\na 2 12\nf 1\nf 2\na 3 12\nf 3\n' >"$T/twelve.rep"
run "$HB" replay -a "mm:$T/mis4/mm.c" --lab csapp2002 --repeat 0 --json "$T/twelve.rep"
check "payloads at 4 mod 8: rejected under csapp2002" error "$(field .status)"
check_has "... saying so" "$(field .error)" "not aligned to 8 bytes"
run "$HB" replay -a "mm:$T/mis4/mm.c" --align 8 --repeat 0 --json "$T/twelve.rep"
check "... accepted by --align 8 (a 12-byte object needs only 4)" ok "$(field .status)"
run "$HB" replay -a "mm:$T/mis4/mm.c" --align-strict 8 --repeat 0 --json "$T/twelve.rep"
check "... rejected by --align-strict 8" error "$(field .status)"

# ---- a student's file going wrong: that job's status ------------------------------
variant() { # name, sed expression on the implicit mm.c
	mkdir -p "$T/$1"
	sed "$2" "$IMPLICIT" >"$T/$1/mm.c"
}
variant crash 's/^int mm_init(void)$/int mm_init(void) { *(volatile int *)0 = 1; return 0; }\nint mm_init_real(void)/'
variant fails 's/^int mm_init(void)$/int mm_init(void) { return -1; }\nint mm_init_real(void)/'
variant norealloc 's/^void \*mm_realloc(void \*p, size_t n)$/void *mm_resize(void *p, size_t n)/'
variant broken 's/^void mm_free(void \*bp)$/void mm_free(void *bp) oops/'
run "$HB" replay -a "mm:$T/crash/mm.c" -a "mm:$T/fails/mm.c" -a "mm:$T/norealloc/mm.c" \
	-a "mm:$T/broken/mm.c" -a first-fit --lab csapp2002 --repeat 1 --json traces/examples/coalesce.rep
check "four broken files and first-fit: exit 1, five results" "1 5" "$rc $(jq -s length <<<"$out")"
row() { jq -rs ".[] | select(.backend == \"$1\") | $2" <<<"$out"; }
check "mm_init crashing: crash, SIGSEGV" "crash 11" "$(row "mm:$T/crash/mm.c" '"\(.status) \(.signal)"')"
check "mm_init returning -1: error" error "$(row "mm:$T/fails/mm.c" .status)"
check_has "... saying so" "$(row "mm:$T/fails/mm.c" .error)" "mm_init returned -1"
check_has "no mm_realloc: error naming it" "$(row "mm:$T/norealloc/mm.c" .error)" "defines no mm_realloc"
check_has "a compile error: the compiler's first error" "$(row "mm:$T/broken/mm.c" .error)" \
	"does not compile with -m32: $T/broken/mm.c:"
check_has "... shown once at the start too" "$err" "warning: backend mm:$T/broken/mm.c:"
check "first-fit beside them: ok" ok "$(row first-fit .status)"

# a free writing a word into its live neighbour: mdriver's check, which
# looks at a block's bytes only when a realloc moves it, passes it
variant scribble 's/^\tjoin(bp);$/\tif (USED(HDR(NEXT(bp))) \&\& SIZE(HDR(NEXT(bp)))) PUT(NEXT(bp), 0);\n\tjoin(bp);/'
run "$HB" replay -a "mm:$T/scribble/mm.c" --lab csapp2002 --repeat 0 --json traces/examples/coalesce.rep
check "a free scribbling on its neighbour: error" error "$(field .status)"
check_has "... naming the block overwritten" "$(field .error)" "was overwritten: byte 0 is 0x00"

# ---- the mdriver report -------------------------------------------------------------
run "$HB" replay -a "mm:$IMPLICIT" --lab csapp2002 --repeat 2 --json \
	traces/examples/coalesce.rep traces/examples/realloc-grow.rep "$T/random-uniform.rep"
mean=$(jq -s 'map(.utilization) | add / length' <<<"$out")
run "$HB" replay -a "mm:$IMPLICIT" --lab csapp2002 --repeat 2 \
	traces/examples/coalesce.rep traces/examples/realloc-grow.rep "$T/random-uniform.rep"
check_has "the report's header, as mdriver's" "$out" "$(printf 'trace  valid  util     ops      secs  Kops')"
check "a row per trace, valid, mdriver's util" "0 yes 62% 10 coalesce|1 yes 40% 14 realloc-grow|2 yes 87% 20000 random-uniform" \
	"$(grep -E '^ [0-9] ' <<<"$out" | awk '{ print $1, $2, $3, $4, $7 }' | paste -sd'|')"
check "Total: the mean util, the ops summed" "$(jq -n "$mean * 100 | round")% 20024" \
	"$(awk '/^Total/ { print $2, $3 }' <<<"$out")"
check "Perf index: 60 x the mean util" "$(jq -n "$mean * 60 | round")" \
	"$(sed -n 's/^Perf index = \([0-9]*\) (util) + \([0-9]*\) (thru) = \([0-9]*\)\/100$/\1/p' <<<"$out")"
check_within "... plus at most 40 for throughput" 0 40 \
	"$(sed -n 's/^Perf index = [0-9]* (util) + \([0-9]*\) (thru).*/\1/p' <<<"$out")"
run "$HB" replay -a "mm:$T/crash/mm.c" --lab csapp2002 --repeat 1 traces/examples/coalesce.rep
check_has "an invalid trace: Terminated with 1 errors" "$out" "Terminated with 1 errors"

# ---- a suite under lab: ------------------------------------------------------------
# lab: is read first wherever it stands; align after it (here, before it in
# the file) still overrides its strict rule
cat >"$T/lab.yaml" <<Y
name: lab
align: 8
lab: csapp2002
traces: [$T/twelve.rep]
backends: ["mm:$T/mis4/mm.c"]
repeat: 0
plots: []
output: $T/labrun
Y
run "$HB" run "$T/lab.yaml"
check "config: align 8 beside lab: the 4-mod-8 payloads pass C's rule" "0 ok csapp2002" \
	"$rc $(jq -r '"\(.status) \(.lab)"' "$T/labrun/results.jsonl")"
sed -i 's/^align: 8$/align_strict: 8/; s/labrun$/labrun2/' "$T/lab.yaml"
run "$HB" run "$T/lab.yaml"
check "config: align_strict 8: rejected" error "$(jq -r .status "$T/labrun2/results.jsonl")"
cat >"$T/lab3.yaml" <<Y
name: lab
lab: csapp2002
traces: [traces/examples/coalesce.rep, traces/examples/realloc-grow.rep]
backends: ["mm:$IMPLICIT", first-fit]
repeat: 1
plots: []
output: $T/labrun3
Y
run "$HB" run "$T/lab3.yaml"
check "a suite under lab: summary.md has mdriver's report, a table per backend" "0 2" \
	"$rc $(grep -c '^Perf index = ' "$T/labrun3/summary.md")"
check "... with mdriver's util for the mm.c" "0 yes 62% 10 coalesce|1 yes 40% 14 realloc-grow" \
	"$(sed -n '/^Results for mm:/,/^Total/p' "$T/labrun3/summary.md" | grep -E '^ [0-9] ' | awk '{ print $1, $2, $3, $4, $7 }' | paste -sd'|')"
printf 'name: x\nlab: cmu2017\ntraces: [a]\nbackends: [first-fit]\n' >"$T/bad.yaml"
run "$HB" run "$T/bad.yaml"
check "config: an unknown lab: exit 2, naming the line" "2 heapbench: $T/bad.yaml:2:6: lab: expected csapp2002 or cmu2016, got 'cmu2017'" "$rc $err"
run "$HB" replay --lab cmu2017 traces/examples/coalesce.rep
check "--lab cmu2017: exit 2, saying what it takes" "2 heapbench: replay: --lab takes csapp2002 or cmu2016, not 'cmu2017'" "$rc $err"

# a printf per call: the worker's output is capped, the job unharmed
variant chatty 's/^void \*mm_malloc(size_t n)$/void *mm_malloc(size_t n) { for (int i = 0; i < 2000; i++) printf("student debug line %d of a call\\n", i); return mm_malloc_real(n); }\nvoid *mm_malloc_real(size_t n)/'
sed -i '1i #include <stdio.h>\nvoid *mm_malloc_real(size_t n);' "$T/chatty/mm.c"
# heapbench and its worker's peak resident sets, from getrusage: far below
# what the output would take if it were kept
python3 -c '
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
print(out.strip())
print("peak_mib", peak)
' "$HB" replay -a "mm:$T/chatty/mm.c" --lab csapp2002 --repeat 3 --json "$T/random-uniform.rep" >"$T/chatty.out"
out=$(head -1 "$T/chatty.out")
check "2000 lines a call (about 1.5 GB over the passes): ok" ok "$(field .status)"
# a call prints 2000 lines of 30 bytes and its number's digits: 66890 bytes;
# the checked pass and 3 timed ones each make every malloc call at least
check "... every byte counted (output_bytes): whole calls' worth, 4 passes' at least" "0 true" \
	"$(field '"\(.output_bytes % 66890) \(.output_bytes >= 4 * .allocs * 66890)"')"
check_within "... and not kept: heapbench's and its worker's peak RSS at most 200 MiB" 1 200 \
	"$(awk '/^peak_mib/ { print $2 }' "$T/chatty.out")"
# ... and when it then crashes, the last line it printed is in the message
sed -i 's/^void mm_free(void \*bp)$/void mm_free(void *bp) { if (bp) abort(); }\nvoid mm_free_real(void *bp)/; 1i #include <stdlib.h>' "$T/chatty/mm.c"
run "$HB" replay -a "mm:$T/chatty/mm.c" --lab csapp2002 --repeat 0 --json "$T/random-uniform.rep"
check "a chatty file that aborts: crash, SIGABRT" "crash 6" "$(field '"\(.status) \(.signal)"')"
check_has "... the tail of its output kept (stdout is buffered: a partial line)" "$(field .error)" "student debug line"
echo "1..$n"
