#!/usr/bin/env bash
# tests/cli_compare.sh - `heapbench compare` on crafted result files, the
# JUnit and Markdown reports, and a config's regression section; TAP.
set -u
HB=${HEAPBENCH:-build/heapbench}
. "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME="$T/cache"

# a baseline of three jobs: two deterministic (simulated heap), one not
cat >"$T/base.jsonl" <<'EOF'
{"trace":"t1","backend":"first-fit","options":{},"status":"ok","ops":1000,"peak_live_bytes":900,"peak_footprint_bytes":1000,"footprint_source":"simulated-heap","utilization":0.9,"frag_peak":0.1111111111111111,"repeat":3,"seconds":[0.0001,0.00011,0.00012],"seconds_median":0.0001,"seconds_min":0.0001,"seconds_max":0.00012,"mops":10,"ns_per_op":100}
{"trace":"t1","backend":"system","options":{},"status":"ok","ops":1000,"peak_live_bytes":800,"peak_footprint_bytes":1000,"footprint_source":"mallinfo2","utilization":0.8,"frag_peak":0.25,"repeat":3,"seconds":[0.00005,0.00005,0.00005],"seconds_median":0.00005,"seconds_min":0.00005,"seconds_max":0.00005,"mops":20,"ns_per_op":50}
{"trace":"t2","backend":"first-fit","options":{"order":"lifo"},"status":"ok","ops":2000,"peak_live_bytes":500,"peak_footprint_bytes":1000,"footprint_source":"simulated-heap","utilization":0.5,"frag_peak":1,"repeat":3,"seconds":[0.0002,0.0002,0.0002],"seconds_median":0.0002,"seconds_min":0.0002,"seconds_max":0.0002,"mops":10,"ns_per_op":100}
EOF
# variant NAME JQ-FILTER: the baseline changed by a jq filter over each job
variant() { jq -c "$2" "$T/base.jsonl" >"$T/$1.jsonl"; }

run "$HB" compare "$T/base.jsonl" "$T/base.jsonl"
check "identical runs: exit 0" 0 "$rc"
check_has "identical runs: no regression" "$out" "3 jobs compared, 0 new, 0 regressions"

variant drop 'if .trace == "t1" and .backend == "first-fit" then .utilization = 0.89 else . end'
run "$HB" compare "$T/base.jsonl" "$T/drop.jsonl"
check "a utilization drop of a deterministic backend fails by default: exit 1" 1 "$rc"
check_has "... and says by how much" "$out" "t1 x first-fit: utilization dropped 1.111% (0.900000 -> 0.890000; allowed 0.000%)"
run "$HB" compare --max-drop utilization=0.02 "$T/base.jsonl" "$T/drop.jsonl"
check "a drop below the threshold passes" 0 "$rc"
run "$HB" compare --max-drop utilization=0.01 "$T/base.jsonl" "$T/drop.jsonl"
check "a drop above the threshold fails" 1 "$rc"
variant rise 'if .backend == "first-fit" then .utilization += 0.05 else . end'
run "$HB" compare "$T/base.jsonl" "$T/rise.jsonl"
check "a utilization rise is no regression" 0 "$rc"
variant sysdrop 'if .backend == "system" then .utilization = 0.7 else . end'
run "$HB" compare "$T/base.jsonl" "$T/sysdrop.jsonl"
check "a process-wide backend's utilization is not gated by default (noise)" 0 "$rc"
run "$HB" compare --max-drop utilization=0.05 "$T/base.jsonl" "$T/sysdrop.jsonl"
check "... unless asked" 1 "$rc"

variant crash 'if .trace == "t2" then .status = "crash" | .error = "killed by SIGSEGV in timed pass 1" | del(.mops) else . end'
run "$HB" compare "$T/base.jsonl" "$T/crash.jsonl"
check "a job that crashes now: exit 1" 1 "$rc"
check_has "... with what happened" "$out" "t2 x first-fit: was ok, now crash: killed by SIGSEGV in timed pass 1"

variant missing 'select(.backend != "system")'
run "$HB" compare "$T/base.jsonl" "$T/missing.jsonl"
check "a job missing from the new run: exit 1" 1 "$rc"
check_has "... named" "$out" "t1 x system: missing from the new run"

jq -c . "$T/base.jsonl" >"$T/more.jsonl"
echo '{"trace":"t3","backend":"buddy","options":{},"status":"ok","ops":10,"utilization":0.4,"footprint_source":"simulated-heap"}' >>"$T/more.jsonl"
run "$HB" compare "$T/base.jsonl" "$T/more.jsonl"
check "a new job is no failure: exit 0" 0 "$rc"
check_has "... but it is listed" "$out" "3 jobs compared, 1 new, 0 regressions"
check_has "... as new" "$(grep '^t3' <<<"$out")" "new"

variant optsdiff 'if .trace == "t2" then .options = {"order":"fifo"} else . end'
run "$HB" compare "$T/base.jsonl" "$T/optsdiff.jsonl"
check "jobs are matched by options too: other options are another job" 1 "$rc"

# throughput is opt-in and noise-aware: 20% slower, ranges overlapping or not
variant noisy 'if .trace == "t1" and .backend == "first-fit" then .mops = 8 | .seconds_min = 0.00008 | .seconds_max = 0.000125 else . end'
variant slower 'if .trace == "t1" and .backend == "first-fit" then .mops = 8 | .seconds_min = 0.000125 | .seconds_max = 0.00013 else . end'
run "$HB" compare "$T/base.jsonl" "$T/slower.jsonl"
check "throughput is not gated unless asked" 0 "$rc"
run "$HB" compare --max-drop mops=0.1 "$T/base.jsonl" "$T/noisy.jsonl"
check "20% slower but the min-max ranges overlap: no flag" 0 "$rc"
run "$HB" compare --max-drop mops=0.1 "$T/base.jsonl" "$T/slower.jsonl"
check "20% slower and the ranges apart: a regression" 1 "$rc"
check_has "... with the ranges" "$out" "Mops/s dropped 20.0% (10.000 -> 8.000; ranges 8.333-10.000 and 7.692-8.000 do not overlap"
run "$HB" compare --max-drop mops=0.25 "$T/base.jsonl" "$T/slower.jsonl"
check "20% slower with 25% allowed: no flag" 0 "$rc"
variant fragged 'if .trace == "t2" then .frag_peak = 1.1 else . end'
run "$HB" compare --max-drop frag_peak=0.01 "$T/base.jsonl" "$T/fragged.jsonl"
check "frag_peak worse than allowed: a regression" 1 "$rc"

# JUnit and Markdown
run "$HB" compare --junit "$T/r.xml" --markdown "$T/r.md" "$T/base.jsonl" "$T/crash.jsonl"
check "with reports: still exit 1 on a regression" 1 "$rc"
if xmllint --noout "$T/r.xml" 2>"$T/xml.err"; then ok "the JUnit report parses as XML"; else fail "the JUnit report parses as XML" "$(cat "$T/xml.err")"; fi
check "JUnit: one test case per job" 3 "$(xmllint --xpath 'count(//testcase)' "$T/r.xml")"
check "JUnit: one failure" 1 "$(xmllint --xpath 'count(//testcase/failure)' "$T/r.xml")"
check "JUnit: the suite counts it" 1 "$(xmllint --xpath 'string(//testsuite/@failures)' "$T/r.xml")"
check_has "JUnit: the failure carries the story" \
	"$(xmllint --xpath 'string(//testcase[failure]/failure/@message)' "$T/r.xml")" "was ok, now crash"
check "JUnit: test cases are named by trace and backend" "heapbench.t2 first-fit {\"order\":\"lifo\"}" \
	"$(xmllint --xpath 'string(//testcase[failure]/@classname)' "$T/r.xml") $(xmllint --xpath 'string(//testcase[failure]/@name)' "$T/r.xml")"
check_has "Markdown: a table" "$(cat "$T/r.md")" "| trace | backend | utilization | frag_peak | Mops/s | verdict |"
check_has "Markdown: the regression in it" "$(cat "$T/r.md")" "| t2 | first-fit |"
check_has "Markdown: a verdict on top" "$(head -1 "$T/r.md")" "regressions found"

# bad input
run "$HB" compare "$T/base.jsonl" "$T/none.jsonl"
check "a missing file: exit 2" 2 "$rc"
printf '{"trace":"t1"}\n' >"$T/bad.jsonl"
run "$HB" compare "$T/base.jsonl" "$T/bad.jsonl"
check "a result without status: exit 2" 2 "$rc"
check_has "... naming the line" "$err" "bad.jsonl:1: a job result needs trace, backend and status"
run "$HB" compare --max-drop speed=0.1 "$T/base.jsonl" "$T/base.jsonl"
check "an unknown metric: exit 2" 2 "$rc"
mkdir "$T/rundir" && cp "$T/base.jsonl" "$T/rundir/results.jsonl"
run "$HB" compare "$T/rundir" "$T/base.jsonl"
check "a run directory works as well as its results.jsonl" 0 "$rc"

# a config's regression section makes run compare
cat >"$T/gate.yaml" <<EOF
traces: [traces/examples/tiny.rep, traces/examples/coalesce.rep]
backends: [first-fit, best-fit]
repeat: 0
regression:
  baseline: $T/gate-base.jsonl
EOF
run "$HB" run "$T/gate.yaml" -o "$T/gate-0" --no-compare --no-plots
check "making a baseline with --no-compare: exit 0" 0 "$rc"
cp "$T/gate-0/results.jsonl" "$T/gate-base.jsonl"
run "$HB" run "$T/gate.yaml" -o "$T/gate-1" --no-plots
check "run against its own baseline: exit 0" 0 "$rc"
check_has "run prints the comparison" "$out" "4 jobs compared, 0 new, 0 regressions"
jq -c 'if .backend == "best-fit" and .trace == "coalesce" then .utilization += 0.01 else . end' \
	"$T/gate-0/results.jsonl" >"$T/gate-base.jsonl"
run "$HB" run "$T/gate.yaml" -o "$T/gate-2" --no-plots
check "run against a better baseline: exit 1" 1 "$rc"
check_has "... naming the job" "$out" "coalesce x best-fit: utilization dropped"
rm "$T/gate-base.jsonl"
run "$HB" run "$T/gate.yaml" -o "$T/gate-3" --no-plots
check "run with a missing baseline: exit 2" 2 "$rc"

# the project's own baseline covers the CI config's whole plan
check "results/baselines/ci.jsonl holds every job of configs/ci.yaml" \
	"$("$HB" run configs/ci.yaml --dry-run | grep -c '^job ')" "$(wc -l <results/baselines/ci.jsonl)"

echo "1..$n"
