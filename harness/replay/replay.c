/*
 * replay.c - one job (replay.h): the backend's calls resolved, the id
 * tables made, then the passes in order (internal.h names their files).
 *
 * Memory: every structure of the harness comes from mmap (os.h), never from
 * the allocator under test, so a backend's footprint measures the trace and
 * nothing else.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "replay/internal.h"

#define REPLAY_NAME_(e, name) [e] = name,
const char *const replay_check_names[CHECK_NLEVELS + 1] = {REPLAY_CHECK_LIST(REPLAY_NAME_)};
const char *const replay_status_names[JOB_NSTATUS + 1] = {REPLAY_STATUS_LIST(REPLAY_NAME_)};
const char *const replay_threads_names[THREADS_NMODES + 1] = {REPLAY_THREADS_LIST(REPLAY_NAME_)};
#undef REPLAY_NAME_

int replay_name_find(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

int replay_parse_pace(const char *s, double *factor)
{
	if (!strcmp(s, "recorded")) {
		*factor = 1;
		return 0;
	}
	char *end;
	double k = strtod(s, &end);
	if (end == s || strcmp(end, "x") || !(k > 0) || k > 1e9)
		return -1;
	*factor = k;
	return 0;
}

void replay_config_init(struct replay_config *cfg)
{
	*cfg = (struct replay_config){
		.check = CHECK_FULL, .repeat = 5, .alignment = 16, .sample_every = 128};
}

void replay_error(struct replay_result *r, enum replay_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->status = st;
}

/* ---- The backend's calls ------------------------------------------------------ */

/* calloc for a backend without one: ctx is the job's replay_calls. */
static void *calloc_fallback(void *ctx, size_t nmemb, size_t size)
{
	const struct replay_calls *k = ctx;
	void *p = k->malloc(k->st, nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

void replay_calls_init(struct replay_calls *k, const struct allocator *a)
{
	*k = (struct replay_calls){
		.malloc = a->malloc,
		.calloc = a->calloc ? a->calloc : calloc_fallback,
		.memalign = a->memalign,
		.realloc = a->realloc,
		.free = a->free,
		.own_calloc = a->calloc != NULL,
		.libc = (a->flags & ALLOC_F_LIBC) != 0,
	};
	replay_calls_bind(k, NULL);
}

int replay_fresh_state(struct replay_job *j, char *err, size_t len)
{
	const struct allocator *a = j->cfg->backend;
	if (a->flags & ALLOC_F_SIMULATED) {
		if (j->heap) {
			heap_reset(j->heap);
		} else if (!(j->heap = heap_create(j->cfg->heap_limit))) {
			snprintf(err, len, "cannot reserve the simulated heap");
			return -1;
		}
	}
	struct backend_opts opts = {j->cfg->opt, j->cfg->nopt};
	void *st = NULL;
	int rc = a->init(&st, j->heap, &opts, err, len);
	replay_calls_bind(&j->calls, st);
	return rc;
}

/* ---- The job ------------------------------------------------------------------ */

/* The op counts of the trace. */
static void count_ops(const struct trace *t, struct replay_result *r)
{
	r->ops = t->nops;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		r->allocs += trace_op_allocates(op);
		r->reallocs += op->kind == TRACE_REALLOC;
		r->frees += op->kind == TRACE_FREE;
	}
}

int replay_run(const struct trace *t, const struct replay_config *cfg, struct replay_result *r)
{
	HB_ASSERT(cfg->backend && cfg->nopt <= REPLAY_MAX_OPTS && cfg->repeat <= REPLAY_MAX_REPEAT);
	struct replay_job j = {.t = t, .cfg = cfg, .r = r};
	/* the resident set is read through one descriptor (measure_rss) */
	j.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	r->status = JOB_OK;
	r->error_op = UINT64_MAX;
	count_ops(t, r);
	replay_calls_init(&j.calls, cfg->backend);

	/* harness tables from mmap, resident before any baseline is taken */
	size_t nslots = (size_t)t->nids + 1;
	j.slots = os_map(nslots * sizeof *j.slots);
	j.ptrs = os_map(nslots * sizeof *j.ptrs);
	if (!j.slots || !j.ptrs) {
		replay_error(r, JOB_ERROR, "no memory for the id tables");
		goto out;
	}
	memset(j.slots, 0, nslots * sizeof *j.slots);
	memset(j.ptrs, 0, nslots * sizeof *j.ptrs);
	measure_touch(t->ops, (size_t)t->nops * sizeof *t->ops);

	r->pass = REPLAY_PASS_CHECKED;
	r->threads = 1;
	r->mode = cfg->threads;
	r->copies = cfg->copies ? cfg->copies : 1;
	int rc = checked_pass(&j);
	/* --copies, even 1: every value of a sweep measured alike */
	bool threaded = cfg->threads == THREADS_RECORDED || cfg->copies || cfg->pace > 0;
	if (rc == 0)
		rc = threaded ? threaded_passes(&j) : timed_passes(&j);
	if (rc == 0 && cfg->latency)
		latency_pass(&j);
out:
	heap_destroy(j.heap);
	resident_release(&j.base);
	if (j.statm_fd >= 0)
		close(j.statm_fd);
	os_unmap(j.slots, nslots * sizeof *j.slots);
	os_unmap(j.ptrs, nslots * sizeof *j.ptrs);
	r->finished = true;
	return r->status == JOB_OK ? 0 : -1;
}
