/*
 * run.c - the suite runner (run.h): the plan and its shard, resume, the
 * job loop writing results.jsonl, then the tables, the regression gate
 * and the charts.
 */
#include "suite/run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/out.h"
#include "host/hb_assert.h"
#include "host/os.h"
#include "replay/job.h"
#include "report/compare.h"
#include "report/env.h"
#include "report/plot.h"
#include "report/results.h"
#include "report/summary.h"
#include "trace/cache.h"

/* Ctrl-C or SIGTERM (job_interrupt): the running job's worker is killed,
 * no other starts; the run ends as the signal asks (exit status 128 + its
 * number). */
static const int stop_signals[] = {SIGINT, SIGTERM};

struct job {
	size_t trace, backend;
	unsigned copies; /* of the trace at once (config copies:) */
	bool done;       /* in results.jsonl already, or another shard's */
};

/* One run's state; traces[t] and fds[t] are held from the first job on
 * trace t that runs to its last. */
struct run {
	const struct config *cfg;
	const struct suite_opts *opt;
	struct job *jobs;
	size_t njobs, todo, ran;
	struct trace **traces;
	int *fds;
	bool *cached;    /* traces[t] came from the cache: no source lines */
	char path[4200]; /* results.jsonl */
	json_t *done;    /* its job objects */
	int out;         /* results.jsonl, appending */
};

/* ---- The plan ------------------------------------------------------------------- */

static bool in_shard(const struct run *r, size_t k)
{
	return k % r->opt->shard_n == r->opt->shard_i - 1;
}

/* Every trace x backend x copies, in that order. */
static void plan_make(struct run *r)
{
	const struct config *c = r->cfg;
	size_t nc = c->ncopies ? c->ncopies : 1, k = 0;
	r->njobs = c->ntraces * c->nbackends * nc;
	r->jobs = xcalloc(r->njobs ? r->njobs : 1, sizeof *r->jobs);
	for (size_t t = 0; t < c->ntraces; t++)
		for (size_t b = 0; b < c->nbackends; b++)
			for (size_t i = 0; i < nc; i++)
				r->jobs[k++] =
					(struct job){t, b, c->ncopies ? c->copies[i] : 1, false};
}

/* " x2" for a job of two copies, "" for one. */
static const char *copies_text(const struct job *j, char *buf, size_t len)
{
	if (j->copies <= 1)
		return "";
	snprintf(buf, len, " x%u copies", j->copies);
	return buf;
}

static void plan_print(const struct run *r)
{
	const struct config *c = r->cfg;
	size_t mine = 0;
	for (size_t k = 0; k < r->njobs; k++)
		mine += in_shard(r, k);
	printf("suite %s: %zu traces x %zu backends", c->name, c->ntraces, c->nbackends);
	if (c->ncopies)
		printf(" x %zu copies values", c->ncopies);
	printf(" = %zu jobs", r->njobs);
	if (r->opt->shard_n > 1)
		printf(", shard %u/%u runs %zu", r->opt->shard_i, r->opt->shard_n, mine);
	printf("; output %s\n", c->output);
	printf("repeat %u, check %s, heap_check %llu, latency %s, timeout %gs, memory limit "
	       "%llu MiB%s\n",
	       c->base.repeat, replay_check_names[c->base.check],
	       (unsigned long long)c->base.heap_check_every, c->base.latency ? "yes" : "no",
	       c->limits.timeout, (unsigned long long)(c->limits.memory >> 20),
	       c->base.threads == THREADS_RECORDED ? ", threads recorded" : "");
	for (size_t k = 0; k < r->njobs; k++) {
		char cp[32];
		if (in_shard(r, k))
			printf("job %zu: %s x %s%s  (%s)\n", k + 1,
			       c->traces[r->jobs[k].trace].name,
			       c->backends[r->jobs[k].backend].spec,
			       copies_text(&r->jobs[k], cp, sizeof cp),
			       c->traces[r->jobs[k].trace].path);
	}
}

/* ---- Resume ----------------------------------------------------------------------- */

/* Cuts a torn last line (a run killed mid-write) off path; -1 on error. */
static int cut_torn_tail(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	off_t size = lseek(fd, 0, SEEK_END), keep = size;
	char c;
	while (keep > 0 && pread(fd, &c, 1, keep - 1) == 1 && c != '\n')
		keep--;
	int rc = keep < size ? ftruncate(fd, keep) : 0;
	if (keep < size)
		fprintf(stderr, "heapbench: %s: dropped a torn last line (%lld bytes)\n", path,
			(long long)(size - keep));
	close(fd);
	return rc;
}

/* Is (trace, backend) among the results? */
/* Whether all has job j's result: its trace, backend and copies (absent
 * in results from before copies: 1). */
static bool has_result(const json_t *all, const char *trace, const char *backend, unsigned copies)
{
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		if (!strcmp(res_str(o, RES_TRACE), trace) &&
		    !strcmp(res_str(o, RES_BACKEND), backend) && res_copies(o) == copies)
			return true;
	}
	return false;
}

/* Marks the jobs already done (or another shard's) and reads the traces the
 * others need, every one before any job runs: a bad trace stops the run
 * before it starts. */
static int plan_todo(struct run *r)
{
	const struct config *c = r->cfg;
	for (size_t k = 0; k < r->njobs; k++) {
		struct job *j = &r->jobs[k];
		j->done = !in_shard(r, k) || has_result(r->done, c->traces[j->trace].name,
							c->backends[j->backend].spec, j->copies);
		r->todo += !j->done;
	}
	for (size_t t = 0; t < c->ntraces; t++) {
		bool needed = false;
		for (size_t k = 0; k < r->njobs; k++)
			needed |= r->jobs[k].trace == t && !r->jobs[k].done;
		if (needed && !(r->traces[t] = trace_cache_load(c->traces[t].path, &r->cached[t])))
			return -1;
	}
	return 0;
}

/* The output directory, what it holds already, the traces, env.json and
 * results.jsonl open for appending; -1 after reporting. */
static int run_open(struct run *r)
{
	const struct config *c = r->cfg;
	snprintf(r->path, sizeof r->path, "%s/results.jsonl", c->output);
	if (mkdirs(c->output) < 0) {
		hb_error("%s: %s", c->output, strerror(errno));
		return -1;
	}
	struct stat st;
	if (!r->opt->resume && stat(r->path, &st) == 0 && st.st_size > 0) {
		hb_error("%s already holds results: --resume continues that run, or choose another "
			 "-o",
			 r->path);
		return -1;
	}
	if (cut_torn_tail(r->path) < 0 || !(r->done = results_read(r->path)) || plan_todo(r) < 0)
		return -1;
	if (!r->opt->resume || json_array_size(r->done) == 0) {
		char envp[4200];
		snprintf(envp, sizeof envp, "%s/env.json", c->output);
		json_t *env = env_json(c->name, c->path, c->text, c->backends, c->nbackends);
		out_json(envp, env);
		json_decref(env);
	}
	r->out = open(r->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (r->out < 0) {
		hb_error("%s: %s", r->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- The jobs ---------------------------------------------------------------------- */

static void progress(size_t done, size_t total, const char *what, uint64_t start_ns)
{
	double el = (double)(os_now_ns() - start_ns) * 1e-9;
	char eta[32] = "?";
	if (done)
		snprintf(eta, sizeof eta, "%.0fs", el / (double)done * (double)(total - done));
	fprintf(stderr, "\r\033[K[%zu/%zu] %s  elapsed %.0fs  ETA %s", done + 1, total, what, el,
		eta);
	fflush(stderr);
}

/* Job k, its result appended to results.jsonl; -1 to stop (reported, or
 * interrupted). */
static int job_one(struct run *r, size_t k, struct replay_result *res)
{
	const struct job *j = &r->jobs[k];
	const struct config_trace *ct = &r->cfg->traces[j->trace];
	const struct backend_choice *b = &r->cfg->backends[j->backend];
	if (r->fds[j->trace] < 0 && (r->fds[j->trace] = job_trace_fd(r->traces[j->trace])) < 0)
		return -1;
	struct replay_config rcfg = backend_choice_config(b, &r->cfg->base);
	rcfg.copies = j->copies;
	if (b->fault)
		job_refuse(r->traces[j->trace], &rcfg, b->fault, res);
	else
		job_run(r->traces[j->trace], r->fds[j->trace], &rcfg, &r->cfg->limits, res);
	if (job_interrupted()) /* the worker died of our Ctrl-C: no result */
		return -1;
	if (r->cached[j->trace] && res->error_op != UINT64_MAX) {
		uint64_t line = trace_cache_line(ct->path, res->error_op);
		if (line) /* the cached image has no lines: the source has */
			res->error_line = line;
	}
	struct job_id id = {ct->name, ct->path, b->spec, &rcfg};
	json_t *o = result_json(&id, res);
	int rc = results_append(r->out, r->path, o);
	json_decref(o);
	return rc;
}

/* The trace of job k goes when its last job is done. */
static void trace_release(struct run *r, size_t k)
{
	size_t t = r->jobs[k].trace;
	for (size_t m = k + 1; m < r->njobs && r->jobs[m].trace == t; m++)
		if (!r->jobs[m].done)
			return;
	close(r->fds[t]);
	r->fds[t] = -1;
	trace_free(r->traces[t]);
	r->traces[t] = NULL;
}

/* Every job to do, Ctrl-C and SIGTERM ending the loop between jobs. */
static void jobs_run(struct run *r)
{
	struct sigaction old[HB_ARRAY_LEN(stop_signals)];
	job_signals_catch(stop_signals, HB_ARRAY_LEN(stop_signals), old);
	bool tty = isatty(2);
	uint64_t start = os_now_ns();
	struct replay_result *res = xcalloc(1, sizeof *res);
	for (size_t k = 0; k < r->njobs && !job_interrupted(); k++) {
		const struct job *j = &r->jobs[k];
		if (j->done)
			continue;
		char what[600], cp[32];
		snprintf(what, sizeof what, "%s x %s%s", r->cfg->traces[j->trace].name,
			 r->cfg->backends[j->backend].spec, copies_text(j, cp, sizeof cp));
		if (tty)
			progress(r->ran, r->todo, what, start);
		if (job_one(r, k, res) < 0)
			break;
		r->ran++;
		trace_release(r, k);
	}
	free(res);
	if (tty)
		fprintf(stderr, "\r\033[K");
	job_signals_restore(stop_signals, HB_ARRAY_LEN(stop_signals), old);
}

/* ---- After the jobs ------------------------------------------------------------------ */

/* The config's regression gate, the same as heapbench compare: what
 * compare_runs returns, or -1 when the baseline cannot be read. */
static int gate(const struct config *c, const json_t *done, const char *path)
{
	json_t *base = compare_load(c->baseline);
	if (!base) {
		hb_error("regression: baseline %s cannot be read (for configs/ci.yaml, "
			 "`make ci-baseline` makes it)",
			 c->baseline);
		return -1;
	}
	struct compare_opts co;
	compare_opts_init(&co);
	memcpy(co.max_drop, c->max_drop, sizeof co.max_drop);
	co.fail_on = c->fail_on;
	co.baseline_name = c->baseline;
	co.new_name = path;
	printf("\nregression check against %s:\n", c->baseline);
	int crc = compare_runs(base, done, &co, stdout);
	json_decref(base);
	return crc;
}

/* The tables from results.jsonl itself, the gate, the charts: the exit
 * status. */
static int run_report(struct run *r)
{
	const struct config *c = r->cfg;
	json_decref(r->done);
	if (!(r->done = results_read(r->path)))
		return HB_EXIT_USAGE;
	const char **names = xcalloc(c->nbackends + 1, sizeof *names);
	for (size_t k = 0; k < c->nbackends; k++)
		names[k] = c->backends[k].spec;
	int wrc = summary_write(c->output, c->name, names, c->nbackends, r->done);
	free(names);
	if (wrc < 0)
		return HB_EXIT_USAGE;
	int rc = HB_EXIT_OK;
	size_t i;
	json_t *o;
	json_array_foreach(r->done, i, o)
	{
		if (!res_ok(o))
			rc = HB_EXIT_FAIL;
	}
	if (c->has_regression && r->opt->compare) {
		int grc = gate(c, r->done, r->path);
		if (grc < 0)
			rc = HB_EXIT_USAGE;
		else if (grc != 0 && rc == HB_EXIT_OK)
			rc = grc == 1 ? HB_EXIT_FAIL : HB_EXIT_USAGE;
	}
	/* charts are extra: without gnuplot the results stand; a gnuplot
	 * that fails is an error */
	if (r->opt->plots && c->plots && json_array_size(r->done)) {
		char charts[4200];
		snprintf(charts, sizeof charts, "%s/charts", c->output);
		if (plot_results(r->done, c->name, charts, c->plots) == PLOT_FAILED)
			rc = HB_EXIT_FAIL;
		else
			printf("\ncharts: %s\n", charts);
	}
	return rc;
}

static void run_free(struct run *r)
{
	if (r->out >= 0)
		close(r->out);
	json_decref(r->done);
	for (size_t t = 0; t < r->cfg->ntraces; t++) {
		if (r->fds[t] >= 0)
			close(r->fds[t]);
		trace_free(r->traces[t]);
	}
	free(r->traces);
	free(r->fds);
	free(r->cached);
	free(r->jobs);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --dry-run: every trace opens and is a format heapbench reads, each file
 * looked at once however many entries name it. */
static int traces_recognised(const struct config *cfg)
{
	char **paths = xcalloc(cfg->ntraces + 1, sizeof *paths);
	for (size_t t = 0; t < cfg->ntraces; t++)
		paths[t] = cfg->traces[t].path;
	qsort(paths, cfg->ntraces, sizeof *paths, by_path);
	int rc = HB_EXIT_OK;
	for (size_t t = 0; t < cfg->ntraces; t++)
		if ((t == 0 || strcmp(paths[t], paths[t - 1])) && !trace_recognise(paths[t]))
			rc = HB_EXIT_USAGE;
	free(paths);
	return rc;
}

int suite_run(const struct config *cfg, const struct suite_opts *o)
{
	HB_ASSERT(o->shard_i >= 1 && o->shard_i <= o->shard_n);
	struct run r = {.cfg = cfg, .opt = o, .out = -1};
	plan_make(&r);
	backend_heap_limit_note(cfg->backends, cfg->nbackends, cfg->base.heap_limit);
	if (o->dry_run) {
		plan_print(&r);
		free(r.jobs);
		return traces_recognised(cfg);
	}
	r.traces = xcalloc(cfg->ntraces + 1, sizeof *r.traces);
	r.fds = xcalloc(cfg->ntraces + 1, sizeof *r.fds);
	r.cached = xcalloc(cfg->ntraces + 1, sizeof *r.cached);
	for (size_t t = 0; t < cfg->ntraces; t++)
		r.fds[t] = -1;
	int rc = HB_EXIT_USAGE;
	if (run_open(&r) == 0) {
		jobs_run(&r);
		if (job_interrupted()) {
			hb_error("interrupted after %zu of %zu jobs; `heapbench run %s -o %s "
				 "--resume` goes on",
				 r.ran, r.todo, cfg->path, cfg->output);
			rc = 128 + job_interrupted();
		} else {
			rc = run_report(&r);
		}
	}
	run_free(&r);
	return rc;
}
