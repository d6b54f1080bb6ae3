#!/usr/bin/env bash
# tests/cli_containment.sh - broken backends (the catalog of
# tests/backends/broken.c, one library: object per fault) beside healthy
# ones: each fault is that job's status with a message saying what
# happened, heapbench itself survives, and the other jobs of the same
# invocation complete.  TAP output.
set -u
HB=${HEAPBENCH:-build/heapbench}
TOOLS=${TOOLS:-build/tests}
. "$(dirname "$0")/lib.sh"
row() { jq -rs ".[] | select(.backend == \"$1\" and .trace == \"$2\") | $3" <<<"$out"; }
broken() { echo "library:$TOOLS/libbroken_$1.so"; }
TRACE=traces/synthetic/random-uniform.trace

# ---- the worker is a trust boundary ------------------------------------------------
# the backend fills the result page with 0x7f bytes at its 100th malloc
G=$(broken garbage)
run "$HB" replay -a "$G" -a first-fit --repeat 1 --json traces/examples/coalesce.rep "$TRACE"
check "a scribbled result page: exit 1, four results" "1 4" "$rc $(jq -s length <<<"$out")"
check "... that job: error" error "$(row "$G" random-uniform .status)"
check_has "... saying so" "$(row "$G" random-uniform .error)" \
	"the backend corrupted the harness's result page (its "
check "... the same backend on a trace too short to reach its fault: ok" ok \
	"$(row "$G" coalesce .status)"
check "... first-fit on both: ok" "ok ok" \
	"$(row first-fit coalesce .status) $(row first-fit random-uniform .status)"
check_not "... heapbench itself did not crash" "$err" "Segmentation"
cat >"$T/g.yaml" <<Y
name: garbage
traces: [$TRACE]
backends: ["$G", first-fit]
repeat: 1
plots: []
output: $T/grun
Y
run "$HB" run "$T/g.yaml"
check "in a suite: exit 1, both results written" "1 error ok" \
	"$rc $(jq -r .status "$T/grun/results.jsonl" | paste -sd' ')"
run "$HB" run "$T/g.yaml" --resume
check "... and --resume finishes (nothing left to run)" "1 2" \
	"$rc $(wc -l <"$T/grun/results.jsonl")"

# ---- a fault in init or fini: that backend's jobs fail, the others run ----------------
for f in initcrash exitfini; do
	run "$HB" replay -a "$(broken $f)" -a first-fit --repeat 1 --json "$TRACE"
	check "$f: exit 1, both jobs reported" "1 2" "$rc $(jq -s length <<<"$out")"
	check "$f: first-fit ran: ok" ok "$(row first-fit random-uniform .status)"
	check "$f: the broken backend's job: error" error "$(row "$(broken $f)" random-uniform .status)"
	check_has "$f: warned once at the start" "$err" "warning: backend $(broken $f) cannot start here, its jobs fail"
done
check "initcrash: says where and how" \
	"the backend cannot run here: the worker was killed by SIGSEGV in the backend's init" \
	"$(run "$HB" replay -a "$(broken initcrash)" --repeat 1 --json "$TRACE"; jq -r .error <<<"$out")"
check "exitfini: says where and how" \
	"the backend cannot run here: the worker exited with status 0 in the backend's fini" \
	"$(run "$HB" replay -a "$(broken exitfini)" --repeat 1 --json "$TRACE"; jq -r .error <<<"$out")"
# stdout closed in init: the probe answers through the page, the job runs
run "$HB" replay -a "$(broken closeout)" -a first-fit --repeat 1 --json "$TRACE"
check "closeout: both jobs ok (the harness never reads the backend's stdout)" "0 ok ok" \
	"$rc $(row "$(broken closeout)" random-uniform .status) $(row first-fit random-uniform .status)"

# ---- what a backend starts ends with its job ----------------------------------------------
run "$HB" replay -a "$(broken fork)" -a first-fit --repeat 1 --json "$TRACE" traces/examples/coalesce.rep
check "fork: the jobs are ok (forking is no fault of the result)" "0 ok ok" \
	"$rc $(row "$(broken fork)" random-uniform .status) $(row first-fit coalesce .status)"
check "fork: no child or grandchild left, even one that left the session" "" \
	"$(pgrep -x hb-orphan)"

# ---- memory: a runaway backend, a huge block on a process-wide one -----------------------
run "$HB" replay -a "$(broken runaway)" -a first-fit --memory-limit 256MiB --repeat 1 --json "$TRACE"
check "runaway: oom at the op it was on (its 100th malloc), first-fit ok" "1 oom 119 ok" \
	"$rc $(row "$(broken runaway)" random-uniform '"\(.status) \(.error_op)"') $(row first-fit random-uniform .status)"
check_has "runaway: says how much and the limit" "$(row "$(broken runaway)" random-uniform .error)" \
	"of physical memory, over the job's limit of 256 MiB (memory_limit), in the checked pass"
printf '# heapbench-trace: 1\na 0 64\na 1 17179869184\nf 1\nf 0\n' >"$T/huge.trace"
for b in jemalloc system; do
	# a sanitizer build cannot preload jemalloc (heapbench list says why)
	[ "$("$HB" list --json | jq -r "select(.backend == \"$b\") | .available")" = true ] || continue
	run "$HB" replay -a $b --memory-limit 300MiB --repeat 1 --json "$T/huge.trace" "$TRACE"
	check "a 16 GiB block on $b under a 300 MiB limit: oom at op 1, then the other trace ok" "1 oom 1 ok" \
		"$rc $(row $b huge '"\(.status) \(.error_op)"') $(row $b random-uniform .status)"
done
run "$HB" replay -a system -a first-fit --heap-limit 64MiB --repeat 1 --json traces/examples/coalesce.rep
check_has "--heap-limit with a process-wide backend: says it does not hold it" "$err" \
	"the heap limit sizes the simulated heap of the built-in policies, library: and mm: backends; it does not hold system"
run "$HB" replay -a system --memory-limit lots "$TRACE"
check "--memory-limit lots: exit 2, said" "2 heapbench: replay: --memory-limit takes a size like 4GiB (0: none), not 'lots'" "$rc $err"

# ---- time: an endless loop, no --timeout given ---------------------------------------------
HEAPBENCH_TIMEOUT=2 run "$HB" replay -a "$(broken loop)" -a first-fit --repeat 1 --json "$TRACE"
check "loop without --timeout: the default ends it: timeout at its op, first-fit ok" "1 timeout 119 ok" \
	"$rc $(row "$(broken loop)" random-uniform '"\(.status) \(.error_op)"') $(row first-fit random-uniform .status)"
check "... saying after how long, and where" "no result after 2 s, in the checked pass" \
	"$(row "$(broken loop)" random-uniform .error)"
check_has "the built-in default is finite and said" "$("$HB" replay --help)" "(default 600; 0 none)"

# ---- a lying usable_size ---------------------------------------------------------------------
run "$HB" replay -a "$(broken lying)" -a first-fit --repeat 1 --json "$TRACE"
check "lying: error at op 1, the block allocated into its claimed bytes; first-fit ok" "1 error 1 ok" \
	"$rc $(row "$(broken lying)" random-uniform '"\(.status) \(.error_op)"') $(row first-fit random-uniform .status)"
check_has "lying: says which claim" "$(row "$(broken lying)" random-uniform .error)" \
	"usable bytes that usable_size claimed for live block 0"

# ---- signals: the worker goes with heapbench ------------------------------------------------
"$HB" replay -a "$(broken loop)" --repeat 1 "$TRACE" >/dev/null 2>&1 &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
check "SIGTERM during a job: heapbench dies of it (143)" 143 "$?"
sleep 0.2
check "... and its worker with it" "" "$(pgrep -f "libbroken_loop" || true)"

# ---- inputs that would block, exhaust or mislead -------------------------------------
mkfifo "$T/fifo"
for cmd in "replay -a first-fit" "trace stats"; do
	run timeout 20 "$HB" $cmd "$T/fifo"
	check "$cmd on a FIFO: exit 2 at once, said" "2 heapbench: $T/fifo: cannot open: not a regular file (a FIFO, a socket or a device)" "$rc $err"
done
run timeout 20 "$HB" run "$T/fifo"
check "run with a FIFO as the config: exit 2, said" "2 heapbench: $T/fifo: not a regular file (a FIFO, a socket or a device)" "$rc $err"
printf 'traces: [%s]\nbackends: [first-fit]\n' "$T/fifo" >"$T/fifo.yaml"
run timeout 20 "$HB" run "$T/fifo.yaml" --dry-run
check "a FIFO as a config's trace: exit 2 with its position" "2 heapbench: $T/fifo.yaml:1:10: traces: $T/fifo: not a regular file (a FIFO, a socket or a device)" "$rc $err"
printf 'junk\001\002' >"$T/junk.bin"
printf 'traces: [%s, traces/examples/tiny.rep]\nbackends: [first-fit]\n' "$T/junk.bin" >"$T/junk.yaml"
run "$HB" run "$T/junk.yaml" --dry-run
check "--dry-run opens every trace: an unrecognised one is exit 2, said" \
	"2 heapbench: $T/junk.bin: not a trace: binary data that is neither .hbt, zstd nor gzip" "$rc $err"
# a small zstd file whose .hbt header declares 2^40 ops: refused before inflating
"$HB" trace convert "$TRACE" "$T/r.hbt"
python3 -c "
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
struct.pack_into('<Q', d, 24, 1 << 40)
open(sys.argv[2], 'wb').write(bytes(d))" "$T/r.hbt" "$T/huge.hbt"
zstd -q "$T/huge.hbt" -o "$T/huge.hbt.zst"
run "$HB" trace stats "$T/huge.hbt.zst"
check "a compressed .hbt declaring 16 EiB of ops: exit 2" 2 "$rc"
check_has "... refused before it is inflated, saying why" "$err" "its header declares 25165824 MiB of .hbt, more than the"
check "... one line" 1 "$(grep -c . <<<"$err")"
# a 5 KB zstd file of 10 M ops: the parent stops building it at its memory limit
python3 -c "
import sys
sys.stdout.write('# heapbench-trace: 1\\n' + 'a 0 1\\nf 0\\n' * 5000000)" | zstd -q -c >"$T/bomb.trace.zst"
HEAPBENCH_MEMORY_LIMIT=64MiB run "$HB" trace stats "$T/bomb.trace.zst"
check "a decompression bomb of text under a 64 MiB limit: stopped at the op that would cross it" \
	"2 heapbench: $T/bomb.trace.zst:2097154: op 2097152: the trace holds more ops than fit in the 64 MiB (\$HEAPBENCH_MEMORY_LIMIT) heapbench may use" \
	"$rc $err"
zstd -q "$T/r.hbt" -o "$T/r.hbt.zst"
HEAPBENCH_MEMORY_LIMIT=100KiB run "$HB" trace stats "$T/r.hbt.zst"
check_has "a compressed .hbt over the limit: refused before it is inflated" "$rc $err" \
	"2 heapbench: $T/r.hbt.zst: its header declares 468 KiB of .hbt, more than the 100 KiB (\$HEAPBENCH_MEMORY_LIMIT) heapbench may hold"
zstd -q -c traces/examples/tiny.rep | gzip -c >"$T/double.gz"
run "$HB" trace stats "$T/double.gz"
check "zstd inside gzip: named" "2 heapbench: $T/double.gz: compressed twice (zstd inside gzip): heapbench undoes one layer; decompress the outer one first" "$rc $err"
printf '# heapbench-trace: 1\n# note: caf\351\na 0 10\nf 0\n' >"$T/latin.trace"
"$HB" trace convert "$T/latin.trace" "$T/latin.hbt"
check "non-UTF-8 metadata is written to .hbt as U+FFFD, so the file reads back" 0 \
	"$("$HB" trace stats "$T/latin.hbt" >/dev/null 2>&1; echo $?)"
python3 -c "
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(b'caf')
d[i + 3:i + 6] = b'\xff\xfe\xff'
open(sys.argv[2], 'wb').write(bytes(d))" "$T/latin.hbt" "$T/badmeta.hbt"
run "$HB" trace stats "$T/badmeta.hbt"
check "a .hbt whose metadata is not UTF-8: exit 2, said" "2 heapbench: $T/badmeta.hbt: metadata entry 'note' at byte 0 is not UTF-8" "$rc $err"
printf '# heapbench-trace: 1\na\v0 10\nf\f0\n' >"$T/vt.trace"
run "$HB" trace stats --json "$T/vt.trace"
check "VT and FF after an op letter are blanks, as everywhere in a line" "0 2" "$rc $(jq .ops <<<"$out")"
run "$HB" trace stats "$T/no
such"
check "a newline in a file name stays in the one line of the error" "2 1" "$rc $(grep -c . <<<"$err")"
check_has "... escaped" "$err" "no\\nsuch: cannot open"
run "$HB" replay --heap-limit 99999999999999999999 "$TRACE"
check "a size over 64 bits: exit 2, not 'no limit'" 2 "$rc"
run "$HB" replay --bogus "$TRACE"
check "an unknown option: exit 2 and one line" "2 heapbench: replay: option '--bogus' is unknown or needs a value (\`heapbench replay --help\` lists them)" "$rc $err"
: >"$T/empty.jsonl"
"$HB" replay -a first-fit --repeat 0 --json traces/examples/tiny.rep >"$T/one.jsonl"
run "$HB" compare "$T/empty.jsonl" "$T/one.jsonl"
check "compare with an empty baseline: exit 2, said" "2 heapbench: $T/empty.jsonl: holds no job results, so nothing can be compared" "$rc $err"

# ---- a suite: SIGTERM ends it as the signal says -------------------------------------
cat >"$T/loop.yaml" <<Y
traces: [$TRACE]
backends: ["$(broken loop)", first-fit]
repeat: 1
plots: []
output: $T/looprun
Y
"$HB" run "$T/loop.yaml" >/dev/null 2>"$T/loop.err" &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid
check "run: SIGTERM during a looping job: exit 143, at once" 143 "$?"
check_has "... and says how to go on" "$(cat "$T/loop.err")" "--resume"
check "... its worker is gone" "" "$(pgrep -f "libbroken_loop" || true)"

echo "1..$n"
