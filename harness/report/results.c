/*
 * results.c - job results as JSON objects and table rows, results.jsonl
 * read and appended, and the field table's readers (results.h, fields.h).
 */
#include "report/results.h"

#include "base/jsonx.h"
#include "host/hb_assert.h"
#include "replay/lab.h"
#include "report/lab.h"
#include "trace/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Composite fields (the JSON writers RES_FIELDS names) ---------------------- */

static json_t *options_json(const struct replay_config *cfg)
{
	json_t *opts = json_object();
	for (size_t i = 0; cfg && i < cfg->nopt; i++)
		json_object_set_new(opts, cfg->opt[i].key, jx_str(cfg->opt[i].value));
	return opts;
}

static json_t *stats_json(const struct replay_result *r)
{
	json_t *st = json_object();
	for (unsigned i = 0; i < r->nstats; i++)
		json_object_set_new(st, r->stats[i].name, jx_u64(r->stats[i].value));
	return st;
}

static json_t *seconds_json(const struct replay_result *r)
{
	json_t *secs = json_array();
	for (unsigned k = 0; k < r->repeat; k++)
		json_array_append_new(secs, jx_num(r->seconds[k]));
	return secs;
}

/* a paced pass's footprint in time: [[ms since the start, bytes], ...] */
static json_t *paced_timeline_json(const struct replay_result *r)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < r->ntime && i < REPLAY_TIMELINE_POINTS; i++)
		json_array_append_new(a, json_pack("[f, I]", (double)r->time_timeline[i].ns / 1e6,
						   (json_int_t)r->time_timeline[i].footprint));
	return a;
}

/* the ops per replayed thread: their least, median and most */
static json_t *thread_ops_json(const struct replay_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "min", jx_u64(r->thread_ops_min));
	json_object_set_new(o, "median", jx_u64(r->thread_ops_median));
	json_object_set_new(o, "max", jx_u64(r->thread_ops_max));
	return o;
}

/* per op kind that ran: its count, then the percentiles */
static json_t *latency_json(const struct replay_result *r)
{
	json_t *lat = json_object();
	for (int k = 0; k < TRACE_NKINDS; k++) {
		const struct replay_latency *l = &r->latency[k];
		if (!l->count)
			continue;
		json_t *e = json_object();
		json_object_set_new(e, "count", json_integer((json_int_t)l->count));
#define PERCENTILE_SET_(p) json_object_set_new(e, #p, jx_num(l->p));
		RES_LATENCY_LIST(PERCENTILE_SET_)
#undef PERCENTILE_SET_
		json_object_set_new(lat, trace_kind_names[k], e);
	}
	return lat;
}

/* [op, live, footprint] per point of the heap profile */
static json_t *timeline_json(const struct replay_result *r)
{
	json_t *tl = json_array();
	for (unsigned k = 0; k < r->npoints; k++)
		json_array_append_new(tl, json_pack("[III]", (json_int_t)r->timeline[k].op,
						    (json_int_t)r->timeline[k].live,
						    (json_int_t)r->timeline[k].footprint));
	return tl;
}

/* ---- The writer ------------------------------------------------------------------ */

#define JSON_OF_STR(v)  jx_str(v)
#define JSON_OF_U64(v)  jx_u64(v)
#define JSON_OF_INT(v)  json_integer((json_int_t)(v))
#define JSON_OF_NUM(v)  jx_num(v)
#define JSON_OF_JSON(v) (v)

json_t *result_json(const struct job_id *id, const struct replay_result *r)
{
	/* the phases a field's `when` names (fields.h) */
	const bool always = true, failed = r->status != JOB_OK;
	const bool measured = r->status == JOB_OK || r->peak_footprint_bytes;
	const bool timed = r->repeat && r->status == JOB_OK, latency = r->have_latency;
	const bool threaded =
		r->threads && r->status == JOB_OK &&
		(r->mode == THREADS_RECORDED || r->pace > 0 || (id->cfg && id->cfg->copies));
	json_t *o = json_object();
#define FIELD_SET_(ID, name, type, unit, csv, gate, show, when, known, value)                      \
	if (when)                                                                                  \
		json_object_set_new(o, name, (known) ? JSON_OF_##type(value) : json_null());
	RES_FIELDS(FIELD_SET_)
#undef FIELD_SET_
	return o;
}

/* ---- The readable table ----------------------------------------------------------- */

void result_table_header(FILE *f)
{
	fprintf(f, "%-24s %-28s %-8s %7s %9s %9s %9s\n", "trace", "backend", "status", "util",
		"frag_peak", "Mops/s", "ns/op");
}

/* Read back from the job object, as summary.md is; the figures of a job
 * that failed are left out here. */
void result_table_row(FILE *f, const struct job_id *id, const struct replay_result *r)
{
	static const enum res_field cols[] = {RES_UTILIZATION, RES_FRAG_PEAK, RES_MOPS,
					      RES_NS_PER_OP};
	char cell[HB_ARRAY_LEN(cols)][32];
	json_t *o = r->status == JOB_OK ? result_json(id, r) : NULL;
	for (size_t k = 0; k < HB_ARRAY_LEN(cols); k++)
		res_cell(cell[k], sizeof cell[k], o, cols[k]);
	json_decref(o);
	fprintf(f, "%-24s %-28s %-8s %7s %9s %9s %9s\n", id->trace, id->backend,
		replay_status_names[r->status], cell[0], cell[1], cell[2], cell[3]);
}

void result_print_error(FILE *f, const struct job_id *id, const struct replay_result *r)
{
	char where[96] = "";
	if (r->error_op != UINT64_MAX && r->error_line)
		snprintf(where, sizeof where, " at op %" PRIu64 " (line %" PRIu64 ")", r->error_op,
			 r->error_line);
	else if (r->error_op != UINT64_MAX)
		snprintf(where, sizeof where, " at op %" PRIu64, r->error_op);
	fprintf(f, "%s x %s: %s%s: %s\n", id->trace, id->backend, replay_status_names[r->status],
		where, r->error);
}

/* ---- results.jsonl ------------------------------------------------------------------ */

json_t *results_read(const char *path)
{
	json_t *all = json_array();
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? all : (json_decref(all), NULL);
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (n == 1 && line[0] == '\n')
			continue;
		json_error_t e;
		json_t *o = json_loads(line, 0, &e);
		if (!o || !json_is_object(o)) {
			hb_error("%s:%zu: not a job result: %s", path, lineno,
				 o ? "not an object" : e.text);
			json_decref(o);
			json_decref(all);
			all = NULL;
			break;
		}
		json_array_append_new(all, o);
	}
	free(line);
	fclose(f);
	return all;
}

int results_append(int fd, const char *path, const json_t *o)
{
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line)
		hb_oom();
	size_t len = strlen(line);
	line[len] = '\n'; /* json_dumps leaves room: the NUL */
	ssize_t w = write(fd, line, len + 1);
	free(line);
	if (w != (ssize_t)len + 1 || fdatasync(fd) < 0) {
		hb_error("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- The field table, for readers ----------------------------------------------------- */

#define FIELD_INFO_(ID, name, type, unit, csv, gate, show, ...)                                    \
	[RES_##ID] = {name, RES_TYPE_##type, RES_UNIT_##unit, csv, RES_GATE_##gate, show},
const struct res_field_info res_fields[RES_NFIELDS] = {RES_FIELDS(FIELD_INFO_)};
#undef FIELD_INFO_

/* only the gateable fields' names: NONE expands to nothing */
#define GATE_NAME_NONE(name)
#define GATE_NAME_EXACT(name)                            name,
#define GATE_NAME_FRAG(name)                             name,
#define GATE_NAME_NOISY(name)                            name,
#define GATE_NAME_(ID, name, type, unit, csv, gate, ...) GATE_NAME_##gate(name)
const char *const res_gate_names[] = {RES_FIELDS(GATE_NAME_) NULL};
#undef GATE_NAME_

#define LATENCY_NAME_(p) #p,
const char *const res_latency_names[] = {RES_LATENCY_LIST(LATENCY_NAME_) NULL};
#undef LATENCY_NAME_

int res_field_find(const char *name)
{
	for (int f = 0; f < RES_NFIELDS; f++)
		if (!strcmp(res_fields[f].name, name))
			return f;
	return -1;
}

const json_t *res_get(const json_t *o, enum res_field f)
{
	HB_ASSERT(f < RES_NFIELDS);
	return o ? json_object_get(o, res_fields[f].name) : NULL;
}

const char *res_str(const json_t *o, enum res_field f)
{
	const char *s = json_string_value(res_get(o, f));
	return s ? s : "";
}

unsigned res_copies(const json_t *o)
{
	double k = 1;
	res_num(o, RES_COPIES, &k);
	return k >= 1 ? (unsigned)k : 1;
}

bool res_recorded(const json_t *o)
{
	return !strcmp(res_str(o, RES_MODE), replay_threads_names[THREADS_RECORDED]);
}

bool res_ok(const json_t *o)
{
	return !strcmp(res_str(o, RES_STATUS), replay_status_names[JOB_OK]);
}

bool res_num(const json_t *o, enum res_field f, double *v)
{
	const json_t *x = res_get(o, f);
	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return isfinite(*v);
}

void res_show(char *buf, size_t len, enum res_field f, double v)
{
	HB_ASSERT(res_fields[f].show);
	snprintf(buf, len, res_fields[f].show,
		 res_fields[f].unit == RES_UNIT_FRACTION ? v * 100 : v);
}

void res_cell(char *buf, size_t len, const json_t *o, enum res_field f)
{
	double v;
	if (res_num(o, f, &v))
		res_show(buf, len, f, v);
	else
		snprintf(buf, len, "-");
}

/* ---- The sink of `replay` ----------------------------------------------------------- */

static void stdout_begin(void *json)
{
	if (!*(bool *)json)
		result_table_header(stdout);
}

static void stdout_job(void *json, const struct replay_done *d)
{
	char name[256];
	trace_short_name(d->trace_path, name, sizeof name);
	struct job_id id = {name, d->trace_path, d->backend, d->cfg};
	json_t *o = *(bool *)json ? result_json(&id, d->r) : NULL;
	if (o) {
		json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else if (d->cfg) {
		result_table_row(stdout, &id, d->r);
		lab_report_add(d->trace_path, d->backend, d->cfg, d->r);
	} else {
		result_print_error(stdout, &id, d->r);
	}
	fflush(stdout);
}

static void stdout_end(void *json, const struct replay_done *failed, size_t n)
{
	lab_report_print(stdout);
	if (!*(bool *)json && n)
		printf("\nfailed jobs:\n");
	for (size_t k = 0; k < n && !*(bool *)json; k++)
		stdout_job(json, &failed[k]);
}

struct replay_sink result_stdout_sink(bool *json)
{
	return (struct replay_sink){json, stdout_begin, stdout_job, stdout_end};
}
