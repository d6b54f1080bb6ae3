/*
 * tools.c - what `heapbench trace` does with a file (tools.h): each
 * function loads, checks or writes through the modules of trace/ and
 * prints its result.
 */
#include "trace/tools.h"

#include <errno.h>
#include <inttypes.h>
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

int trace_convert(const char *in, const char *out)
{
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
