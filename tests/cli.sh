#!/usr/bin/env bash
# tests/cli.sh - command-line tests of heapbench, TAP output ("ok N - what").
# HEAPBENCH names the binary under test (default build/heapbench).  Each
# check prints what it compared when it fails.  Run from the repository root.
set -u
HB=${HEAPBENCH:-build/heapbench}
DATA=tests/data
. "$(dirname "$0")/lib.sh"

# ---- usage --------------------------------------------------------------------
run "$HB" --help
check "--help exits 0" 0 "$rc"
check_has "--help lists trace stats" "$out" "trace stats"
run "$HB" --version
check_has "--version names heapbench" "$out" "heapbench "
run "$HB" frobnicate
check "unknown command exits 2" 2 "$rc"
check_has "unknown command is named" "$err" "unknown command 'frobnicate'"
run "$HB" trace stats
check "trace stats without a trace exits 2" 2 "$rc"
run "$HB" trace gen --pattern ramp -o "$T/x.trace"
check "trace gen without --ops exits 2" 2 "$rc"
run "$HB" trace gen --pattern spiral --ops 10 -o "$T/x.trace"
check "trace gen with an unknown pattern exits 2" 2 "$rc"
check_has "unknown pattern is named" "$err" "unknown pattern 'spiral'"

# ---- bad input: one line, exit 2, no output left behind -------------------------
while IFS=$'\t' read -r f want; do
	case "$f" in '#'* | '') continue ;; esac
	p="$DATA/bad/$f"
	run "$HB" trace stats "$p"
	lines=$(printf '%s\n' "$err" | grep -c .)
	if [ "$rc" = 2 ] && [ "$lines" = 1 ] && [[ "$err" == "heapbench: $p"* ]] && [[ "$err" == *"$want"* ]]; then
		ok "bad input $f: exit 2, one line naming the problem"
	else
		fail "bad input $f" "expected: exit 2, one line 'heapbench: $p...$want'" "got: exit $rc, $lines lines: $err"
	fi
	mkdir -p "$T/conv"
	run "$HB" trace convert "$p" "$T/conv/out.hbt"
	left=$(ls -A "$T/conv")
	if [ "$rc" = 2 ] && [ -z "$left" ]; then
		ok "convert of bad input $f leaves nothing behind"
	else
		fail "convert of bad input $f" "expected exit 2 and an empty directory" "got exit $rc, files: $left"
	fi
	rm -rf "$T/conv"
done <"$DATA/bad/EXPECT"

run "$HB" trace stats "$T/does-not-exist.trace"
check "missing file exits 2" 2 "$rc"
check_has "missing file message" "$err" "heapbench: $T/does-not-exist.trace: cannot open: No such file or directory"
mkdir "$T/dir.trace"
run "$HB" trace stats "$T/dir.trace"
check "directory exits 2" 2 "$rc"
check_has "directory message" "$err" "is a directory"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$T/longline.trace"
run "$HB" trace stats "$T/longline.trace"
check "a 2 MB line exits 2" 2 "$rc"
check_has "a 2 MB line is reported" "$err" "line longer than"
run "$HB" trace convert "$DATA/bad/../rep/../bad/EXPECT" "$T/x.unknown"
check "convert to an unknown extension exits 2" 2 "$rc"
check_has "unknown extension is explained" "$err" "unknown output format"

# ---- stats against hand-computed values ------------------------------------------
printf '20000\n3\n8\n1\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n' >"$T/short.rep"
run "$HB" trace stats --json "$T/short.rep"
check "stats --json of the CS:APP example" \
	'{"trace":"'"$T"'/short.rep","format":"rep-csapp2002","ops":8,"allocs":3,"callocs":0,"memaligns":0,"reallocs":2,"frees":3,"ids":3,"threads":1,"peak_live_bytes":896,"final_live_bytes":0,"max_live_blocks":3,"sizes":{"count":5,"min":128,"median":512,"p99":768,"max":768,"histogram":[{"lo":128,"hi":255,"count":2},{"lo":512,"hi":1023,"count":3}]},"free_nulls":0,"realloc_nulls":0,"realloc_zeros":0,"peak_live_op":3,"final_live_blocks":0,"requested_bytes":2176,"metadata":{"rep-header":"20000 3 8 1"}}' \
	"$out"
# calloc counts nmemb*size, realloc replaces, free(NULL) and realloc(p,0) are frees
cat >"$T/mixed.trace" <<'EOF'
# heapbench-trace: 1
# program: hand-made
0: a 10 100
1: c 20 4 25
0: m 30 64 1000
1: r 10 300
0: f -1
1: r 20 0
0: f 30
EOF
run "$HB" trace stats --json "$T/mixed.trace"
check "stats --json of a native trace with every op kind" \
	'{"trace":"'"$T"'/mixed.trace","format":"text","ops":7,"allocs":1,"callocs":1,"memaligns":1,"reallocs":1,"frees":3,"ids":3,"threads":2,"peak_live_bytes":1400,"final_live_bytes":300,"max_live_blocks":3,"sizes":{"count":4,"min":100,"median":100,"p99":1000,"max":1000,"histogram":[{"lo":64,"hi":127,"count":2},{"lo":256,"hi":511,"count":1},{"lo":512,"hi":1023,"count":1}]},"free_nulls":1,"realloc_nulls":0,"realloc_zeros":1,"peak_live_op":3,"final_live_blocks":1,"requested_bytes":1500,"metadata":{"program":"hand-made"}}' \
	"$out"
run "$HB" trace stats "$T/short.rep" "$T/mixed.trace"
check "stats of two traces exits 0" 0 "$rc"
check_has "readable stats show peak live" "$out" "peak 896 (at op 3)"
check_has "readable stats show the second trace" "$out" "mixed.trace (text)"

# OS thread ids are renumbered densely, in order of first appearance
printf '31337: a 0 8\n4242: a 1 16\n31337: f 0\n4242: f 1\n' >"$T/tids.trace"
run "$HB" trace stats --json "$T/tids.trace"
check_has "two OS thread ids make 2 threads" "$out" '"threads":2,'
"$HB" trace convert "$T/tids.trace" "$T/tids2.trace"
check "threads are written densely" "$(printf '# heapbench-trace: 1\n0: a 0 8\n1: a 1 16\n0: f 0\n1: f 1')" "$(cat "$T/tids2.trace")"

# ---- CMU quirks are accepted, with warnings where the file is odd ----------------
printf '1\n2\n3\n0\r\na 0 16\r\na 1\r\nf -1\r\nf 0\r\n' >"$T/quirks.rep"
run "$HB" trace stats --json "$T/quirks.rep"
check "rep with CRLF, missing size, f -1 and extra lines exits 0" 0 "$rc"
check_has "missing size reuses the previous size" "$err" "quirks.rep:6: op 1: warning: missing size; using the previous size 16"
check_has "lines after num_ops are reported" "$err" "quirks.rep:8: warning: 1 line after the declared num_ops (3) ignored"
check_has "quirk trace peak live is 32" "$out" '"peak_live_bytes":32'

# ---- lint ---------------------------------------------------------------------------
printf 'a 0 8\nf 1\nx 2 3\na 0 9\nm 1 3 8\nf 0\n' >"$T/lint.trace"
run "$HB" trace lint "$T/lint.trace"
check "lint exits 1 when it finds problems" 1 "$rc"
check "lint lists every problem, one line each" 4 "$(printf '%s\n' "$err" | grep -c "heapbench: $T/lint.trace:")"
check_has "lint names line and op of a free of a dead id" "$err" "lint.trace:2: op 1: free of id 1 which is not live"
check_has "lint names an unknown op" "$err" "lint.trace:3: op 2: unknown op 'x'"
check_has "lint names a double allocation" "$err" "lint.trace:4: op 3: allocation of id 0 which is already live"
check_has "lint names a bad alignment" "$err" "lint.trace:5: op 4: alignment 3"
check_has "lint summary counts problems" "$out" "lint.trace: 4 problems"
run "$HB" trace lint "$T/short.rep" "$T/mixed.trace"
check "lint of clean traces exits 0" 0 "$rc"
check_has "lint reports clean traces" "$out" "short.rep: ok, 8 ops"
run "$HB" trace lint "$DATA/bad/hbt-free-dead.hbt"
check "lint of a bad .hbt exits 1" 1 "$rc"
check_has "lint of a bad .hbt names the op" "$err" "op 1: free of id 0 which is not live"
run "$HB" trace lint "$T/nope.trace"
check "lint of a missing file exits 2" 2 "$rc"

# ---- round trips are byte-for-byte stable -----------------------------------------
"$HB" trace convert "$T/short.rep" "$T/short.hbt" && "$HB" trace convert "$T/short.hbt" "$T/short2.rep"
same_file "rep -> hbt -> rep is byte-identical" "$T/short.rep" "$T/short2.rep"
printf '1\n4\n6\n0\na 0 10\nf -1\nr 1 20\nr 0 0\nr 1 30\nf 1\n' >"$T/q2.rep"
"$HB" trace convert "$T/q2.rep" "$T/q2.hbt.zst" && "$HB" trace convert "$T/q2.hbt.zst" "$T/q2b.rep"
same_file "rep with quirks -> hbt.zst -> rep is byte-identical" "$T/q2.rep" "$T/q2b.rep"
"$HB" trace convert traces/examples/tiny.rep "$T/tiny.hbt.zst" && "$HB" trace convert "$T/tiny.hbt.zst" "$T/tiny.trace" &&
	"$HB" trace convert "$T/tiny.trace" "$T/tiny.rep"
same_file "sequential ids with f -1: rep -> hbt.zst -> text -> rep is byte-identical" traces/examples/tiny.rep "$T/tiny.rep"
"$HB" trace convert "$T/mixed.trace" "$T/m1.trace"
"$HB" trace convert "$T/m1.trace" "$T/m.hbt" && "$HB" trace convert "$T/m.hbt" "$T/m2.trace"
same_file "text -> hbt -> text is byte-identical" "$T/m1.trace" "$T/m2.trace"
"$HB" trace convert "$T/m1.trace" "$T/m.trace.gz" && "$HB" trace convert "$T/m.trace.gz" "$T/m3.trace"
same_file "text -> text.gz -> text is byte-identical" "$T/m1.trace" "$T/m3.trace"
"$HB" trace convert "$T/m.hbt" "$T/m.hbt.zst" && zstd -q -d -c "$T/m.hbt.zst" >"$T/m4.hbt"
same_file ".hbt.zst decompressed by zstd(1) equals the .hbt" "$T/m.hbt" "$T/m4.hbt"
gzip -c "$T/short.rep" >"$T/short.rep.gz" && zstd -q -c "$T/short.rep" >"$T/short.rep.zst"
run "$HB" trace stats --json "$T/short.rep.gz"
check_has "gzip(1) input is read" "$out" '"format":"rep-csapp2002+gz"'
run "$HB" trace stats --json "$T/short.rep.zst"
check_has "zstd(1) input is read" "$out" '"format":"rep-csapp2002+zst"'
cp "$T/short.hbt" "$T/misnamed.trace"
run "$HB" trace stats --json "$T/misnamed.trace"
check_has "format is chosen by content, not name" "$out" '"format":"hbt"'

# a zstd stream may start with a skippable frame (pzstd writes one)
{ printf '\x50\x2a\x4d\x18\x04\x00\x00\x00abcd'; zstd -q -c "$T/short.rep"; } >"$T/skippable.rep.zst"
run "$HB" trace stats --json "$T/skippable.rep.zst"
check_has "zstd with a leading skippable frame is read" "$out" '"format":"rep-csapp2002+zst"'
{ gzip -c "$T/short.rep"; head -c 512 /dev/zero; } >"$T/padded.rep.gz"
run "$HB" trace stats --json "$T/padded.rep.gz"
check_has "gzip with trailing zero padding is read" "$out" '"peak_live_bytes":896'
printf '# program: caf\xe9\na 0 8\n' >"$T/latin1.trace"
run "$HB" trace stats --json "$T/latin1.trace"
check_has "non-UTF-8 metadata stays in the JSON" "$out" '"metadata":{"program":"caf'
run "$HB" trace stats "$T/short.rep" --json
check_has "options may follow the traces" "$out" '"format":"rep-csapp2002"'
printf '1\n2\n10\n0\na 0 8\nf 1\nf 0\n' >"$T/lies.rep"
run "$HB" trace lint "$T/lies.rep"
check "lint reports a lying num_ops next to other problems" 2 "$(printf '%s\n' "$err" | grep -c "heapbench: $T/lies.rep:")"
check_has "lint names the lying num_ops" "$err" "lies.rep:3: header declares num_ops 10 but the file has 3 ops"
run "$HB" trace lint "$T"
check "lint of a directory exits 2" 2 "$rc"

# ---- gen ----------------------------------------------------------------------------
for p in ramp peak plateau random-uniform random-exponential; do
	"$HB" trace gen --pattern $p --ops 5000 --seed 7 -o "$T/g1.hbt"
	"$HB" trace gen --pattern $p --ops 5000 --seed 7 -o "$T/g2.hbt"
	"$HB" trace gen --pattern $p --ops 5000 --seed 8 -o "$T/g3.hbt"
	same_file "gen $p: the same seed gives the same bytes" "$T/g1.hbt" "$T/g2.hbt"
	if cmp -s "$T/g1.hbt" "$T/g3.hbt"; then fail "gen $p: another seed gives another trace"; else ok "gen $p: another seed gives another trace"; fi
	run "$HB" trace stats --json "$T/g1.hbt"
	check_has "gen $p: exactly 5000 ops" "$out" '"ops":5000,'
	run "$HB" trace lint "$T/g1.hbt"
	check "gen $p: lint-clean" 0 "$rc"
done
"$HB" trace gen --pattern plateau --ops 4000 --live 20 -o "$T/live.hbt"
run "$HB" trace stats --json "$T/live.hbt"
if [[ "$out" =~ \"max_live_blocks\":([0-9]+) ]] && ((BASH_REMATCH[1] >= 15 && BASH_REMATCH[1] <= 40)); then
	ok "gen --live 20 keeps about 20 blocks live (${BASH_REMATCH[1]})"
else
	fail "gen --live 20" "got: $out"
fi
"$HB" trace gen --pattern peak --ops 3000 --seed 3 -o "$T/g.trace"
"$HB" trace gen --pattern peak --ops 3000 --seed 3 -o "$T/g.hbt"
"$HB" trace convert "$T/g.hbt" "$T/g2.trace"
same_file "gen writes the same trace as text and as binary" "$T/g.trace" "$T/g2.trace"

# ---- an interrupted convert leaves nothing behind ----------------------------------
# The signal must land while the output is being written: the test waits for
# the temporary file, stops the process there (so it cannot finish first),
# checks that it is mid-way (temporary file, no output), then sends SIGINT.
"$HB" trace gen --pattern plateau --ops 2000000 --seed 1 -o "$T/big.hbt"
mkdir -p "$T/int"
"$HB" trace convert "$T/big.hbt" "$T/int/big.trace.zst" 2>"$T/int.err" &
pid=$!
for _ in $(seq 400); do # up to 20 s for the write to start
	compgen -G "$T/int/.heapbench-*" >/dev/null && break
	sleep 0.05
done
kill -STOP $pid 2>/dev/null
for _ in $(seq 100); do # until it is stopped
	[ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" = T ] && break
	sleep 0.01
done
midway=$(ls -A "$T/int")
kill -INT $pid 2>/dev/null
kill -CONT $pid 2>/dev/null
wait $pid
rc=$?
if [[ "$midway" == .heapbench-* ]]; then
	ok "SIGINT lands while the output is being written (files: $midway)"
else
	fail "SIGINT during convert: not mid-way" "expected only a temporary file" "got: ${midway:-none}"
fi
check "SIGINT during convert: the process dies of SIGINT (128 + 2)" 130 "$rc"
check "SIGINT during convert: no message" "" "$(cat "$T/int.err")"
check "SIGINT during convert: no output and no temporary file left" "" "$(ls -A "$T/int")"

# ---- replay -------------------------------------------------------------------------
run "$HB" replay --repeat 2 traces/examples/tiny.rep
check "replay of tiny.rep exits 0" 0 "$rc"
check_has "replay table row for first-fit" "$out" "tiny                     first-fit"
check_has "first-fit replays tiny.rep" "$(grep first-fit <<<"$out")" " ok "
run "$HB" replay --json --repeat 1 -a first-fit traces/examples/tiny.rep
check "replay --json exits 0" 0 "$rc"
for field in '"trace":"tiny"' '"backend":"first-fit"' '"status":"ok"' '"peak_live_bytes":1536' \
	'"footprint_source":"simulated-heap"' '"utilization":0.' \
	'"frag_peak":' '"ops":12' '"repeat":1' '"mops":' '"ns_per_op":' '"timeline":['; do
	check_has "replay --json has $field" "$out" "$field"
done
run "$HB" replay -a nosuch traces/examples/tiny.rep
check "replay with an unknown backend exits 2" 2 "$rc"
check_has "unknown backend lists the known ones" "$err" "unknown backend 'nosuch' (known: first-fit, next-fit, best-fit"
run "$HB" replay -a first-fit:colour=blue traces/examples/tiny.rep
check "replay with an unknown backend option exits 2" 2 "$rc"
check_has "unknown option is named with the known ones" "$err" "backend first-fit has no option 'colour' (known: order mmap_threshold min_split)"
run "$HB" replay -a first-fit:mmap_threshold=abc traces/examples/tiny.rep
check "replay with a bad option value exits 2" 2 "$rc"
check_has "a bad option value is explained" "$err" "backend first-fit: mmap_threshold: expected a number of bytes, got 'abc'"
run "$HB" replay --timeout nan traces/examples/tiny.rep
check "replay --timeout nan exits 2" 2 "$rc"
printf '# heapbench-trace: 1\n' >"$T/empty-ops.trace"
run "$HB" replay --json --repeat 1 -a first-fit "$T/empty-ops.trace"
check "replay of a trace with no ops exits 0" 0 "$rc"
check_has "no ops: no utilization rather than 0" "$out" '"utilization":null'
check_has "no ops: no speed rather than a made-up one" "$out" '"mops":null'
if grep -Eq '"peak_footprint_bytes":[1-9]' <<<"$out"; then ok "no ops: the empty first-fit heap still has a footprint"; else fail "no ops: the empty heap has a footprint" "got: $out"; fi
run "$HB" replay --check sometimes traces/examples/tiny.rep
check "replay --check with a bad level exits 2" 2 "$rc"
run "$HB" replay traces/examples/tiny.rep "$DATA/bad/rep-free-dead.rep"
check "replay of a bad trace exits 2 before running anything" 2 "$rc"
check "replay of a bad trace runs no job" "" "$out"
run "$HB" replay -a first-fit --heap-limit 4KiB --repeat 0 traces/synthetic/peak.trace
check "replay over the heap limit exits 1" 1 "$rc"
check_has "heap exhaustion is status oom" "$out" "peak x first-fit: oom at op"
run "$HB" replay --align 64 --repeat 0 -a first-fit traces/examples/tiny.rep
check "replay --align 64 fails first-fit's 16-byte blocks" 1 "$rc"
# (first-fit's first block happens to be 64-aligned: its state is 1 KiB and more)
check_has "misalignment is reported with op and line" "$out" "tiny x first-fit: error at op 1 (line 6): malloc returned"
# regression: segregated's good fit may pass over a free top block that
# fits; the heap must then use it rather than report out of memory
"$HB" trace gen --pattern random-uniform --ops 12000 --seed 11 --live 6250 -o "$T/r11.hbt"
run "$HB" replay --repeat 0 -a segregated:spacing=1 "$T/r11.hbt"
check "segregated uses a free top block its scan passed over" 0 "$rc"
run "$HB" replay -a first-fit --latency --repeat 0 --json traces/synthetic/ramp.trace
check_has "latency pass reports percentiles per op kind" "$out" '"latency_ns":{"malloc":{"count":'
check_has "latency pass reports the timer overhead" "$out" '"timer_overhead_ns":'

echo "1..$n"
