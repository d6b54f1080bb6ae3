/*
 * compare.c - the regression gate (compare.h).
 */
#include "report/compare.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/out.h"
#include "base/util.h"
#include "replay/replay.h"
#include "report/results.h"

void compare_opts_init(struct compare_opts *o)
{
	*o = (struct compare_opts){0};
	for (int f = 0; f < RES_NFIELDS; f++)
		o->max_drop[f] = -1;
}

int compare_parse_drop(struct compare_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[64];
	int f = -1;
	if (eq && (size_t)(eq - arg) < sizeof name) {
		snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
		f = res_field_find(name);
	}
	char *end = NULL;
	double v = eq ? strtod(eq + 1, &end) : -1;
	if (f < 0 || res_fields[f].gate == RES_GATE_NONE || end == eq + 1 || *end ||
	    !(v >= 0 && v <= 100)) {
		struct buf takes = {0};
		for (size_t k = 0; res_gate_names[k]; k++)
			buf_printf(&takes, "%s%s=F",
				   !k                      ? ""
				   : res_gate_names[k + 1] ? ", "
							   : " or ",
				   res_gate_names[k]);
		hb_error("compare: --max-drop takes %s with F a fraction (0.01 = 1%%), not '%s'",
			 takes.data, arg);
		buf_free(&takes);
		return -1;
	}
	o->max_drop[f] = v;
	return 0;
}

json_t *compare_load(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		hb_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	char file[4200];
	snprintf(file, sizeof file, S_ISDIR(st.st_mode) ? "%s/results.jsonl" : "%s", path);
	if (S_ISDIR(st.st_mode) && stat(file, &st) < 0) {
		hb_error("%s: no results.jsonl in this run directory", path);
		return NULL;
	}
	json_t *all = results_read(file);
	if (all && json_array_size(all) == 0) {
		/* nothing compared is no pass: a gate must not open on it */
		hb_error("%s: holds no job results, so nothing can be compared", file);
		json_decref(all);
		return NULL;
	}
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		if (!json_is_string(res_get(o, RES_TRACE)) ||
		    !json_is_string(res_get(o, RES_BACKEND)) ||
		    !json_is_string(res_get(o, RES_STATUS))) {
			hb_error("%s:%zu: a job result needs trace, backend and status", file,
				 i + 1);
			json_decref(all);
			return NULL;
		}
	}
	return all;
}

struct row {
	const char *trace, *backend;
	char label[160]; /* backend, and how it replayed when not serially */
	char *opts;      /* canonical JSON of the options */
	const json_t *b, *n;
	bool regression;
	char why[512];
};

/* Whether two jobs replayed alike: the same threads mode and copies. */
static bool same_shape(const json_t *x, const json_t *y)
{
	return res_recorded(x) == res_recorded(y) && res_copies(x) == res_copies(y);
}

/* "jemalloc", "jemalloc (2 copies)", "jemalloc (recorded, 2 copies)" */
static void label_of(struct row *r, const json_t *o)
{
	unsigned k = res_copies(o);
	bool rec = res_recorded(o);
	if (k > 1)
		snprintf(r->label, sizeof r->label, "%s (%s%u copies)", r->backend,
			 rec ? "recorded, " : "", k);
	else
		snprintf(r->label, sizeof r->label, rec ? "%s (recorded)" : "%s", r->backend);
}

static char *options_of(const json_t *o)
{
	const json_t *opts = res_get(o, RES_OPTIONS);
	return opts ? json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
}

/* The min-max Mops/s of the timed passes. */
static bool mops_range(const json_t *o, double *lo, double *hi)
{
	double ops, smin, smax;
	if (!res_num(o, RES_OPS, &ops) || !res_num(o, RES_SECONDS_MIN, &smin) ||
	    !res_num(o, RES_SECONDS_MAX, &smax) || smin <= 0 || smax <= 0)
		return false;
	*lo = ops / smax / 1e6;
	*hi = ops / smin / 1e6;
	return true;
}

static void add_why(struct row *r, const char *fmt, ...) HB_PRINTF(2, 3);
static void add_why(struct row *r, const char *fmt, ...)
{
	size_t n = strlen(r->why);
	if (n && n < sizeof r->why - 2)
		n += (size_t)snprintf(r->why + n, sizeof r->why - n, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why + n, sizeof r->why - n, fmt, ap);
	va_end(ap);
	r->regression = true;
}

static int status_of(const char *s)
{
	int i = replay_name_find(replay_status_names, s);
	return i < 0 ? JOB_ERROR : i;
}

/* ---- The gates (fields.h's gate column): one rule each --------------------------------- */

/* EXACT: a relative drop; by default any drop when both runs measured the
 * deterministic simulated heap, otherwise only when asked. */
static void gate_exact(struct row *r, enum res_field f, double t)
{
	bool exact = !strcmp(res_str(r->b, RES_FOOTPRINT_SOURCE), "simulated-heap") &&
		     !strcmp(res_str(r->n, RES_FOOTPRINT_SOURCE), "simulated-heap");
	double ut = t >= 0 ? t : exact ? 0 : -1, ub, un;
	if (ut >= 0 && res_num(r->b, f, &ub) && res_num(r->n, f, &un) && ub > 0 &&
	    (ub - un) / ub > ut + 1e-12)
		add_why(r, "%s dropped %.3f%% (%.6f -> %.6f; allowed %.3f%%)", res_fields[f].name,
			100 * (ub - un) / ub, ub, un, 100 * ut);
}

/* FRAG: the growth of the footprint per live byte, 1 + value. */
static void gate_frag(struct row *r, enum res_field f, double t)
{
	double fb, fn;
	if (t >= 0 && res_num(r->b, f, &fb) && res_num(r->n, f, &fn) &&
	    (1 + fn) / (1 + fb) - 1 > t + 1e-12)
		add_why(r,
			"footprint per live byte grew %.3f%% (%s %.6f -> %.6f; allowed "
			"%.3f%%)",
			100 * ((1 + fn) / (1 + fb) - 1), res_fields[f].name, fb, fn, 100 * t);
}

/* NOISY: a relative drop that the min-max ranges of the timed passes
 * confirm: noise is not a regression. */
static void gate_noisy(struct row *r, enum res_field f, double t)
{
	double mb, mn, blo, bhi, nlo, nhi;
	if (t >= 0 && res_num(r->b, f, &mb) && res_num(r->n, f, &mn) && mb > 0 &&
	    (mb - mn) / mb > t && mops_range(r->b, &blo, &bhi) && mops_range(r->n, &nlo, &nhi) &&
	    nhi < blo)
		add_why(r,
			"Mops/s dropped %.1f%% (%.3f -> %.3f; ranges %.3f-%.3f and %.3f-%.3f do "
			"not "
			"overlap; allowed %.1f%%)",
			100 * (mb - mn) / mb, mb, mn, blo, bhi, nlo, nhi, 100 * t);
}

static void judge(struct row *r, const struct compare_opts *o)
{
	if (!r->n) {
		add_why(r, "missing from the new run");
		return;
	}
	const char *sn = res_str(r->n, RES_STATUS);
	bool ok_b = res_ok(r->b), ok_n = res_ok(r->n);
	if (ok_b && !ok_n) {
		add_why(r, "was ok, now %s: %s", sn, res_str(r->n, RES_ERROR));
		return;
	}
	if (!ok_n && (o->fail_on >> status_of(sn) & 1)) {
		add_why(r, "%s: %s", sn, res_str(r->n, RES_ERROR));
		return;
	}
	if (!ok_b || !ok_n)
		return;
	for (int f = 0; f < RES_NFIELDS; f++) {
		switch (res_fields[f].gate) {
		case RES_GATE_NONE: break;
		case RES_GATE_EXACT: gate_exact(r, f, o->max_drop[f]); break;
		case RES_GATE_FRAG: gate_frag(r, f, o->max_drop[f]); break;
		case RES_GATE_NOISY: gate_noisy(r, f, o->max_drop[f]); break;
		}
	}
}

/* "0.9512 -> 0.9312 (-2.10%)", or what is known */
static void pair(char *buf, size_t len, const struct row *r, enum res_field f, double scale,
		 const char *fmt)
{
	double b = 0, n = 0;
	bool hb = res_num(r->b, f, &b), hn = res_num(r->n, f, &n);
	char sb[32] = "-", sn[32] = "-";
	if (hb)
		snprintf(sb, sizeof sb, fmt, b * scale);
	if (hn)
		snprintf(sn, sizeof sn, fmt, n * scale);
	if (hb && hn && b != 0)
		snprintf(buf, len, "%s -> %s (%+.2f%%)", sb, sn, 100 * (n - b) / fabs(b));
	else
		snprintf(buf, len, "%s -> %s", sb, sn);
}

/* A row's three metrics as "base -> new (delta)": precise for the JUnit
 * report's record, short for the tables a person reads. */
struct cells {
	char util[96], frag[96], mops[96];
};

static void cells_of(const struct row *r, bool precise, struct cells *c)
{
	pair(c->util, sizeof c->util, r, RES_UTILIZATION, 100, precise ? "%.4f%%" : "%.2f%%");
	pair(c->frag, sizeof c->frag, r, RES_FRAG_PEAK, 1, precise ? "%.6f" : "%.4f");
	pair(c->mops, sizeof c->mops, r, RES_MOPS, 1, precise ? "%.3f" : "%.2f");
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if ((unsigned char)*s >= 32 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

static const char *verdict(const struct row *r)
{
	return r->regression ? "REGRESSION" : !r->b ? "new" : "ok";
}

/* A report built in memory and written whole (out_file). */
static FILE *report_open(char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	if (!f)
		hb_oom();
	return f;
}

static int report_close(FILE *f, char **buf, size_t *len, const char *path)
{
	fclose(f);
	int rc = out_file(path, *buf, *len);
	free(*buf);
	return rc;
}

static int write_junit(const char *path, const struct row *rows, size_t n, size_t fails)
{
	char *buf;
	size_t len;
	FILE *f = report_open(&buf, &len);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites name=\"heapbench compare\" tests=\"%zu\" failures=\"%zu\">\n", n,
		fails);
	fprintf(f,
		"  <testsuite name=\"heapbench\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
		"skipped=\"0\">\n",
		n, fails);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct cells c;
		cells_of(r, true, &c);
		fputs("    <testcase classname=\"heapbench.", f);
		xml_text(f, r->trace);
		fputs("\" name=\"", f);
		xml_text(f, r->label);
		if (strcmp(r->opts, "{}")) {
			fputc(' ', f);
			xml_text(f, r->opts);
		}
		fputs("\" time=\"0\">\n", f);
		if (r->regression) {
			fputs("      <failure message=\"", f);
			xml_text(f, r->why);
			fputs("\" type=\"regression\">", f);
			fprintf(f, "utilization %s\nfrag_peak %s\nMops/s %s\n", c.util, c.frag,
				c.mops);
			fputs("</failure>\n", f);
		} else {
			fputs("      <system-out>", f);
			fprintf(f, "%sutilization %s; frag_peak %s; Mops/s %s",
				r->b ? "" : "new job; ", c.util, c.frag, c.mops);
			fputs("</system-out>\n", f);
		}
		fputs("    </testcase>\n", f);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	return report_close(f, &buf, &len, path);
}

static int write_markdown(const char *path, const struct row *rows, size_t n, size_t fails,
			  const struct compare_opts *o)
{
	char *buf;
	size_t len;
	FILE *f = report_open(&buf, &len);
	fprintf(f, "### heapbench: %s\n\n", fails ? "regressions found" : "no regression");
	fprintf(f, "Baseline `%s`, new `%s`: %zu jobs, %zu regressions.\n\n",
		o->baseline_name ? o->baseline_name : "baseline", o->new_name ? o->new_name : "new",
		n, fails);
	fprintf(f, "| trace | backend | utilization | frag_peak | Mops/s | verdict |\n");
	fprintf(f, "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct cells c;
		cells_of(r, false, &c);
		fprintf(f, "| %s | %s | %s | %s | %s | %s%s%s |\n", r->trace, r->label, c.util,
			c.frag, c.mops, verdict(r), r->regression ? ": " : "",
			r->regression ? r->why : "");
	}
	return report_close(f, &buf, &len, path);
}

int compare_runs(const json_t *baseline, const json_t *now, const struct compare_opts *o, FILE *out)
{
	size_t nb = json_array_size(baseline), nn = json_array_size(now), n = 0;
	struct row *rows = xcalloc(nb + nn + 1, sizeof *rows);
	bool *used = xcalloc(nn + 1, sizeof *used);
	char **nopts = xcalloc(nn + 1, sizeof *nopts);
	for (size_t j = 0; j < nn; j++)
		nopts[j] = options_of(json_array_get(now, j));
	for (size_t i = 0; i < nb; i++) {
		const json_t *b = json_array_get(baseline, i);
		struct row *r = &rows[n++];
		*r = (struct row){.trace = res_str(b, RES_TRACE),
				  .backend = res_str(b, RES_BACKEND),
				  .opts = options_of(b),
				  .b = b};
		label_of(r, b);
		for (size_t j = 0; j < nn; j++) {
			const json_t *x = json_array_get(now, j);
			if (!used[j] && !strcmp(res_str(x, RES_TRACE), r->trace) &&
			    !strcmp(res_str(x, RES_BACKEND), r->backend) &&
			    !strcmp(nopts[j], r->opts) && same_shape(x, b)) {
				r->n = x;
				used[j] = true;
				break;
			}
		}
	}
	for (size_t j = 0; j < nn; j++)
		if (!used[j]) {
			const json_t *x = json_array_get(now, j);
			struct row *r = &rows[n++];
			*r = (struct row){.trace = res_str(x, RES_TRACE),
					  .backend = res_str(x, RES_BACKEND),
					  .opts = xstrdup(nopts[j]),
					  .n = x};
			label_of(r, x);
		}
	size_t fails = 0, fresh = 0;
	for (size_t i = 0; i < n; i++) {
		judge(&rows[i], o);
		fails += rows[i].regression;
		fresh += !rows[i].b;
	}

	fprintf(out, "%-24s %-20s %-32s %-30s %-30s %s\n", "trace", "backend", "utilization",
		"frag_peak", "Mops/s", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct cells c;
		cells_of(r, false, &c);
		fprintf(out, "%-24s %-20s %-32s %-30s %-30s %s\n", r->trace, r->label, c.util,
			c.frag, c.mops, verdict(r));
	}
	fprintf(out, "\n%zu jobs compared, %zu new, %zu regression%s\n", n - fresh, fresh, fails,
		fails == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		if (rows[i].regression)
			fprintf(out, "  %s x %s: %s\n", rows[i].trace, rows[i].label, rows[i].why);
	int rc = fails ? 1 : 0;
	if (o->junit && write_junit(o->junit, rows, n, fails) < 0)
		rc = 2;
	if (o->markdown && write_markdown(o->markdown, rows, n, fails, o) < 0)
		rc = 2;
	for (size_t i = 0; i < n; i++)
		free(rows[i].opts);
	for (size_t j = 0; j < nn; j++)
		free(nopts[j]);
	free(nopts);
	free(used);
	free(rows);
	return rc;
}
