# tests/lib.sh - what every command-line test script shares (sourced):
# a scratch directory $T removed on exit, TAP counting, and checks that
# print what they compared when they fail.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}
# check DESC EXPECTED ACTUAL
check() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "expected: $2" "got:      $3"; fi; }
# check_has DESC HAYSTACK NEEDLE, check_not DESC HAYSTACK NEEDLE
check_has() { if [[ "$2" == *"$3"* ]]; then ok "$1"; else fail "$1" "expected to contain: $3" "got: $2"; fi; }
check_not() { if [[ "$2" != *"$3"* ]]; then ok "$1"; else fail "$1" "expected not to contain: $3" "got: $2"; fi; }
# check_within DESC LO HI VALUE: LO <= VALUE <= HI, as numbers
check_within() {
	if awk -v lo="$2" -v hi="$3" -v v="$4" 'BEGIN { exit !(v != "" && v + 0 >= lo + 0 && v + 0 <= hi + 0) }'; then
		ok "$1"
	else
		fail "$1" "expected between $2 and $3" "got: $4"
	fi
}
# same_file DESC A B: byte for byte
same_file() { if cmp -s "$2" "$3"; then ok "$1"; else fail "$1" "$2 and $3 differ:" "$(diff <(od -c "$2" | head -20) <(od -c "$3" | head -20) | head -10)"; fi; }
# run CMD...: sets rc, out (stdout), err (stderr)
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}
