#!/usr/bin/env bash
# tests/cli_backends.sh - the real allocators, preload:PATH, library:PATH,
# null and `heapbench list`, through the command line; TAP output.
# HEAPBENCH names the binary under test, BUILD its build directory (for the
# test libraries: BUILD/tests/libcount.so, BUILD/examples/mm.so).
set -u
HB=${HEAPBENCH:-build/heapbench}
BUILD=${BUILD:-build}
. "$(dirname "$0")/lib.sh"

field() { jq -r "$1" <<<"$2"; }

# a sanitizer build cannot preload (ASan must come first in the process)
sanitized=0
if ldd "$HB" | grep -q libasan; then sanitized=1; fi
REAL="system jemalloc mimalloc tcmalloc"
PRELOADED="jemalloc mimalloc tcmalloc"

# ---- list -------------------------------------------------------------------------
run "$HB" list
check "list exits 0" 0 "$rc"
for b in first-fit next-fit best-fit segregated buddy null system jemalloc mimalloc tcmalloc; do
	check_has "list names $b" "$out" "$b "
done
run "$HB" list --json
check "list --json: one object per backend" 10 "$(jq -s length <<<"$out")"
check "list --json: glibc's version from the library" "glibc $(ldd --version | head -1 | awk '{print $NF}')" \
	"$(jq -r 'select(.backend == "system") | .version' <<<"$out")"
if [ $sanitized = 0 ]; then
	check_has "list --json: jemalloc's version from its mallctl" \
		"$(jq -r 'select(.backend == "jemalloc") | .version' <<<"$out")" "jemalloc 5."
	check_has "list --json: mimalloc's version from mi_version" \
		"$(jq -r 'select(.backend == "mimalloc") | .version' <<<"$out")" "mimalloc 2."
	check_has "list --json: tcmalloc's version from tc_version" \
		"$(jq -r 'select(.backend == "tcmalloc") | .version' <<<"$out")" "gperftools 2."
else
	check_has "list: preloading is unavailable in a sanitizer build, and says so" \
		"$(jq -r 'select(.backend == "jemalloc") | .reason' <<<"$out")" "sanitizer build"
fi

# ---- an unavailable library: reported, a clear error, never glibc instead -------
run env HEAPBENCH_TCMALLOC_LIB=libnot-there.so.4 "$HB" list --json
check "list: a missing library is not available" false \
	"$(jq -r 'select(.backend == "tcmalloc") | .available' <<<"$out")"
[ $sanitized = 0 ] && check_has "list: says which library is missing and why" \
	"$(jq -r 'select(.backend == "tcmalloc") | .reason' <<<"$out")" \
	"libnot-there.so.4: cannot open shared object file"
# a backend that cannot start is its jobs' status (DESIGN: containment), the others run
run env HEAPBENCH_TCMALLOC_LIB=libnot-there.so.4 "$HB" replay -a tcmalloc -a first-fit --json traces/examples/tiny.rep
check "replay -a with a missing library: exit 1, its job error, first-fit ok" "1 error ok" \
	"$rc $(jq -r .status <<<"$out" | paste -sd' ')"
check "replay -a with a missing library: one warning line" 1 "$(grep -c . <<<"$err")"
check_has "replay -a with a missing library: names the backend" "$err" "heapbench: warning: backend tcmalloc cannot start here, its jobs fail: "
check_has "... and the job says why" "$(jq -r 'select(.backend == "tcmalloc") | .error' <<<"$out")" "the backend cannot run here: "
run env HEAPBENCH_TCMALLOC_LIB=libnot-there.so.4 "$HB" replay --repeat 0 --json traces/examples/tiny.rep
check "replay without -a runs every available backend" 0 "$rc"
check_not "replay without -a skips the missing one" "$(jq -r .backend <<<"$out")" tcmalloc
check_has "replay without -a runs null" "$(jq -r .backend <<<"$out")" null

# ---- every real allocator replays the bundled traces, fully checked ---------------
if [ $sanitized = 0 ]; then
	for b in $REAL; do
		run "$HB" replay -a "$b" --repeat 1 --json traces/examples/tiny.rep traces/synthetic/*.trace
		check "$b: every bundled trace replays with status ok" "ok ok ok ok ok ok" \
			"$(jq -r .status <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
	done
else
	for b in $PRELOADED; do
		run "$HB" replay -a "$b" traces/examples/tiny.rep
		check "$b in a sanitizer build: exit 1 (its job's error)" 1 "$rc"
		check_has "$b in a sanitizer build: says why" "$err" "cannot be preloaded into a sanitizer build"
	done
fi

# ---- footprint with a known answer: one 64 MiB block ----------------------------
# Each allocator serves it from its own mapping; the checked pass writes
# every byte, so the pages are resident.  Tolerance: the block plus 10 %.
MiB64=67108864
printf 'a 0 %d\nf 0\n' $MiB64 >"$T/big.trace"
# (under ASan, `system` is ASan's malloc: no mallinfo2, and shadow memory)
fp_backends="first-fit buddy"
[ $sanitized = 0 ] && fp_backends="$fp_backends system jemalloc mimalloc tcmalloc"
for b in $fp_backends; do
	run "$HB" replay -a "$b" --repeat 1 --json "$T/big.trace"
	check "$b: one 64 MiB block: ok" ok "$(field .status "$out")"
	# never below the block: its every page is resident
	check_within "$b: footprint of one 64 MiB block ($(field .footprint_source "$out"))" \
		$MiB64 $((MiB64 * 11 / 10)) "$(field .peak_footprint_bytes "$out")"
	check_within "$b: resident growth of one 64 MiB block" \
		$((MiB64 * 95 / 100)) $((MiB64 * 11 / 10)) "$(field .peak_rss_bytes "$out")"
done
# whatever --check says, every page of a process-wide backend's block is
# written (the levels differ in what they verify, not in what becomes
# resident): the block is resident, and a footprint read from the resident
# set cannot fall below live bytes.  A simulated heap's footprint is its own
# accounting: there --check fast and off write only what they verify, and
# the pages stay untouched (the checked pass's time is the calls')
for level in fast off; do
	for b in $fp_backends; do
		run "$HB" replay -a "$b" --repeat 0 --check $level --json "$T/big.trace"
		if [ "$(field .footprint_source "$out")" = simulated-heap ]; then
			check_within "$b --check $level: one 64 MiB block on the simulated heap: its pages untouched" \
				0 $((MiB64 / 16)) "$(field .peak_rss_bytes "$out")"
		else
			check_within "$b --check $level: one 64 MiB block is resident" \
				$((MiB64 * 95 / 100)) $((MiB64 * 11 / 10)) "$(field .peak_rss_bytes "$out")"
		fi
		check_within "$b --check $level: utilization of one 64 MiB block, at most 1" \
			0.9 1 "$(field .utilization "$out")"
	done
done
# a footprint spike between two samples is caught: 80 MiB of 1 KiB blocks
# (glibc's arena), every other one freed, then one 36 MB block (glibc maps
# it: above any mmap threshold) allocated and freed at once.  Live bytes
# never pass their first peak, the footprint does: 80 MiB + 36 MB.
if [ $sanitized = 0 ]; then
	awk 'BEGIN { n = 81920
		for (i = 0; i < n; i++) print "a " i " 1024"
		for (i = 0; i < n; i += 2) print "f " i
		print "a 0 36000000"; print "f 0"
		for (i = 1; i < n; i += 2) print "f " i }' >"$T/spike.trace"
	for every in 1 100000; do
		run "$HB" replay -a system --repeat 1 --sample-every $every --json "$T/spike.trace"
		check_within "system --sample-every $every: the 36 MB spike is in the footprint" \
			$((83886080 + 36000000)) $((83886080 + 36000000 + 8388608)) \
			"$(field .peak_footprint_bytes "$out")"
		# the pass at full speed reads where the checked pass saw the peak
		check_within "system --sample-every $every: ... and in the footprint at full speed" \
			$((83886080 + 36000000)) $((83886080 + 36000000 + 8388608)) \
			"$(field .timed_peak_footprint_bytes "$out")"
	done
fi
# the invariants of docs/metrics.md on every real trace, every backend, every
# check level: footprint >= live at the peak, 0 < utilization <= 1,
# frag_peak >= 0, live + internal + external = the footprint at the peak.
# The allocators' purge timers (mimalloc's decommit delay, jemalloc's decay)
# would make the resident set depend on the pass's speed: the checked pass
# stops them itself (docs/metrics.md, "Purge timers"), so the levels agree
# as they are, with nothing set in the environment.
if [ $sanitized = 0 ]; then
	for level in full fast off; do
		repeat=0
		[ $level = off ] && repeat=1 # and the footprint at full speed
		run "$HB" replay --repeat $repeat --check $level --json traces/real/*.hbt.zst
		check "every backend --check $level on every real trace: ok, possible figures" "" \
			"$(jq -r 'select(.status != "ok" or .peak_footprint_bytes < .peak_live_bytes
				or .utilization <= 0 or .utilization > 1 or .frag_peak < 0
				or (.stats_utilization != null and (.stats_utilization <= 0 or .stats_utilization > 1))
				or (.internal_frag_bytes != null and .peak_live_bytes + .internal_frag_bytes
				    + .external_frag_bytes != .footprint_at_peak_live))
				| "\(.trace) \(.backend) \(.status) \(.error // "") util \(.utilization) stats \(.stats_utilization) frag \(.frag_peak) fp \(.peak_footprint_bytes) live \(.peak_live_bytes) int \(.internal_frag_bytes) ext \(.external_frag_bytes) at_peak \(.footprint_at_peak_live)"' <<<"$out")"
		jq -r '"\(.trace) \(.backend) \(.utilization)"' <<<"$out" >"$T/util.$level"
	done
	check "every process-wide backend on every real trace: a footprint at full speed, above live" "" \
		"$(jq -r 'select((.backend | test("^(system|jemalloc|mimalloc|tcmalloc)$"))
				and (.timed_peak_footprint_bytes == null
				     or .timed_peak_footprint_bytes < .peak_live_bytes))
				| "\(.trace) \(.backend) \(.timed_peak_footprint_bytes)"' <<<"$out")"
	check "built-in backends: no footprint at full speed (their heap is exact)" "" \
		"$(jq -r 'select((.backend | test("^(system|jemalloc|mimalloc|tcmalloc)$") | not)
				and .timed_peak_footprint_bytes != null) | .backend' <<<"$out")"
	# ... and the levels agree within 1 point
	check "real traces: full, fast and off within 1 point" "" \
		"$(paste -d' ' "$T/util.full" "$T/util.fast" "$T/util.off" | awk '
			{ lo = $3; hi = $3; for (i = 6; i <= 9; i += 3) { if ($i < lo) lo = $i; if ($i > hi) hi = $i }
			  if (hi - lo > 0.01) print $1, $2, $3, $6, $9 }')"
	# how often the footprint is read does not change it
	for t in gcc-cc1 make-db python3-json; do
		for every in 1 128 100000; do
			run "$HB" replay -a system -a jemalloc -a mimalloc -a tcmalloc --repeat 0 \
				--sample-every $every --json "traces/real/$t.hbt.zst"
			jq -r '"\(.backend) \(.utilization)"' <<<"$out" >"$T/every.$every"
		done
		check "$t: --sample-every 1, 128 and 100000 within 1 point" "" \
			"$(paste -d' ' "$T/every.1" "$T/every.128" "$T/every.100000" | awk '
				{ lo = $2; hi = $2; for (i = 4; i <= 6; i += 2) { if ($i < lo) lo = $i; if ($i > hi) hi = $i }
				  if (hi - lo > 0.01) print $1, $2, $4, $6 }')"
	done
fi
if [ $sanitized = 0 ]; then
	run "$HB" replay -a jemalloc --repeat 1 --json "$T/big.trace"
	check "jemalloc: the footprint is physical" rss "$(field .footprint_source "$out")"
	check "jemalloc: its own accounting is named beside it" "jemalloc:stats.resident" "$(field .stats_source "$out")"
	check "jemalloc: its own figures at the peak, with the block in stats.allocated" true \
		"$(jq '.allocator_stats["stats.allocated"] >= 67108864 and .allocator_stats["stats.active"] > 0 and .allocator_stats["stats.metadata"] > 0 and .allocator_stats["stats.mapped"] > 0' <<<"$out")"
	run "$HB" replay -a tcmalloc --repeat 1 --json "$T/big.trace"
	check "tcmalloc: its own figures at the peak" true \
		"$(jq '.allocator_stats["generic.current_allocated_bytes"] >= 67108864' <<<"$out")"
	run "$HB" replay -a system --repeat 1 --json "$T/big.trace"
	check "system: the footprint is physical" rss "$(field .footprint_source "$out")"
	check "system: its own accounting is named beside it" mallinfo2 "$(field .stats_source "$out")"
	check "system: mallinfo2's figures at the peak" true "$(jq '.allocator_stats.hblkhd >= 67108864' <<<"$out")"
	# glibc maps a 64 MiB block with one page of header rounding: exact,
	# in its own accounting and in the resident pages
	check "system: mallinfo2 hblkhd of one mapped block is the block plus a page" \
		$((MiB64 + 4096)) "$(field .allocator_stats.hblkhd "$out")"
	check "system: the resident footprint of one mapped block is the block plus a page" \
		$((MiB64 + 4096)) "$(field .peak_footprint_bytes "$out")"
	# mallinfo2's footprint: arena + hblkhd, less what was in use before
	# the pass (the worker's few blocks), never less the free arena the
	# trace might have reused
	check_within "system: mallinfo2's footprint is the block, its page and the arena" \
		$((MiB64 + 4096 + $(field .allocator_stats.arena "$out") - 65536)) \
		$((MiB64 + 4096 + $(field .allocator_stats.arena "$out"))) \
		"$(field .stats_peak_footprint_bytes "$out")"
	check "system: ... and the footprint at full speed" \
		$((MiB64 + 4096)) "$(field .timed_peak_footprint_bytes "$out")"
fi

# ---- preload:PATH -------------------------------------------------------------------
COUNT=$(realpath "$BUILD/tests/libcount.so")
if [ $sanitized = 0 ]; then
	run env COUNT_MALLOC_FILE="$T/counts" "$HB" replay -a "preload:$COUNT" --repeat 2 --json traces/synthetic/ramp.trace
	check "preload: a user's library replays the trace" ok "$(field .status "$out")"
	check "preload: the backend is named by its path" "preload:$COUNT" "$(field .backend "$out")"
	check "preload: the footprint is physical" rss "$(field .footprint_source "$out")"
	check "preload: no accounting of its own beside it" null "$(field .stats_source "$out")"
	check "preload: no malloc_usable_size of its own: internal fragmentation unknown" null \
		"$(field .internal_frag_bytes "$out")"
	mallocs=$(od -An -t u8 -N 8 "$T/counts" | tr -d ' ')
	# the checked pass, the untimed warm-up pass and two timed passes each
	# call malloc once per malloc op (callocs and memaligns count apart)
	want=$("$HB" trace stats traces/synthetic/ramp.trace | sed -n 's/.*: \([0-9]*\) alloc,.*/\1/p')
	check_within "preload: the library counted every malloc of four passes ($want each)" \
		$((want * 4)) $((want * 4 + 1000)) "$mallocs"
else
	run "$HB" replay -a "preload:$COUNT" traces/examples/tiny.rep
	check "preload in a sanitizer build: exit 1 (its job's error)" 1 "$rc"
fi
run "$HB" replay -a preload:/no/such/lib.so traces/examples/tiny.rep
check "preload: a missing file exits 2" 2 "$rc"
check_has "preload: a missing file is named" "$err" "backend preload:/no/such/lib.so: /no/such/lib.so: No such file or directory"
run "$HB" replay -a preload: traces/examples/tiny.rep
check "preload: without a path exits 2" 2 "$rc"
if [ $sanitized = 0 ]; then
	run "$HB" replay -a "preload:$(realpath "$BUILD/examples/mm.so")" traces/examples/tiny.rep
	check "preload: a library without malloc: exit 1, its job's error" 1 "$rc"
	check_has "preload: a library without malloc is explained" "$err" "does not define malloc"
fi

# ---- library:PATH ----------------------------------------------------------------------
MM="$BUILD/examples/mm.so"
run "$HB" replay -a "library:$MM" --heap-check 1 --repeat 1 --json traces/examples/tiny.rep traces/synthetic/*.trace
check "library: the example allocator replays every bundled trace with --heap-check 1" \
	"ok ok ok ok ok ok" "$(jq -r .status <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check "library: footprint from the simulated heap" simulated-heap \
	"$(jq -r .footprint_source <<<"$out" | sort -u)"
run "$HB" replay -a "library:$COUNT" traces/examples/tiny.rep
check "library: an object without heapbench_allocator: exit 1, its job's error" 1 "$rc"
check_has "library: ... and says what is missing" "$err" "does not export heapbench_allocator"
run "$HB" replay -a library:/no/such/mm.so traces/examples/tiny.rep
check "library: a missing file exits 2" 2 "$rc"
check_has "library: a missing file is named" "$err" "/no/such/mm.so: No such file or directory"

# ---- null ---------------------------------------------------------------------------------
run "$HB" replay -a null --repeat 3 --json traces/synthetic/ramp.trace
check "null replays a trace" ok "$(field .status "$out")"
check_has "null reports the loop's cost per op" "$(field .ns_per_op "$out")" "."
# never reusing memory, its footprint is at least every byte ever requested
total=$("$HB" trace stats --json traces/synthetic/ramp.trace | jq '.requested_bytes // empty')
if [ -n "$total" ]; then
	check_within "null: footprint covers every request" "$total" 1e15 "$(field .peak_footprint_bytes "$out")"
fi

echo "1..$n"
