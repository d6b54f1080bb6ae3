/*
 * batch.h - every trace against every backend, one worker per job, in
 * order: what `heapbench replay` runs.  The output's form is its caller's
 * (a table, JSON Lines: report/), reached through a struct replay_sink.
 */
#ifndef HB_BATCH_H
#define HB_BATCH_H

#include <stdbool.h>

#include "replay/backend_spec.h"
#include "replay/job.h"

#define REPLAY_BATCH_MAX_BACKENDS 32
#define REPLAY_BATCH_MAX_COPIES   16

/* One job, done. */
struct replay_done {
	const char *trace_path;
	const char *backend;             /* as the user named it */
	const struct replay_config *cfg; /* NULL in the list of failed jobs */
	const struct replay_result *r;
};

struct replay_sink {
	void *ctx;
	void (*begin)(void *ctx); /* every trace loaded, before the first job */
	void (*job)(void *ctx, const struct replay_done *d); /* each job, as it ends */
	void (*end)(void *ctx, const struct replay_done *failed, size_t nfailed);
};

struct replay_batch {
	struct backend_choice backends[REPLAY_BATCH_MAX_BACKENDS];
	size_t nbackends;          /* none: every backend that can run here (heapbench list) */
	struct replay_config base; /* every knob but the backend and the copies */
	unsigned copies[REPLAY_BATCH_MAX_COPIES]; /* each backend runs once per value */
	size_t ncopies;                           /* none: base.copies (1) */
	struct job_limits limits;                 /* per job (job_limits_default) */
	const struct replay_sink *sink;
};

/* Knobs and limits at their defaults, no backend. */
void replay_batch_init(struct replay_batch *b, const struct replay_sink *sink);

/* Sets the copies list from "1,2,4" (--copies); -1 once said why not. */
int replay_batch_copies(struct replay_batch *b, const char *list);

/* Adds the backend spec names (backend_parse); -1 once said why not. */
int replay_batch_add(struct replay_batch *b, const char *spec);

/* Reads and checks every trace (paths), then runs each against each
 * backend, telling the sink.  Returns the exit status: HB_EXIT_OK every job
 * ok, HB_EXIT_FAIL a job failed, HB_EXIT_USAGE a trace is bad (reported). */
int replay_batch(struct replay_batch *b, char *const *paths, int npaths);

/* Frees the backends. */
void replay_batch_free(struct replay_batch *b);

#endif
