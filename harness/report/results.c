/*
 * results.c - job results as JSON objects and table rows (results.h).
 */
#include "report/results.h"

#include "base/jsonx.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *result_json(const struct job_id *id, const struct replay_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "trace", jx_str(id->trace));
	json_object_set_new(o, "trace_path", jx_str(id->trace_path));
	json_object_set_new(o, "backend", json_string(id->backend));
	json_t *opts = json_object();
	for (size_t i = 0; id->cfg && i < id->cfg->nopt; i++)
		json_object_set_new(opts, id->cfg->opt[i].key, jx_str(id->cfg->opt[i].value));
	json_object_set_new(o, "options", opts);
	json_object_set_new(o, "status", json_string(replay_status_names[r->status]));
	if (r->status != JOB_OK) {
		json_object_set_new(o, "error", jx_str(r->error));
		json_object_set_new(o, "error_op",
				    r->error_op == UINT64_MAX ? json_null() : jx_u64(r->error_op));
		json_object_set_new(o, "error_line",
				    r->error_line ? jx_u64(r->error_line) : json_null());
		if (r->signal)
			json_object_set_new(o, "signal", json_integer(r->signal));
	}
	json_object_set_new(o, "ops", jx_u64(r->ops));
	json_object_set_new(o, "allocs", jx_u64(r->allocs));
	json_object_set_new(o, "frees", jx_u64(r->frees));
	json_object_set_new(o, "reallocs", jx_u64(r->reallocs));
	bool measured = r->status == JOB_OK || r->peak_footprint_bytes;
	if (measured) {
		json_object_set_new(o, "peak_live_bytes", jx_u64(r->peak_live_bytes));
		json_object_set_new(o, "peak_live_op", jx_u64(r->peak_live_op));
		json_object_set_new(o, "peak_footprint_bytes", jx_u64(r->peak_footprint_bytes));
		json_object_set_new(o, "footprint_at_peak_live", jx_u64(r->footprint_at_peak_live));
		json_object_set_new(o, "footprint_source", json_string(r->footprint_source));
		if (r->nstats) {
			json_t *st = json_object();
			for (unsigned i = 0; i < r->nstats; i++)
				json_object_set_new(st, r->stats[i].name,
						    jx_u64(r->stats[i].value));
			json_object_set_new(o, "allocator_stats", st);
		}
		/* no live data or no footprint: no ratio, rather than a made-up 0 */
		json_object_set_new(o, "utilization",
				    r->have_utilization ? jx_num(r->utilization) : json_null());
		json_object_set_new(o, "frag_peak",
				    r->have_utilization ? jx_num(r->frag_peak) : json_null());
		json_object_set_new(o, "frag_at_peak_live",
				    r->have_utilization ? jx_num(r->frag_at_peak_live)
							: json_null());
		json_object_set_new(o, "frag_mean", jx_num(r->frag_mean));
		json_object_set_new(o, "internal_frag_bytes",
				    r->have_usable ? jx_u64(r->internal_frag_bytes) : json_null());
		json_object_set_new(o, "external_frag_bytes",
				    r->have_usable ? jx_u64(r->external_frag_bytes) : json_null());
		json_object_set_new(o, "peak_rss_bytes", jx_u64(r->peak_rss_bytes));
	}
	if (r->repeat && r->status == JOB_OK) {
		json_object_set_new(o, "repeat", json_integer(r->repeat));
		json_t *secs = json_array();
		for (unsigned k = 0; k < r->repeat; k++)
			json_array_append_new(secs, jx_num(r->seconds[k]));
		json_object_set_new(o, "seconds", secs);
		json_object_set_new(o, "seconds_median", jx_num(r->seconds_median));
		json_object_set_new(o, "seconds_min", jx_num(r->seconds_min));
		json_object_set_new(o, "seconds_max", jx_num(r->seconds_max));
		json_object_set_new(o, "mops", r->ops ? jx_num(r->mops) : json_null());
		json_object_set_new(o, "ns_per_op", r->ops ? jx_num(r->ns_per_op) : json_null());
	}
	if (r->have_latency) {
		json_t *lat = json_object();
		for (int k = 0; k < TRACE_NKINDS; k++) {
			const struct replay_latency *l = &r->latency[k];
			if (!l->count)
				continue;
			json_object_set_new(lat, trace_kind_names[k],
					    json_pack("{sIsososososo}", "count",
						      (json_int_t)l->count, "p50", jx_num(l->p50),
						      "p90", jx_num(l->p90), "p99", jx_num(l->p99),
						      "p999", jx_num(l->p999), "max",
						      jx_num(l->max)));
		}
		json_object_set_new(o, "latency_ns", lat);
		json_object_set_new(o, "timer_overhead_ns", jx_num(r->timer_overhead_ns));
	}
	if (measured && r->npoints) {
		json_t *tl = json_array();
		for (unsigned k = 0; k < r->npoints; k++)
			json_array_append_new(tl, json_pack("[III]", (json_int_t)r->timeline[k].op,
							    (json_int_t)r->timeline[k].live,
							    (json_int_t)r->timeline[k].footprint));
		json_object_set_new(o, "timeline", tl);
	}
	return o;
}

void result_table_header(FILE *f)
{
	fprintf(f, "%-24s %-28s %-8s %7s %9s %9s %9s\n", "trace", "backend", "status", "util",
		"frag_peak", "Mops/s", "ns/op");
}

void result_table_row(FILE *f, const struct job_id *id, const struct replay_result *r)
{
	char util[16] = "-", frag[16] = "-", mops[16] = "-", ns[16] = "-";
	if (r->status == JOB_OK) {
		if (r->have_utilization) {
			snprintf(util, sizeof util, "%.1f%%", r->utilization * 100);
			snprintf(frag, sizeof frag, "%.3f", r->frag_peak);
		}
		if (r->repeat && r->ops) {
			snprintf(mops, sizeof mops, "%.2f", r->mops);
			snprintf(ns, sizeof ns, "%.1f", r->ns_per_op);
		}
	}
	fprintf(f, "%-24s %-28s %-8s %7s %9s %9s %9s\n", id->trace, id->backend,
		replay_status_names[r->status], util, frag, mops, ns);
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

/* Every job object in path, in order; NULL after reporting a bad line. */
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

const char *result_str(const json_t *o, const char *key)
{
	const char *s = o ? json_string_value(json_object_get(o, key)) : NULL;
	return s ? s : "";
}

bool result_num(const json_t *o, const char *key, double *v)
{
	const json_t *x = o ? json_object_get(o, key) : NULL;
	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return isfinite(*v);
}
