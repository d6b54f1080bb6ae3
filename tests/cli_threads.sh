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

# the waits the plan must make, counted from the trace's text independently:
# ops whose block id's previous op was on another thread
"$HB" trace convert "$TR" "$T/threads.trace" 2>/dev/null
waits=$(grep -v '^#' "$T/threads.trace" | awk '{ th = $1; id = $3
	if (id == -1) next
	if (id in last && last[id] != th) n++
	last[id] = th } END { print n + 0 }')
check "the recording hands blocks between threads" true "$([ "$waits" -gt 0 ] && echo true)"
backends="first-fit segregated system"
[ $sanitized = 0 ] && backends="$backends jemalloc mimalloc tcmalloc"
for b in $backends; do
	run "$HB" replay -a "$b" --threads recorded --repeat 3 --json "$TR"
	check "$b under --threads recorded: ok, 9 threads" "0 ok recorded 9" \
		"$rc $(field '[.status, .mode, .threads] | join(" ")')"
	check "$b: the plan's cross-thread waits, as counted from the trace" "$waits" "$(field .cross_thread_waits)"
	simulated=$([ "$b" = first-fit ] || [ "$b" = segregated ] && echo true || echo false)
	check "$b: serialized only for the simulated heap" "$simulated" "$(field .serialized)"
	# the simulated heap's peak is exact; a process-wide backend's is read
	# by the sampler, over the serial pass's baseline, with the harness's
	# own pages (plan, tables, the threads' stacks) left out
	check "$b: a threaded footprint, the serial exact one kept" true \
		"$(field ".threaded_peak_footprint_bytes > 0 and .peak_footprint_bytes >= .peak_live_bytes")"
	check "$b: a threaded peak RSS only where the backend is process-wide" \
		"$([ "$simulated" = true ] && echo null || echo true)" \
		"$(field "if .threaded_peak_rss_bytes == null then null else .threaded_peak_rss_bytes > 0 end")"
done

# ---- per-block order, 100 repetitions --------------------------------------------------
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

# ---- copies -----------------------------------------------------------------------------
run "$HB" replay -a first-fit --copies 1,2 --repeat 2 --json "$T/two.trace"
check "--copies 1,2: exit 0, a job per value" "0 2" "$rc $(grep -c . <<<"$out")"
check "--copies 1,2: copies, threads, mode of each job" "1 1 serial,2 2 serial" \
	"$(jq -r '"\(.copies) \(.threads) \(.mode)"' <<<"$out" | paste -sd,)"
check "--copies 2: the threaded footprint of the simulated heap is measured" true \
	"$(jq -s '.[1].threaded_peak_footprint_bytes > 0' <<<"$out")"
run "$HB" replay -a first-fit --copies 2 --threads recorded --repeat 2 --json "$T/two.trace"
check "--copies 2 --threads recorded: 2 x 2 threads, the plan's 2 waits per copy" "ok 4 2 recorded 2" \
	"$(field '[.status, .threads, .cross_thread_waits, .mode, .copies] | join(" ")')"
run "$HB" replay -a first-fit --copies 0 "$T/two.trace"
check "--copies 0: exit 2" 2 "$rc"
check_has "--copies 0: says what it takes" "$err" "--copies takes up to 16 numbers from 1 to 256"
if [ $sanitized = 0 ]; then
	run "$HB" replay -a system --copies 2 --repeat 2 --json "$TR"
	check "system, 2 copies of the 8-thread recording: ok" "0 ok 2" "$rc $(field '[.status, .copies] | join(" ")')"
fi

# ---- pacing -----------------------------------------------------------------------------
# ops at 0, 50, 100, 150, 200, 200 ms: a paced pass lasts at least 200 ms
# (recorded) or 20 ms (10x); lower bounds, which pacing guarantees
printf '# heapbench trace, version 2\n0: a 0 1000 @0\n1: a 1 2000 @50000000\n0: f 0 @100000000\n1: a 2 3000 @150000000\n1: f 1 @200000000\n0: f 2 @200000000\n' >"$T/timed.trace"
run "$HB" replay -a first-fit --pace recorded --repeat 2 --json "$T/timed.trace"
check "--pace recorded: ok, pace 1" "0 ok 1" "$rc $(field '[.status, .pace] | join(" ")')"
check "--pace recorded: every pass lasts the recorded 200 ms or more" true "$(field '.seconds_min >= 0.2')"
# how many readings the sampler gets in 200 ms is the scheduler's; the one
# taken when the threads have ended is not
check "--pace recorded: the footprint in time reaches the last op (ms)" true \
	"$(field '(.paced_timeline | length) >= 1 and .paced_timeline[-1][0] >= 190')"
run "$HB" replay -a first-fit --pace 10x --threads recorded --repeat 2 --json "$T/timed.trace"
check "--pace 10x --threads recorded: ok, 2 threads, pace 10, 20 ms or more" "0 ok 2 10 true" \
	"$rc $(field '[.status, .threads, .pace, .seconds_min >= 0.02] | map(tostring) | join(" ")')"
run "$HB" replay -a first-fit --pace 10x --threads recorded --repeat 1 --json "$TR"
check "record's times: its 8-thread recording replays paced (10x), with a footprint in time" "0 ok true" \
	"$rc $(field '[.status, (.paced_timeline | length > 0)] | map(tostring) | join(" ")')"
run "$HB" replay -a first-fit --pace recorded --json traces/examples/tiny.rep
check "--pace on a trace without times: the job fails, saying why" "1 error" "$rc $(field .status)"
check_has "--pace on a trace without times: the message" "$(field .error)" "--pace needs a trace with the time of every op"
run "$HB" replay -a first-fit --pace fast "$T/timed.trace"
check "--pace fast: exit 2 with what it takes" "2 heapbench: replay: --pace takes recorded or a factor like 10x, not 'fast'" "$rc $err"

# ---- the config key -------------------------------------------------------------------
cat >"$T/threads.yaml" <<YAML
traces: [$T/timed.trace]
backends: [first-fit]
repeat: 1
threads: recorded
pace: 1000x
output: $T/out-run
YAML
run "$HB" run "$T/threads.yaml"
check "run with threads: recorded: exit 0" 0 "$rc"
check "run with threads: recorded, pace: 1000x: the results say so" "recorded 2 1000" \
	"$(jq -r '[.mode, .threads, .pace] | join(" ")' "$T/out-run/results.jsonl" 2>/dev/null)"
check_has "run with threads: recorded: the charts' titles say so" \
	"$(grep 'set title' "$T/out-run/charts/throughput.gp" 2>/dev/null)" "(threads recorded): throughput"
cat >"$T/copies.yaml" <<YAML
traces: [$T/two.trace, traces/examples/tiny.rep]
backends: [first-fit, buddy]
repeat: 1
copies: [1, 2]
output: $T/out-copies
YAML
run "$HB" run "$T/copies.yaml"
check "run with copies: [1, 2]: exit 0, 2 traces x 2 backends x 2 copies" "0 8" \
	"$rc $(grep -c . "$T/out-copies/results.jsonl")"
check "run with copies: one scaling chart per trace" "scaling-tiny.png scaling-two.png" \
	"$(cd "$T/out-copies/charts" 2>/dev/null && ls scaling-*.png | xargs)"
check_has "run with copies: summary.md says how each job replayed" \
	"$(cat "$T/out-copies/summary.md")" "| two | buddy | 2 copies | ok |"
run "$HB" run --resume "$T/copies.yaml"
check "run --resume with copies: every job found done" "0 8" "$rc $(grep -c . "$T/out-copies/results.jsonl")"
run "$HB" compare "$T/out-copies" "$T/out-copies"
check "compare a copies run with itself: jobs matched by copies, no regression" 0 "$rc"
check_has "compare a copies run with itself: nothing new" "$out" "8 jobs compared, 0 new, 0 regressions"
check_has "compare: the copies in the backend's cell" "$out" "first-fit (2 copies)"
sed -i 's/copies: \[1, 2\]/copies: [0]/' "$T/copies.yaml"
run "$HB" run "$T/copies.yaml"
check "copies: [0]: exit 2, naming the line" "2 1" "$rc $(grep -c 'copies.yaml:4:' <<<"$err")"
sed -i 's/threads: recorded/threads: some/' "$T/threads.yaml"
run "$HB" run "$T/threads.yaml"
check "threads: some: exit 2" 2 "$rc"
check_has "threads: some: names the line" "$err" "threads.yaml:4:"

echo "1..$n"
