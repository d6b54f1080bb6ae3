/*
 * plot.c - charts with gnuplot (plot.h).
 */
#include "report/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "report/results.h"

/* Tableau 10 and two more: distinct on screen and in print */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
				      "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
				      "#9c755f", "#bab0ac", "#17becf", "#8c564b"};
#define NPALETTE (sizeof palette / sizeof *palette)

#define PLOT_NAME_(bit, name) name,
const char *const plot_chart_names[PLOT_NCHARTS + 1] = {PLOT_CHART_LIST(PLOT_NAME_) NULL};
#undef PLOT_NAME_

struct grid {
	const char *suite, *dir;
	char **traces, **backends, **files; /* files: trace names made safe */
	size_t nt, nb;
	const json_t **job; /* [t * nb + b], or NULL: the job of fewest copies */
	const json_t *all;  /* every job (the scaling chart's copies) */
};

static const char *name_of(const json_t *o, enum res_field f)
{
	const char *s = res_str(o, f);
	return *s ? s : "?";
}

static size_t index_of(char ***names, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], name))
			return i;
	*names = xrealloc(*names, (*n + 1) * sizeof **names);
	(*names)[*n] = xstrdup(name);
	return (*n)++;
}

static const json_t *cell(const struct grid *g, size_t t, size_t b)
{
	return g->job[t * g->nb + b];
}

/* A gnuplot string literal: double quotes, with \ and " escaped */
static void gp_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void gp_array(FILE *f, const char *name, char **v, size_t n)
{
	fprintf(f, "array %s[%zu] = [", name, n);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		gp_string(f, v[i]);
	}
	fputs("]\n", f);
}

/* A trace name as an x label: lines of at most LABEL_WIDTH characters,
 * broken after a space, '-', '_', '.' or ',' where one is near, so that a
 * long name shows whole (and two long names stay apart). */
#define LABEL_WIDTH 18
static int gp_label(FILE *f, const char *s)
{
	size_t len = strlen(s), at = 0;
	int lines = 0;
	fputc('"', f);
	while (at < len) {
		size_t n = len - at;
		if (n > LABEL_WIDTH) {
			n = LABEL_WIDTH;
			for (size_t k = LABEL_WIDTH; k > LABEL_WIDTH / 2; k--)
				if (strchr(" -_.,;/", s[at + k - 1])) {
					n = k;
					break;
				}
		}
		if (lines++)
			fputs("\\n", f);
		for (size_t i = at; i < at + n; i++) {
			if (s[i] == '"' || s[i] == '\\')
				fputc('\\', f);
			fputc(s[i], f);
		}
		at += n;
		while (at < len && s[at] == ' ')
			at++;
	}
	fputc('"', f);
	return lines ? lines : 1;
}

/* Explicit x tics, one per trace at the cluster's place; returns the most
 * lines a label takes. */
static int trace_tics(FILE *f, const struct grid *g)
{
	int most = 1;
	fputs("  set xtics (", f);
	for (size_t t = 0; t < g->nt; t++) {
		if (t)
			fputs(", ", f);
		int lines = gp_label(f, g->traces[t]);
		most = lines > most ? lines : most;
		fprintf(f, " %zu", t);
	}
	fputs(") scale 0\n", f);
	return most;
}

/* Bars, the same look in every chart: histogram style kind. */
static void bars(FILE *f, const char *kind)
{
	fputs("  set style data histograms\n", f);
	fprintf(f, "  set style histogram %s\n", kind);
	fputs("  set style fill solid 0.9 border -1\n", f);
}

static FILE *open_in(const struct grid *g, const char *name, const char *ext)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s.%s", g->dir, name, ext);
	FILE *f = fopen(path, "w");
	if (!f)
		hb_error("%s: %s", path, strerror(errno));
	return f;
}

/* The start of every script: names, colours, and a loop drawing PNG then
 * SVG; the caller writes the plot commands and closes with plot_end. */
static void plot_begin(FILE *f, const struct grid *g, const char *name, int w, int h,
		       const char *title)
{
	fprintf(f, "# %s.gp - a chart of heapbench run '%s' (made by heapbench plot).\n", name,
		g->suite);
	fprintf(f, "# Restyle at will, then redraw %s.png and %s.svg: gnuplot %s.gp\n", name, name,
		name);
	gp_array(f, "BACKEND", g->backends, g->nb);
	gp_array(f, "TRACE", g->traces, g->nt); /* the .dat files' rows */
	fprintf(f, "array COLOUR[%zu] = [", g->nb);
	for (size_t i = 0; i < g->nb; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "", palette[i % NPALETTE]);
	fputs("]\n", f);
	fputs("set datafile missing \"?\"\n", f);
	fputs("set encoding utf8\n", f);
	fprintf(f, "set title ");
	gp_string(f, title);
	fputs(" font \",13\"\n", f);
	fputs("set key outside right top vertical Left reverse noenhanced\n", f);
	fputs("set grid ytics lc rgb \"#dddddd\"\n", f);
	fputs("set border 3\nset tics nomirror\n", f);
	fprintf(f, "do for [fmt in \"png svg\"] {\n");
	fprintf(f,
		"  if (fmt eq \"png\") { set terminal pngcairo size %d,%d font \"sans,10\" "
		"noenhanced }"
		" else { set terminal svg size %d,%d font \"sans,10\" noenhanced background "
		"\"white\" }\n",
		w, h, w, h);
	fprintf(f, "  set output \"%s.\".fmt\n", name);
}

/* Closes a chart's data file and opens its script, begun (plot_begin) with
 * a title from fmt: NULL (reported) if either failed, a data file cut short
 * included. */
static FILE *script_after(const struct grid *g, FILE *dat, const char *name, int w, int h,
			  const char *fmt, ...) HB_PRINTF(6, 7);
static FILE *script_after(const struct grid *g, FILE *dat, const char *name, int w, int h,
			  const char *fmt, ...)
{
	if (fclose(dat) != 0) {
		hb_error("%s/%s.dat: %s", g->dir, name, strerror(errno));
		return NULL;
	}
	FILE *f = open_in(g, name, "gp");
	if (f) {
		char title[640];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(title, sizeof title, fmt, ap);
		va_end(ap);
		plot_begin(f, g, name, w, h, title);
	}
	return f;
}

static void plot_end(FILE *f)
{
	fputs("  unset output\n}\n", f);
}

/* Bars per trace, one per backend: value columns from fn. */
static int grouped(const struct grid *g, const char *name, const char *title, const char *ylabel,
		   bool logy, const char *yrange,
		   bool (*fn)(const json_t *o, double *v, double *lo, double *hi))
{
	FILE *d = open_in(g, name, "dat");
	if (!d)
		return -1;
	fputs("# trace", d); /* a comment: the scripts name the columns */
	for (size_t b = 0; b < g->nb; b++) {
		fputc(' ', d);
		gp_string(d, g->backends[b]);
		fputs(" lo hi", d);
	}
	fputc('\n', d);
	for (size_t t = 0; t < g->nt; t++) {
		gp_string(d, g->traces[t]);
		for (size_t b = 0; b < g->nb; b++) {
			double v, lo, hi;
			if (fn(cell(g, t, b), &v, &lo, &hi))
				fprintf(d, " %.6g %.6g %.6g", v, lo, hi);
			else
				fputs(" ? ? ?", d);
		}
		fputc('\n', d);
	}
	int w = 320 + (int)(g->nt * (g->nb * 16 + 24));
	FILE *f = script_after(g, d, name, w < 900 ? 900 : w > 3000 ? 3000 : w, 560, "%s", title);
	if (!f)
		return -1;
	bars(f, "errorbars gap 1.5 lw 1");
	fputs("  set boxwidth 0.95\n", f);
	int lines = trace_tics(f, g);
	fprintf(f, "  set bmargin %d\n", lines + 3);
	fprintf(f, "  set ylabel \"%s\"\n", ylabel);
	if (logy)
		fputs("  set logscale y\n", f);
	if (yrange)
		fprintf(f, "  set yrange %s\n", yrange);
	fprintf(f,
		"  plot for [i=1:%zu] \"%s.dat\" using "
		"(column(3*i-1)):(column(3*i)):(column(3*i+1)) "
		"title BACKEND[i] lc rgb COLOUR[i]\n",
		g->nb, name);
	plot_end(f);
	fclose(f);
	return 0;
}

static bool throughput_of(const json_t *o, double *v, double *lo, double *hi)
{
	double ops, smin, smax;
	if (!res_num(o, RES_MOPS, v) || !res_num(o, RES_OPS, &ops) ||
	    !res_num(o, RES_SECONDS_MIN, &smin) || !res_num(o, RES_SECONDS_MAX, &smax) ||
	    smin <= 0 || smax <= 0)
		return false;
	*lo = ops / smax / 1e6;
	*hi = ops / smin / 1e6;
	return *v > 0;
}

static bool utilization_of(const json_t *o, double *v, double *lo, double *hi)
{
	if (!res_num(o, RES_UTILIZATION, v))
		return false;
	*v *= 100;
	*lo = *hi = *v;
	return true;
}

/* Per backend: the mean over traces of live, internal and external shares
 * of the footprint at the moment of peak live bytes. */
static int fragmentation(const struct grid *g)
{
	FILE *d = open_in(g, "fragmentation", "dat");
	if (!d)
		return -1;
	fputs("# backend live internal external unattributed (% of the footprint)\n", d);
	bool unattributed = false;
	for (size_t b = 0; b < g->nb; b++) {
		double sl = 0, si = 0, se = 0, su = 0;
		size_t n = 0;
		for (size_t t = 0; t < g->nt; t++) {
			const json_t *o = cell(g, t, b);
			double live, foot, in, ex;
			if (!res_num(o, RES_PEAK_LIVE_BYTES, &live) ||
			    !res_num(o, RES_FOOTPRINT_AT_PEAK_LIVE, &foot) || foot <= 0 ||
			    live <= 0)
				continue;
			if (live > foot)
				live = foot; /* a resident-set measure can fall short */
			n++;
			sl += live / foot;
			if (res_num(o, RES_INTERNAL_FRAG_BYTES, &in) &&
			    res_num(o, RES_EXTERNAL_FRAG_BYTES, &ex)) {
				si += fmin(in, foot - live) / foot;
				se += fmax(0, foot - live - in) / foot;
			} else {
				su += (foot - live) / foot;
			}
		}
		unattributed |= su > 0;
		gp_string(d, g->backends[b]);
		if (n)
			fprintf(d, " %.6g %.6g %.6g %.6g\n", 100 * sl / n, 100 * si / n,
				100 * se / n, 100 * su / n);
		else
			fputs(" ? ? ? ?\n", d);
	}
	int w = 360 + (int)g->nb * 70;
	FILE *f = script_after(
		g, d, "fragmentation", w < 900 ? 900 : w, 560,
		"%s: where the memory went at the peak of live bytes (mean over traces)", g->suite);
	if (!f)
		return -1;
	bars(f, "rowstacked");
	fputs("  set boxwidth 0.7\n", f);
	fputs("  set xtics rotate by -35 left scale 0\n", f);
	fputs("  set bmargin 8\n", f);
	fputs("  set yrange [0:100]\n", f);
	fputs("  set ylabel \"share of the footprint (%)\"\n", f);
	fputs("  plot \"fragmentation.dat\" using 2:xtic(1) title \"live bytes\" lc rgb "
	      "\"#59a14f\", \\\n"
	      "       \"\" using 3 title \"internal fragmentation\" lc rgb \"#f28e2b\", \\\n"
	      "       \"\" using 4 title \"external fragmentation\" lc rgb \"#e15759\"",
	      f);
	/* a backend that cannot tell usable sizes leaves its waste unsplit */
	fputs(unattributed ? ", \\\n       \"\" using 5 title \"waste (usable size unknown)\" "
			     "lc rgb \"#bab0ac\"\n"
			   : "\n",
	      f);
	plot_end(f);
	fclose(f);
	return 0;
}

/* Live bytes and each backend's footprint over the ops of trace t: 1, or
 * -1 (reported). */
static int timeline(const struct grid *g, size_t t)
{
	char name[300];
	snprintf(name, sizeof name, "timeline-%s", g->files[t]);
	FILE *d = open_in(g, name, "dat");
	if (!d)
		return -1;
	/* one block per backend (gnuplot's index); empty when it has none */
	for (size_t b = 0; b < g->nb; b++) {
		fprintf(d, "# %s: op live_bytes footprint_bytes\n", g->backends[b]);
		const json_t *tl = res_get(cell(g, t, b), RES_TIMELINE);
		size_t i;
		const json_t *p;
		bool any = false;
		json_array_foreach(tl, i, p)
		{
			fprintf(d, "%lld %lld %lld\n",
				(long long)json_integer_value(json_array_get(p, 0)),
				(long long)json_integer_value(json_array_get(p, 1)),
				(long long)json_integer_value(json_array_get(p, 2)));
			any = true;
		}
		if (!any)
			fputs("? ? ?\n", d);
		fputs("\n\n", d);
	}
	FILE *f = script_after(g, d, name, 1100, 560,
			       "%s: heap profile of %s (live bytes and footprint)", g->suite,
			       g->traces[t]);
	if (!f)
		return -1;
	fputs("  set xlabel \"op index\"\n", f);
	fputs("  set ylabel \"MiB\"\n", f);
	fputs("  set format x \"%.0f\"\n", f);
	fputs("  set yrange [0:*]\n", f);
	fprintf(f,
		"  plot for [i=1:%zu] \"%s.dat\" index (i-1) using 1:($3/1048576) with steps "
		"lw 1.5 lc rgb COLOUR[i] title BACKEND[i], \\\n"
		"       \"%s.dat\" index 0 using 1:($2/1048576) with lines lw 2.5 dt 2 lc rgb "
		"\"black\" "
		"title \"live bytes\"\n",
		g->nb, name, name);
	plot_end(f);
	fclose(f);
	return 1;
}

/* The copies values of trace t's jobs, ascending, into v (at most max):
 * how many. */
static size_t copies_values(const struct grid *g, size_t t, unsigned *v, size_t max)
{
	size_t n = 0, i;
	const json_t *o;
	json_array_foreach(g->all, i, o)
	{
		if (strcmp(name_of(o, RES_TRACE), g->traces[t]))
			continue;
		unsigned k = res_copies(o);
		size_t at = 0;
		while (at < n && v[at] < k)
			at++;
		if ((at < n && v[at] == k) || n == max)
			continue;
		memmove(v + at + 1, v + at, (n - at) * sizeof *v);
		v[at] = k;
		n++;
	}
	return n;
}

/* The job of trace t, backend b and k copies, or NULL. */
static const json_t *job_of(const struct grid *g, size_t t, size_t b, unsigned k)
{
	const json_t *hit = NULL, *o;
	size_t i;
	json_array_foreach(g->all, i, o)
	{
		if (!strcmp(name_of(o, RES_TRACE), g->traces[t]) &&
		    !strcmp(name_of(o, RES_BACKEND), g->backends[b]) && res_copies(o) == k)
			hit = o;
	}
	return hit;
}

/* Mops/s and the footprint under threads against the copies of trace t,
 * a line per backend; -1 error, 0 none (fewer than two copies values),
 * 1 made. */
static int scaling(const struct grid *g, size_t t)
{
	unsigned ks[64];
	size_t nk = copies_values(g, t, ks, 64);
	if (nk < 2)
		return 0;
	char name[300];
	snprintf(name, sizeof name, "scaling-%s", g->files[t]);
	FILE *d = open_in(g, name, "dat");
	if (!d)
		return -1;
	fputs("# copies, then per backend: Mops/s, threaded peak footprint in MiB\n", d);
	for (size_t i = 0; i < nk; i++) {
		fprintf(d, "%u", ks[i]);
		for (size_t b = 0; b < g->nb; b++) {
			const json_t *o = job_of(g, t, b, ks[i]);
			double m, fp;
			bool ok = res_ok(o);
			if (ok && res_num(o, RES_MOPS, &m))
				fprintf(d, " %.6g", m);
			else
				fputs(" ?", d);
			if (ok && res_num(o, RES_THREADED_PEAK_FOOTPRINT, &fp))
				fprintf(d, " %.6g", fp / 1048576);
			else
				fputs(" ?", d);
		}
		fputc('\n', d);
	}
	/* the whole chart's title, over the panels' own */
	char title[640];
	snprintf(title, sizeof title, "%s: %s against copies of the trace at once", g->suite,
		 g->traces[t]);
	FILE *f = script_after(g, d, name, 1100, 480, "%s", title);
	if (!f)
		return -1;
	fputs("  set multiplot layout 1,2 title ", f);
	gp_string(f, title);
	fputc('\n', f);
	fputs("  set xlabel \"copies\"\n  set xtics 1\n  set yrange [0:*]\n", f);
	fputs("  set key inside left top vertical Left reverse noenhanced\n", f);
	fputs("  set title \"throughput\"\n  set ylabel \"Mops/s (all copies)\"\n", f);
	fprintf(f,
		"  plot for [i=1:%zu] \"%s.dat\" using 1:(column(2*i)) with linespoints lw 2 "
		"pt 7 lc rgb COLOUR[i] title BACKEND[i]\n",
		g->nb, name);
	fputs("  set title \"footprint under threads\"\n", f);
	fputs("  set ylabel \"threaded peak footprint (MiB)\"\n", f);
	fprintf(f,
		"  plot for [i=1:%zu] \"%s.dat\" using 1:(column(2*i+1)) with linespoints lw 2 "
		"pt 7 lc rgb COLOUR[i] title BACKEND[i]\n",
		g->nb, name);
	fputs("  unset multiplot\n", f);
	plot_end(f);
	fclose(f);
	return 1;
}

/* The latency entry of op kind k in a job of trace t, or NULL. */
static const json_t *latency_of(const struct grid *g, size_t t, size_t b, int k)
{
	return json_object_get(res_get(cell(g, t, b), RES_LATENCY_NS), trace_kind_names[k]);
}

/* p50 ... max per backend, a panel per op kind; -1 error, 0 none, 1 made */
static int latency(const struct grid *g, size_t t)
{
	bool have[TRACE_NKINDS] = {false}, any = false;
	for (size_t b = 0; b < g->nb; b++)
		for (int k = 0; k < TRACE_NKINDS; k++)
			if (latency_of(g, t, b, k))
				have[k] = any = true;
	if (!any)
		return 0;
	char name[300];
	snprintf(name, sizeof name, "latency-%s", g->files[t]);
	FILE *d = open_in(g, name, "dat");
	if (!d)
		return -1;
	int npanels = 0;
	for (int k = 0; k < TRACE_NKINDS; k++) {
		if (!have[k])
			continue;
		npanels++;
		fprintf(d, "# %s\n# percentile", trace_kind_names[k]);
		for (size_t b = 0; b < g->nb; b++) {
			fputc(' ', d);
			gp_string(d, g->backends[b]);
		}
		fputc('\n', d);
		for (int p = 0; res_latency_names[p]; p++) {
			fprintf(d, "%s", res_latency_names[p]);
			for (size_t b = 0; b < g->nb; b++) {
				const json_t *v = json_object_get(latency_of(g, t, b, k),
								  res_latency_names[p]);
				if (json_is_number(v) && json_number_value(v) > 0)
					fprintf(d, " %.6g", json_number_value(v));
				else
					fputs(" ?", d);
			}
			fputc('\n', d);
		}
		fputs("\n\n", d);
	}
	char title[600];
	snprintf(title, sizeof title, "%s: latency per op on %s", g->suite, g->traces[t]);
	FILE *f = script_after(g, d, name, 1100, 300 * npanels + 80, "%s", title);
	if (!f)
		return -1;
	bars(f, "clustered gap 1.5");
	fputs("  set logscale y\n", f);
	fputs("  set yrange [1:*]\n", f); /* a 10 ns bar must show */
	fputs("  set ylabel \"ns (log scale)\"\n", f);
	fprintf(f, "  set multiplot layout %d,1 title ", npanels);
	gp_string(f, title);
	fputs("\n  unset title\n", f);
	int idx = 0;
	for (int k = 0; k < TRACE_NKINDS; k++) {
		if (!have[k])
			continue;
		fprintf(f, "  set title \"%s\"\n", trace_kind_names[k]);
		fprintf(f,
			"  plot for [i=1:%zu] \"%s.dat\" index %d using (column(i+1)):xtic(1) "
			"title BACKEND[i] lc rgb COLOUR[i]\n",
			g->nb, name, idx++);
	}
	fputs("  unset multiplot\n", f);
	plot_end(f);
	fclose(f);
	return 1;
}

/* Runs `gnuplot script` in dir; PLOT_OK, PLOT_FAILED or PLOT_NO_GNUPLOT. */
static int gnuplot(const char *dir, const char *script)
{
	int errp[2];
	if (pipe(errp) < 0)
		return PLOT_FAILED;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(errp[1], 2);
		close(errp[0]);
		if (chdir(dir) < 0)
			_exit(126);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(errp[1]);
	char msg[4096];
	size_t n = 0;
	ssize_t r;
	while ((r = read(errp[0], msg + n, sizeof msg - 1 - n)) > 0)
		n += (size_t)r;
	msg[n] = '\0';
	close(errp[0]);
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return PLOT_FAILED;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return PLOT_NO_GNUPLOT;
	/* gnuplot's warnings (a backend with no points on a trace, say) are
	 * not failures: its exit status says */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		hb_error("%s/%s: gnuplot failed%s%s", dir, script, n ? ": " : "", msg);
		return PLOT_FAILED;
	}
	return PLOT_OK;
}

/* A file name from a trace name; later duplicates get -2, -3, ... */
static char *safe_name(const struct grid *g, size_t t)
{
	char base[193];
	file_name_part(base, sizeof base, g->traces[t], SIZE_MAX);
	char out[220];
	snprintf(out, sizeof out, "%s", base);
	for (int n = 2;; n++) {
		bool taken = false;
		for (size_t i = 0; i < t; i++)
			taken |= !strcmp(g->files[i], out);
		if (!taken)
			break;
		snprintf(out, sizeof out, "%s-%d", base, n);
	}
	return xstrdup(out);
}

/* a job's trace or backend, "?" if it has none */

/* The charts of trace t in `which` (timeline, latency, scaling), the
 * names of the scripts made appended to scripts; -1 if one failed. */
static int trace_charts(const struct grid *g, size_t t, unsigned which, struct buf *scripts)
{
	static const struct {
		unsigned bit;
		const char *prefix;
		int (*make)(const struct grid *g, size_t t); /* -1, 0 none, 1 made */
	} charts[] = {{PLOT_TIMELINE, "timeline", timeline},
		      {PLOT_LATENCY, "latency", latency},
		      {PLOT_SCALING, "scaling", scaling}};
	int rc = 0;
	for (size_t k = 0; k < HB_ARRAY_LEN(charts); k++) {
		if (!(which & charts[k].bit))
			continue;
		int made = charts[k].make(g, t);
		char name[300];
		snprintf(name, sizeof name, "%s-%s.gp", charts[k].prefix, g->files[t]);
		if (made > 0)
			buf_append(scripts, name, strlen(name) + 1);
		rc = made < 0 ? -1 : rc;
	}
	return rc;
}

/* The suite's name for the titles, with how its jobs replayed when some
 * ran threaded: "default (threads recorded)", "x (serial and recorded)". */
static void titled_suite(const json_t *all, const char *suite, char *out, size_t len)
{
	size_t i, rec = 0;
	const json_t *o;
	json_array_foreach(all, i, o)
	{
		rec += res_recorded(o);
	}
	snprintf(out, len, "%s%s", suite,
		 !rec                          ? ""
		 : rec == json_array_size(all) ? " (threads recorded)"
					       : " (threads serial and recorded)");
}

int plot_results(const json_t *all, const char *suite, const char *dir, unsigned which)
{
	char named[300];
	titled_suite(all, suite, named, sizeof named);
	suite = named;
	struct grid g = {.suite = suite, .dir = dir, .all = all};
	size_t i;
	const json_t *o;
	json_array_foreach(all, i, o)
	{
		index_of(&g.traces, &g.nt, name_of(o, RES_TRACE));
		index_of(&g.backends, &g.nb, name_of(o, RES_BACKEND));
	}
	g.job = xcalloc(g.nt * g.nb + 1, sizeof *g.job);
	json_array_foreach(all, i, o)
	{
		size_t t = index_of(&g.traces, &g.nt, name_of(o, RES_TRACE));
		size_t b = index_of(&g.backends, &g.nb, name_of(o, RES_BACKEND));
		/* the last result of a job wins; of a copies sweep, the fewest
		 * copies (the other charts compare backends at one copy) */
		const json_t *old = g.job[t * g.nb + b];
		if (!old || res_copies(o) <= res_copies(old))
			g.job[t * g.nb + b] = o;
	}
	g.files = xcalloc(g.nt + 1, sizeof *g.files);
	for (size_t t = 0; t < g.nt; t++)
		g.files[t] = safe_name(&g, t);

	int rc = PLOT_OK;
	struct buf scripts = {0}; /* NUL-separated names */
	char title[512];
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		hb_error("%s: %s", dir, strerror(errno));
		rc = PLOT_FAILED;
		goto out;
	}
	if (which & PLOT_THROUGHPUT) {
		snprintf(title, sizeof title,
			 "%s: throughput (median of the timed passes; bars: min to max)", suite);
		if (grouped(&g, "throughput", title, "Mops/s (log scale)", true, NULL,
			    throughput_of) < 0)
			rc = PLOT_FAILED;
		buf_append(&scripts, "throughput.gp", 14);
	}
	if (which & PLOT_UTILIZATION) {
		snprintf(title, sizeof title, "%s: utilization (peak live bytes / peak footprint)",
			 suite);
		if (grouped(&g, "utilization", title, "utilization (%)", false, "[0:100]",
			    utilization_of) < 0)
			rc = PLOT_FAILED;
		buf_append(&scripts, "utilization.gp", 15);
	}
	if (which & PLOT_FRAGMENTATION) {
		if (fragmentation(&g) < 0)
			rc = PLOT_FAILED;
		buf_append(&scripts, "fragmentation.gp", 17);
	}
	for (size_t t = 0; t < g.nt; t++)
		if (trace_charts(&g, t, which, &scripts) < 0)
			rc = PLOT_FAILED;
	for (size_t k = 0; rc == PLOT_OK && k < scripts.len; k += strlen(scripts.data + k) + 1) {
		int r = gnuplot(dir, scripts.data + k);
		if (r == PLOT_NO_GNUPLOT) {
			hb_error("gnuplot is not installed: no charts, but their scripts and data "
				 "are "
				 "in %s (apt-get install gnuplot-nox, then run gnuplot there)",
				 dir);
			rc = PLOT_NO_GNUPLOT;
		} else if (r != PLOT_OK) {
			rc = r;
		}
	}
out:
	buf_free(&scripts);
	for (size_t t = 0; t < g.nt; t++) {
		free(g.traces[t]);
		free(g.files[t]);
	}
	for (size_t b = 0; b < g.nb; b++)
		free(g.backends[b]);
	free(g.traces);
	free(g.backends);
	free(g.files);
	free(g.job);
	return rc;
}

/* ---- A run's charts (heapbench plot) ------------------------------------------------- */

/* The suite's name from the run's env.json, else its directory's. */
static void suite_name(const char *rundir, char *suite, size_t len)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/env.json", rundir);
	json_t *env = json_load_file(tmp, 0, NULL);
	const char *name = json_string_value(json_object_get(env, "suite"));
	snprintf(tmp, sizeof tmp, "%s", rundir);
	char *real = realpath(tmp, NULL);
	snprintf(suite, len, "%s", name ? name : real ? basename(real) : "run");
	free(real);
	json_decref(env);
}

int plot_run(const char *results, const char *out)
{
	struct stat st;
	if (stat(results, &st) < 0) {
		hb_error("%s: no such run directory or file", results);
		return HB_EXIT_USAGE;
	}
	char jsonl[4200], rundir[4096], suite[256], charts[4200];
	if (S_ISDIR(st.st_mode)) {
		snprintf(rundir, sizeof rundir, "%s", results);
		snprintf(jsonl, sizeof jsonl, "%s/results.jsonl", results);
	} else {
		snprintf(jsonl, sizeof jsonl, "%s", results);
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s", results);
		snprintf(rundir, sizeof rundir, "%s", dirname(tmp));
	}
	suite_name(rundir, suite, sizeof suite);
	snprintf(charts, sizeof charts, "%s/charts", rundir);
	json_t *all = results_read(jsonl);
	if (!all)
		return HB_EXIT_USAGE;
	if (json_array_size(all) == 0) {
		hb_error("%s: no job results to plot", jsonl);
		json_decref(all);
		return HB_EXIT_USAGE;
	}
	int rc = plot_results(all, suite, out ? out : charts, PLOT_ALL);
	json_decref(all);
	if (rc == PLOT_OK)
		printf("charts in %s\n", out ? out : charts);
	return rc == PLOT_OK ? HB_EXIT_OK : HB_EXIT_FAIL;
}
