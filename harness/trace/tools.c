/*
 * tools.c - what `heapbench trace` does with a file (tools.h): each
 * function loads, checks or writes through the modules of trace/ and
 * prints its result.
 */
#include "trace/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/gen.h"
#include "trace/stats.h"
#include "trace/trace.h"

int trace_stats_show(const char *path, bool json, bool separate)
{
	struct trace *t = trace_load_file(path, false);
	if (!t)
		return -1;
	struct trace_stats st;
	trace_compute_stats(t, &st);
	if (json) {
		json_t *o = trace_stats_json(t, &st);
		json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		if (separate)
			putchar('\n');
		trace_stats_print(t, &st);
	}
	fflush(stdout);
	trace_free(t);
	return 0;
}

/* Whether out names a directory: it ends in '/' or is one. */
static bool names_dir(const char *out)
{
	struct stat st;
	size_t n = strlen(out);
	return (n && out[n - 1] == '/') || (stat(out, &st) == 0 && S_ISDIR(st.st_mode));
}

/* The row of one process's trace in convert_processes's table. */
static void process_row(const char *file, const struct trace *t)
{
	struct trace_stats st;
	trace_compute_stats(t, &st);
	const char *pid = trace_meta_get(t, "pid"), *base = strrchr(file, '/');
	fprintf(stderr, "  %-28s %8s %12" PRIu64 " %8" PRIu32 " %16" PRIu64 "\n",
		base ? base + 1 : file, pid ? pid : "-", t->nops, t->nthreads, st.peak_live_bytes);
}

/* DIR/N-PID.hbt.zst, the file of t, the i-th process with ops. */
static void process_file(char *file, size_t len, const char *dir, int width, size_t i,
			 const struct trace *t)
{
	const char *pid = trace_meta_get(t, "pid");
	int n = snprintf(file, len, "%s/%0*zu%s%.24s.hbt.zst", dir, width, i, pid ? "-" : "",
			 pid ? pid : "");
	if (n < 0 || (size_t)n >= len) /* dir was checked: cannot happen */
		abort();
}

/* One trace per process of in, as `record` writes them: DIR/N-PID.hbt.zst
 * in the order of the processes' first calls (processes without an
 * allocation call have none).  All or nothing: a failed write removes the
 * files written before it. */
static int convert_processes(const char *in, const char *out)
{
	char dir[PATH_MAX];
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		n--;
	if (n >= sizeof dir - 64) {
		hb_error("%s: the path is too long", out);
		return -1;
	}
	memcpy(dir, out, n);
	dir[n] = '\0';
	struct diag d;
	diag_init(&d, in, false);
	struct trace *all = trace_load_processes(in, &d);
	diag_finish(&d);
	if (!all)
		return -1;
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		hb_error("%s: cannot create the directory: %s", dir, strerror(errno));
		trace_free(all);
		return -1;
	}
	size_t nt = 0, written = 0;
	for (const struct trace *t = all; t; t = t->next_process)
		nt += t->nops != 0;
	int width = nt >= 1000 ? 4 : nt >= 100 ? 3 : nt >= 10 ? 2 : 1, rc = 0;
	fprintf(stderr, "heapbench trace convert: %zu process%s\n", nt, nt == 1 ? "" : "es");
	fprintf(stderr, "  %-28s %8s %12s %8s %16s\n", "trace", "pid", "ops", "threads",
		"peak live bytes");
	char file[PATH_MAX];
	for (const struct trace *t = all; t && rc == 0; t = t->next_process) {
		if (!t->nops)
			continue;
		process_file(file, sizeof file, dir, width, written + 1, t);
		if ((rc = trace_write(t, file)) == 0) {
			written++;
			process_row(file, t);
		}
	}
	size_t k = 0; /* all or nothing */
	for (const struct trace *t = all; rc < 0 && t && k < written; t = t->next_process)
		if (t->nops) {
			process_file(file, sizeof file, dir, width, ++k, t);
			unlink(file);
		}
	trace_free(all);
	return rc;
}

int trace_convert(const char *in, const char *out)
{
	if (names_dir(out))
		return convert_processes(in, out);
	if (trace_check_out_name(out) < 0)
		return -1;
	struct trace *t = trace_load_file(in, false);
	if (!t)
		return -1;
	int rc = trace_write(t, out);
	trace_free(t);
	return rc;
}

int trace_lint(const char *path)
{
	struct stat st;
	bool ok = stat(path, &st) == 0 && access(path, R_OK) == 0;
	if (!ok || S_ISDIR(st.st_mode)) {
		hb_error("%s: cannot open: %s", path, ok ? "is a directory" : strerror(errno));
		return -1;
	}
	struct diag d;
	diag_init(&d, path, true);
	struct trace *t = trace_load(path, &d);
	if (t && t->format == TRACE_FMT_HBT)
		trace_verify(t, &d);
	if (d.errors == 0 && t)
		printf("%s: ok, %" PRIu64 " ops%s\n", path, t->nops,
		       d.warnings ? " (with warnings)" : "");
	else
		printf("%s: %lu problem%s\n", path, d.errors, d.errors == 1 ? "" : "s");
	trace_free(t);
	return d.errors ? 1 : 0;
}

int trace_gen_write(const char *pattern, uint64_t ops, uint64_t seed, uint64_t live,
		    const char *out)
{
	if (trace_check_out_name(out) < 0)
		return -1;
	struct trace *t = trace_generate_live(pattern, ops, seed, live);
	if (!t)
		return -1;
	free(t->path);
	t->path = xstrdup(out);
	int rc = trace_write(t, out);
	trace_free(t);
	return rc;
}
