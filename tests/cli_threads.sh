#!/usr/bin/env bash
# tests/cli_threads.sh - threaded replay (--threads recorded, DESIGN §5):
# an 8-thread program with cross-thread frees and realloc chains
# (tests/record/threads.c) recorded by `heapbench record`, replayed on
# every real allocator; the per-block order proved by a backend that logs
# its calls (tests/backends/orderlog.c, checked by tests/threads_order.py)
# across 100 repetitions; a thread-unsafe malloc caught
# (tests/preload/unsafe.c); the plan's figures on a hand-computed trace.
# TAP output.
set -u
HB=${HEAPBENCH:-build/heapbench}
BUILD=${BUILD:-build}
. "$(dirname "$0")/lib.sh"

sanitized=0
if ldd "$HB" | grep -q libasan; then sanitized=1; fi
field() { jq -r "$1" <<<"$out"; }

# ---- the plan, by hand ---------------------------------------------------------------
# op 1 (thread 1 frees thread 0's block) waits; op 2 (thread 0 reuses id 0
# after thread 1's free) waits; ops 3-4 are thread 1's own: 2 waits.
# Ops per thread: 5 and 3 (min 3, median the upper middle 5, max 5).
printf '# heapbench trace, version 1\n0: a 0 10\n1: f 0\n0: a 0 20\n1: a 1 5\n1: f 1\n0: f 0\n0: a 2 8\n0: f 2\n' >"$T/two.trace"
run "$HB" replay -a first-fit --threads recorded --repeat 3 --json "$T/two.trace"
check "hand-made: exit 0" 0 "$rc"
check "hand-made: mode, threads, waits, ops per thread, serialized" \
	"recorded 2 2 3 5 5 true 3" \
	"$(field '[.mode, .threads, .cross_thread_waits, .per_thread_ops.min, .per_thread_ops.median, .per_thread_ops.max, .serialized, .repeat] | join(" ")')"
check_within "hand-made: wait_fraction is a fraction" 0 1 "$(field .wait_fraction)"
run "$HB" replay -a first-fit --repeat 1 --json "$T/two.trace"
check "serial by default: mode serial, one thread, no threaded fields" "serial 1 null null" \
	"$(field '[.mode, .threads, .cross_thread_waits, .serialized] | map(tostring) | join(" ")')"
run "$HB" replay -a first-fit --threads recorded --repeat 1 --json traces/examples/tiny.rep
check "a trace of one thread under --threads recorded: ok, one thread, no waits" "ok 1 0" \
	"$(field '[.status, .threads, .cross_thread_waits] | join(" ")')"
run "$HB" replay -a first-fit --threads all traces/examples/tiny.rep
check "--threads all: exit 2" 2 "$rc"
check "--threads all: says what it takes" "heapbench: replay: --threads takes serial or recorded, not 'all'" "$err"

# ---- a recorded 8-thread program -----------------------------------------------------
run "$HB" record -o "$T/rec" "$BUILD/tests/threads"
check "record the 8-thread program: exit 0" 0 "$rc"
TR=$T/rec/1-threads.hbt.zst
check "the recording has 9 threads (main and 8 workers)" 9 \
	"$("$HB" trace stats --json "$TR" | jq .threads)"

backends="first-fit segregated system"
[ $sanitized = 0 ] && backends="$backends jemalloc mimalloc tcmalloc"
for b in $backends; do
	run "$HB" replay -a "$b" --threads recorded --repeat 3 --json "$TR"
	check "$b under --threads recorded: ok, 9 threads" "0 ok recorded 9" \
		"$rc $(field '[.status, .mode, .threads] | join(" ")')"
	check "$b: cross-thread waits planned" true "$(field '.cross_thread_waits > 50')"
	check "$b: serialized only for the simulated heap" \
		"$([ "$b" = first-fit ] || [ "$b" = segregated ] && echo true || echo false)" "$(field .serialized)"
	check "$b: a threaded footprint, the serial exact one kept" true \
		"$(field '.threaded_peak_footprint_bytes > 0 and .peak_footprint_bytes >= .peak_live_bytes')"
done

# ---- per-block order, 100 repetitions --------------------------------------------------
"$HB" trace convert "$TR" "$T/threads.trace" 2>/dev/null
ORDER_LOG_FILE=$T/order.log run "$HB" replay -a "library:$BUILD/tests/liborderlog.so" \
	--threads recorded --repeat 100 --json "$TR"
check "orderlog under --threads recorded, 100 repetitions: ok" "0 ok true" \
	"$rc $(field '[.status, .serialized] | join(" ")')"
run python3 tests/threads_order.py "$T/threads.trace" "$T/order.log"
check "every block's ops arrived in trace order in all 102 passes (serial, checked, 100 timed)" \
	"0 102 0" "$rc $(awk '{print $1, $(NF-3)}' <<<"$out")"
# the proof can fail: two calls of one block swapped in the log
python3 - "$T/threads.trace" "$T/order.log" "$T/swapped.log" <<'PY'
import shutil, struct, sys
sys.path.insert(0, 'tests')
import threads_order as t
ops = t.read_trace(sys.argv[1])
shutil.copy(sys.argv[2], sys.argv[3])
with open(sys.argv[3], 'r+b') as f:
    (n,) = struct.unpack('<Q', f.read(8))
    recs = list(struct.iter_unpack('<4Q', f.read(32 * n)))
    # the first realloc whose block came from a malloc just before it
    for i in range(1, n):
        if recs[i][0] == ord('r') and recs[i][2] and any(
                r[3] == recs[i][2] and r[0] in b'acm' for r in recs[i - 40:i]):
            j = max(k for k in range(i - 40, i) if recs[k][3] == recs[i][2])
            recs[i], recs[j] = recs[j], recs[i]
            break
    f.seek(8)
    f.write(b''.join(struct.pack('<4Q', *r) for r in recs))
PY
run python3 tests/threads_order.py "$T/threads.trace" "$T/swapped.log"
check "the order check fails on a log with one block's calls swapped" 1 "$rc"
check_has "the order check names the op out of order" "$err$out" "arrived after op"

# ---- a thread-unsafe backend -----------------------------------------------------------
# two threads that never wait for each other, so that they call at once
awk 'BEGIN { print "# heapbench trace, version 1"
	for (i = 0; i < 2000; i++) { print "0: a " 2 * i " 48"; print "1: a " 2 * i + 1 " 48" }
	for (i = 0; i < 4000; i++) print (i % 2) ": f " i }' >"$T/parallel.trace"
if [ $sanitized = 0 ]; then
	run "$HB" replay -a "preload:$BUILD/tests/libunsafe.so" --repeat 1 --json "$T/parallel.trace"
	check "the unsafe malloc, serial: ok (it is correct on one thread)" "0 ok" "$rc $(field .status)"
	run "$HB" replay -a "preload:$BUILD/tests/libunsafe.so" --threads recorded --repeat 1 --json "$T/parallel.trace"
	check "the unsafe malloc under --threads recorded: exit 1, never ok" "1 true" \
		"$rc $(field '.status == "error" or .status == "crash"')"
	check_has "the unsafe malloc: the error says where" "$(field .error)" "threaded"
fi

# ---- the config key -------------------------------------------------------------------
cat >"$T/threads.yaml" <<YAML
traces: [$T/two.trace]
backends: [first-fit]
repeat: 1
threads: recorded
output: $T/out-run
YAML
run "$HB" run "$T/threads.yaml"
check "run with threads: recorded: exit 0" 0 "$rc"
check "run with threads: recorded: the results say so" "recorded 2" \
	"$(jq -r '[.mode, .threads] | join(" ")' "$T/out-run/results.jsonl" 2>/dev/null)"
sed -i 's/threads: recorded/threads: some/' "$T/threads.yaml"
run "$HB" run "$T/threads.yaml"
check "threads: some: exit 2" 2 "$rc"
check_has "threads: some: names the line" "$err" "threads.yaml:4:"

echo "1..$n"
