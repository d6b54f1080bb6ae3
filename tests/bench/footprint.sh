#!/usr/bin/env bash
# tests/bench/footprint.sh BUILD - `make bench-footprint` (issue 14): heapbench's
# utilization of the process-wide backends (system, jemalloc, mimalloc,
# tcmalloc) against an independent reference, on every traces/real/*.hbt.zst.
#
# The reference is BUILD/tests/rss_reference (tests/bench/rss_reference.c): a
# plain libc program, not linked with heapbench, that replays the trace (as
# .trace text, converted once) with the allocator preloaded, touches every page
# of every block and reads the RSS after every op.  It runs with the
# allocators' purge timers stopped from the environment, as heapbench's checked
# pass stops them (docs/metrics.md, "Purge timers").  Columns, as utilizations
# (peak live / peak footprint):
#   ref          the reference
#   full fast off  heapbench replay --check LEVEL (the checked pass)
#   diff         ref - full in points; "!" flags |diff| > 2 (the issue's bound)
#   ref2         the reference's second run in the same process (--runs 2)
#   again        heapbench's timed_peak_footprint_bytes with the timers
#                stopped from the environment too: the same second run, so
#                ref2 and again must agree ("!" beyond 2 points)
#   speed        heapbench's timed_peak_footprint_bytes as a user gets it:
#                the second run at full speed, timers running
# A benchmark: it prints figures and never fails on them; it exits 1 only if
# something could not run (the reference, or a heapbench job that crashed,
# timed out or printed no result).
set -eu
B=${1:-build}
BACKENDS=${BACKENDS:-system jemalloc mimalloc tcmalloc}
LIMIT=2
STOP="MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 MIMALLOC_DECOMMIT_DELAY=1000000000"
STOP="$STOP MIMALLOC_SEGMENT_DECOMMIT_DELAY=1000000000"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$B/heapbench" list --json >"$tmp/list.json"
field() { jq -r --arg b "$1" "select(.backend == \$b) | $2" "$tmp/list.json"; }
pct() { if [ "$1" = null ] || [ -z "$1" ]; then echo -; else awk -v u="$1" 'BEGIN {printf "%.2f", 100 * u}'; fi; }
# |a - b| <= LIMIT points, both numbers
near() { awk -v a="$1" -v b="$2" -v l="$LIMIT" 'BEGIN {
	exit !(a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && a - b <= l && b - a <= l) }'; }

run=""
for b in $BACKENDS; do
	case $(field "$b" .available) in
	true) run="$run $b" ;;
	false) echo "skipping $b: unavailable ($(field "$b" '.reason // "no reason given"'))" ;;
	*) echo "skipping $b: not a heapbench backend" ;;
	esac
done

failed=0
# heapbench ENV... -- ARGS: one job's JSON object, or a note on stderr
job() {
	local envs=() j st
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	# exit 1 = the job failed: its status says how
	j=$(env "${envs[@]}" "$B/heapbench" replay --json "$@") || true
	st=$(echo "$j" | jq -r '.status // empty' | head -1)
	case $st in
	ok) echo "$j" ;;
	"") echo "$*: no result" >&2; failed=$((failed + 1)); echo '{}' ;;
	*) echo "$*: $st" >&2; [ "$st" = error ] || failed=$((failed + 1)); echo '{}' ;;
	esac
}
util() { pct "$(jq -r "${2:-.utilization} // empty" <<<"$1")"; }
TIMED='if .timed_peak_footprint_bytes then .peak_live_bytes / .timed_peak_footprint_bytes else null end'

row() { printf '%-14s %-9s %7s %7s %7s %7s %7s %1s %7s %7s %1s %7s\n' "$@"; }
row trace backend ref% full% fast% off% diff "" ref2% again% "" speed%
rows=0 within=0 levels=0 second=0
for t in traces/real/*.hbt.zst; do
	name=$(basename "$t" .hbt.zst)
	txt="$tmp/$name.trace"
	"$B/heapbench" trace convert "$t" "$txt"
	for b in $run; do
		lib=$(field "$b" '.library // ""')
		# without address randomisation, as heapbench's worker runs
		# shellcheck disable=SC2086
		if ! ref=$(setarch "$(uname -m)" -R env $STOP LD_PRELOAD="$lib" \
			"$B/tests/rss_reference" --runs 2 "$txt"); then
			echo "$name $b: rss_reference failed" >&2
			failed=$((failed + 1))
			continue
		fi
		ref1=$(pct "$(awk 'NR == 1 {print $3}' <<<"$ref")")
		ref2=$(pct "$(awk 'NR == 2 {print $3}' <<<"$ref")")
		full=$(util "$(job -- --repeat 0 -a "$b" --check full "$t")")
		fast=$(util "$(job -- --repeat 0 -a "$b" --check fast "$t")")
		j=$(job -- --repeat 1 -a "$b" --check off "$t")
		off=$(util "$j")
		speed=$(util "$j" "$TIMED")
		# shellcheck disable=SC2086
		again=$(util "$(job $STOP -- --repeat 1 -a "$b" --check off "$t")" "$TIMED")
		rows=$((rows + 1))
		if near "$full" "$fast" && near "$full" "$off" && near "$fast" "$off" &&
			awk -v a="$full" -v b="$fast" -v c="$off" 'BEGIN {
				hi = a; lo = a; if (b > hi) hi = b; if (c > hi) hi = c
				if (b < lo) lo = b; if (c < lo) lo = c; exit !(hi - lo <= 1) }'; then
			levels=$((levels + 1))
		fi
		diff=- flag="!" flag2="!"
		[[ $full =~ ^[0-9.]+$ ]] && diff=$(awk -v r="$ref1" -v h="$full" 'BEGIN {printf "%+.2f", r - h}')
		if near "$ref1" "$full"; then within=$((within + 1)); flag=""; fi
		if near "$ref2" "$again"; then second=$((second + 1)); flag2=""; fi
		row "$name" "$b" "$ref1" "$full" "$fast" "$off" "$diff" "$flag" "$ref2" "$again" "$flag2" "$speed"
	done
done
echo "$within of $rows rows within $LIMIT points of the reference (ref = rss_reference, peak anonymous"
echo "RSS growth over its baseline, read after every op; full/fast/off = heapbench replay --check)"
echo "$levels of $rows rows with full, fast and off within 1 point of each other"
echo "$second of $rows rows with heapbench's second run within $LIMIT points of the reference's (ref2, again)"
[ "$failed" = 0 ] || { echo "footprint.sh: $failed runs could not run" >&2; exit 1; }
