#!/usr/bin/env bash
# tests/cli_record.sh - `heapbench record` on a program with known
# allocations (tests/record/prog.c): the exact ops, threads, fork, exec,
# _exit, SIGKILL, pass-through of output and exit status, bad usage; TAP.
# HEAPBENCH names the binary under test, TOOLS the directory of record_prog.
set -u
HB=${HEAPBENCH:-build/heapbench}
TOOLS=${TOOLS:-build/tests}
PROG=$(realpath "$TOOLS/record_prog")
. "$(dirname "$0")/lib.sh"

# ops OUT/FILE: the trace's op lines, one per line
# ops TRACE: its op lines without their times (timed: the same with them)
ops() { timed "$1" | sed 's/ @[0-9]*$//'; }
timed() { "$HB" trace convert "$1" "$T/ops.trace" && grep -v '^#' "$T/ops.trace"; }
# summary DIR JQ: a field of summary.json
summary() { jq -r "$2" "$1/summary.json"; }

# ---- one process, every function --------------------------------------------------
run "$HB" record -o "$T/single" -- "$PROG" single
check "single: the program's exit status passes through" 0 "$rc"
check "single: the program's stdout passes through unchanged" "hello from record_prog" "$out"
check_has "single: the program's stderr passes through" "$err" "a line on stderr"
check_has "single: record prints ops, threads and peak live bytes per process" "$err" "1-record_prog.hbt.zst"
check "single: one trace and a summary" "1-record_prog.hbt.zst summary.json" "$(ls "$T/single" | tr '\n' ' ' | sed 's/ $//')"
# the expected ops, as the comments in prog.c give them: realloc(NULL, 50)
# is spelled r on a dead id, realloc(p, 0) r with size 0; failed calls are
# absent; the last malloc reuses the lowest free id
expect="a 0 100
c 1 10 20
r 2 50
r 0 1000
f 1
m 1 64 200
m 3 32 96
m 4 128 10
m 5 4096 100
m 6 4096 4096
f -1
r 2 300
r 1 0
f 0
f 2
f 3
f 4
f 5
f 6
a 0 7
f 0"
check "single: the trace holds exactly the program's calls" "$expect" "$(ops "$T/single/1-record_prog.hbt.zst")"
# (the recorder's own start-up calls - dlsym's calloc among them - are not
# in it: the expected ops above are all there is)
run env RECORD_PROG_EARLY=1 "$HB" record -o "$T/early" -- "$PROG" single
check "a constructor's allocation before main is recorded, first" "a 0 4242
f 0
$expect" "$(ops "$T/early/1-record_prog.hbt.zst")"
run "$HB" trace stats --json "$T/single/1-record_prog.hbt.zst"
check "single: the trace is zstd-compressed .hbt" "hbt+zst" "$(jq -r .format <<<"$out")"
check "single: the command line is kept in the trace" "$PROG single" \
	"$("$HB" trace convert "$T/single/1-record_prog.hbt.zst" "$T/m.trace" && sed -n 's/^# command: //p' "$T/m.trace")"
check "single: summary counts ops" 21 "$(summary "$T/single" '.processes[0].ops')"
check "single: summary has the peak live bytes" \
	"$(jq .peak_live_bytes <<<"$out")" "$(summary "$T/single" '.processes[0].peak_live_bytes')"

# ---- threads: each thread's order, frees and reallocs across threads ---------------
run "$HB" record -o "$T/threads" -- "$PROG" threads 8
check "threads: exit 0" 0 "$rc"
tr="$T/threads/1-record_prog.hbt.zst"
run "$HB" trace lint "$tr"
check "threads: the trace is valid (no free before its allocation)" 0 "$rc"
check "threads: nothing freed that was not traced" 0 "$(summary "$T/threads" '.processes[0].frees_of_untraced_blocks')"
check "threads: no call cut short" 0 "$(summary "$T/threads" '.processes[0].calls_cut_short')"
check "threads: 9 threads (main + 8)" 9 "$(summary "$T/threads" '.processes[0].threads')"
ops "$tr" >"$T/threads.ops"
# the time of every call: each thread's non-decreasing, from 0, within the run
timed "$tr" | awk '{ t = substr($NF, 2) + 0; th = $1
	if ($NF !~ /^@/ || (th in last && t < last[th])) bad++
	last[th] = t; if (t > max) max = t; n++ }
	END { print n, bad + 0, (max > 0 && max < 60e9) ? "ok" : "max " max }' >"$T/times.txt"
check "threads: every call has a time, non-decreasing per thread, within the run" \
	"$(grep -c . "$T/threads.ops") 0 ok" "$(cat "$T/times.txt")"
check "threads: the first op at time 0" "@0" "$(timed "$tr" | head -1 | awk '{print $NF}')"
good=0
for t in 1 2 3 4 5 6 7 8; do
	# thread t's mallocs are 1000*i + 0..1999 in order, for its own i
	sizes=$(grep "^$t: a " "$T/threads.ops" | awk '{print $4}')
	first=$(head -1 <<<"$sizes")
	want=$(seq "$first" $((first + 1999)))
	if [ "$sizes" == "$want" ] && [ $((first % 1000)) = 0 ] &&
		[ "$(grep -c "^$t: r [0-9]* 64$" "$T/threads.ops")" = 1000 ]; then
		good=$((good + 1))
	fi
done
check "threads: every thread's 2000 mallocs in program order, and its 1000 reallocs" 8 "$good"

# ---- both ways of ordering threads' calls (raw.h): by the time-stamp counter
# where the kernel keeps it in step across CPUs, else by a shared counter ----
# threadcalls TRACE: each thread's calls (kind and size) in order, one line
# a thread, sorted: the same for any run of the program
threadcalls() { ops "$1" | awk '{ t = $1; c[t] = c[t] " " $2 ($2 == "f" ? "" : $NF) } END { for (t in c) print c[t] }' | sort | md5sum; }
want_calls=$(threadcalls "$T/threads/1-record_prog.hbt.zst")
for order in ticks seq; do
	run env HEAPBENCH_RECORD_ORDER=$order "$HB" record -o "$T/threads-$order" -- "$PROG" threads 8
	tr="$T/threads-$order/1-record_prog.hbt.zst"
	"$HB" trace lint "$tr" >/dev/null 2>&1
	check "threads, ordered by $order: the trace is valid, no call cut short" "0 0 0" \
		"$? $(summary "$T/threads-$order" '.processes[0].calls_cut_short') $(summary "$T/threads-$order" '.processes[0].frees_of_untraced_blocks')"
	check "threads, ordered by $order: each thread's calls in program order" "$want_calls" "$(threadcalls "$tr")"
done
# ---- converted while the program runs (raw.h): logs ordered by the
# counter, once 50 ms old; HEAPBENCH_RECORD_FOLLOW=0 converts after exit;
# the output directories have names of one length: the program sees the
# path in its environment ----
live_env=(env HEAPBENCH_RECORD_ORDER=ticks PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0)
live_one='my %h; $h{$_} = "x" x ($_ % 200) for 1..100000; delete $h{$_} for grep { $_ % 3 } 1..100000'
run "${live_env[@]}" "$HB" record -o "$T/live" -- perl -e "$live_one"
run "${live_env[@]}" HEAPBENCH_RECORD_FOLLOW=0 "$HB" record -o "$T/post" -- perl -e "$live_one"
check "live: a program converted while it runs gives the trace, op for op, of one converted after" \
	"$(ops "$T/post/1-perl.hbt.zst" | md5sum)" "$(ops "$T/live/1-perl.hbt.zst" | md5sum)"
check "live: ... and the same summary" "$(jq -c '.processes[0] | del(.pid, .ppid, .recorded)' "$T/post/summary.json")" \
	"$(jq -c '.processes[0] | del(.pid, .ppid, .recorded)' "$T/live/summary.json")"
live_threads='use threads; my @t = map { threads->create(sub { my %h; for my $i (1..60000) { $h{$i} = "x" x ($i % 50); delete $h{$i - 50} if $i > 50 } return scalar keys %h }) } 1..4; $_->join for @t'
run "${live_env[@]}" "$HB" record -o "$T/live-threads" -- perl -e "$live_threads"
run "${live_env[@]}" HEAPBENCH_RECORD_FOLLOW=0 "$HB" record -o "$T/post-threads" -- perl -e "$live_threads"
"$HB" trace lint "$T/live-threads/1-perl.hbt.zst" >/dev/null 2>&1
check "live, 4 threads: a valid trace, no call cut short, nothing untraced, the calls of the run converted after" \
	"0 0 0 5 $(summary "$T/post-threads" '.processes[0].ops')" \
	"$? $(summary "$T/live-threads" '.processes[0] | "\(.calls_cut_short) \(.frees_of_untraced_blocks) \(.threads) \(.ops)"')"
live_sh="perl -e '$live_one'; perl -e '$live_one'"
run "${live_env[@]}" "$HB" record -o "$T/live-sh" -- sh -c "$live_sh"
run "${live_env[@]}" HEAPBENCH_RECORD_FOLLOW=0 "$HB" record -o "$T/post-sh" -- sh -c "$live_sh"
same=0
for f in 1-sh 2-perl 3-perl; do
	[ "$(ops "$T/live-sh/$f.hbt.zst" | md5sum)" == "$(ops "$T/post-sh/$f.hbt.zst" | md5sum)" ] && same=$((same + 1))
done
check "live, 3 processes (each written once it ends): every trace as converted after" 3 "$same"
check "live: nothing left behind in the output directory" "1-sh.hbt.zst 2-perl.hbt.zst 3-perl.hbt.zst summary.json" \
	"$(ls -A "$T/live-sh" | tr '\n' ' ' | sed 's/ $//')"
# many processes at once in the follower's table (it grows: each log's
# live state must stay where it was made), and their traces all written
many_sh='for i in $(seq 40); do ls / >/dev/null; done'
run "${live_env[@]}" "$HB" record -o "$T/live-many" -- sh -c "$many_sh"
run "${live_env[@]}" HEAPBENCH_RECORD_FOLLOW=0 "$HB" record -o "$T/post-many" -- sh -c "$many_sh"
check "live, 42 processes: every trace, and as many calls as converted after" \
	"$(jq '.processes | length' "$T/post-many/summary.json") $(jq '[.processes[].ops] | add' "$T/post-many/summary.json")" \
	"$(jq '.processes | length' "$T/live-many/summary.json") $(jq '[.processes[].ops] | add' "$T/live-many/summary.json")"
# a program in a pid namespace of its own: its pid and tids mean nothing to
# heapbench's /proc, so its log is converted after it (the pid it gets,
# 77777, does not exist outside; followed live, it looked ended at once)
if unshare -pf --mount-proc true 2>/dev/null; then
	ns_sh="echo 77776 > /proc/sys/kernel/ns_last_pid; perl -e '$live_one'"
	run "${live_env[@]}" "$HB" record -o "$T/live-ns" -- unshare -pf --mount-proc sh -c "$ns_sh"
	check "pid namespace: the program's calls all recorded, as when converted after" \
		"$(summary "$T/post" '.processes[0].ops')" \
		"$(jq '[.processes[] | select(.command | startswith("perl"))][0].ops' "$T/live-ns/summary.json")"
else
	ok "pid namespace: # skip, unshare -p is not allowed here"
fi
check "summary.json has the seconds the conversion took" true \
	"$(jq '.convert_seconds | type == "number" and . >= 0' "$T/threads/summary.json")"

# ---- fork: a trace per process ------------------------------------------------------------
run "$HB" record -o "$T/fork" -- "$PROG" fork
check "fork: exit 0" 0 "$rc"
check "fork: the parent's trace" "a 0 111 a 1 333 f 1 f 0" "$(ops "$T/fork/1-record_prog.hbt.zst" | tr '\n' ' ' | sed 's/ $//')"
check "fork: the child's trace" "a 0 222 f 0" "$(ops "$T/fork/2-record_prog.hbt.zst" | tr '\n' ' ' | sed 's/ $//')"
check "fork: the child's free of its parent's block is counted, not traced" 1 \
	"$(summary "$T/fork" '.processes[1].frees_of_untraced_blocks')"
check "fork: the summary knows the child's parent" "$(summary "$T/fork" '.processes[0].pid')" \
	"$(summary "$T/fork" '.processes[1].ppid')"

# ---- exec: the new program gets its own trace --------------------------------------
run "$HB" record -o "$T/exec" -- "$PROG" exec
check "exec: exit 0" 0 "$rc"
check "exec: before the exec" "a 0 444" "$(ops "$T/exec/1-record_prog.hbt.zst")"
check "exec: after the exec, the whole single sequence" "$expect" "$(ops "$T/exec/2-record_prog.hbt.zst")"
check "exec: same pid, two traces" "$(summary "$T/exec" '.processes[0].pid')" "$(summary "$T/exec" '.processes[1].pid')"

# ---- _exit and SIGKILL: what happened is still there ---------------------------------
run "$HB" record -o "$T/exit" -- "$PROG" exit
check "_exit(7): the status passes through" 7 "$rc"
check "_exit: every call before it is in the trace" "a 0 555 a 1 556 a 2 557 f 1" \
	"$(ops "$T/exit/1-record_prog.hbt.zst" | tr '\n' ' ' | sed 's/ $//')"
run "$HB" record -o "$T/kill" -- "$PROG" kill
check "SIGKILL: record exits 128 + 9" 137 "$rc"
check "SIGKILL: the trace holds the calls before it" "a 0 666" "$(ops "$T/kill/1-record_prog.hbt.zst")"
check "SIGKILL: the summary has the status" 137 "$(summary "$T/kill" .exit_status)"

# ---- blocks of 4 GiB and more (their size is kept apart from small ones') ----
run "$HB" record -o "$T/big" -- "$PROG" big
check "big blocks: the calls, sizes to the byte" "a 0 100 a 1 5368709120 r 1 6442450944 a 2 200 r 1 300 f 0 f 1 f 2" \
	"$(ops "$T/big/1-record_prog.hbt.zst" | tr '\n' ' ' | sed 's/ $//')"
check "big blocks: the peak live bytes" $(((6 << 30) + 300)) "$(summary "$T/big" '.processes[0].peak_live_bytes')"

# ---- recorded traces replay on every backend --------------------------------------
run "$HB" replay --repeat 1 --json "$T/single/1-record_prog.hbt.zst" "$tr"
check "recorded traces replay with status ok on every available backend" "" \
	"$(jq -r 'select(.status != "ok") | .backend + ": " + .error' <<<"$out")"
check "replay of recorded traces exits 0" 0 "$rc"

# ---- the bundled real traces replay on every backend ------------------------------
run "$HB" replay --repeat 0 --check fast --json traces/real/*.hbt.zst
check "every bundled real trace replays with status ok on every available backend" "" \
	"$(jq -r 'select(.status != "ok") | .trace + " x " + .backend + ": " + .error' <<<"$out")"
check "the bundled real traces: 6 to 10 of them" true "$(ls traces/real/*.hbt.zst | wc -l | awk '{print ($1 >= 6 && $1 <= 10)}' | sed 's/1/true/;s/0/false/')"
check "the bundled real traces: at most 15 MB together" true "$(du -cb traces/real/*.hbt.zst | tail -1 | awk '{print ($1 <= 15000000) ? "true" : "false"}')"

# ---- bad usage ----------------------------------------------------------------------------
run "$HB" record -- "$PROG" single
check "record without -o exits 2" 2 "$rc"
check_has "record without -o says so" "$err" "-o OUT is required"
run "$HB" record -o "$T/none"
check "record without a command exits 2" 2 "$rc"
run "$HB" record -o "$T/single" -- "$PROG" single
check "record into a directory that is not empty exits 2" 2 "$rc"
check_has "... and says why" "$err" "not empty"
run "$HB" record -o "$T/nocmd" -- /no/such/program
check "a command that cannot run: 127, as a shell would" 127 "$rc"
check_has "a command that cannot run is named" "$err" "cannot run '/no/such/program'"

echo "1..$n"
