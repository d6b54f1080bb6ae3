#!/usr/bin/env bash
# tests/bench/parse.sh BUILD - `make bench-parse`: generates a ~20 MB text trace
# (2 million ops, plateau pattern) and its .hbt twin under build/bench/, then
# prints the text reader's MB/s and the .hbt open time (bench_parse.c), then
# the MB/s of each importer on the same ops spelled as its log (mklogs.py).
# Goals: text >= 150 MB/s (issue 19; printed beside the figure), every import
# >= 100 MB/s (issues 2, 15); .hbt open bounded by mmap, no per-op work.
set -eu
B=${1:-build}
D=build/bench
mkdir -p "$D"
if [ ! -f "$D/parse-2m.trace" ] || [ ! -f "$D/parse-2m.hbt" ]; then
	"$B/heapbench" trace gen --pattern plateau --ops 2000000 --seed 1 -o "$D/parse-2m.trace"
	"$B/heapbench" trace convert "$D/parse-2m.trace" "$D/parse-2m.hbt"
fi
if [ ! -f "$D/logs/logalloc.log" ] || [ tests/bench/mklogs.py -nt "$D/logs/logalloc.log" ]; then
	python3 tests/bench/mklogs.py "$D/parse-2m.trace" "$D/logs"
fi
"$B/tests/bench_parse" "$D/parse-2m.trace" "$D/parse-2m.hbt" "$D"/logs/*.log
