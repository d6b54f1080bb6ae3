/*
 * test_results.c - the job object through the field table (fields.h):
 * what result_json writes and leaves null or out, the results.jsonl reader
 * (a missing file, blank lines, a torn or invalid line named by file:line),
 * the typed accessors, the cells of the tables and the CSV header.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report/results.h"
#include "report/summary.h"
#include "scratch.h"

/* The keys of o in order, space-separated. */
static void keys_of(const json_t *o, char *buf, size_t len)
{
	size_t n = 0;
	const char *k;
	json_t *v;
	buf[0] = '\0';
	json_object_foreach((json_t *)o, k, v)
	{
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", k);
	}
}

static const struct job_id id = {"tiny", "traces/examples/tiny.rep", "first-fit", NULL};

static void test_json_ok(void **state)
{
	(void)state;
	static struct replay_result r;
	memset(&r, 0, sizeof r);
	r.status = JOB_OK;
	r.error_op = UINT64_MAX;
	r.ops = 10, r.allocs = 5, r.frees = 5;
	r.peak_live_bytes = 80, r.peak_footprint_bytes = 100;
	snprintf(r.footprint_source, sizeof r.footprint_source, "simulated-heap");
	r.have_utilization = true, r.utilization = 0.8, r.frag_peak = 0.25;
	r.repeat = 2, r.seconds[0] = 1, r.seconds[1] = 2;
	r.mops = 7.5, r.ns_per_op = 133.3;
	json_t *o = result_json(&id, &r);
	char keys[2048];
	keys_of(o, keys, sizeof keys);
	assert_string_equal(keys,
			    "trace trace_path backend options status ops allocs frees reallocs "
			    "peak_live_bytes peak_live_op peak_footprint_bytes "
			    "footprint_at_peak_live footprint_source utilization frag_peak "
			    "frag_at_peak_live frag_mean internal_frag_bytes external_frag_bytes "
			    "peak_rss_bytes mode copies threads repeat seconds seconds_median "
			    "seconds_min "
			    "seconds_max "
			    "mops ns_per_op");
	double v;
	assert_true(res_num(o, RES_UTILIZATION, &v) && v == 0.8);
	/* no usable sizes: null, not a made-up 0 */
	assert_true(json_is_null(res_get(o, RES_INTERNAL_FRAG_BYTES)));
	assert_false(res_num(o, RES_INTERNAL_FRAG_BYTES, &v));
	assert_int_equal(json_array_size(res_get(o, RES_SECONDS)), 2);
	assert_string_equal(res_str(o, RES_STATUS), "ok");
	assert_string_equal(res_str(o, RES_BACKEND), "first-fit");
	char cell[32];
	res_cell(cell, sizeof cell, o, RES_UTILIZATION);
	assert_string_equal(cell, "80.0%");
	res_cell(cell, sizeof cell, o, RES_FRAG_PEAK);
	assert_string_equal(cell, "0.250");
	res_cell(cell, sizeof cell, o, RES_NS_PER_OP);
	assert_string_equal(cell, "133.3");
	res_cell(cell, sizeof cell, o, RES_INTERNAL_FRAG_BYTES);
	assert_string_equal(cell, "-");
	json_decref(o);
	/* no ops: no rates */
	r.ops = 0;
	o = result_json(&id, &r);
	assert_true(json_is_null(res_get(o, RES_MOPS)));
	json_decref(o);
}

static void test_json_failed(void **state)
{
	(void)state;
	static struct replay_result r;
	memset(&r, 0, sizeof r);
	r.status = JOB_CRASH;
	r.error_op = UINT64_MAX;
	r.repeat = 3; /* timed passes of a failed job are not reported */
	snprintf(r.error, sizeof r.error, "killed by SIGSEGV");
	json_t *o = result_json(&id, &r);
	char keys[1024];
	keys_of(o, keys, sizeof keys);
	/* nothing measured, no signal: those keys are absent, error_op null */
	assert_string_equal(keys, "trace trace_path backend options status error error_op "
				  "error_line ops allocs frees reallocs mode copies");
	assert_true(json_is_null(res_get(o, RES_ERROR_OP)));
	json_decref(o);
	r.signal = 11, r.error_op = 42, r.peak_footprint_bytes = 4096;
	o = result_json(&id, &r);
	double v;
	assert_true(res_num(o, RES_SIGNAL, &v) && v == 11);
	assert_true(res_num(o, RES_ERROR_OP, &v) && v == 42);
	/* measured before it failed: the footprint stays, the ratio is null */
	assert_true(res_num(o, RES_PEAK_FOOTPRINT_BYTES, &v) && v == 4096);
	assert_true(json_is_null(res_get(o, RES_UTILIZATION)));
	assert_null(res_get(o, RES_REPEAT));
	json_decref(o);
}

static void test_accessors(void **state)
{
	(void)state;
	json_t *o =
		json_pack("{sssfsnsi}", "trace", "x", "mops", 2.5, "utilization", "frag_peak", 3);
	double v = -1;
	assert_string_equal(res_str(o, RES_TRACE), "x");
	assert_string_equal(res_str(o, RES_BACKEND), "");  /* absent */
	assert_string_equal(res_str(o, RES_MOPS), "");     /* not a string */
	assert_string_equal(res_str(NULL, RES_TRACE), ""); /* no object */
	assert_true(res_num(o, RES_MOPS, &v) && v == 2.5);
	assert_false(res_num(o, RES_UTILIZATION, &v)); /* null */
	assert_false(res_num(o, RES_TRACE, &v));       /* a string */
	assert_false(res_num(NULL, RES_MOPS, &v));
	assert_true(res_num(o, RES_FRAG_PEAK, &v) && v == 3); /* an integer */
	json_decref(o);
	assert_int_equal(res_field_find("mops"), RES_MOPS);
	assert_int_equal(res_field_find("timeline"), RES_TIMELINE);
	assert_int_equal(res_field_find("nope"), -1);
	assert_string_equal(res_gate_names[0], "utilization");
	assert_string_equal(res_gate_names[1], "frag_peak");
	assert_string_equal(res_gate_names[2], "mops");
	assert_null(res_gate_names[3]);
}

static json_t *read_capturing(const char *path, char **err)
{
	struct capture c;
	capture_begin(&c);
	json_t *all = results_read(path);
	*err = capture_end(&c);
	return all;
}

static void test_read(void **state)
{
	(void)state;
	char path[PATH_MAX], want[PATH_MAX + 128], *err;
	snprintf(path, sizeof path, "%s/none.jsonl", scratch_dir);
	json_t *all = read_capturing(path, &err);
	assert_non_null(all); /* no file: no results yet */
	assert_int_equal(json_array_size(all), 0);
	assert_string_equal(err, "");
	json_decref(all);
	free(err);

	scratch_file(path, "blank.jsonl", "{\"trace\":\"a\"}\n\n{\"trace\":\"b\"}\n\n");
	all = read_capturing(path, &err);
	assert_int_equal(json_array_size(all), 2);
	assert_string_equal(res_str(json_array_get(all, 1), RES_TRACE), "b");
	json_decref(all);
	free(err);

	scratch_file(path, "torn.jsonl", "{\"trace\":\"a\"}\n{\"trace\":\"b\"}\n{\"tra");
	all = read_capturing(path, &err);
	assert_null(all);
	snprintf(want, sizeof want, "heapbench: %s:3: not a job result: ", path);
	assert_memory_equal(err, want, strlen(want));
	assert_non_null(strchr(err, '\n'));
	assert_string_equal(strchr(err, '\n'), "\n"); /* one line */
	free(err);

	scratch_file(path, "array.jsonl", "\n[1, 2]\n");
	all = read_capturing(path, &err);
	assert_null(all);
	snprintf(want, sizeof want, "heapbench: %s:2: not a job result: not an object\n", path);
	assert_string_equal(err, want);
	free(err);
}

static void test_csv_header(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *all = json_array();
	json_array_append_new(all, json_pack("{sssssssfss}", "trace", "t,1", "backend", "b",
					     "status", "ok", "utilization", 0.5, "error", "a\"b"));
	summary_csv(f, all);
	fclose(f);
	assert_string_equal(text,
			    "trace,backend,status,ops,peak_live_bytes,peak_footprint_bytes,"
			    "footprint_source,utilization,frag_peak,frag_at_peak_live,frag_mean,"
			    "internal_frag_bytes,external_frag_bytes,peak_rss_bytes,mops,ns_per_op,"
			    "seconds_min,seconds_max,error,mode,threads,copies\n"
			    "\"t,1\",b,ok,,,,,0.5,,,,,,,,,,,\"a\"\"b\",,,\n");
	free(text);
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_ok),    cmocka_unit_test(test_json_failed),
		cmocka_unit_test(test_accessors),  cmocka_unit_test(test_read),
		cmocka_unit_test(test_csv_header),
	};
	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
