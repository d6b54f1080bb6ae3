#!/usr/bin/env bash
# traces/real/record.sh - re-records the bundled real traces (traces/README.md
# lists what each is).  Run from the repository root after `make`; needs the
# programs (gcc, python3, sqlite3, perl, git, xz, make: Debian packages).
# Each command runs under `heapbench record`; the process that matters is
# kept and recompressed at zstd level 9 as traces/real/NAME.hbt.zst.
set -eu
HB=${HEAPBENCH:-build/heapbench}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ROOT=$(pwd)

# record NAME PROGRAM -- COMMAND...: keeps the trace of the first process
# whose program name is PROGRAM
record() {
	local name=$1 prog=$2
	shift 3
	rm -rf "$W/$name"
	"$HB" record -o "$W/$name" -- "$@" >/dev/null 2>"$W/$name.log" || {
		cat "$W/$name.log" >&2
		exit 1
	}
	local f
	f=$(find "$W/$name" -name "*-$prog.hbt.zst" | sort | head -1)
	[ -n "$f" ] || { echo "record.sh: no $prog process in $name" >&2; exit 1; }
	"$HB" trace convert "$f" "traces/real/$name.hbt.zst"
	"$HB" trace stats "traces/real/$name.hbt.zst" | sed -n '1,4p'
}

# a compiler: cc1 compiling heapbench's largest source at -O2
record gcc-cc1 cc1 -- gcc -O2 -g -std=c11 -D_GNU_SOURCE -Iharness -Iallocators \
	-c harness/trace.c -o "$W/trace.o"
# a scripting language: Python (its own small-object allocator in front:
# malloc sees arenas, big lists, dicts and strings) building, serialising
# and parsing JSON
record python3-json python3 -- /usr/bin/python3 -c '
import json, random
random.seed(1)
d = [{"id": i, "name": "item%d" % i * (1 + i % 60), "tags": ["t%d" % (i % 7)] * (i % 90),
      "values": [random.random() for _ in range(i % 200)]} for i in range(12000)]
s = json.dumps(d)
e = json.loads(s)
print(len(s), len(e))'
# a database: SQLite building, indexing and querying a table in memory
record sqlite3-index sqlite3 -- sqlite3 :memory: ".read $ROOT/traces/real/sqlite.sql"
# a scripting language with its own string and hash handling: Perl
record perl-hash perl -- perl -e '
my %h; for my $i (1..150000) { $h{"key$i"} = "x" x ($i % 200) }
my @a = sort keys %h; my $s = 0;
for (@a) { $s += length($h{$_}); delete $h{$_} if $s % 3 == 0 }
my @w = map { join ",", reverse split //, $_ } @a[0..20000];
print scalar(@a), " ", scalar(@w), "\n"'
# version control: git walking the history of a repository with patches
record git-log git -- git -C "$ROOT" log -p --stat --no-color -n 40
# a compressor: xz at preset 3 (a 4 MiB dictionary) on the Python binary
record xz-compress xz -- xz -3 -T1 -c /usr/bin/python3.11
# a build tool: make reading heapbench's Makefile and printing its database
record make-db make -- make -C "$ROOT" -pn --no-print-directory
