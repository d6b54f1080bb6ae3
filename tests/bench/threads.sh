#!/usr/bin/env bash
# tests/bench/threads.sh BUILD - `make bench-threads`: the threaded replay
# (--threads recorded) against direct_threads, a minimal pthread program
# replaying the same thread streams with the same waits (issue 16's goal:
# 0.9 of it or better), for `system` and `null`; then the cost of one
# cross-thread wait.
#
# The trace: tests/record/threads.c (8 threads handing blocks to each
# other) run for ROUNDS_PER_THREAD rounds under `heapbench record`, about a
# million ops.  Each round runs heapbench and direct_threads side by side,
# alternating which goes first, each reporting the median of PASSES timed
# passes; the table shows the median over the rounds and the ratio.
#
# The wait: a 2-thread ping-pong trace (every op frees or reuses the block
# the other thread just touched, so every op but the first waits) against
# the same ops on one thread, both replayed by null under --threads
# recorded: the difference per op is what one cross-thread wait costs
# (the hand-over of a cache line, and a futex wake-up when the waiter
# slept).
set -eu
B=${1:-build}
ROUNDS=${ROUNDS:-3}
PASSES=${PASSES:-5}
D=build/bench
mkdir -p "$D"
TR=$D/threads-8.hbt.zst
if [ ! -f "$TR" ]; then
	rm -rf "$D/threads-rec"
	"$B/heapbench" record -o "$D/threads-rec" "$B/tests/threads" "${ROUNDS_PER_THREAD:-100000}" 2>/dev/null
	mv "$D/threads-rec/1-threads.hbt.zst" "$TR"
fi
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
hb() { "$B/heapbench" replay -a "$1" --threads recorded --check off --repeat "$PASSES" --json "$2"; }

"$B/heapbench" trace stats --json "$TR" | jq -r '"trace: \(.ops) ops, \(.threads) threads"'
hb null "$TR" | jq -r '"       \(.cross_thread_waits) cross-thread waits planned, ops per thread \(.per_thread_ops.min)..\(.per_thread_ops.max)"'
printf '%-8s %12s %12s %8s %14s\n' backend "heapbench" "direct" ratio "wait_fraction"
printf '%-8s %12s %12s %8s %14s\n' "" "Mops/s" "Mops/s" "" "(heapbench)"
for b in system null; do
	: >"$D/hb.txt"
	: >"$D/direct.txt"
	: >"$D/wait.txt"
	for ((r = 0; r < ROUNDS; r++)); do
		if ((r % 2)); then
			"$B/tests/direct_threads" "$b" "$TR" "$PASSES" | awk '{print $2}' >>"$D/direct.txt"
		fi
		hb "$b" "$TR" | jq -r '"\(.mops) \(.wait_fraction)"' >"$D/one.txt"
		awk '{print $1}' "$D/one.txt" >>"$D/hb.txt"
		awk '{print $2}' "$D/one.txt" >>"$D/wait.txt"
		if ((r % 2 == 0)); then
			"$B/tests/direct_threads" "$b" "$TR" "$PASSES" | awk '{print $2}' >>"$D/direct.txt"
		fi
	done
	h=$(median <"$D/hb.txt")
	d=$(median <"$D/direct.txt")
	w=$(median <"$D/wait.txt")
	printf '%-8s %12.2f %12.2f %8.3f %14.3f\n' "$b" "$h" "$d" "$(echo "$h $d" | awk '{print $1/$2}')" "$w"
done

# one cross-thread wait
N=200000
awk -v n=$N 'BEGIN { print "# heapbench trace, version 1"
	for (i = 0; i < n / 2; i++) { print "0: a 0 16"; print "1: f 0" } }' >"$D/pingpong.trace"
awk -v n=$N 'BEGIN { print "# heapbench trace, version 1"
	for (i = 0; i < n / 2; i++) { print "0: a 0 16"; print "0: f 0" } }' >"$D/pingpong-1.trace"
: >"$D/pp.txt"
: >"$D/p1.txt"
for ((r = 0; r < ROUNDS; r++)); do
	hb null "$D/pingpong.trace" | jq -r .ns_per_op >>"$D/pp.txt"
	hb null "$D/pingpong-1.trace" | jq -r .ns_per_op >>"$D/p1.txt"
done
pp=$(median <"$D/pp.txt")
p1=$(median <"$D/p1.txt")
printf 'cross-thread wait: %.0f ns per op on 2 threads, %.0f ns on one: %.0f ns per wait\n' \
	"$pp" "$p1" "$(echo "$pp $p1" | awk '{print $1 - $2}')"
