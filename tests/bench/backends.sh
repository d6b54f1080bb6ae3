#!/usr/bin/env bash
# tests/bench/backends.sh BUILD - `make bench-backends`: the timed passes of
# every backend side by side in one `heapbench replay` run, on the bundled
# traces (the real recordings of traces/real/ included) and on generated 1-
# and 2-million-op traces with the same live-set profile (plateau, peak near
# 62,500 blocks), printing Mops/s, each backend's ratio to `system` (glibc)
# on the same trace, the geometric mean of those ratios, and the time ratio
# 2M / 1M (about 2.0 = linear: nothing quadratic).  Goals (issue 19):
# first-fit, next-fit and best-fit >= 0.5 of glibc as a geometric mean and
# >= 0.25 on every trace; segregated >= 1.0; buddy >= 1.5.
set -eu
B=${1:-build}
REPEAT=${REPEAT:-5}
D=build/bench
mkdir -p "$D"
for n in 1000000 2000000; do
	[ -f "$D/backends-$n.hbt" ] ||
		"$B/heapbench" trace gen --pattern plateau --ops "$n" --seed 3 --live 62500 -o "$D/backends-$n.hbt"
done
TRACES=(traces/examples/tiny.rep traces/synthetic/*.trace traces/real/*.hbt.zst
	"$D/backends-1000000.hbt" "$D/backends-2000000.hbt")
"$B/heapbench" replay --check off --repeat "$REPEAT" --json "${TRACES[@]}" >"$D/backends.jsonl" || true
J="$D/backends.jsonl"
table() { if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi; }

echo "Mops/s (median of $REPEAT timed passes) and, in parentheses, the ratio to system on the same trace"
echo
jq -r -s '
  (map(select(.backend == "system")) | map({key: .trace, value: .mops}) | from_entries) as $sys
  | (map(.backend) | unique) as $backends
  | (["trace"] + $backends | @tsv),
    ((map(.trace) | unique)[] as $t
      | [$t] + [$backends[] as $b
          | (map(select(.trace == $t and .backend == $b)) | first) as $r
          | if $r == null or $r.status != "ok" then "-"
            else "\($r.mops * 100 | round / 100) (\(($r.mops / $sys[$t]) * 100 | round / 100))" end]
      | @tsv)' "$J" | table
echo
echo "ratio to system over all traces: geometric mean and lowest, beside the goal (issue 19):"
jq -r -s '
  {"first-fit": [0.5, 0.25], "next-fit": [0.5, 0.25], "best-fit": [0.5, 0.25],
   "segregated": [1.0, null], "buddy": [1.5, null]} as $goal
  | (map(select(.backend == "system")) | map({key: .trace, value: .mops}) | from_entries) as $sys
  | (["backend", "geomean", "lowest", "goal", ""] | @tsv),
    ((map(.backend) | unique)[] as $b
    | [ .[] | select(.backend == $b and .status == "ok" and $sys[.trace] != null) | (.mops / $sys[.trace]) ] as $r
    | ($r | map(log) | add / length | exp) as $g
    | [$b, ($g * 100 | round / 100), ($r | min * 100 | round / 100),
       (if $goal[$b] then ">= \($goal[$b][0])" + (if $goal[$b][1] then ", every trace >= \($goal[$b][1])" else "" end) else "" end),
       (if $goal[$b] == null then ""
        elif $g >= $goal[$b][0] and ($goal[$b][1] == null or ($r | min) >= $goal[$b][1]) then "met"
        else "not met" end)]
    | @tsv)' "$J" | table
echo
echo "time of the 2M-op trace / time of the 1M-op trace (same profile; 2.0 = linear):"
jq -r -s '
  (map(.backend) | unique)[] as $b
  | (map(select(.backend == $b and .trace == "backends-1000000")) | first) as $one
  | (map(select(.backend == $b and .trace == "backends-2000000")) | first) as $two
  | if $one == null or $two == null or $one.status != "ok" or $two.status != "ok" then "\($b)\t-"
    else "\($b)\t\(($two.seconds_median / $one.seconds_median) * 100 | round / 100)" end' "$J" | table
jq -r 'select(.status != "ok") | "failed: \(.trace) x \(.backend): \(.status): \(.error)"' "$J"
