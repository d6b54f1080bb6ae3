/*
 * lab.c - the malloc-lab report (lab.h, docs/malloclab.md): for each
 * backend of a run under --lab, the handout mdriver's table (trace, valid,
 * util, ops, secs, Kops), its totals line and its performance index, with
 * the handout's own formats and constants.
 *
 *   csapp2002  util: the mean over the traces; throughput: all ops over all
 *              seconds; index = 60 * util + 40 * min(1, Kops / 600)
 *   cmu2016    (the constants and table of CMU 15-213's Fall 2020 handout,
 *              the line of 64-bit, 16-byte handouts) each trace weighed by
 *              its .rep header (0 ignored, 1 both, 2 util, 3 throughput);
 *              util the mean, scaled from 0.55 to 0.74, weight 0.60;
 *              throughput the harmonic mean of the traces' Kops, scaled
 *              from 0.50 to 0.90 of the course's reference
 *              (HEAPBENCH_LAB_REF_KOPS: the handout reads it from a table
 *              of its lab machines, or from running its reference driver)
 *
 * secs is the median of heapbench's timed passes of the trace (mdriver
 * takes the mean of 10 runs with gettimeofday), so the throughput part
 * depends on the machine, as each handout says.
 */
#include "report/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "replay/lab.h"
#include "report/fields.h"
#include "trace/trace.h"

struct lab_row {
	char trace[128];
	bool valid, timed;
	int weight; /* cmu2016: the .rep header's (lab_weight); -1: none, counted as 1 */
	double util, ops, secs;
};

struct lab_backend {
	char *name;
	unsigned lab, bits; /* the handout, the word size the file ran at */
	struct lab_row *rows;
	size_t nrows, cap;
};

static struct lab_backend *backends;
static size_t nbackends;

/* The row of a job of backend under lab (enum mm_lab). */
static struct lab_row *add_row(const char *backend, unsigned lab, unsigned bits)
{
	struct lab_backend *b = NULL;
	for (size_t i = 0; i < nbackends && !b; i++)
		if (!strcmp(backends[i].name, backend))
			b = &backends[i];
	if (!b) {
		backends = xrealloc(backends, (nbackends + 1) * sizeof *backends);
		b = &backends[nbackends++];
		*b = (struct lab_backend){.name = xstrdup(backend), .lab = lab, .bits = bits};
	}
	if (b->nrows == b->cap)
		b->rows = xrealloc(b->rows, (b->cap = b->cap ? 2 * b->cap : 16) * sizeof *b->rows);
	struct lab_row *row = &b->rows[b->nrows++];
	memset(row, 0, sizeof *row);
	return row;
}

void lab_report_add(const char *trace_path, const char *backend, const struct replay_config *cfg,
		    const struct replay_result *r)
{
	if (!cfg || !cfg->lab)
		return;
	unsigned bits = cfg->backend == &mm_allocator ? mm_bits(cfg) : 64;
	struct lab_row *row = add_row(backend, cfg->lab, bits);
	trace_short_name(trace_path, row->trace, sizeof row->trace);
	row->valid = r->status == JOB_OK && r->have_utilization;
	row->timed = r->repeat && r->seconds_median > 0;
	row->util = r->utilization;
	row->ops = (double)r->ops;
	row->secs = r->seconds_median;
	row->weight = r->lab_weight;
}

void lab_report_add_json(const json_t *o)
{
	const struct replay_lab *l = replay_lab_find(res_str(o, RES_LAB));
	if (!l)
		return;
	double bits = 64;
	res_num(o, RES_MM_BITS, &bits);
	struct lab_row *row = add_row(res_str(o, RES_BACKEND), l->lab, (unsigned)bits);
	snprintf(row->trace, sizeof row->trace, "%s", res_str(o, RES_TRACE));
	row->valid = res_ok(o) && res_num(o, RES_UTILIZATION, &row->util);
	res_num(o, RES_OPS, &row->ops);
	row->timed = res_num(o, RES_SECONDS_MEDIAN, &row->secs) && row->secs > 0;
	double w = -1;
	res_num(o, RES_LAB_WEIGHT, &w);
	row->weight = (int)w;
}

/* The index of the 2002 handout (its main()). */
static void index_2002(FILE *f, double util, double ops, double secs)
{
	double p1 = 0.60 * util, thru = ops / secs;
	double p2 = thru > 600e3 ? 0.40 : 0.40 * (thru / 600e3);
	fprintf(f, "Perf index = %.0f (util) + %.0f (thru) = %.0f/100\n", p1 * 100, p2 * 100,
		(p1 + p2) * 100);
}

static double scaled(double v, double lo, double hi)
{
	return v < lo ? 0 : v > hi ? 1 : (v - lo) / (hi - lo);
}

/* The index of the Fall 2020 handout: harm is the harmonic mean of the
 * traces' Kops. */
static void index_2020(FILE *f, double util, double harm)
{
	const char *ref = getenv("HEAPBENCH_LAB_REF_KOPS");
	double p1 = 0.60 * scaled(util, 0.55, 0.74), kops = ref ? strtod(ref, NULL) : 0;
	if (!(kops > 0)) {
		fprintf(f,
			"Perf index = %.1f (util) + ? (thru): the throughput part needs the "
			"course's reference, HEAPBENCH_LAB_REF_KOPS=KOPS\n",
			p1 * 100);
		return;
	}
	double p2 = 0.40 * scaled(harm, 0.50 * kops, 0.90 * kops);
	fprintf(f, "Perf index = %.1f (util) + %.1f (thru) = %.1f/100\n", p1 * 100, p2 * 100,
		(p1 + p2) * 100);
}

/* The 2002 handout's table, totals and index, in its mdriver's formats
 * (with the trace's name after each row). */
static void print_2002(FILE *f, const struct lab_backend *b)
{
	fprintf(f, "%5s%7s %5s%8s%10s%6s\n", "trace", " valid", "util", "ops", "secs", "Kops");
	double util = 0, ops = 0, secs = 0;
	size_t errors = 0, untimed = 0;
	for (size_t i = 0; i < b->nrows; i++) {
		const struct lab_row *r = &b->rows[i];
		if (!r->valid) {
			errors++;
			fprintf(f, "%2zu%10s%6s%8s%10s%6s  %s\n", i, "no", "-", "-", "-", "-",
				r->trace);
			continue;
		}
		util += r->util, ops += r->ops;
		if (!r->timed) {
			untimed++;
			fprintf(f, "%2zu%10s%5.0f%%%8.0f%10s%6s  %s\n", i, "yes", r->util * 100.0,
				r->ops, "-", "-", r->trace);
			continue;
		}
		fprintf(f, "%2zu%10s%5.0f%%%8.0f%10.6f%6.0f  %s\n", i, "yes", r->util * 100.0,
			r->ops, r->secs, r->ops / 1e3 / r->secs, r->trace);
		secs += r->secs;
	}
	if (errors) {
		fprintf(f, "%12s%6s%8s%10s%6s\n", "Total       ", "-", "-", "-", "-");
		fprintf(f, "Terminated with %zu errors\n", errors);
		return;
	}
	double n = (double)b->nrows;
	if (untimed) {
		fprintf(f, "%12s%5.0f%%%8.0f%10s%6s\n", "Total       ", util / n * 100.0, ops, "-",
			"-");
		fprintf(f, "Perf index: needs the timed passes (--repeat 1 or more)\n");
		return;
	}
	fprintf(f, "%12s%5.0f%%%8.0f%10.6f%6.0f\n", "Total       ", util / n * 100.0, ops, secs,
		ops / 1e3 / secs);
	index_2002(f, util / n, ops, secs);
}

/* Fall 2020's weights: 0 ignored, 1 both, 2 util only, 3 throughput only;
 * a trace without one counts for both. */
static bool counts_util(int w)
{
	return w < 0 || w == 1 || w == 2;
}
static bool counts_perf(int w)
{
	return w < 0 || w == 1 || w == 3;
}

/* One row of Fall 2020's table: the weight's mark, util or "--" where it
 * does not count, ops, msecs and Kops or "--". */
static void row_2020(FILE *f, const struct lab_row *r)
{
	if (!r->valid) {
		fprintf(f, "%2s%4s%7s%10s%7s%10s %s\n", r->weight != 0 ? "*" : "", "no", "-", "-",
			"-", "-", r->trace);
		return;
	}
	static const char marks[] = " *up";
	fprintf(f, "%2c%4s", r->weight < 0 ? '*' : marks[r->weight], "yes");
	if (r->weight != 3)
		fprintf(f, " %7.1f%%", r->util * 100.0);
	else
		fprintf(f, " %8s", "--");
	if (r->weight == 2)
		fprintf(f, "%8s%10s%7s ", "--", "--", "--");
	else if (!r->timed)
		fprintf(f, "%8.0f%10s%7s ", r->ops, "-", "-");
	else
		fprintf(f, "%8.0f%10.3f%7.0f ", r->ops, r->secs * 1000, r->ops / 1e3 / r->secs);
	fprintf(f, "%s\n", r->trace);
}

/* Fall 2020's table, sums, averages and index, in its mdriver's formats:
 * util averaged over the traces of weight 1 or 2, throughput the harmonic
 * mean of those of weight 1 or 3. */
static void print_2020(FILE *f, const struct lab_backend *b)
{
	fprintf(f, "  %5s  %6s %7s%8s%8s  %s\n", "valid", "util", "ops", "msecs", "Kops/s",
		"trace");
	double util = 0, ops = 0, secs = 0, inverse = 0;
	int nutil = 0, nperf = 0;
	size_t errors = 0, untimed = 0;
	for (size_t i = 0; i < b->nrows; i++) {
		const struct lab_row *r = &b->rows[i];
		row_2020(f, r);
		if (!r->valid) {
			errors++;
			continue;
		}
		if (counts_util(r->weight))
			util += r->util, nutil++;
		if (counts_perf(r->weight)) {
			nperf++;
			if (!r->timed) {
				untimed++;
				continue;
			}
			ops += r->ops, secs += r->secs, inverse += 1 / (r->ops / 1e3 / r->secs);
		}
	}
	if (errors) {
		fprintf(f, "     %8s%10s%7s\n", "-", "-", "-");
		fprintf(f, "Terminated with %zu errors\n", errors);
		return;
	}
	double avg = nutil ? util / nutil : 0;
	fprintf(f, "%2d %2d  %7.1f%%%8.0f%10.3f\n\n", nutil ? nutil : 1, nperf ? nperf : 1,
		avg * 100, ops, secs * 1000);
	fprintf(f, "Average utilization = %.1f%%.\n", avg * 100);
	if (untimed) {
		fprintf(f, "Perf index: needs the timed passes (--repeat 1 or more)\n");
		return;
	}
	double harm = nperf && inverse > 0 ? nperf / inverse : 0;
	fprintf(f, "Average throughput (Kops/sec) = %.0f.\n", harm);
	index_2020(f, avg, harm);
}

/* One backend's report, in its handout's formats. */
static void print_backend(FILE *f, const struct lab_backend *b)
{
	const struct replay_lab *l = replay_lab_of(b->lab);
	fprintf(f, "\nResults for %s (--lab %s, %u-bit):\n", b->name, l ? l->name : "?", b->bits);
	if (b->lab == MM_LAB_CSAPP2002)
		print_2002(f, b);
	else
		print_2020(f, b);
}

void lab_report_print(FILE *f)
{
	for (size_t i = 0; i < nbackends; i++) {
		print_backend(f, &backends[i]);
		free(backends[i].name);
		free(backends[i].rows);
	}
	free(backends);
	backends = NULL;
	nbackends = 0;
}
