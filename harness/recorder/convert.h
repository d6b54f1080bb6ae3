/*
 * convert.h - turning one raw log of the recorder (raw.h) into a trace:
 * what `heapbench record` does for each process once the program is done.
 */
#ifndef HB_RECORDER_CONVERT_H
#define HB_RECORDER_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

/* What one conversion found, for the table and summary.json. */
struct recorder_info {
	uint64_t ops, allocs, frees, threads, peak_live;
	uint64_t unknown_frees;    /* frees of addresses never allocated while recorded */
	uint64_t unknown_reallocs; /* reallocs of such addresses: taken as allocations */
	uint64_t lost;             /* places in the order with no record (a call cut short) */
	uint64_t unseen_frees;     /* blocks handed out again without a free we saw */
};

/* The raw log at path, in order, into trace t (already created; its path
 * names the output).  info starts zeroed.  0, or -1 (reported). */
int recorder_convert(const char *path, struct trace *t, struct recorder_info *info);

/* The same in steps, while the program still writes the log: each step
 * puts in t the calls that can be put in order by then (none before the
 * log is 50 ms old, or at all when its order is not the time-stamp
 * counter: raw.h); the last one, once the program is done (final), the
 * rest, and t's counts.  The ops are those recorder_convert makes of the
 * finished log; the times may differ by the error of the counter's rate,
 * which is measured at the first step rather than at the end (parts in a
 * million).  open: NULL if the log cannot be read; step: 0 or -1
 * (reported; the later steps fail too). */
struct recorder_live;
struct recorder_live *recorder_live_open(const char *path, struct trace *t,
					 struct recorder_info *info);
int recorder_live_step(struct recorder_live *l, bool final);
void recorder_live_close(struct recorder_live *l);

/* Whether this CPU's time-stamp counter is a clock (constant and nonstop):
 * then recorded calls get times from it. */
bool recorder_tsc_invariant(void);

#endif
