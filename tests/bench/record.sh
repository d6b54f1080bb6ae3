#!/usr/bin/env bash
# tests/bench/record.sh BUILD - `make bench-record`: the cost of recording.
# Two allocation-heavy real commands (sqlite3 building and querying a
# 200,000-row table in memory; perl filling, sorting and thinning a hash of
# 400,000 strings) run plain, under `heapbench record` and under heaptrack,
# interleaved, ROUNDS times each; the table shows the median wall-clock
# seconds of each and the slowdown against the plain run.  Whole commands
# are timed: recording and writing the traces (heaptrack: its own
# interpretation and compression) both count.
# Goal (issue 6): record at most 1.5x the plain run, and below heaptrack.
set -eu
B=${1:-build}
ROUNDS=${ROUNDS:-5}
D=build/bench/record
mkdir -p "$D"
HB=$(realpath "$B/heapbench")
W=$(realpath tests/bench/record)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
# secs CMD...: wall-clock seconds of one run, output discarded
secs() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>&1
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

# each workload is one process (heaptrack follows no child)
workload() {
	case "$1" in
	sqlite3) cmd=(sqlite3 :memory: ".read $W/sqlite.sql") ;;
	perl) cmd=(perl "$W/hash.pl") ;;
	esac
}

printf '%-8s %10s %10s %10s %8s %10s %10s\n' workload plain record heaptrack "" "record/" "heaptrack/"
printf '%-8s %10s %10s %10s %8s %10s %10s\n' "" "s" "s" "s" ops plain plain
for w in sqlite3 perl; do
	workload "$w"
	: >"$D/plain" && : >"$D/record" && : >"$D/heaptrack"
	for ((r = 0; r < ROUNDS; r++)); do
		secs "${cmd[@]}" >>"$D/plain"
		rm -rf "$D/out"
		secs "$HB" record -o "$D/out" -- "${cmd[@]}" >>"$D/record"
		rm -f "$D"/ht.*
		secs heaptrack -o "$D/ht" "${cmd[@]}" >>"$D/heaptrack"
	done
	ops=$(jq '[.processes[].ops] | add' "$D/out/summary.json")
	p=$(median <"$D/plain")
	rr=$(median <"$D/record")
	h=$(median <"$D/heaptrack")
	printf '%-8s %10.3f %10.3f %10.3f %8s %10.2f %10.2f\n' "$w" "$p" "$rr" "$h" "$ops" \
		"$(awk -v a="$rr" -v b="$p" 'BEGIN { print a / b }')" "$(awk -v a="$h" -v b="$p" 'BEGIN { print a / b }')"
done
echo "(medians of $ROUNDS interleaved rounds; ops = calls recorded, all processes;"
echo " $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/sqlite3 /'), $(perl -e 'print "perl $^V"'), $(heaptrack --version 2>&1 | head -1))"
