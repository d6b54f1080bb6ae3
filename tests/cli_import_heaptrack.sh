#!/usr/bin/env bash
# tests/cli_import_heaptrack.sh - heaptrack data files read as they are: a
# real recording (heaptrack 1.4.0) and hand-made files in both forms
# (interpreted: allocation infos; raw: addresses), against the counts of
# tests/data/import/heaptrack/expect.py; TAP.
set -u
HB=${HEAPBENCH:-build/heapbench}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"
D=tests/data/import/heaptrack

# ht_shape FILE: "ops allocs frees peak_live threads" (heaptrack has no other kinds)
ht_shape() { "$HB" trace stats --json "$1" 2>/dev/null | jq -r '[.ops, .allocs, .frees, .peak_live_bytes, .threads] | map(tostring) | join(" ")'; }

# expect.py: allocs 1201 frees 1201 peak 169284 unknown 0
check "real recording: ops, peak live bytes, one thread" "2402 1201 1201 169284 1" "$(ht_shape $D/xprog.zst)"
check "real recording: format by content, zstd" "heaptrack+zst" "$("$HB" trace stats --json $D/xprog.zst | jq -r .format)"
check "real recording: lifetimes marked approximate" approximate "$(meta $D/xprog.zst lifetimes)"
run "$HB" trace stats $D/xprog.zst
check_has "trace stats says lifetimes are approximate" "$out" "lifetimes        approximate"
# expect.py: allocs 5 frees 4 peak 288 unknown 2
check "interpreted form: ops and peak live bytes" "9 5 4 288 1" "$(ht_shape $D/small.txt)"
check "interpreted form: frees of infos with no live block counted" 2 "$(meta $D/small.txt import-unknown-frees)"
run "$HB" trace stats $D/small.txt
check_has "the dropped frees are warned about once" "$err" "warning: imported heaptrack log: 2 frees of addresses never allocated (dropped)"
check_has "trace stats shows the count" "$out" "2 frees of addresses never allocated (dropped)"
check "raw form (addresses): exact lifetimes, not marked" "6 3 3 96 1 none" "$(ht_shape $D/raw.txt) $(meta $D/raw.txt lifetimes)"
check "raw form: the free of an unknown address counted" 1 "$(meta $D/raw.txt import-unknown-frees)"
check "a cut-off last line is counted, not an error (ops before it kept)" "1 3 2 1" \
	"$(meta $D/cut.txt import-truncated-lines) $(ht_shape $D/cut.txt | cut -d' ' -f1-3)"
run "$HB" trace stats $D/bad.txt
check "a malformed record: exit 2" 2 "$rc"
check "a malformed record: one line naming file and line" "heapbench: $D/bad.txt:5: heaptrack: bad allocation record" "$err"
gzip -c $D/small.txt >"$T/misleading.rep"
check "gzip, under a misleading name: read by content" "9 5 4 288 1" "$(ht_shape "$T/misleading.rep")"
run "$HB" trace convert $D/small.txt "$T/small.hbt"
check "convert to .hbt keeps the import's metadata" "heaptrack approximate 2" \
	"$(meta "$T/small.hbt" imported-from) $(meta "$T/small.hbt" lifetimes) $(meta "$T/small.hbt" import-unknown-frees)"
run "$HB" replay -a first-fit $D/xprog.zst
check "replay of the recording as it is: exit 0" 0 "$rc"
echo "1..$n"
