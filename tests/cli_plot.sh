#!/usr/bin/env bash
# tests/cli_plot.sh - `heapbench plot` on a fixed results file
# (tests/data/plot/results.jsonl: 3 traces, two of whose long names become
# the same file name, x 3 backends, with latency): every chart as PNG and
# SVG, the scripts naming every backend and trace, a kept script redrawing
# its chart, gnuplot missing or failing; TAP.
set -u
HB=${HEAPBENCH:-build/heapbench}
R=tests/data/plot/results.jsonl
. "$(dirname "$0")/lib.sh"

C="$T/charts"
run "$HB" plot "$R" -o "$C"
check "plot exits 0" 0 "$rc"
charts="throughput utilization fragmentation timeline-tiny latency-tiny
timeline-a_long_trace_name_that_goes_on__with_spaces timeline-a_long_trace_name_that_goes_on__with_spaces-2
latency-a_long_trace_name_that_goes_on__with_spaces latency-a_long_trace_name_that_goes_on__with_spaces-2"
for c in $charts; do
	if [ "$(head -c 8 "$C/$c.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]; then
		ok "$c.png is a PNG"
	else
		fail "$c.png is a PNG" "got: $(head -c 8 "$C/$c.png" 2>&1 | od -c | head -1)"
	fi
	if head -c 2000 "$C/$c.svg" 2>/dev/null | grep -q '<svg'; then ok "$c.svg is an SVG"; else fail "$c.svg is an SVG"; fi
	if [ -s "$C/$c.dat" ]; then ok "$c.dat is kept"; else fail "$c.dat is kept"; fi
	# every backend and every trace named in the script
	missing=""
	for name in first-fit buddy system tiny "a long trace name that goes on, with spaces" \
		"a long trace name that goes on; with spaces"; do
		grep -qF "\"$name\"" "$C/$c.gp" || missing="$missing [$name]"
	done
	check "$c.gp names every backend and trace" "" "$missing"
done
check "nothing else was drawn" 9 "$(ls "$C"/*.png | wc -l)"
check_has "two long trace names that differ late stay apart on the x axis" \
	"$(grep 'set xtics' "$C/throughput.gp")" 'that goes on; \nwith spaces" 2'

# a kept script redraws its chart, the same bytes
cp "$C/throughput.png" "$T/before.png"
rm "$C/throughput.png" "$C/throughput.svg"
(cd "$C" && gnuplot throughput.gp)
check "re-running a kept script exits 0" 0 "$?"
if cmp -s "$T/before.png" "$C/throughput.png"; then ok "re-running a kept script reproduces the chart"; else fail "re-running a kept script reproduces the chart"; fi

# gnuplot missing: a clear message, the scripts and data still written
run env PATH=/nonexistent "$HB" plot "$R" -o "$T/nognu"
check "without gnuplot: exit 1" 1 "$rc"
check_has "without gnuplot: says how to get it" "$err" "gnuplot is not installed"
if [ -s "$T/nognu/throughput.gp" ] && [ -s "$T/nognu/throughput.dat" ]; then ok "without gnuplot: scripts and data are written"; else fail "without gnuplot: scripts and data are written"; fi
# gnuplot failing: its error shown, exit 1
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "line 12: undefined variable: oops" >&2\nexit 1\n' >"$T/bin/gnuplot"
chmod +x "$T/bin/gnuplot"
run env PATH="$T/bin:$PATH" "$HB" plot "$R" -o "$T/badgnu"
check "gnuplot failing: exit 1" 1 "$rc"
check_has "gnuplot failing: its error is shown" "$err" "gnuplot failed: line 12: undefined variable: oops"

# a run directory: charts go to RUN/charts
mkdir -p "$T/run"
cp "$R" "$T/run/results.jsonl"
run "$HB" plot "$T/run"
check "plot of a run directory exits 0" 0 "$rc"
if [ -s "$T/run/charts/utilization.png" ]; then ok "plot of a run directory draws into RUN/charts"; else fail "plot of a run directory draws into RUN/charts"; fi
run "$HB" plot "$T/none"
check "plot of nothing exits 2" 2 "$rc"
printf 'not json\n' >"$T/bad.jsonl"
run "$HB" plot "$T/bad.jsonl"
check "plot of a bad results file exits 2" 2 "$rc"
check_has "... naming the line" "$err" "bad.jsonl:1: not a job result"

# run draws the config's charts at the end, unless --no-plots
cat >"$T/s.yaml" <<'Y'
traces: [traces/examples/tiny.rep]
backends: [first-fit, buddy]
repeat: 1
plots: [utilization, timeline]
Y
run "$HB" run "$T/s.yaml" -o "$T/s-run"
check "run with plots exits 0" 0 "$rc"
check "run draws the charts its config asks for" "timeline-tiny.png utilization.png" \
	"$(cd "$T/s-run/charts" && ls *.png | tr '\n' ' ' | sed 's/ $//')"
run "$HB" run "$T/s.yaml" -o "$T/s-run2" --no-plots
check "run --no-plots draws nothing" "" "$(ls "$T/s-run2/charts" 2>/dev/null)"
run env PATH=/nonexistent "$HB" run "$T/s.yaml" -o "$T/s-run3"
check "run without gnuplot still succeeds (charts are extra)" 0 "$rc"
if [ -s "$T/s-run3/results.jsonl" ]; then ok "run without gnuplot still writes its results"; else fail "run without gnuplot still writes its results"; fi

echo "1..$n"
