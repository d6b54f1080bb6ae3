#!/usr/bin/env bash
# tests/cli_import_calllog.sh - importing NAME(ARGS) = RESULT call logs
# (harness/trace/calllog.c): FreeBSD kdump's utrace records (result first,
# PID COMMAND USER prefix, -H threads, -T times), result-last logs, other
# prefixes, the realities, errors and detection; TAP.  The expected numbers
# come from tests/data/import/calllog/expect.py, computed from the raw logs
# independently of the importer.
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/calllog
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"

format() { "$HB" trace stats --json "$1" 2>/dev/null | jq -r .format; }

check "kdump: ops by kind, peak live bytes, threads" "12 5 0 0 2 5 100 1" "$(shape "$D/kdump.log")"
check "kdump: realities (syscall records and malloc_init() skipped, sh left out)" \
	"calllog 1 0 0 1 1 0 6 2 61039 2" "$(realities "$D/kdump.log")"
check "kdump: result-first calls become ops" "a 0 26
r 0 17
f -1" "$(ops "$D/kdump.log" | head -3)"
check "kdump -H -T: threads and times" "5 2 0 0 1 2 4160 2" "$(shape "$D/kdump-HT.log")"
check "kdump -H -T: the ops" "0: a 0 16 @1536334807907404000
0: a 1 4096 @1536334807907411000
1: r 0 64 @1536334807907420000
1: f 1 @1536334807907431000
0: f 0 @1536334807907502000" "$(ops "$D/kdump-HT.log")"
check "kdump -H -T: realities" "calllog 0 0 0 0 0 0 0 0 4242 1" "$(realities "$D/kdump-HT.log")"

check "result last: ops by kind, peak live bytes" "17 4 1 3 1 8 8755 1" "$(shape "$D/generic.log")"
check "result last: unknown free, lost free, 2 failed, cut-off line, 3 other lines, no pid" \
	"calllog 1 0 1 2 0 1 3 0 - -" "$(realities "$D/generic.log")"
check "result last: every op" "a 0 26
c 1 10 20
r 0 17
r 2 50
m 3 64 200
m 4 4096 8192
m 5 32 96
f -1
f -1
f 1
r 2 0
a 1 100
f 0
a 0 8
f 1
f 0
f 3" "$(ops "$D/generic.log")"
check "an arbitrary prefix" "4 2 0 0 0 2 48 1" "$(shape "$D/prefixed.log")"

run "$HB" trace stats "$D/bad.log"
check "a malformed call: exit 2" 2 "$rc"
check "a malformed call: one line naming FILE:LINE" \
	"heapbench: $D/bad.log:3: unreadable malloc call: malloc(2, 3) = 0x20" "$err"
printf ' 1 p USER  0x10 = malloc(8)\n 1 p USER  0x20 = malloc(8)\n 1 p USER  0x30 = mall' >"$T/cut.log"
check "a cut-off last line is counted" "calllog 0 0 0 0 0 1 0 0 1 1" "$(realities "$T/cut.log")"
cp "$D/kdump.log" "$T/misleading.trace"
check "detected by content, whatever the name" calllog "$(format "$T/misleading.trace")"
{
	echo "# heapbench-trace: 1"
	echo "# a comment: malloc(16) = 0x10"
	echo "# free(0x10)"
	echo "# malloc(16) = 0x10"
	echo "a 0 16"
	echo "f 0"
} >"$T/native.trace"
check "a native trace quoting calls in comments stays text" text "$(format "$T/native.trace")"
{
	for i in $(seq 1 30); do echo "some line of program output $i"; done
	echo "malloc(16) = 0x10"
	echo "free(0x10)"
} >"$T/two.log"
run "$HB" trace stats "$T/two.log"
check_not "two call lines deep in other text are not claimed" "$(format "$T/two.log")" calllog
for f in kdump kdump-HT generic prefixed; do
	run "$HB" replay -a first-fit "$D/$f.log"
	check "replay -a first-fit of $f.log: exit 0" 0 "$rc"
done

echo "1..$n"
