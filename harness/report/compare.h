/*
 * compare.h - a run against a baseline run: the regression gate.
 *
 * Jobs are matched by (trace, backend, options).  A regression is:
 *   - a job ok in the baseline and not ok now, or in a status listed as
 *     failing (fail_on);
 *   - a job of the baseline missing from the new run;
 *   - a metric worse by more than its threshold, relative to the baseline:
 *     utilization lower (default threshold 0 for deterministic backends,
 *     the simulated heap: any drop; not gated for others unless asked),
 *     frag_peak higher, Mops/s lower (both only when asked).  Throughput
 *     also needs the min-max ranges of the timed passes not to overlap:
 *     noise is not a regression.
 * New jobs are listed, never failures.
 */
#ifndef HB_COMPARE_H
#define HB_COMPARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "report/fields.h"

struct compare_opts {
	/* per gateable field (fields.h), its threshold as a fraction; < 0 = not given */
	double max_drop[RES_NFIELDS];
	unsigned fail_on;             /* bit per enum replay_status: new statuses that fail */
	const char *junit, *markdown; /* files to write, or NULL */
	const char *baseline_name, *new_name;
};

/* No threshold given, nothing failing by status, no reports. */
void compare_opts_init(struct compare_opts *o);

/* Sets a threshold from "METRIC=FRACTION" (compare --max-drop): 0, or -1
 * after reporting what it takes. */
int compare_parse_drop(struct compare_opts *o, const char *arg);

/* Reads a run directory's results.jsonl or a results.jsonl itself; NULL
 * after reporting. */
json_t *compare_load(const char *path);

/* Compares, prints the table to out, writes the JUnit and Markdown files
 * asked for.  0 clean, 1 regression, 2 a file could not be written. */
int compare_runs(const json_t *baseline, const json_t *now, const struct compare_opts *o,
		 FILE *out);

#endif
