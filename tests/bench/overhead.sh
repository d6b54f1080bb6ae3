#!/usr/bin/env bash
# tests/bench/overhead.sh BUILD - `make bench-overhead`: heapbench's timed pass
# of the `system`, `jemalloc` and `mimalloc` backends against direct_loop (the same op array replayed by
# calling malloc & co. directly), on a 1-million-op trace of each `trace gen`
# pattern (long enough that a pass takes tens of milliseconds).  Each round runs both, alternating which goes first, each
# in a fresh process that warms the heap with one untimed pass and then
# reports the median of PASSES timed passes; the table shows the median over
# the rounds, and the ratio heapbench / direct (1.0 = no overhead).
# Goal (issues 3 and 5): 0.9 or better.  Then null's ns/op: the loop itself.
set -eu
B=${1:-build}
ROUNDS=${ROUNDS:-3}
PASSES=${PASSES:-9}
D=build/bench
mkdir -p "$D"
PATTERNS="ramp peak plateau random-uniform random-exponential"
for p in $PATTERNS; do
	[ -f "$D/overhead-$p.hbt" ] ||
		"$B/heapbench" trace gen --pattern "$p" --ops 1000000 --seed 2 -o "$D/overhead-$p.hbt"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
hb_mops() { "$B/heapbench" replay -a "$1" --check off --repeat "$PASSES" --json "$2" |
	sed -n 's/.*"mops":\([0-9.e+-]*\).*/\1/p'; }
# the library each backend preloads (as `heapbench list --json` reports it)
lib_of() { "$B/heapbench" list --json | jq -r --arg b "$1" 'select(.backend == $b) | .library // ""'; }

BACKENDS=${BACKENDS:-system jemalloc mimalloc}
printf '%-10s %-28s %12s %12s %8s\n' backend trace "heapbench" "direct" ratio
printf '%-10s %-28s %12s %12s %8s\n' "" "" "Mops/s" "Mops/s" ""
for b in $BACKENDS; do
	lib=$(lib_of "$b")
	for p in $PATTERNS; do
		t="$D/overhead-$p.hbt"
		: >"$D/hb.txt"
		: >"$D/direct.txt"
		for ((r = 0; r < ROUNDS; r++)); do
			# alternate which goes first
			if ((r % 2)); then
				LD_PRELOAD=$lib "$B/tests/direct_loop" "$t" "$PASSES" | awk '{print $2}' >>"$D/direct.txt"
				hb_mops "$b" "$t" >>"$D/hb.txt"
			else
				hb_mops "$b" "$t" >>"$D/hb.txt"
				LD_PRELOAD=$lib "$B/tests/direct_loop" "$t" "$PASSES" | awk '{print $2}' >>"$D/direct.txt"
			fi
		done
		h=$(median <"$D/hb.txt")
		d=$(median <"$D/direct.txt")
		printf '%-10s %-28s %12.2f %12.2f %8.3f\n' "$b" "$(basename "$t")" "$h" "$d" "$(echo "$h $d" | awk '{print $1/$2}')"
	done
done
echo "(medians of $ROUNDS rounds of $PASSES passes each; ratio = heapbench / direct,"
echo " direct_loop run with the same library in LD_PRELOAD)"
echo
echo "the replay loop's own cost (backend null: bump pointer, free does nothing):"
for p in $PATTERNS; do
	ns=$("$B/heapbench" replay -a null --check off --repeat "$PASSES" --json "$D/overhead-$p.hbt" |
		sed -n 's/.*"ns_per_op":\([0-9.e+-]*\).*/\1/p')
	printf '  %-28s %6.2f ns/op\n' "overhead-$p.hbt" "$ns"
done
