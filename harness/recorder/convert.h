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

/* Whether this CPU's time-stamp counter is a clock (constant and nonstop):
 * then recorded calls get times from it. */
bool recorder_tsc_invariant(void);

#endif
