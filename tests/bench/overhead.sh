#!/usr/bin/env bash
# tests/bench/overhead.sh BUILD - `make bench-overhead`: heapbench's timed pass
# of the `system` backend against direct_loop (the same op array replayed by
# calling malloc & co. directly), on a 1-million-op trace of each `trace gen`
# pattern (long enough that a pass takes tens of milliseconds).  Each round runs both, alternating which goes first, each
# in a fresh process that warms the heap with one untimed pass and then
# reports the median of PASSES timed passes; the table shows the median over
# the rounds, and the ratio heapbench / direct (1.0 = no overhead).
# Goal (issue 3): 0.9 or better.
set -eu
B=${1:-build}
ROUNDS=${ROUNDS:-5}
PASSES=${PASSES:-9}
D=build/bench
mkdir -p "$D"
PATTERNS="ramp peak plateau random-uniform random-exponential"
for p in $PATTERNS; do
	[ -f "$D/overhead-$p.hbt" ] ||
		"$B/heapbench" trace gen --pattern "$p" --ops 1000000 --seed 2 -o "$D/overhead-$p.hbt"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
hb_mops() { "$B/heapbench" replay -a system --check off --repeat "$PASSES" --json "$1" |
	sed -n 's/.*"mops":\([0-9.e+-]*\).*/\1/p'; }

printf '%-28s %12s %12s %8s\n' trace "heapbench" "direct" ratio
printf '%-28s %12s %12s %8s\n' "" "Mops/s" "Mops/s" ""
for p in $PATTERNS; do
	t="$D/overhead-$p.hbt"
	: >"$D/hb.txt"
	: >"$D/direct.txt"
	for ((r = 0; r < ROUNDS; r++)); do
		if ((r % 2)); then
			"$B/tests/direct_loop" "$t" "$PASSES" | awk '{print $2}' >>"$D/direct.txt"
			hb_mops "$t" >>"$D/hb.txt"
		else
			hb_mops "$t" >>"$D/hb.txt"
			"$B/tests/direct_loop" "$t" "$PASSES" | awk '{print $2}' >>"$D/direct.txt"
		fi
	done
	h=$(median <"$D/hb.txt")
	d=$(median <"$D/direct.txt")
	printf '%-28s %12.2f %12.2f %8.3f\n' "$(basename "$t")" "$h" "$d" "$(echo "$h $d" | awk '{print $1/$2}')"
done
echo "(medians of $ROUNDS rounds of $PASSES passes each; ratio = heapbench / direct)"
