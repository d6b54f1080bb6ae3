#!/usr/bin/env bash
# tests/cli_import_crosscheck.sh - one program (tests/record/xprog.c: 2,401
# known calls) recorded by heapbench record, valgrind --trace-malloc, ltrace
# and glibc's mtrace: every import gives the same ops by kind and the same
# peak live bytes as the recorder's trace; TAP.  What a tool cannot see is
# named where it matters: the failed huge malloc is not an op (record does
# not record failed calls, the importers count them as failed-calls); mtrace
# spells calloc and the aligned calls as malloc and never writes free(NULL);
# heaptrack has no calloc, memalign or realloc either (below).
set -u
HB=${HEAPBENCH:-build/heapbench}
TOOLS=${TOOLS:-build/tests}
PROG=$(realpath "$TOOLS/xprog")
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"

# calls FILE: "ops allocs callocs memaligns reallocs frees peak_live"
calls() {
	"$HB" trace stats --json "$1" 2>/dev/null |
		jq -r '[.ops, .allocs, .callocs, .memaligns, .reallocs, .frees, .peak_live_bytes] | map(tostring) | join(" ")'
}

"$HB" record -o "$T/rec" -- "$PROG" 2>/dev/null
want=$(calls "$T/rec/1-xprog.hbt.zst")
check "record: the program's 2,401 calls (the failed malloc is not recorded)" \
	"2401 300 300 300 300 1201 96580" "$want"

# valgrind without its exit-time cleanup (__libc_freeres adds frees the
# program never made, mostly free(NULL))
valgrind -q --trace-malloc=yes --run-libc-freeres=no --run-cxx-freeres=no --log-file="$T/vg.log" "$PROG"
check "valgrind: same ops and peak live bytes as record" "$want" "$(calls "$T/vg.log")"
check "valgrind: the failed malloc counted" 1 "$(meta "$T/vg.log" import-failed-calls)"

ltrace -e malloc+calloc+realloc+free+posix_memalign -o "$T/lt.log" "$PROG"
check "ltrace: same ops and peak live bytes as record" "$want" "$(calls "$T/lt.log")"
check "ltrace: the failed malloc counted" 1 "$(meta "$T/lt.log" import-failed-calls)"

read -r ops allocs callocs memaligns reallocs frees peak <<<"$want"
LD_PRELOAD=/lib/x86_64-linux-gnu/libc_malloc_debug.so.0 MALLOC_TRACE="$T/mt.log" "$PROG"
check "mtrace: the same calls (calloc and memalign as malloc, no free(NULL)), same peak live bytes" \
	"$((allocs + callocs + memaligns)) $reallocs $((frees - 301)) $peak" \
	"$("$HB" trace stats --json "$T/mt.log" 2>/dev/null | jq -r '[.allocs, .reallocs, .frees, .peak_live_bytes] | map(tostring) | join(" ")')"

# heaptrack: no calloc, memalign or realloc in its data (a realloc is a free
# and an allocation), no free(NULL), and one block more: libstdc++'s
# emergency pool, which heaptrack's own library brings into the process,
# allocated before main and freed at exit (its size: the largest request)
heaptrack -o "$T/ht" "$PROG" >/dev/null 2>&1
ht=$(ls "$T"/ht*.zst 2>/dev/null | head -1)
pool=$("$HB" trace stats --json "$ht" 2>/dev/null | jq -r .sizes.max)
check "heaptrack: every allocation and free of the program, plus the pool" \
	"$((allocs + callocs + memaligns + 2 * reallocs + 1 + frees - 301 + 1)) $((peak + pool))" \
	"$("$HB" trace stats --json "$ht" 2>/dev/null | jq -r '[.ops, .peak_live_bytes] | map(tostring) | join(" ")')"

for f in vg lt mt; do
	check "$f: no allocation at a live address (no lost free)" 0 "$(meta "$T/$f.log" import-lost-frees)"
done
echo "1..$n"
