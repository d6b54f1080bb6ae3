/*
 * run.h - a suite run: every trace x every backend of a config, one job at
 * a time, into the config's output directory (DESIGN §5, §6).
 *
 * The plan is every trace x every backend, trace by trace, in config order
 * (job k of the plan is the same on every machine, which is what shards
 * rely on).  Jobs run one at a time, each in its worker (job.h), so no
 * timed pass shares the machine with anything heapbench starts.  Each
 * result is appended to DIR/results.jsonl and flushed to the disk as its
 * job ends; the tables (results.csv, summary.md, stdout) are made at the end
 * from results.jsonl itself, so they never disagree with it.  An
 * interrupted run leaves results.jsonl with at most a torn last line, which
 * a resumed run cuts off before it skips the jobs already there.
 */
#ifndef HB_SUITE_RUN_H
#define HB_SUITE_RUN_H

#include <stdbool.h>

#include "suite/config.h"

struct suite_opts {
	bool resume;               /* skip the jobs results.jsonl holds */
	unsigned shard_i, shard_n; /* run jobs i, i+n, i+2n, ... (1-based) */
	bool dry_run;              /* print the plan and stop */
	bool plots;                /* the config's charts */
	bool compare;              /* the config's regression gate */
};

/* Runs (or with dry_run prints) the suite; the exit status (DESIGN §2):
 * 0 every job ok, 1 a job failed or a regression, 2 bad input, 130
 * interrupted (what was done is kept, --resume goes on). */
int suite_run(const struct config *cfg, const struct suite_opts *o);

#endif
