/*
 * batch.c - every trace against every backend (batch.h).
 */
#include "replay/batch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/job.h"
#include "replay/lab.h"

void replay_batch_init(struct replay_batch *b, const struct replay_sink *sink)
{
	*b = (struct replay_batch){.sink = sink};
	replay_config_init(&b->base);
	job_limits_default(&b->limits);
}

int replay_batch_add(struct replay_batch *b, const char *spec)
{
	char why[ALLOC_ERRLEN + 256];
	if (b->nbackends == REPLAY_BATCH_MAX_BACKENDS) {
		hb_error("replay: at most %zu backends per run", HB_ARRAY_LEN(b->backends));
		return -1;
	}
	/* counted even when it fails: replay_batch_free frees what it holds */
	struct backend_choice *c = &b->backends[b->nbackends++];
	if (backend_parse(spec, c, why, sizeof why) < 0) {
		hb_error("%s", why);
		return -1;
	}
	if (c->fault)
		hb_error("warning: backend %s cannot start here, its jobs fail: %s", spec,
			 c->fault);
	return 0;
}

int replay_batch_copies(struct replay_batch *b, const char *list)
{
	char buf[256];
	bool ok = strlen(list) < sizeof buf;
	snprintf(buf, sizeof buf, "%s", list);
	b->ncopies = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); ok && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		ok = !parse_u64(tok, &v) && v >= 1 && v <= REPLAY_MAX_COPIES &&
		     b->ncopies < REPLAY_BATCH_MAX_COPIES;
		if (ok)
			b->copies[b->ncopies++] = (unsigned)v;
	}
	if (ok && b->ncopies)
		return 0;
	hb_error("replay: --copies takes up to %d numbers from 1 to %d, like 1,2,4, not '%s'",
		 REPLAY_BATCH_MAX_COPIES, REPLAY_MAX_COPIES, list);
	return -1;
}

/* Every backend that can run here, for a batch that names none. */
static void every_backend(struct replay_batch *b)
{
	char why[ALLOC_ERRLEN + 256];
	for (size_t i = 0; allocator_registry[i] && b->nbackends < REPLAY_BATCH_MAX_BACKENDS; i++) {
		struct backend_choice *c = &b->backends[b->nbackends];
		if (backend_parse(allocator_registry[i]->name, c, why, sizeof why) == 0 &&
		    !c->fault)
			b->nbackends++;
		else
			backend_choice_free(c);
	}
}

/* The failed jobs, for the sink's end. */
struct failures {
	struct replay_result *r;
	struct replay_done *d;
	size_t n;
};

/* Ctrl-C, SIGTERM, SIGHUP: the worker running is killed (with whatever it
 * started), and heapbench then dies of the signal, as it would have. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Puts the old handlers back, and dies of a signal that came meanwhile. */
static void stop_signals_release(const struct sigaction *old)
{
	job_signals_restore(stop_signals, HB_ARRAY_LEN(stop_signals), old);
	if (job_interrupted()) {
		fflush(NULL);
		signal(job_interrupted(), SIG_DFL);
		raise(job_interrupted());
	}
}

/* The jobs of one trace, one per backend and copies value. */
static void run_trace(const struct replay_batch *b, const struct trace *t, int fd,
		      struct replay_result *res, struct failures *f)
{
	size_t ncopies = b->ncopies ? b->ncopies : 1;
	for (size_t k = 0; k < b->nbackends * ncopies && !job_interrupted(); k++) {
		const struct backend_choice *c = &b->backends[k / ncopies];
		struct replay_config cfg = backend_choice_config(c, &b->base);
		if (b->ncopies)
			cfg.copies = b->copies[k % ncopies];
		if (c->fault)
			job_refuse(t, &cfg, c->fault, res);
		else if (job_run(t, fd, &cfg, &b->limits, res) < 0 && job_interrupted())
			return; /* its result is the interruption's, not the backend's */
		b->sink->job(b->sink->ctx, &(struct replay_done){t->path, c->spec, &cfg, res});
		if (res->status != JOB_OK) {
			f->r[f->n] = *res;
			f->d[f->n] = (struct replay_done){t->path, c->spec, NULL, &f->r[f->n]};
			f->n++;
		}
	}
}

/* Runs every job over the loaded traces. */
static int run_all(const struct replay_batch *b, struct trace **traces, int ntraces)
{
	int rc = HB_EXIT_OK;
	size_t njobs = (size_t)ntraces * b->nbackends * (b->ncopies ? b->ncopies : 1) + 1;
	struct replay_result *res = xcalloc(1, sizeof *res);
	struct failures f = {xcalloc(njobs, sizeof *f.r), xcalloc(njobs, sizeof *f.d), 0};
	b->sink->begin(b->sink->ctx);
	struct sigaction old[HB_ARRAY_LEN(stop_signals)];
	job_signals_catch(stop_signals, HB_ARRAY_LEN(stop_signals), old);
	for (int i = 0; i < ntraces && !job_interrupted(); i++) {
		/* one descriptor at a time: a run may hold many traces */
		int fd = job_trace_fd(traces[i]);
		if (fd < 0) {
			rc = HB_EXIT_USAGE;
			break;
		}
		size_t before = f.n;
		run_trace(b, traces[i], fd, res, &f);
		close(fd);
		if (f.n > before)
			rc = HB_EXIT_FAIL;
	}
	stop_signals_release(old);
	b->sink->end(b->sink->ctx, f.d, f.n);
	free(res);
	free(f.r);
	free(f.d);
	return rc;
}

int replay_batch(struct replay_batch *b, char *const *paths, int npaths)
{
	if (!b->nbackends)
		every_backend(b);
	backend_heap_limit_note(b->backends, b->nbackends, b->base.heap_limit);
	char **expanded = replay_lab_paths(b->base.lab, paths, npaths, &npaths);
	paths = expanded;
	/* every trace is read and checked before any job runs */
	struct trace **traces = xcalloc((size_t)npaths, sizeof *traces);
	int rc = HB_EXIT_USAGE, n = 0;
	for (; n < npaths; n++)
		if (!(traces[n] = trace_load_file(paths[n], false)))
			break;
	if (n == npaths)
		rc = run_all(b, traces, npaths);
	for (int i = 0; i < n; i++)
		trace_free(traces[i]);
	free(traces);
	for (int i = 0; i < npaths; i++)
		free(expanded[i]);
	free(expanded);
	return rc;
}

void replay_batch_free(struct replay_batch *b)
{
	for (size_t i = 0; i < b->nbackends; i++)
		backend_choice_free(&b->backends[i]);
	b->nbackends = 0;
}
