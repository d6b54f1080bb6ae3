#!/usr/bin/env bash
# tests/arch.sh - the shape of the source tree, checked (TAP): what the
# layout promises a newcomer (README "Layout") stays true.
#
#   - each folder includes only the folders below it in the data flow:
#       host <- allocators;  base <- trace <- replay <- report <- suite <- cli
#     (allocators/malloclab: the malloc-lab headers, for allocators/malloclab.c);
#     (recorder: base and trace; replay also uses allocators and host);
#   - a command file (harness/cli/cmd_*.c) parses arguments and calls one
#     function: at most 150 lines;
#   - no function over 100 lines, but for the op switches of the parsers
#     listed in LONG_OK.
# Run from the repository root; needs only bash, grep and awk.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

# folder -> the folders its files may include from (besides its own)
declare -A may=(
	[allocators/host]=""
	[allocators]="allocators/host allocators/malloclab"
	[allocators/malloclab]=""
	[allocators/examples]="allocators"
	[harness/base]=""
	[harness/trace]="harness/base"
	[harness/recorder]="harness/base harness/trace"
	[harness/replay]="harness/base harness/trace allocators allocators/host"
	[harness/report]="harness/base harness/trace harness/replay allocators allocators/host"
	[harness/suite]="harness/base harness/trace harness/replay harness/report allocators allocators/host"
	[harness/cli]="harness/base harness/trace harness/recorder harness/replay harness/report harness/suite allocators allocators/host"
)
# where an include spelled "x/y.h" or "y.h" lives
resolve() { # $1 = including file, $2 = include text
	local d
	d=$(dirname "$1")
	if [ -f "$d/$2" ]; then dirname "$d/$2"; return; fi
	for root in harness allocators; do
		if [ -f "$root/$2" ]; then dirname "$root/$2"; return; fi
	done
	echo "?"
}
bad=""
for f in $(git ls-files 'harness/*.[ch]' 'allocators/*.[ch]'); do
	dir=$(dirname "$f")
	allowed=" $dir ${may[$dir]-} "
	while read -r inc; do
		to=$(resolve "$f" "$inc")
		to=${to%/.}
		[[ "$allowed" == *" $to "* ]] || bad="$bad $f->$inc"
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
check "every include follows the data flow (host, allocators; base, trace, replay, report, suite, cli)" "" "${bad# }"

long_cmds=""
for f in harness/cli/cmd_*.c; do
	lines=$(wc -l <"$f")
	[ "$lines" -le 150 ] || long_cmds="$long_cmds $f:$lines"
done
check "no command file over 150 lines" "" "${long_cmds# }"

# the parsers' op switches: one case per op spelling, long by nature
LONG_OK=" "
long_fns=$(for f in $(git ls-files 'harness/*.c' 'allocators/*.c'); do
	awk -v f="$f" '
	/^[A-Za-z_].*\(/ && !/;[ \t]*$/ { sig = $0; sl = NR }
	/^\{/ { start = NR; name = sig; at = sl }
	/^\}/ && start {
		if (NR - start - 1 > 100 && match(name, /[A-Za-z_0-9]+\(/))
			printf "%s:%d:%s(%d)\n", f, at, substr(name, RSTART, RLENGTH - 1), NR - start - 1
		start = 0
	}' "$f"
done | while read -r x; do
	fn=${x#*:*:}
	[[ "$LONG_OK" == *" ${fn%%(*} "* ]] || echo "$x"
done | tr '\n' ' ')
check "no function over 100 lines outside the parsers' op switches" "" "${long_fns% }"

echo "1..$n"
