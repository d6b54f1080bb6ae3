#!/usr/bin/env bash
# tests/cli_import_android.sh - importing Android malloc_debug record_allocs
# text (harness/trace/android.c): hand-made logs following bionic's
# libmemory_trace (MemoryTrace.cpp) in both spellings (without and with the
# START_NS END_NS timestamps), pointers with and without 0x, thread_done
# and a TID reused after it, realloc of NULL / in place / moved, free(NULL),
# a failed malloc, malloc(0), an unknown free; the one-file zip devices ship
# them in; TAP.  The expected numbers come from
# tests/data/import/android/expect.py, which computes them from the raw
# logs independently of the importer.
set -u
HB=${HEAPBENCH:-build/heapbench}
D=$(dirname "$0")/data/import/android
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/import_lib.sh"

# zipit ZIP FILE...: a zip archive of the files (python's zipfile: no zip(1) needed)
zipit() { python3 -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.argv[2:]: z.write(f, os.path.basename(f))' "$@"; }

# ---- the old spelling: no timestamps --------------------------------------------
# numbers from `python3 expect.py basic.txt timed.txt`: ops by kind as trace
# stats counts them (realloc(NULL, n) an alloc), peak live bytes, threads
# (TID 1210 twice: before and after its thread_done)
check "basic: ops by kind, peak live bytes, three threads" \
	"22 6 1 2 3 10 5596 3" "$(shape "$D/basic.txt")"
check "basic: realities (failed malloc, malloc(0), unknown free, 2 thread_done lines)" \
	"android 1 0 0 1 1 0 2 0 - -" "$(realities "$D/basic.txt")"
run "$HB" trace stats "$D/basic.txt"
check "basic: loads" 0 "$rc"
check_has "basic: the dropped calls are warned about" "$err" \
	"1 frees of addresses never allocated (dropped), 1 failed calls (not replayed)"
ops "$D/basic.txt" >"$T/basic.ops"
check "basic: malloc, calloc NMEMB SIZE, realloc of NULL, moved realloc" \
	"0: a 0 100
0: c 1 10 20
0: r 2 50
0: r 0 1000" "$(sed -n 1,4p "$T/basic.ops")"
check "basic: memalign ALIGN SIZE, free 0x0 is free(NULL)" \
	"0: m 1 64 200
0: m 3 4096 4096
0: f -1" "$(sed -n 6,8p "$T/basic.ops")"
check "basic: realloc in place keeps its id" "1: r 5 64" "$(sed -n 11p "$T/basic.ops")"
check "basic: a TID reused after thread_done is a new thread" \
	"2: a 4 16" "$(sed -n 15p "$T/basic.ops")"
run "$HB" replay -a first-fit "$D/basic.txt"
check "basic: replay -a first-fit works" 0 "$rc"

# ---- the new spelling: START_NS END_NS, thread_done END_NS, no 0x, extra fields ---
check "timed: ops by kind, peak live bytes, two threads" \
	"12 4 1 1 1 5 9188 2" "$(shape "$D/timed.txt")"
check "timed: realities (one thread_done)" "android 0 0 0 0 0 0 1 0 - -" "$(realities "$D/timed.txt")"
ops "$D/timed.txt" >"$T/timed.ops"
check "timed: each op has its START_NS as its time" \
	"@1000100 @1000400 @1000500 @1001000 @1001300 @1001400 @1001900 @1002100 @1002200 @1002400 @1002600 @1002800" \
	"$(sed 's/.* //' "$T/timed.ops" | tr '\n' ' ' | sed 's/ $//')"
check "timed: a pointer without 0x (memory_replay reads %x)" "1: m 3 16 128 @1001000" "$(sed -n 4p "$T/timed.ops")"
check "timed: a field past the timestamps is tolerated" "1: f 3 @1002100" "$(sed -n 8p "$T/timed.ops")"
run "$HB" replay -a first-fit "$D/timed.txt"
check "timed: replay -a first-fit works" 0 "$rc"

# ---- zip: how devices and bug reports ship them -----------------------------------
zipit "$T/one.zip" "$D/timed.txt"
check "a zip holding the one log reads as the log" "12 4 1 1 1 5 9188 2" "$(shape "$T/one.zip")"
run "$HB" trace stats --json "$T/one.zip"
check "a zip holding the one log: format android, from a zip" android+zip "$(jq -r .format <<<"$out")"
zipit "$T/two.zip" "$D/timed.txt" "$D/basic.txt"
run "$HB" trace stats "$T/two.zip"
check "a zip with two files: exit 2" 2 "$rc"
check "a zip with two files: one line naming the file" 1 "$(wc -l <<<"$err")"
check "a zip with two files: says so" "heapbench: $T/two.zip: zip archive with 2 files: extract the trace and pass it" "$err"

# ---- realities and errors ---------------------------------------------------------
head -c -1 "$D/basic.txt" >"$T/nonl.txt"
run "$HB" trace stats --json "$T/nonl.txt"
check "a last line without newline that parses is kept" "0" "$(jq -r '.metadata["import-truncated-lines"]' <<<"$out")"
{ head -n 9 "$D/basic.txt"; printf '1210: malloc 0x7a4d0010'; } >"$T/cut.txt"
run "$HB" trace stats --json "$T/cut.txt"
check "a cut-off last line: loads" 0 "$rc"
check "a cut-off last line is counted and dropped" "1 9" \
	"$(jq -r '[.metadata["import-truncated-lines"], .ops] | map(tostring) | join(" ")' <<<"$out")"
{ head -n 9 "$D/basic.txt"; printf '1210: mall'; } >"$T/cut2.txt"
run "$HB" trace stats --json "$T/cut2.txt"
check "a last line cut in its name is counted" "1" "$(jq -r '.metadata["import-truncated-lines"]' <<<"$out")"
{ head -n 3 "$D/basic.txt"; echo '1203: malloc 0x7a4c2b9000 12x'; tail -n 2 "$D/basic.txt"; } >"$T/bad.txt"
run "$HB" trace stats "$T/bad.txt"
check "a malformed record: exit 2" 2 "$rc"
check "a malformed record: FILE:LINE: message" "heapbench: $T/bad.txt:4: malformed android malloc record" "$err"
{ head -n 3 "$D/basic.txt"; echo '1203: realloc 0x7a4c2b9000 0x10'; } >"$T/bad2.txt"
run "$HB" trace stats "$T/bad2.txt"
check "a realloc without its size: FILE:LINE" "heapbench: $T/bad2.txt:4: malformed android realloc record" "$err"
{ head -n 3 "$D/basic.txt"; echo 'some banner'; echo '1203: mmap 0x7a4c2b9000 4096'; tail -n 2 "$D/basic.txt"; } >"$T/other.txt"
run "$HB" trace stats --json "$T/other.txt"
check "lines that are no record and unknown names are other lines" 2 "$(jq -r '.metadata["import-other-lines"]' <<<"$out")"

# ---- detection by content ---------------------------------------------------------
cp "$D/basic.txt" "$T/misleading.rep"
check "detected by content, not by name" "22 6 1 2 3 10 5596 3" "$(shape "$T/misleading.rep")"
gzip -c "$D/timed.txt" >"$T/timed.txt.gz"
check "gzip-compressed: detected after decompression" "12 4 1 1 1 5 9188 2" "$(shape "$T/timed.txt.gz")"

echo "1..$n"
