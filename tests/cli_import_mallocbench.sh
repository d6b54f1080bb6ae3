#!/usr/bin/env bash
# tests/cli_import_mallocbench.sh - importing malloc-bench traces (gzip-
# compressed protobuf Tracefile; harness/trace/mallocbench.c); TAP.  The
# data and the expected numbers come from tests/data/import/mallocbench/gen.py
# (op lists hand-encoded; figures computed from the lists themselves).
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/mallocbench
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"

# `python3 gen.py`: prog 14 3 1 2 1 7 5404 1 / unknown failed zero: 1 1 1
check "prog: ops by kind, peak live bytes, one thread" "14 3 1 2 1 7 5404 1" "$(shape "$D/prog.trace.gz")"
check "prog: realities (unknown free, failed malloc, malloc(0))" \
	"malloc-bench 1 0 0 1 1 0 0 0 - -" "$(realities "$D/prog.trace.gz")"
check "prog: every op (id N is pointer N+1; absent ids are NULL)" "a 0 100
c 1 10 8
r 0 300
m 2 64 64
r 3 40
f -1
a 4 0
f 1
m 1 4096 5000
f 0
f 2
f 3
f 4
f 1" "$(ops "$D/prog.trace.gz")"
run "$HB" trace stats "$D/prog.trace.gz"
check_has "prog: the failed call is warned about" "$err" "1 failed calls (not replayed)"
check "prog: the format" "malloc-bench+gz" "$("$HB" trace stats --json "$D/prog.trace.gz" 2>/dev/null | jq -r .format)"

check "many: ops by kind, peak live bytes" "400 142 44 19 37 158 52094 1" "$(shape "$D/many.trace.gz")"
check "many: no realities" "malloc-bench 0 0 0 0 0 0 0 0 - -" "$(realities "$D/many.trace.gz")"

# ---- errors, truncation, detection, replay ---------------------------------------
run "$HB" trace stats "$D/badlate.trace.gz"
check "a corrupt TraceLine: exit 2" 2 "$rc"
check "a corrupt TraceLine: one line naming FILE, the line and the byte" \
	"heapbench: $D/badlate.trace.gz: malloc-bench TraceLine 101 at byte 846: not a valid TraceLine" "$err"
run "$HB" trace stats "$D/bad.trace.gz"
check "corrupt within the first 512 bytes: not recognised, exit 2" 2 "$rc"
check "corrupt within the first 512 bytes: one line" 1 "$(printf '%s\n' "$err" | wc -l)"
check "uncompressed, the last message cut off: counted as a truncated line" \
	"3 1 1 0 1 0 380 1|malloc-bench 0 0 0 0 0 1 0 0 - -" "$(shape "$D/cut.trace")|$(realities "$D/cut.trace")"
head -c 900 "$D/many.trace.gz" >"$T/cut.trace.gz"
run "$HB" trace stats "$T/cut.trace.gz"
check "a cut-off gzip stream: exit 2" 2 "$rc"
check_has "a cut-off gzip stream: said so" "$err" "truncated gzip data"
zcat "$D/many.trace.gz" >"$T/plain.bin"
check "uncompressed protobuf" "400 142 44 19 37 158 52094 1" "$(shape "$T/plain.bin")"
cp "$D/prog.trace.gz" "$T/misleading.log"
check "detected by content, whatever the name" "malloc-bench+gz" \
	"$("$HB" trace stats --json "$T/misleading.log" 2>/dev/null | jq -r .format)"
for f in prog many; do
	run "$HB" replay -a first-fit "$D/$f.trace.gz"
	check "replay -a first-fit of $f.trace.gz: exit 0" 0 "$rc"
done

echo "1..$n"
