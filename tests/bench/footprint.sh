#!/usr/bin/env bash
# tests/bench/footprint.sh BUILD - `make bench-footprint` (issue 14): heapbench's
# utilization of the process-wide backends (system, jemalloc, mimalloc,
# tcmalloc) against an independent reference, on every traces/real/*.hbt.zst.
#
# The reference is BUILD/tests/rss_reference (tests/bench/rss_reference.c): a
# plain libc program, not linked with heapbench, that replays the trace (as
# .trace text, converted once) with the allocator preloaded, touches every page
# of every block and reads the RSS after every op.  heapbench runs
# `replay --json --repeat 0 --check full|fast|off`.  The table shows the
# utilizations (peak live / peak footprint), heapbench's footprint_source, and
# diff = reference - heapbench full in percentage points; "!" flags |diff| > 2
# (the issue's acceptance bound).  A benchmark: it prints figures and never
# fails on them; it exits 1 only if something could not run (the reference, or
# a heapbench job that crashed, timed out or printed no result).
set -eu
B=${1:-build}
BACKENDS=${BACKENDS:-system jemalloc mimalloc tcmalloc}
LIMIT=2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$B/heapbench" list --json >"$tmp/list.json"
field() { jq -r --arg b "$1" "select(.backend == \$b) | $2" "$tmp/list.json"; }
pct() { if [ "$1" = null ]; then echo -; else awk -v u="$1" 'BEGIN {printf "%.2f", 100 * u}'; fi; }

run=""
for b in $BACKENDS; do
	case $(field "$b" .available) in
	true) run="$run $b" ;;
	false) echo "skipping $b: unavailable ($(field "$b" '.reason // "no reason given"'))" ;;
	*) echo "skipping $b: not a heapbench backend" ;;
	esac
done

row() { printf '%-14s %-9s %7s %7s %7s %7s  %-27s %7s %s\n' "$@"; }
row trace backend ref% full% fast% off% source diff ""
rows=0 within=0 failed=0
for t in traces/real/*.hbt.zst; do
	name=$(basename "$t" .hbt.zst)
	txt="$tmp/$name.trace"
	"$B/heapbench" trace convert "$t" "$txt"
	for b in $run; do
		lib=$(field "$b" '.library // ""')
		if ! ref=$(LD_PRELOAD=$lib "$B/tests/rss_reference" "$txt"); then
			echo "$name $b: rss_reference failed" >&2
			failed=$((failed + 1))
			continue
		fi
		ref_u=$(echo "$ref" | awk '{print $3}')
		declare -A u=()
		src=-
		for c in full fast off; do
			# exit 1 = the job failed: its status says how (read below)
			j=$("$B/heapbench" replay --json --repeat 0 -a "$b" --check "$c" "$t") || true
			st=$(echo "$j" | jq -r '.status // empty' | head -1)
			case $st in
			ok) u[$c]=$(pct "$(echo "$j" | jq -r '.utilization')") ;;
			"") u[$c]=none; echo "$name $b --check $c: no result" >&2; failed=$((failed + 1)) ;;
			crash | timeout) u[$c]=$st; failed=$((failed + 1)) ;;
			*) u[$c]=$st ;; # a refused number (status error) is a result
			esac
			[ "$c" = full ] && src=$(echo "$j" | jq -r '.footprint_source // "-"' | head -1)
		done
		rows=$((rows + 1))
		diff=- flag=""
		if [[ ${u[full]} =~ ^[0-9.]+$ ]]; then
			diff=$(awk -v r="$ref_u" -v h="${u[full]}" 'BEGIN {printf "%+.2f", 100 * r - h}')
			if awk -v d="$diff" -v l="$LIMIT" 'BEGIN {exit !(d <= l && d >= -l)}'; then
				within=$((within + 1))
			else
				flag="!"
			fi
		else
			flag="!"
		fi
		row "$name" "$b" "$(pct "$ref_u")" "${u[full]}" "${u[fast]}" "${u[off]}" "$src" "$diff" "$flag"
		unset u
	done
done
echo "$within of $rows rows within $LIMIT points of the reference (ref = rss_reference, peak anonymous"
echo "RSS growth over its baseline, read after every op; full/fast/off = heapbench replay --check)"
[ "$failed" = 0 ] || { echo "footprint.sh: $failed runs could not run" >&2; exit 1; }
