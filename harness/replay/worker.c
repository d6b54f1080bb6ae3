/*
 * worker.c - `heapbench __worker`, one job in a process of its own (job.h):
 * the job from the page its parent shares (jobpage.h), the trace mapped
 * from an inherited descriptor, the result written into the page.  The
 * 32-bit worker (heapbench-worker32) is this file's code built -m32.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"
#include "host/hb_assert.h"
#include "replay/job.h"
#include "replay/jobpage.h"
#include "replay/mmbuild.h"

static int worker_fail(const char *what, const char *arg)
{
	fprintf(stderr, "heapbench worker: %s%s\n", what, arg ? arg : "");
	return 2;
}

/* The probe's stage, or its answer, in r (job_probe reads it). */
static void probe_say(struct replay_result *r, enum replay_status st, bool done, const char *what)
{
	r->status = st;
	snprintf(r->error, sizeof r->error, "%s", what);
	r->finished = done;
}

/* `__worker --probe`: can the backend start here, and which version is
 * it?  The answer is in the page, never on stdout, which is the backend's
 * to close or fill: before each step the stage it is in, then ok and the
 * version, or error and why (job_probe). */
static int worker_probe(const struct replay_config *cfg, struct replay_result *r)
{
	const struct allocator *a = cfg->backend;
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	struct heap *heap = NULL;
	char err[ALLOC_ERRLEN], version[256];
	void *st;
	if ((a->flags & ALLOC_F_SIMULATED) && !(heap = heap_create(0)))
		return probe_say(r, JOB_ERROR, true, "cannot reserve the simulated heap"), 0;
	probe_say(r, JOB_ERROR, false, "in the backend's init");
	if (a->init(&st, heap, &opts, err, sizeof err) < 0)
		return probe_say(r, JOB_ERROR, true, err), 0;
	probe_say(r, JOB_ERROR, false, "in the backend's version");
	if (a->version && a->version(version, sizeof version) < 0)
		return probe_say(r, JOB_ERROR, true, version), 0;
	if (!a->version) /* built in, or the name a user's library gives itself */
		snprintf(version, sizeof version, "%s",
			 allocator_find(a->name) == a ? "heapbench " HB_VERSION : a->name);
	probe_say(r, JOB_ERROR, false, "in the backend's fini");
	a->fini(st);
	heap_destroy(heap);
	probe_say(r, JOB_OK, true, version);
	fflush(NULL);
	_exit(0);
}

/* The job's config from the page, with this process's pointers: the
 * options' strings are the page's; the backend is looked up by name. */
static void worker_config(struct job_page *pg, struct replay_config *cfg)
{
	job_knobs_get(&pg->knobs, cfg);
	HB_ASSERT(pg->nopt <= REPLAY_MAX_OPTS);
	cfg->nopt = pg->nopt;
	pg->backend[sizeof pg->backend - 1] = '\0';
	for (size_t i = 0; i < cfg->nopt; i++) {
		pg->opt[i].key[sizeof pg->opt[i].key - 1] = '\0';
		pg->opt[i].value[sizeof pg->opt[i].value - 1] = '\0';
		cfg->opt[i] = (struct backend_opt){pg->opt[i].key, pg->opt[i].value};
	}
	cfg->backend = allocator_find(pg->backend);
}

/* library:PATH - the user's backend, loaded here from the option `path`. */
static int worker_library(struct replay_config *cfg, char *err, size_t len)
{
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	const char *path = backend_opt_get(&opts, "path");
	cfg->backend = library_load(path ? path : "", err, len);
	cfg->nopt = 0; /* `path` was ours; the library's own options are none */
	return cfg->backend ? 0 : -1;
}

/* mm:PATH - the student's allocator, built (or found built) and loaded
 * here: the lab's convention from --lab or from the file. */
static int worker_mm(struct replay_config *cfg, char *err, size_t len)
{
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	const char *path = backend_opt_get(&opts, "path");
	char so[PATH_MAX + 64];
	bool cmu;
	unsigned bits = 8 * sizeof(void *); /* this worker's: the parent chose it */
	if (mm_object(path ? path : "", cfg->lab, bits, so, sizeof so, &cmu, err, len) < 0)
		return -1;
	cfg->backend = mm_load(so, cmu, err, len);
	cfg->nopt = 0;
	return cfg->backend ? 0 : -1;
}

/* A job that cannot start: its error in the result, the worker done. */
static int worker_cannot_start(struct replay_result *r, const char *what, const char *why)
{
	r->status = JOB_ERROR;
	r->error_op = UINT64_MAX;
	r->pass = REPLAY_PASS_START;
	snprintf(r->error, sizeof r->error, "%s%s", what, why);
	r->finished = true;
	fflush(NULL);
	_exit(0);
}

/* `heapbench __worker --page-fd N (--trace-fd N | --probe)`: the job is in
 * the page (job_page), the trace in the other descriptor. */
int job_worker_main(int argc, char **argv)
{
	int trace_fd = -1, page_fd = -1;
	bool probe = false;
	for (int i = 1; i < argc; i++) {
		uint64_t x = 0;
		if (!strcmp(argv[i], "--probe")) {
			probe = true;
		} else if (i + 1 >= argc || parse_u64(argv[i + 1], &x) < 0 || x > INT32_MAX) {
			return worker_fail("bad argument ", argv[i]);
		} else if (!strcmp(argv[i], "--trace-fd")) {
			trace_fd = (int)x, i++;
		} else if (!strcmp(argv[i], "--page-fd")) {
			page_fd = (int)x, i++;
		} else {
			return worker_fail("unknown argument ", argv[i]);
		}
	}
	if (page_fd < 0 || (!probe && trace_fd < 0))
		return worker_fail("needs --page-fd, and --trace-fd or --probe", NULL);
	struct job_page *pg =
		mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
	if (pg == MAP_FAILED)
		return worker_fail("cannot map the job: ", strerror(errno));
	if (pg->magic != JOB_PAGE_MAGIC || pg->size != sizeof *pg)
		return worker_fail("the job's page is not this worker's: it comes from another "
				   "heapbench build",
				   NULL);
	struct replay_config cfg;
	char err[ALLOC_ERRLEN];
	worker_config(pg, &cfg);
	if (!cfg.backend)
		return worker_fail("unknown backend ", pg->backend);
	if (probe)
		probe_say(&pg->result, JOB_ERROR, false, "while loading the library");
	if (cfg.backend == &library_allocator && worker_library(&cfg, err, sizeof err) < 0)
		return probe ? (probe_say(&pg->result, JOB_ERROR, true, err), 0)
			     : worker_fail("cannot load the library: ", err);
	if (probe)
		return worker_probe(&cfg, &pg->result);
	if (cfg.backend == &mm_allocator && worker_mm(&cfg, err, sizeof err) < 0)
		return worker_cannot_start(&pg->result, "mm: ", err);

	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", trace_fd);
	struct diag d;
	diag_init(&d, path, false);
	/* mapped without malloc, and verified again: the file may have
	 * changed since the parent read it */
	struct trace t = {0};
	if (trace_map_hbt_fd(&t, trace_fd, path, &d) < 0)
		return worker_fail("cannot load the trace", NULL);
	struct replay_result *r = &pg->result;
	memset(r, 0, sizeof *r); /* touches the result pages before any baseline */
	r->status = JOB_ERROR;
	r->pass = REPLAY_PASS_START;
	snprintf(r->error, sizeof r->error, "the worker stopped before the checked pass");
	replay_run(&t, &cfg, r);
	/* the result is in shared memory; nothing else to hand back but what
	 * the backend printed and its stdio still holds */
	fflush(NULL);
	_exit(0);
}
