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

echo "1..$n"
