/*
 * config.h - a suite described in YAML (DESIGN §7), read with libyaml and
 * checked whole before anything runs.
 *
 *   name: quick
 *   traces:                       # paths and globs, or {path, name}
 *     - traces/synthetic/{star}.trace
 *     - {path: traces/examples/tiny.rep, name: tiny}
 *   backends:                     # names as for replay -a, or mappings
 *     - first-fit
 *     - {name: ff-lifo, backend: first-fit, options: {order: lifo}}
 *     - {name: mine, preload: /opt/lib/libmymalloc.so}
 *     - {name: mm, library: build/mm.so}
 *   repeat: 5                     # timed passes
 *   check: full                   # full | fast | off
 *   heap_check: 0                 # the backend's own check every K ops
 *   latency: false
 *   timeout: 120                  # seconds per job (0 = none)
 *   heap_limit: 4GiB
 *   sample_every: 128
 *   align: 16
 *   threads: serial               # serial | recorded
 *   copies: [1, 2]                # copies at once: a job per value (1)
 *   pace: 10x                     # recorded | Kx: the recorded gaps / K
 *   output: results/quick
 *   plots: [throughput, utilization, fragmentation, timeline, latency]
 *   regression:
 *     baseline: results/baselines/ci.jsonl
 *     max_drop: {utilization: 0, mops: 0.1}
 *     fail_on: [error, crash, timeout, oom]
 *
 * ({star} stands for a glob's star.)  Relative paths are relative to the
 * current directory: run heapbench from the repository root.  Every mistake
 * is one line, `heapbench: FILE:LINE:COLUMN: what`, and config_load fails.
 */
#ifndef HB_CONFIG_H
#define HB_CONFIG_H

#include <stdbool.h>

#include "replay/backend_spec.h"
#include "replay/job.h"
#include "report/fields.h"

struct config_trace {
	char *path, *name;
	unsigned line, column; /* where the config names it */
};

#define CONFIG_MAX_COPIES 16
#define CONFIG_NAME_MAX   200 /* bytes of a name: the config's, a trace's, a backend's */

struct config {
	char *path, *name, *text; /* text: the file as read */
	struct config_trace *traces;
	size_t ntraces;
	struct backend_choice *backends;
	size_t nbackends;
	struct replay_config base;          /* everything but the backend and the copies */
	unsigned copies[CONFIG_MAX_COPIES]; /* a job per value; none: 1 */
	size_t ncopies;
	struct job_limits limits; /* timeout: and memory_limit:, or their defaults */
	char *output;
	unsigned plots; /* PLOT_* bits (plot.h) */
	bool has_regression;
	char *baseline;
	double max_drop[RES_NFIELDS]; /* per gateable field; < 0 = not given */
	unsigned fail_on;             /* bit per enum replay_status */
};

/* Reads and checks the file; NULL after reporting the first mistake. */
struct config *config_load(const char *path);
void config_free(struct config *c);

#endif
