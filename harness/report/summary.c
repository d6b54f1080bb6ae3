/*
 * summary.c - summary.md and results.csv from job objects (summary.h).
 *
 * Every figure is read through the field table (fields.h): a cell is the
 * field's show format, "-" when the job has no such figure.
 */
#include "report/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/out.h"
#include "host/hb_assert.h"
#include "report/fields.h"
#include "report/lab.h"

/* How a job's timed passes ran: "serial", "2 copies", "recorded, 9
 * threads", "recorded, 18 threads, 2 copies" (absent fields: results from
 * before threads: serial). */
static void replay_mode(char *buf, size_t len, const json_t *o)
{
	unsigned copies = res_copies(o);
	double threads = 1;
	res_num(o, RES_THREADS, &threads);
	if (!res_recorded(o))
		snprintf(buf, len, copies > 1 ? "%u copies" : "serial", copies);
	else if (copies > 1)
		snprintf(buf, len, "recorded, %.0f threads, %u copies", threads, copies);
	else
		snprintf(buf, len, "recorded, %.0f threads", threads);
}

/* Whether any job replayed other than serially on one copy. */
static bool any_threaded(const json_t *all)
{
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		if (res_recorded(o) || res_copies(o) > 1)
			return true;
	}
	return false;
}

/* a row per job (and how it replayed, when not every job was serial) */
static void jobs_table(struct buf *b, const json_t *all)
{
	bool modes = any_threaded(all);
	buf_printf(b, "| trace | backend |%s status | utilization | frag_peak | Mops/s |\n",
		   modes ? " replay |" : "");
	buf_printf(b, "|---|---|%s---|---:|---:|---:|\n", modes ? "---|" : "");
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		char us[32], fs[32], ms[32], mode[64] = "";
		res_cell(us, sizeof us, o, RES_UTILIZATION);
		res_cell(fs, sizeof fs, o, RES_FRAG_PEAK);
		res_cell(ms, sizeof ms, o, RES_MOPS);
		if (modes) {
			mode[0] = ' ';
			replay_mode(mode + 1, sizeof mode - 3, o);
			strcat(mode, " |");
		}
		buf_printf(b, "| %s | %s |%s %s | %s | %s | %s |\n", res_str(o, RES_TRACE),
			   res_str(o, RES_BACKEND), mode, res_str(o, RES_STATUS), us, fs, ms);
	}
}

/* a row per backend: mean utilization, geometric mean of Mops/s, of its
 * jobs that are ok */
static void backend_row(struct buf *b, const char *name, const json_t *all)
{
	double usum = 0, lsum = 0;
	size_t un = 0, ln = 0, okn = 0, all_n = 0, i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		if (strcmp(res_str(o, RES_BACKEND), name))
			continue;
		all_n++;
		if (!res_ok(o))
			continue;
		okn++;
		double u, m;
		if (res_num(o, RES_UTILIZATION, &u))
			usum += u, un++;
		if (res_num(o, RES_MOPS, &m) && m > 0)
			lsum += log(m), ln++;
	}
	if (!all_n)
		return;
	char us[32] = "-", ms[32] = "-";
	if (un)
		res_show(us, sizeof us, RES_UTILIZATION, usum / (double)un);
	if (ln)
		res_show(ms, sizeof ms, RES_MOPS, exp(lsum / (double)ln));
	buf_printf(b, "| %s | %zu/%zu | %s | %s |\n", name, okn, all_n, us, ms);
}

static void failures(struct buf *b, const json_t *all)
{
	bool header = false;
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		if (res_ok(o))
			continue;
		if (!header)
			buf_printf(b, "\nFailed jobs:\n\n");
		header = true;
		const json_t *op = res_get(o, RES_ERROR_OP);
		char where[64] = "";
		if (json_is_integer(op))
			snprintf(where, sizeof where, " at op %lld",
				 (long long)json_integer_value(op));
		buf_printf(b, "- %s x %s: %s%s: %s\n", res_str(o, RES_TRACE),
			   res_str(o, RES_BACKEND), res_str(o, RES_STATUS), where,
			   res_str(o, RES_ERROR));
	}
}

/* Under lab: the mdriver report of each backend (report/lab.c). */
static void lab_section(struct buf *b, const json_t *all)
{
	size_t i, n = 0;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		n += *res_str(o, RES_LAB) != '\0';
		lab_report_add_json(o);
	}
	if (!n)
		return;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem)
		hb_oom();
	lab_report_print(mem);
	fclose(mem);
	buf_printf(b, "\nThe malloc-lab report (docs/malloclab.md):\n\n```%s```\n", text);
	free(text);
}

void summary_text(struct buf *b, const char *suite, const char *const *backends, size_t nb,
		  const json_t *all)
{
	buf_printf(b, "# heapbench run: %s\n\n", suite);
	jobs_table(b, all);
	buf_printf(
		b,
		"\nPer backend: mean utilization over its traces, geometric mean of Mops/s.\n\n");
	buf_printf(b, "| backend | jobs ok | mean utilization | geomean Mops/s |\n");
	buf_printf(b, "|---|---:|---:|---:|\n");
	for (size_t k = 0; k < nb; k++)
		backend_row(b, backends[k], all);
	failures(b, all);
	lab_section(b, all);
}

/* ---- results.csv ------------------------------------------------------------------- */

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

/* The CSV's columns in order: the fields with a csv column, each once. */
static size_t csv_columns(enum res_field *cols)
{
	size_t n = 0;
	for (int f = 0; f < RES_NFIELDS; f++)
		if (res_fields[f].csv) {
			HB_ASSERT(res_fields[f].csv <= RES_NFIELDS);
			cols[res_fields[f].csv - 1] = (enum res_field)f;
			n++;
		}
	for (size_t k = 0; k < n; k++) /* columns 1..n, none twice, none skipped */
		HB_ASSERT(res_fields[cols[k]].csv == k + 1);
	return n;
}

void summary_csv(FILE *f, const json_t *all)
{
	enum res_field cols[RES_NFIELDS];
	size_t n = csv_columns(cols);
	for (size_t k = 0; k < n; k++)
		csv_field(f, res_fields[cols[k]].name, k + 1 == n);
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		for (size_t k = 0; k < n; k++) {
			const json_t *v = res_get(o, cols[k]);
			char s[64];
			const char *text = "";
			if (json_is_string(v))
				text = json_string_value(v);
			else if (json_is_integer(v))
				snprintf(s, sizeof s, "%lld", (long long)json_integer_value(v)),
					text = s;
			else if (json_is_real(v))
				snprintf(s, sizeof s, "%.17g", json_real_value(v)), text = s;
			csv_field(f, text, k + 1 == n);
		}
	}
}

int summary_write(const char *dir, const char *suite, const char *const *backends, size_t nb,
		  const json_t *all)
{
	char mdp[4200], csvp[4200];
	snprintf(mdp, sizeof mdp, "%s/summary.md", dir);
	snprintf(csvp, sizeof csvp, "%s/results.csv", dir);
	struct buf md = {0};
	summary_text(&md, suite, backends, nb, all);
	fwrite(md.data, 1, md.len, stdout);
	fflush(stdout);
	int rc = out_file(mdp, md.data, md.len);
	buf_free(&md);
	char *csv = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&csv, &len);
	if (!mem)
		hb_oom();
	summary_csv(mem, all);
	fclose(mem);
	rc |= out_file(csvp, csv, len);
	free(csv);
	return rc < 0 ? -1 : 0;
}
