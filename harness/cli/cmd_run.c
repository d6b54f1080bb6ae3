/*
 * cmd_run.c - `heapbench run CONFIG [-o DIR] [--resume] [--shard I/N]
 * [--dry-run] [--no-plots]`: a suite from a YAML config (config.h).
 *
 * The plan is every trace x every backend, trace by trace, in config order
 * (job k of the plan is the same on every machine, which is what --shard
 * relies on).  Jobs run one at a time, each in its worker (job.c), so no
 * timed pass shares the machine with anything heapbench starts.  Each
 * result is appended to DIR/results.jsonl and flushed to the disk as its
 * job ends; the tables (results.csv, summary.md, stdout) are made at the end
 * from results.jsonl itself, so they never disagree with it.  An
 * interrupted run leaves results.jsonl with at most a torn last line, which
 * --resume cuts off before it skips the jobs already there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonx.h"
#include "base/out.h"
#include "cli/cmd.h"
#include "host/os.h"
#include "replay/job.h"
#include "report/compare.h"
#include "report/plot.h"
#include "report/results.h"
#include "suite/config.h"
#include "trace/hbt.h"

static const char run_usage[] =
	"usage: heapbench run CONFIG.yaml [-o DIR] [--resume] [--shard I/N] [--dry-run]\n"
	"                     [--no-plots] [--no-compare]\n"
	"\n"
	"Runs every trace of the config against every backend, one job at a time,\n"
	"and writes DIR (default: the config's output): results.jsonl (a line per\n"
	"job, written as each ends), results.csv, summary.md and env.json.  The\n"
	"summary tables are printed too.\n"
	"\n"
	"  -o DIR        the run directory (instead of the config's output)\n"
	"  --resume      skip the jobs DIR/results.jsonl already holds\n"
	"  --shard I/N   run jobs I, I+N, I+2N, ... of the plan (1 <= I <= N); the\n"
	"                results.jsonl files of the N shards concatenate into one run\n"
	"  --dry-run     print the plan and stop\n"
	"  --no-plots    no charts (they go to DIR/charts: see heapbench plot)\n"
	"  --no-compare  skip the config's regression check (making a baseline)\n"
	"\n"
	"Exit status: 0 every job ok, 1 a job failed, 2 a bad config or trace.\n";

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct job {
	size_t trace, backend;
	bool done; /* in results.jsonl already */
};

/* ---- results.jsonl ------------------------------------------------------------ */

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
static bool has_result(const json_t *all, const char *trace, const char *backend)
{
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		if (!strcmp(result_str(o, "trace"), trace) &&
		    !strcmp(result_str(o, "backend"), backend))
			return true;
	}
	return false;
}

/* ---- Tables ----------------------------------------------------------------------- */

/* summary.md's text: per job, per backend, failures */
static void summary_text(struct buf *b, const struct config *c, const json_t *all)
{
	size_t i;
	json_t *o;
	buf_printf(b, "# heapbench run: %s\n\n", c->name);
	buf_printf(b, "| trace | backend | status | utilization | frag_peak | Mops/s |\n");
	buf_printf(b, "|---|---|---|---:|---:|---:|\n");
	json_array_foreach(all, i, o)
	{
		double u, f, m;
		bool ku = result_num(o, "utilization", &u), kf = result_num(o, "frag_peak", &f),
		     km = result_num(o, "mops", &m);
		char us[32] = "-", fs[32] = "-", ms[32] = "-";
		if (ku)
			snprintf(us, sizeof us, "%.1f%%", u * 100);
		if (kf)
			snprintf(fs, sizeof fs, "%.3f", f);
		if (km)
			snprintf(ms, sizeof ms, "%.2f", m);
		buf_printf(b, "| %s | %s | %s | %s | %s | %s |\n", result_str(o, "trace"),
			   result_str(o, "backend"), result_str(o, "status"), us, fs, ms);
	}
	buf_printf(
		b,
		"\nPer backend: mean utilization over its traces, geometric mean of Mops/s.\n\n");
	buf_printf(b, "| backend | jobs ok | mean utilization | geomean Mops/s |\n");
	buf_printf(b, "|---|---:|---:|---:|\n");
	for (size_t k = 0; k < c->nbackends; k++) {
		const char *name = c->backends[k].spec;
		double usum = 0, lsum = 0;
		size_t un = 0, ln = 0, okn = 0, all_n = 0;
		json_array_foreach(all, i, o)
		{
			if (strcmp(result_str(o, "backend"), name))
				continue;
			all_n++;
			if (strcmp(result_str(o, "status"), "ok"))
				continue;
			okn++;
			double u, m;
			bool ku = result_num(o, "utilization", &u), km = result_num(o, "mops", &m);
			if (ku)
				usum += u, un++;
			if (km && m > 0)
				lsum += log(m), ln++;
		}
		if (!all_n)
			continue;
		char us[32] = "-", ms[32] = "-";
		if (un)
			snprintf(us, sizeof us, "%.1f%%", usum / (double)un * 100);
		if (ln)
			snprintf(ms, sizeof ms, "%.2f", exp(lsum / (double)ln));
		buf_printf(b, "| %s | %zu/%zu | %s | %s |\n", name, okn, all_n, us, ms);
	}
	bool header = false;
	json_array_foreach(all, i, o)
	{
		if (!strcmp(result_str(o, "status"), "ok"))
			continue;
		if (!header)
			buf_printf(b, "\nFailed jobs:\n\n");
		header = true;
		json_t *op = json_object_get(o, "error_op");
		char where[64] = "";
		if (json_is_integer(op))
			snprintf(where, sizeof where, " at op %lld",
				 (long long)json_integer_value(op));
		buf_printf(b, "- %s x %s: %s%s: %s\n", result_str(o, "trace"),
			   result_str(o, "backend"), result_str(o, "status"), where,
			   result_str(o, "error"));
	}
}

static void csv_field(FILE *f, const char *s, bool last)
{
	if (strpbrk(s, ",\"\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputc(last ? '\n' : ',', f);
}

static const char *const csv_keys[] = {"trace",
				       "backend",
				       "status",
				       "ops",
				       "peak_live_bytes",
				       "peak_footprint_bytes",
				       "footprint_source",
				       "utilization",
				       "frag_peak",
				       "frag_at_peak_live",
				       "frag_mean",
				       "internal_frag_bytes",
				       "external_frag_bytes",
				       "peak_rss_bytes",
				       "mops",
				       "ns_per_op",
				       "seconds_min",
				       "seconds_max",
				       "error",
				       NULL};

static void write_csv(FILE *f, const json_t *all)
{
	for (int k = 0; csv_keys[k]; k++)
		csv_field(f, csv_keys[k], !csv_keys[k + 1]);
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		for (int k = 0; csv_keys[k]; k++) {
			json_t *v = json_object_get(o, csv_keys[k]);
			char s[64];
			const char *text = "";
			if (json_is_string(v))
				text = json_string_value(v);
			else if (json_is_integer(v))
				snprintf(s, sizeof s, "%lld", (long long)json_integer_value(v)),
					text = s;
			else if (json_is_real(v))
				snprintf(s, sizeof s, "%.17g", json_real_value(v)), text = s;
			csv_field(f, text, !csv_keys[k + 1]);
		}
	}
}

/* ---- env.json ----------------------------------------------------------------------- */

static json_t *environment(const struct config *c)
{
	json_t *e = json_object();
	char buf[512] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(buf, sizeof buf, "%s", strchr(line, ':') + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	json_object_set_new(e, "suite", jx_str(c->name));
	json_object_set_new(e, "cpu", jx_str(buf));
	json_object_set_new(e, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(buf, sizeof buf, "%s %s %s %s", u.sysname, u.release, u.version,
			 u.machine);
		json_object_set_new(e, "kernel", jx_str(buf));
		json_object_set_new(e, "host", jx_str(u.nodename));
	}
	json_object_set_new(e, "compiler", jx_str(__VERSION__));
	json_object_set_new(e, "heapbench", jx_str(HB_VERSION));
	json_object_set_new(e, "git_commit", jx_str(HB_GIT));
	time_t now = time(NULL);
	struct tm tm;
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_object_set_new(e, "started", jx_str(buf));
	json_t *versions = json_object();
	/* every backend was started once when the config was checked */
	for (size_t i = 0; i < c->nbackends; i++)
		json_object_set_new(versions, c->backends[i].spec, jx_str(c->backends[i].version));
	json_object_set_new(e, "backends", versions);
	json_object_set_new(e, "config_path", jx_str(c->path));
	json_object_set_new(e, "config", jx_str(c->text));
	return e;
}

static int mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

/* ---- The trace cache --------------------------------------------------------------- */

/* Text and compressed traces are kept, parsed, as plain .hbt files in
 * ${XDG_CACHE_HOME:-~/.cache}/heapbench/, named by a hash of the source
 * file's bytes: the next run maps the cached file instead of parsing
 * (a .hbt needs no parsing) and its workers read it directly.  A cache
 * that cannot be written is no cache, not an error. */
static bool cache_dir(char *out, size_t len)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n = x && *x         ? snprintf(out, len, "%s/heapbench", x)
		: home && *home ? snprintf(out, len, "%s/.cache/heapbench", home)
				: -1;
	return n > 0 && (size_t)n < len && mkdirs(out) == 0;
}

/* FNV-1a over the file's bytes, and its size: the cache key. */
static bool content_key(const char *path, char *out, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint64_t h = 0xcbf29ce484222325ull, size = 0;
	static unsigned char chunk[1 << 16];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ chunk[i]) * 0x100000001b3ull;
		size += (uint64_t)n;
	}
	close(fd);
	snprintf(out, len, "%016llx-%llu", (unsigned long long)h, (unsigned long long)size);
	return n == 0;
}

static struct trace *load_plain(const char *path, bool quiet)
{
	struct diag d;
	diag_init(&d, path, false);
	d.quiet = quiet;
	struct trace *t = trace_load_verified(path, &d);
	diag_finish(&d);
	return t;
}

/* The trace at path, through the cache; *cached says it came from there
 * (so it has no source lines: the caller reads them again on an error). */
static struct trace *load_trace(const char *path, bool *cached)
{
	*cached = false;
	char magic[HBT_MAGIC_LEN] = {0}, dir[4096], key[64], file[4200];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool plain = fd >= 0 && read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
		     !memcmp(magic, HBT_MAGIC, HBT_MAGIC_LEN);
	if (fd >= 0)
		close(fd);
	if (plain || !cache_dir(dir, sizeof dir) || !content_key(path, key, sizeof key))
		return load_plain(path, false); /* a plain .hbt is mapped, not parsed */
	snprintf(file, sizeof file, "%s/%s.hbt", dir, key);
	struct trace *t = access(file, R_OK) == 0 ? load_plain(file, true) : NULL;
	if (t) {
		*cached = true;
		return t;
	}
	if ((t = load_plain(path, false)))
		trace_write(t, file); /* by its name: a plain .hbt */
	return t;
}

/* ---- Progress ------------------------------------------------------------------------ */

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

/* ---- The command ------------------------------------------------------------------------ */

static int parse_shard(const char *s, unsigned *i, unsigned *n)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10);
	if (end == s || *end != '/')
		return -1;
	const char *t = end + 1;
	unsigned long b = strtoul(t, &end, 10);
	if (end == t || *end || a < 1 || b < 1 || a > b || b > 1000000)
		return -1;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"resume", no_argument, NULL, 'r'},
		{"shard", required_argument, NULL, 's'},  {"dry-run", no_argument, NULL, 'd'},
		{"no-plots", no_argument, NULL, 'p'},     {"no-compare", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},         {0}};
	const char *outdir = NULL;
	bool resume = false, dry = false, plots = true, compare = true;
	unsigned shard_i = 1, shard_n = 1;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outdir = optarg; break;
		case 'r': resume = true; break;
		case 'd': dry = true; break;
		case 'p': plots = false; break;
		case 'c': compare = false; break;
		case 's':
			if (parse_shard(optarg, &shard_i, &shard_n) < 0) {
				hb_error("run: --shard takes I/N with 1 <= I <= N, not '%s'",
					 optarg);
				return HB_EXIT_USAGE;
			}
			break;
		case 'h': fputs(run_usage, stdout); return HB_EXIT_OK;
		default: fputs(run_usage, stderr); return HB_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		hb_error(optind >= argc ? "run: no config given" : "run: one config at a time");
		return HB_EXIT_USAGE;
	}
	struct config *cfg = config_load(argv[optind]);
	if (!cfg)
		return HB_EXIT_USAGE;
	if (outdir) {
		free(cfg->output);
		cfg->output = xstrdup(outdir);
	}

	/* the plan, and this shard's part of it */
	size_t njobs = cfg->ntraces * cfg->nbackends, mine = 0;
	struct job *jobs = xcalloc(njobs ? njobs : 1, sizeof *jobs);
	for (size_t t = 0; t < cfg->ntraces; t++)
		for (size_t b = 0; b < cfg->nbackends; b++)
			jobs[t * cfg->nbackends + b] = (struct job){t, b, false};
	for (size_t k = 0; k < njobs; k++)
		mine += k % shard_n == shard_i - 1;
	if (dry) {
		printf("suite %s: %zu traces x %zu backends = %zu jobs", cfg->name, cfg->ntraces,
		       cfg->nbackends, njobs);
		if (shard_n > 1)
			printf(", shard %u/%u runs %zu", shard_i, shard_n, mine);
		printf("; output %s\n", cfg->output);
		printf("repeat %u, check %s, heap_check %llu, latency %s, timeout %gs\n",
		       cfg->base.repeat, replay_check_names[cfg->base.check],
		       (unsigned long long)cfg->base.heap_check_every,
		       cfg->base.latency ? "yes" : "no", cfg->timeout);
		for (size_t k = 0; k < njobs; k++)
			if (k % shard_n == shard_i - 1)
				printf("job %zu: %s x %s  (%s)\n", k + 1,
				       cfg->traces[jobs[k].trace].name,
				       cfg->backends[jobs[k].backend].spec,
				       cfg->traces[jobs[k].trace].path);
		config_free(cfg);
		free(jobs);
		return HB_EXIT_OK;
	}

	int rc = HB_EXIT_USAGE;
	char path[4200], csvp[4200], mdp[4200], envp[4200];
	snprintf(path, sizeof path, "%s/results.jsonl", cfg->output);
	snprintf(csvp, sizeof csvp, "%s/results.csv", cfg->output);
	snprintf(mdp, sizeof mdp, "%s/summary.md", cfg->output);
	snprintf(envp, sizeof envp, "%s/env.json", cfg->output);
	struct trace **traces = xcalloc(cfg->ntraces, sizeof *traces);
	int *fds = xcalloc(cfg->ntraces, sizeof *fds);
	bool *cached = xcalloc(cfg->ntraces, sizeof *cached);
	for (size_t t = 0; t < cfg->ntraces; t++)
		fds[t] = -1;
	json_t *done = NULL;
	int out = -1;
	if (mkdirs(cfg->output) < 0) {
		hb_error("%s: %s", cfg->output, strerror(errno));
		goto end;
	}
	struct stat st;
	if (!resume && stat(path, &st) == 0 && st.st_size > 0) {
		hb_error("%s already holds results: --resume continues that run, or choose another "
			 "-o",
			 path);
		goto end;
	}
	if (cut_torn_tail(path) < 0 || !(done = results_read(path)))
		goto end;
	size_t todo = 0;
	for (size_t k = 0; k < njobs; k++) {
		struct job *j = &jobs[k];
		j->done = k % shard_n != shard_i - 1 || has_result(done, cfg->traces[j->trace].name,
								   cfg->backends[j->backend].spec);
		todo += !j->done;
	}
	/* every trace a job needs is read and checked before any job runs */
	for (size_t t = 0; t < cfg->ntraces; t++) {
		bool needed = false;
		for (size_t b = 0; b < cfg->nbackends; b++)
			needed |= !jobs[t * cfg->nbackends + b].done;
		if (!needed)
			continue;
		if (!(traces[t] = load_trace(cfg->traces[t].path, &cached[t])))
			goto end;
	}
	if (!resume || !done || json_array_size(done) == 0) {
		json_t *env = environment(cfg);
		out_json(envp, env);
		json_decref(env);
	}
	out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (out < 0) {
		hb_error("%s: %s", path, strerror(errno));
		goto end;
	}

	struct sigaction sa = {.sa_handler = on_interrupt}, oldint, oldterm;
	sigaction(SIGINT, &sa, &oldint);
	sigaction(SIGTERM, &sa, &oldterm);
	bool tty = isatty(2);
	uint64_t start = os_now_ns();
	struct replay_result *res = xcalloc(1, sizeof *res);
	size_t ran = 0;
	for (size_t k = 0; k < njobs && !interrupted; k++) {
		struct job *j = &jobs[k];
		if (j->done)
			continue;
		const struct config_trace *ct = &cfg->traces[j->trace];
		const struct backend_choice *b = &cfg->backends[j->backend];
		char what[600];
		snprintf(what, sizeof what, "%s x %s", ct->name, b->spec);
		if (tty)
			progress(ran, todo, what, start);
		if (fds[j->trace] < 0 && (fds[j->trace] = job_trace_fd(traces[j->trace])) < 0)
			break;
		struct replay_config rcfg = backend_choice_config(b, &cfg->base);
		job_run(traces[j->trace], fds[j->trace], &rcfg, cfg->timeout, res);
		if (interrupted) /* the worker died of our Ctrl-C: no result */
			break;
		if (cached[j->trace] && res->error_op != UINT64_MAX) {
			/* the cached image has no lines: the source has */
			struct trace *src = load_plain(ct->path, true);
			if (src)
				res->error_line = trace_line(src, res->error_op);
			trace_free(src);
		}
		struct job_id id = {ct->name, ct->path, b->spec, &rcfg};
		json_t *o = result_json(&id, res);
		char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		size_t len = strlen(line);
		line[len] = '\n'; /* json_dumps leaves room: the NUL */
		ssize_t w = write(out, line, len + 1);
		free(line);
		if (w != (ssize_t)len + 1 || fdatasync(out) < 0) {
			hb_error("%s: %s", path, strerror(errno));
			break;
		}
		ran++;
		/* the trace's descriptor goes when its last job is done */
		bool more = false;
		for (size_t m = k + 1; m < njobs && jobs[m].trace == j->trace; m++)
			more |= !jobs[m].done;
		if (!more) {
			close(fds[j->trace]);
			fds[j->trace] = -1;
			trace_free(traces[j->trace]);
			traces[j->trace] = NULL;
		}
	}
	free(res);
	if (tty)
		fprintf(stderr, "\r\033[K");
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	if (interrupted) {
		hb_error("interrupted after %zu of %zu jobs; `heapbench run %s -o %s --resume` "
			 "goes on",
			 ran, todo, cfg->path, cfg->output);
		rc = 130;
		goto end;
	}

	/* the tables, from results.jsonl itself */
	json_decref(done);
	if (!(done = results_read(path)))
		goto end;
	struct buf md = {0};
	summary_text(&md, cfg, done);
	fwrite(md.data, 1, md.len, stdout);
	fflush(stdout);
	int wrc = out_file(mdp, md.data, md.len);
	buf_free(&md);
	char *csvbuf = NULL;
	size_t csvlen = 0;
	FILE *mem = open_memstream(&csvbuf, &csvlen);
	write_csv(mem, done);
	fclose(mem);
	wrc |= out_file(csvp, csvbuf, csvlen);
	free(csvbuf);
	if (wrc < 0)
		goto end;
	rc = HB_EXIT_OK;
	size_t i;
	json_t *o;
	json_array_foreach(done, i, o)
	{
		if (strcmp(result_str(o, "status"), "ok"))
			rc = HB_EXIT_FAIL;
	}
	/* the config's regression gate: the same as heapbench compare */
	if (cfg->has_regression && compare) {
		json_t *base = compare_load(cfg->baseline);
		if (!base) {
			hb_error("regression: baseline %s cannot be read (for configs/ci.yaml, "
				 "`make ci-baseline` makes it)",
				 cfg->baseline);
			rc = HB_EXIT_USAGE;
		} else {
			struct compare_opts co = {.utilization = -1,
						  .frag_peak = -1,
						  .mops = -1,
						  .fail_on = cfg->fail_on,
						  .baseline_name = cfg->baseline,
						  .new_name = path};
			for (size_t k = 0; k < cfg->ndrops; k++) {
				const char *m = cfg->drops[k].metric;
				double *slot = !strcmp(m, "utilization") ? &co.utilization
					       : !strcmp(m, "frag_peak") ? &co.frag_peak
									 : &co.mops;
				*slot = cfg->drops[k].fraction;
			}
			printf("\nregression check against %s:\n", cfg->baseline);
			int crc = compare_runs(base, done, &co, stdout);
			json_decref(base);
			if (crc != 0 && rc == HB_EXIT_OK)
				rc = crc == 1 ? HB_EXIT_FAIL : HB_EXIT_USAGE;
		}
	}
	/* charts are extra: without gnuplot the results stand; a gnuplot
	 * that fails is an error */
	if (plots && cfg->plots && json_array_size(done)) {
		char charts[4200];
		snprintf(charts, sizeof charts, "%s/charts", cfg->output);
		if (plot_results(done, cfg->name, charts, cfg->plots) == PLOT_FAILED)
			rc = HB_EXIT_FAIL;
		else
			printf("\ncharts: %s\n", charts);
	}
end:
	if (out >= 0)
		close(out);
	json_decref(done);
	for (size_t t = 0; t < cfg->ntraces; t++) {
		if (fds[t] >= 0)
			close(fds[t]);
		trace_free(traces[t]);
	}
	free(traces);
	free(fds);
	free(cached);
	free(jobs);
	config_free(cfg);
	return rc;
}
