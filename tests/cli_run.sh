#!/usr/bin/env bash
# tests/cli_run.sh - `heapbench run`: config mistakes (message and
# position), a small suite end to end, resume after kill -9, shards, exit
# codes; TAP.  HEAPBENCH names the binary under test.
set -u
HB=${HEAPBENCH:-build/heapbench}
. "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME="$T/cache" # the parsed-trace cache, kept apart

# ---- config mistakes: exit 2, one line, FILE:LINE:COLUMN, before anything runs ----
# mistake NAME EXPECTED-MESSAGE YAML
mistake() {
	printf '%b' "$3" >"$T/$1.yaml"
	run "$HB" run "$T/$1.yaml" -o "$T/out-$1"
	lines=$(grep -c . <<<"$err")
	if [ "$rc" = 2 ] && [ "$lines" = 1 ] && [[ "$err" == "heapbench: $T/$1.yaml:$2"* ]] && [ ! -e "$T/out-$1" ]; then
		ok "config mistake $1: exit 2, one line, position and message, nothing run"
	else
		fail "config mistake $1" "expected: exit 2, 'heapbench: $T/$1.yaml:$2...', no output dir" "got: exit $rc: $err"
	fi
}
TR='traces:\n  - traces/examples/tiny.rep\n'
BE='backends:\n  - first-fit\n'
mistake unknown-key "5:1: config: unknown key 'repaet' (did you mean 'repeat'?)" "$TR$BE"'repaet: 3\n'
mistake unknown-key-far "5:1: config: unknown key 'colour' (known: name, traces," "$TR$BE"'colour: red\n'
mistake wrong-type-number "5:9: repeat: expected a whole number from 0 to 100, got 'lots'" "$TR$BE"'repeat: lots\n'
mistake wrong-type-list "1:9: traces: expected a list, got a value" 'traces: traces/examples/tiny.rep\n'"$BE"
mistake wrong-type-bool "5:10: latency: expected true or false, got 'maybe'" "$TR$BE"'latency: maybe\n'
mistake bad-choice "5:8: check: expected one of off, fast, full, got 'sometimes'" "$TR$BE"'check: sometimes\n'
mistake bad-size "5:13: heap_limit: expected a size like 512MiB or 4GiB, got '4 GB'" "$TR$BE"'heap_limit: 4 GB\n'
mistake unknown-backend "5:5: unknown backend 'frist-fit' (known: first-fit," "$TR"'backends:\n  - first-fit\n  - frist-fit\n'
mistake unknown-option "6:14: backend first-fit has no option 'color' (known: order mmap_threshold min_split)" \
	"$TR"'backends:\n  - name: ff\n    backend: first-fit\n    options: {color: red}\n'
mistake bad-option-value "4:5: backend first-fit: min_split: expected a number of bytes, got 'abc'" \
	"$TR"'backends:\n  - {name: x, backend: first-fit, options: {min_split: abc}}\n'
mistake unknown-backend-key "4:15: backends: unknown key 'backnd' (did you mean 'backend'?)" \
	"$TR"'backends:\n  - {name: x, backnd: first-fit}\n'
mistake glob-no-match "2:5: traces: no file matches 'traces/none/*.rep'" 'traces:\n  - traces/none/*.rep\n'"$BE"
mistake missing-file "2:5: traces: traces/examples/none.rep: No such file or directory" 'traces:\n  - traces/examples/none.rep\n'"$BE"
mistake duplicate-trace "3:5: trace name 'tiny' is used twice (also line 2)" "$TR"'  - traces/examples/tiny.rep\n'"$BE"
mistake duplicate-backend "5:5: backend name 'first-fit' is used twice" "$TR$BE"'  - first-fit\n'
mistake no-backends "1:1: config: needs backends" "$TR"
mistake bad-yaml "2:9: did not find expected ',' or ']'" 'traces: [traces/examples/tiny.rep\nbackends: [first-fit]\n'
mistake bad-regression "6:3: regression: unknown key 'basline' (did you mean 'baseline'?)" \
	"$TR$BE"'regression:\n  basline: x.jsonl\n'
mistake bad-drop "7:27: utilization: expected a number from 0 to 1, got '5'" \
	"$TR$BE"'regression:\n  baseline: x.jsonl\n  max_drop: {utilization: 5}\n'
mistake bad-plot "5:21: plots: expected one of throughput, utilization, fragmentation, timeline, latency, scaling, got 'pie'" \
	"$TR$BE"'plots: [throughput, pie]\n'

# ---- a small suite end to end ------------------------------------------------------
cat >"$T/small.yaml" <<'EOF'
name: small
traces:
  - traces/synthetic/peak.trace
  - path: traces/examples/tiny.rep
    name: tiny-example
backends:
  - first-fit
  - name: ff-lifo
    backend: first-fit
    options: {order: lifo}
  - buddy
  - system
repeat: 2
check: fast
EOF
run "$HB" run "$T/small.yaml" --dry-run
check "--dry-run exits 0" 0 "$rc"
check_has "--dry-run states the plan" "$out" "suite small: 2 traces x 4 backends = 8 jobs"
check_has "--dry-run lists the jobs" "$out" "job 6: tiny-example x ff-lifo"
check "--dry-run runs nothing" "" "$(ls "$T" | grep -c '^small-run$' | sed 's/0//')"
run "$HB" run "$T/small.yaml" -o "$T/small-run"
check "a suite whose jobs all succeed exits 0" 0 "$rc"
for f in results.jsonl results.csv summary.md env.json; do
	if [ -s "$T/small-run/$f" ]; then ok "the run directory has $f"; else fail "the run directory has $f"; fi
done
J="$T/small-run/results.jsonl"
check "results.jsonl: one line per job" 8 "$(wc -l <"$J")"
check "results.jsonl: trace-major order, config names" \
	"peak first-fit peak ff-lifo peak buddy peak system tiny-example first-fit tiny-example ff-lifo tiny-example buddy tiny-example system" \
	"$(jq -r '.trace + " " + .backend' "$J" | tr '\n' ' ' | sed 's/ $//')"
check "results.jsonl: a named backend keeps its options" '{"order":"lifo"}' \
	"$(jq -c 'select(.backend == "ff-lifo") | .options' "$J" | head -1)"
check "results.jsonl: the DESIGN fields are there" "true" \
	"$(jq -s 'all(.[]; has("status") and has("utilization") and has("frag_peak") and has("peak_rss_bytes") and has("mops") and has("seconds"))' "$J")"
# the summary's numbers are the jsonl's
u=$(jq -r 'select(.trace == "peak" and .backend == "buddy") | .utilization * 1000 | round / 10' "$J")
check_has "summary.md shows the jsonl's utilization" "$(cat "$T/small-run/summary.md")" "| peak | buddy | ok | ${u}% |"
check_has "the summary is printed too" "$out" "| peak | buddy | ok | ${u}% |"
mean=$(jq -s '[.[] | select(.backend == "first-fit") | .utilization] | add / length * 1000 | round / 10' "$J")
check_has "per backend: the mean utilization of its jobs" "$out" "| first-fit | 2/2 | ${mean}% |"
geo=$(jq -s '[.[] | select(.backend == "buddy") | .mops | log] | add / length | exp * 100 | round / 100' "$J")
check_has "per backend: the geometric mean of Mops/s" "$out" "| buddy | 2/2 |"
check_has "... equal to the jsonl's" "$(grep '| buddy | 2/2 |' <<<"$out")" "$(printf '%.2f' "$geo")"
check "results.csv: a header and a row per job" 9 "$(wc -l <"$T/small-run/results.csv")"
check "env.json: the versions of the backends" "glibc" \
	"$(jq -r '.backends.system' "$T/small-run/env.json" | cut -d' ' -f1)"
check "env.json: the config as run" "true" "$(jq '.config | contains("name: small")' "$T/small-run/env.json")"
run "$HB" run "$T/small.yaml" -o "$T/small-run"
check "running again into a run directory without --resume exits 2" 2 "$rc"
check_has "... and says how to go on" "$err" "--resume"

# ---- exit status 1 when a job fails ---------------------------------------------------
cat >"$T/failing.yaml" <<'EOF'
traces: [traces/synthetic/peak.trace]
backends: [first-fit, buddy]
heap_limit: 64KiB
repeat: 0
EOF
run "$HB" run "$T/failing.yaml" -o "$T/failing-run"
check "a suite with a failed job exits 1" 1 "$rc"
check_has "failed jobs are listed with their errors" "$out" "Failed jobs:"
check_has "... with status and op" "$out" "- peak x first-fit: oom at op"

line1=$(jq -r 'select(.backend == "first-fit") | .error_line' "$T/failing-run/results.jsonl")
check "a failed job names the trace's source line" true "$([ "$line1" -gt 0 ] 2>/dev/null && echo true)"
check "the text trace was cached, parsed, by content" 1 "$(ls "$T/cache/heapbench" | grep -c -- "-$(wc -c <traces/synthetic/peak.trace)-r[0-9]*.hbt")"
run "$HB" run "$T/failing.yaml" -o "$T/failing-run2"
check "a run from the cache gives the same results" \
	"$(jq -c '[.trace, .backend, .status, .error_op]' "$T/failing-run/results.jsonl")" \
	"$(jq -c '[.trace, .backend, .status, .error_op]' "$T/failing-run2/results.jsonl")"
check "a job failing on a cached trace still names the source line" "$line1" \
	"$(jq -r 'select(.backend == "first-fit") | .error_line' "$T/failing-run2/results.jsonl")"

# ---- resume after kill -9 ----------------------------------------------------------------
"$HB" trace gen --pattern random-uniform --ops 300000 --seed 5 -o "$T/slow.hbt" 2>/dev/null
cat >"$T/resume.yaml" <<EOF
traces: [traces/synthetic/peak.trace, traces/synthetic/ramp.trace, $T/slow.hbt]
backends: [first-fit, best-fit, next-fit]
repeat: 3
check: full
EOF
"$HB" run "$T/resume.yaml" -o "$T/resume-run" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
	[ -s "$T/resume-run/results.jsonl" ] && [ "$(wc -l <"$T/resume-run/results.jsonl")" -ge 2 ] && break
	sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
before=$(wc -l <"$T/resume-run/results.jsonl")
if [ "$before" -ge 1 ] && [ "$before" -lt 9 ]; then ok "kill -9 stopped the run part way ($before of 9 jobs)"; else fail "kill -9 part way" "got $before lines"; fi
printf '{"trace":"ramp","backend":"best-fit","sta' >>"$T/resume-run/results.jsonl" # a torn line
run "$HB" run "$T/resume.yaml" -o "$T/resume-run" --resume
check "--resume finishes the run" 0 "$rc"
check_has "--resume drops the torn line" "$err" "dropped a torn last line"
check "after resume: every job exactly once" \
	"$(printf '%s\n' peak ramp slow | while read -r t; do for b in first-fit best-fit next-fit; do echo "$t $b"; done; done | sort)" \
	"$(jq -r '.trace + " " + .backend' "$T/resume-run/results.jsonl" | sort)"
check "after resume: every line parses" 9 "$(jq -c . "$T/resume-run/results.jsonl" | wc -l)"

# ---- Ctrl-C: the job that was running is dropped, the rest stays -------------------
"$HB" run "$T/resume.yaml" -o "$T/int-run" >/dev/null 2>"$T/int.err" &
pid=$!
for _ in $(seq 1 200); do
	[ -s "$T/int-run/results.jsonl" ] && break
	sleep 0.05
done
kill -INT $pid
wait $pid
check "SIGINT: exit status 130" 130 "$?"
check_has "SIGINT: says how to go on" "$(cat "$T/int.err")" "--resume"
run "$HB" run "$T/resume.yaml" -o "$T/int-run" --resume
check "SIGINT then --resume: every job exactly once" 9 "$(jq -r '.trace + " " + .backend' "$T/int-run/results.jsonl" | sort -u | wc -l)"
check "SIGINT then --resume: no duplicates" 9 "$(wc -l <"$T/int-run/results.jsonl")"

# ---- shards: their union is the whole run ------------------------------------------------
for s in 1 2 3; do
	run "$HB" run "$T/small.yaml" -o "$T/shard-$s" --shard $s/3
	check "shard $s/3 exits 0" 0 "$rc"
done
check "shards together hold every job exactly once" \
	"$(jq -r '.trace + " " + .backend' "$T/small-run/results.jsonl" | sort)" \
	"$(cat "$T"/shard-*/results.jsonl | jq -r '.trace + " " + .backend' | sort)"
check "shard 2/3 ran jobs 2, 5 and 8" "peak ff-lifo|tiny-example first-fit|tiny-example system" \
	"$(jq -r '.trace + " " + .backend' "$T/shard-2/results.jsonl" | paste -sd'|')"
run "$HB" run "$T/small.yaml" --shard 4/3
check "--shard with I > N exits 2" 2 "$rc"

# ---- the bundled configs are valid ------------------------------------------------------
sanitized=0
if ldd "$HB" | grep -q libasan; then sanitized=1; fi
for cfgf in configs/*.yaml; do
	run "$HB" run "$cfgf" --dry-run
	if [ $sanitized = 1 ] && grep -q 'jemalloc' "$cfgf"; then
		# preloaded allocators cannot run in a sanitizer build: said so
		check_has "$cfgf: a sanitizer build says why it cannot run it" "$err" "sanitizer build"
	else
		check "$cfgf is a valid config" 0 "$rc"
	fi
done

echo "1..$n"
