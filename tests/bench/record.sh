#!/usr/bin/env bash
# tests/bench/record.sh BUILD - `make bench-record`: the cost of recording.
# Three allocation-heavy real commands (sqlite3 building and querying a
# 200,000-row table in memory; perl filling, sorting and thinning a hash of
# 400,000 strings; a perl one-liner that does little but allocate: 300,000
# hash entries made, two thirds deleted) run plain, under `heapbench record`
# (which converts the logs while the program runs), under `heapbench record`
# with HEAPBENCH_RECORD_FOLLOW=0 (which converts them after it ends, as
# before issue 19) and under heaptrack, interleaved, ROUNDS times each, and
# a fourth workload of 300 short processes, what recording a build or a
# script costs per process (heaptrack follows no child: no figure); the
# table shows the median wall-clock seconds and the slowdowns against the
# plain run.  Whole commands are timed: recording and writing the traces
# (heaptrack: its own interpretation and compression) all count.  Then, from
# summary.json: the wait after the program ended (convert_seconds) in M ops/s,
# for record and for the run that converts everything after exit (the
# converter's own speed), and what recording costs per call in the program,
# from that run: (after - plain - its convert_seconds) / ops (per round, then
# the median).
# Goals (issues 6, 19): record at most 1.5x the plain run, below heaptrack;
# the conversion after exit at 20 M ops/s or more.
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

# each workload but the last is one process; the last, what a build or a
# script is, 300 short processes one after another (each sort a log and a
# trace of its own: what recording costs per process); heaptrack follows
# no child, so it has no figure there
workload() {
	case "$1" in
	sqlite3) cmd=(sqlite3 :memory: ".read $W/sqlite.sql") ;;
	perl) cmd=(perl "$W/hash.pl") ;;
	perl-1liner) cmd=(perl -e 'my %h; $h{$_} = "x" x ($_ % 200) for 1..300000; delete $h{$_} for grep { $_ % 3 } 1..300000') ;;
	procs-300) cmd=(sh -c 'for i in $(seq 300); do printf "b\na\nc\n" | sort; done') ;;
	esac
}

f='%-12s %7s %7s %7s %9s %8s %7s %7s %9s %10s %10s %8s\n'
printf "$f" workload plain record after heaptrack "" record/ after/ heaptrack/ "after exit" "after exit" record
printf "$f" "" s s s s ops plain plain plain "M ops/s" "(after)" ns/call
for w in sqlite3 perl perl-1liner procs-300; do
	workload "$w"
	for x in plain record after heaptrack convert convafter percall; do : >"$D/$x"; done
	for ((r = 0; r < ROUNDS; r++)); do
		pr=$(secs "${cmd[@]}")
		rm -rf "$D/out" "$D/post"
		rr=$(secs "$HB" record -o "$D/out" -- "${cmd[@]}")
		ar=$(secs env HEAPBENCH_RECORD_FOLLOW=0 "$HB" record -o "$D/post" -- "${cmd[@]}")
		cr=$(jq .convert_seconds "$D/out/summary.json")
		ca=$(jq .convert_seconds "$D/post/summary.json")
		# recording's time in the program, per call, this round
		awk -v p="$pr" -v r="$ar" -v c="$ca" -v n="$(jq '[.processes[].ops] | add' "$D/post/summary.json")" \
			'BEGIN { print (r - p - c) / n * 1e9 }' >>"$D/percall"
		echo "$pr" >>"$D/plain" && echo "$rr" >>"$D/record" && echo "$ar" >>"$D/after"
		echo "$cr" >>"$D/convert" && echo "$ca" >>"$D/convafter"
		rm -f "$D"/ht.*
		if [ "$w" = procs-300 ]; then echo nan; else secs heaptrack -o "$D/ht" "${cmd[@]}"; fi >>"$D/heaptrack"
	done
	ops=$(jq '[.processes[].ops] | add' "$D/out/summary.json")
	p=$(median <"$D/plain")
	rr=$(median <"$D/record")
	ar=$(median <"$D/after")
	h=$(median <"$D/heaptrack")
	cs=$(median <"$D/convert")
	ca=$(median <"$D/convafter")
	pc=$(median <"$D/percall")
	awk -v w="$w" -v p="$p" -v r="$rr" -v a="$ar" -v h="$h" -v ops="$ops" -v c="$cs" -v ca="$ca" -v pc="$pc" 'BEGIN {
		hs = h == "nan" ? "-" : sprintf("%.3f", h); hr = h == "nan" ? "-" : sprintf("%.2f", h / p)
		printf "%-12s %7.3f %7.3f %7.3f %9s %8d %7.2f %7.2f %9s %10.1f %10.1f %8.0f\n", w, p, r, a, hs,
			ops, r / p, a / p, hr, ops / c / 1e6, ops / ca / 1e6, pc }'
done
echo "goals: record/plain <= 1.50 and below heaptrack/plain; conversion after exit >= 20 M ops/s"
echo "(after: HEAPBENCH_RECORD_FOLLOW=0, everything converted after the program ends)"
echo "(medians of $ROUNDS interleaved rounds; ops = calls recorded, all processes;"
echo " $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/sqlite3 /'), $(perl -e 'print "perl $^V"'), $(heaptrack --version 2>&1 | head -1))"
