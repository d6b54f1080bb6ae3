#!/usr/bin/env bash
# tests/run.sh BUILD_DIR... - runs every test against each build flavour
# (build = optimised, build/asan = AddressSanitizer + UBSan) and ends with
# one summary line "N passed, N failed"; exits 1 if anything failed.
#
#   unit tests:          BUILD/tests/test_* (cmocka, TAP output)
#   command-line tests:  tests/cli*.sh with HEAPBENCH=BUILD/heapbench, BUILD
#   the source tree:     tests/arch.sh (once: layering, command and function sizes)
# Run from the repository root; test data lives in tests/data/.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count() { # $1 = label, $2 = TAP output, $3 = exit status
	local p f
	p=$(grep -c '^ok ' <<<"$2")
	f=$(grep -c '^not ok ' <<<"$2")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # a crash or a runner error counts as a failure
		echo "not ok - $1 exited with status $3"
		tail -n 20 <<<"$2"
	fi
	grep -A12 '^not ok ' <<<"$2" | sed "s|^|  [$1] |"
	echo "$1: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
}

for b in "$@"; do
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1)
		count "$t" "$out" $?
	done
	for s in tests/cli*.sh; do
		out=$(HEAPBENCH="$b/heapbench" TOOLS="$b/tests" BUILD="$b" "$s" 2>&1)
		count "$s ($b)" "$out" $?
	done
done
out=$(tests/arch.sh 2>&1)
count tests/arch.sh "$out" $?
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
