#!/usr/bin/env bash
# tests/bench/scale.sh BUILD - `make bench-scale`: one 100-million-op trace
# through every step a user takes, each step's wall time and peak RSS
# printed, and the harness's memory held against its bound (issue 19):
#
#   gen      heapbench trace gen --pattern plateau (compressed text, made
#            once under build/bench/ and reused: about a minute)
#   convert  the text to .hbt (the text reader and builder at scale)
#   stats    trace stats --json: the trace's peak live bytes
#   replay   one built-in policy and glibc (BACKENDS, default buddy and
#            system) at --check off with --repeat 2 (CHECK, REPEAT)
#   plot     heapbench plot of the results
#
# The bound: a replay's parent maps the .hbt (paged, never copied) and holds
# no block, so its peak RSS stays within the .hbt's size plus the peak live
# bytes; a worker holds the mapped trace plus its backend's heap (the peak
# footprint, live bytes plus fragmentation).  Peak RSS of a step is the
# process's VmHWM (/proc/PID/status, read every 20 ms: its high-water mark
# a moment before it exits); a worker's is worker_peak_rss_bytes (wait4).
#
# OPS=10000000 make bench-scale for a quick try (the trace's file name has
# its op count).  LIVE: the live set's peak in blocks (default 100000,
# about 0.7 GB of live bytes).  The whole bench takes 5-8 minutes here (2
# cores), most of it the replay's checked pass, which issue 19 also speeds.
set -eu
B=${1:-build}
OPS=${OPS:-100000000}
LIVE=${LIVE:-100000}
CHECK=${CHECK:-off}
REPEAT=${REPEAT:-2}
BACKENDS=${BACKENDS:-buddy system}
D=build/bench
SRC=$D/scale-$OPS.trace.zst
HBT=$D/scale-$OPS.hbt
RUN=$D/scale-$OPS-run
H=$B/heapbench
mkdir -p "$D" "$RUN"

# step NAME OUT CMD...: runs CMD with its stdout into OUT; prints its wall
# time and its peak RSS (VmHWM) and peak anonymous RSS (RssAnon), sampled.
step() {
	python3 -c '
import subprocess, sys, time
name, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
hwm = anon = 0
t0 = time.monotonic()
with open(out, "wb") as f:
    p = subprocess.Popen(cmd, stdout=f, stdin=subprocess.DEVNULL)
    while p.poll() is None:
        try:
            for line in open("/proc/%d/status" % p.pid):
                k, _, v = line.partition(":")
                if k == "VmHWM":
                    hwm = max(hwm, int(v.split()[0]))
                elif k == "RssAnon":
                    anon = max(anon, int(v.split()[0]))
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.02)
dt = time.monotonic() - t0
print("%-8s %8.1f s   peak RSS %7.0f MiB  (anonymous %6.0f MiB)" % (name, dt, hwm / 1024, anon / 1024))
open(out + ".rss", "w").write("%d %d %.3f\n" % (hwm * 1024, anon * 1024, dt))
sys.exit(p.returncode)
' "$@"
}

printf '%s\n' "bench-scale: $OPS ops (plateau, live set up to $LIVE blocks), backends: $BACKENDS," \
	"--check $CHECK --repeat $REPEAT; wall time and peak RSS of each step's heapbench process"
echo
if [ -f "$SRC" ]; then
	echo "gen      reused $SRC"
else
	step gen /dev/null "$H" trace gen --pattern plateau --ops "$OPS" --live "$LIVE" --seed 1 \
		-o "$SRC.tmp.trace.zst"
	mv "$SRC.tmp.trace.zst" "$SRC"
fi
step convert /dev/null "$H" trace convert "$SRC" "$HBT"
step stats "$RUN/stats.json" "$H" trace stats --json "$HBT"
BK=()
for b in $BACKENDS; do BK+=(-a "$b"); done
rc=0
step replay "$RUN/results.jsonl" "$H" replay "${BK[@]}" --check "$CHECK" --repeat "$REPEAT" \
	--timeout 1800 --json "$HBT" || rc=$?
step plot /dev/null "$H" plot "$RUN/results.jsonl" -o "$RUN/charts" || rc=$?
echo

python3 - "$SRC" "$HBT" "$RUN" <<'PY'
import json, os, sys
src, hbt, run = sys.argv[1:4]
MiB = 1 << 20
st = json.load(open(run + "/stats.json"))
size = os.path.getsize(hbt)
live = st["peak_live_bytes"]
parent = int(open(run + "/results.jsonl.rss").read().split()[0])
panon = int(open(run + "/results.jsonl.rss").read().split()[1])
print("trace    %s: %d ops, %.0f MiB as .hbt (%.0f MiB compressed text), peak live %.0f MiB in %d blocks"
      % (hbt, st["ops"], size / MiB, os.path.getsize(src) / MiB, live / MiB, st["max_live_blocks"]))
print()
print("%-10s %-6s %10s %8s %12s %12s %12s" % ("backend", "status", "timed s", "Mops/s",
      "footprint", "worker RSS", "bound"))
ok = True
for line in open(run + "/results.jsonl"):
    r = json.loads(line)
    fp = r.get("peak_footprint_bytes", 0)
    w = r.get("worker_peak_rss_bytes", 0)
    # the worker: the mapped trace plus the backend's heap, and a little
    # more for the harness (checker tables, code, the result page)
    bound = size + fp + 256 * MiB
    ok &= r["status"] == "ok" and w <= bound
    print("%-10s %-6s %10.2f %8.2f %8.0f MiB %8.0f MiB %8.0f MiB  %s" % (
        r["backend"], r["status"], r.get("seconds_median", 0), r.get("mops", 0), fp / MiB,
        w / MiB, bound / MiB, "within" if w <= bound else "OVER"))
pbound = size + live
print()
print("parent   peak RSS %.0f MiB (anonymous %.0f MiB) <= .hbt %.0f MiB + peak live %.0f MiB = %.0f MiB: %s"
      % (parent / MiB, panon / MiB, size / MiB, live / MiB, pbound / MiB,
         "yes" if parent <= pbound else "NO"))
print("         (the op array is the mapped file, resident as the .hbt's pages; a copy of it"
      " would be anonymous memory, %.0f MiB at most here)" % (panon / MiB))
print("goal     the replay's memory bounded by the op array (mapped) plus the largest live set: %s"
      % ("met" if ok and parent <= pbound else "NOT met"))
PY
echo "charts in $RUN/charts"
exit $rc
