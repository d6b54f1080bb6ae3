/*
 * test_compare.c - the regression gate's arithmetic (compare.c) against
 * hand-computed cases: utilization's relative drop at and just over a
 * threshold, the exact default for the simulated heap, frag_peak's growth
 * of 1 + frag, throughput's overlapping and disjoint ranges, status
 * changes, missing and new jobs, and --max-drop's parsing.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay/replay.h"
#include "report/compare.h"
#include "scratch.h"

/* A job object of trace "t" x backend "b", ok unless status says. */
static json_t *job(const char *status, const char *source, double util, double frag)
{
	return json_pack("{ssssssssss sfsfsi}", "trace", "t", "backend", "b", "status", status,
			 "footprint_source", source, "error", "boom", "utilization", util,
			 "frag_peak", frag, "ops", 1000000);
}

/* mops with the timed passes' min and max seconds (ops 1e6) */
static json_t *timed(double mops, double smin, double smax)
{
	json_t *o = job("ok", "rss", 0.5, 0.5);
	json_object_set_new(o, "mops", json_real(mops));
	json_object_set_new(o, "seconds_min", json_real(smin));
	json_object_set_new(o, "seconds_max", json_real(smax));
	return o;
}

/* compare_runs over one job each side (NULL = none); its exit code and, in
 * out, the lines naming regressions ("  t x b: why"), or "" */
static int gate(json_t *b, json_t *n, const struct compare_opts *o, char *out, size_t len)
{
	json_t *base = json_array(), *now = json_array();
	if (b)
		json_array_append_new(base, b);
	if (n)
		json_array_append_new(now, n);
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	int rc = compare_runs(base, now, o, f);
	fclose(f);
	const char *why = strstr(text, "\n  ");
	snprintf(out, len, "%s", why ? why + 1 : "");
	free(text);
	json_decref(base);
	json_decref(now);
	return rc;
}

#define assert_gate(b, n, opts, rc, expected)                                                      \
	do {                                                                                       \
		char got_[1024];                                                                   \
		int rc_ = gate((b), (n), (opts), got_, sizeof got_);                               \
		assert_string_equal(got_, (expected));                                             \
		assert_int_equal(rc_, (rc));                                                       \
	} while (0)

static void test_utilization_exact_default(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	/* the simulated heap on both sides: any drop fails, none passes */
	assert_gate(job("ok", "simulated-heap", 0.8, 0.25), job("ok", "simulated-heap", 0.8, 0.25),
		    &o, 0, "");
	assert_gate(job("ok", "simulated-heap", 0.8, 0.25),
		    job("ok", "simulated-heap", 0.79999, 0.25), &o, 1,
		    "  t x b: utilization dropped 0.001% (0.800000 -> 0.799990; allowed 0.000%)\n");
	/* a growth is no regression */
	assert_gate(job("ok", "simulated-heap", 0.8, 0.25), job("ok", "simulated-heap", 0.9, 0.1),
		    &o, 0, "");
	/* a process-wide footprint is not gated unless asked */
	assert_gate(job("ok", "rss", 0.8, 0.25), job("ok", "rss", 0.4, 0.25), &o, 0, "");
	assert_gate(job("ok", "simulated-heap", 0.8, 0.25), job("ok", "rss", 0.4, 0.25), &o, 0, "");
}

static void test_utilization_threshold(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	assert_int_equal(compare_parse_drop(&o, "utilization=0.1"), 0);
	/* 0.5 -> 0.45 is a drop of exactly 10 %: allowed */
	assert_gate(job("ok", "rss", 0.5, 0), job("ok", "rss", 0.45, 0), &o, 0, "");
	/* 0.5 -> 0.4495 is 10.1 %: over */
	assert_gate(
		job("ok", "rss", 0.5, 0), job("ok", "rss", 0.4495, 0), &o, 1,
		"  t x b: utilization dropped 10.100% (0.500000 -> 0.449500; allowed 10.000%)\n");
	/* a threshold replaces the exact default of the simulated heap */
	assert_gate(job("ok", "simulated-heap", 0.5, 0), job("ok", "simulated-heap", 0.46, 0), &o,
		    0, "");
}

static void test_frag_peak(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	/* not gated unless asked */
	assert_gate(job("ok", "rss", 0.5, 1.0), job("ok", "rss", 0.5, 3.0), &o, 0, "");
	assert_int_equal(compare_parse_drop(&o, "frag_peak=0.1"), 0);
	/* 1 + frag: 2.0 -> 2.2 grows exactly 10 %: allowed */
	assert_gate(job("ok", "rss", 0.5, 1.0), job("ok", "rss", 0.5, 1.2), &o, 0, "");
	/* 2.0 -> 2.21 grows 10.5 % */
	assert_gate(job("ok", "rss", 0.5, 1.0), job("ok", "rss", 0.5, 1.21), &o, 1,
		    "  t x b: footprint per live byte grew 10.500% (frag_peak 1.000000 -> "
		    "1.210000; allowed 10.000%)\n");
}

static void test_mops_ranges(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	/* not gated unless asked */
	assert_gate(timed(10, 0.09, 0.11), timed(5, 0.18, 0.22), &o, 0, "");
	assert_int_equal(compare_parse_drop(&o, "mops=0.1"), 0);
	/* halved, and the ranges (9.091-11.111 vs 4.545-5.556) are disjoint */
	assert_gate(timed(10, 0.09, 0.11), timed(5, 0.18, 0.22), &o, 1,
		    "  t x b: Mops/s dropped 50.0% (10.000 -> 5.000; ranges 9.091-11.111 and "
		    "4.545-5.556 do not overlap; allowed 10.0%)\n");
	/* halved, but one fast pass (12.5) reaches the baseline's range: noise */
	assert_gate(timed(10, 0.09, 0.11), timed(5, 0.08, 0.2), &o, 0, "");
	/* within the threshold */
	assert_gate(timed(10, 0.09, 0.11), timed(9.5, 0.10, 0.12), &o, 0, "");
}

static void test_status(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	assert_gate(job("ok", "rss", 0.5, 0), job("crash", "rss", 0.5, 0), &o, 1,
		    "  t x b: was ok, now crash: boom\n");
	/* failing before and now: only fail_on makes it a regression */
	assert_gate(job("error", "rss", 0.5, 0), job("error", "rss", 0.5, 0), &o, 0, "");
	o.fail_on = 1u << JOB_ERROR;
	assert_gate(job("error", "rss", 0.5, 0), job("error", "rss", 0.5, 0), &o, 1,
		    "  t x b: error: boom\n");
	assert_gate(job("timeout", "rss", 0.5, 0), job("timeout", "rss", 0.5, 0), &o, 0, "");
	/* a new job that fails, in fail_on */
	assert_gate(NULL, job("error", "rss", 0.5, 0), &o, 1, "  t x b: error: boom\n");
}

static void test_missing_and_new(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	assert_gate(job("ok", "rss", 0.5, 0), NULL, &o, 1, "  t x b: missing from the new run\n");
	assert_gate(NULL, job("ok", "rss", 0.5, 0), &o, 0, "");
	/* the summary line counts it as new */
	json_t *base = json_array(), *now = json_array();
	json_array_append_new(now, job("ok", "rss", 0.5, 0));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(compare_runs(base, now, &o, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "\n0 jobs compared, 1 new, 0 regressions\n"));
	free(text);
	json_decref(base);
	json_decref(now);
}

static void test_parse_drop(void **state)
{
	(void)state;
	struct compare_opts o;
	compare_opts_init(&o);
	assert_int_equal(compare_parse_drop(&o, "utilization=0.005"), 0);
	assert_true(o.max_drop[RES_UTILIZATION] == 0.005);
	assert_true(o.max_drop[RES_MOPS] < 0);
	static const char *const bad[] = {"ops=0.1", "utilization",    "mops=", "mops=x",
					  "mops=-1", "frag_peak=0.1x", "=0.1",  "mops=101"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct capture c;
		capture_begin(&c);
		int rc = compare_parse_drop(&o, bad[i]);
		char *err = capture_end(&c);
		char want[256];
		snprintf(
			want, sizeof want,
			"heapbench: compare: --max-drop takes utilization=F, frag_peak=F or mops=F "
			"with F a fraction (0.01 = 1%%), not '%s'\n",
			bad[i]);
		assert_string_equal(err, want);
		assert_int_equal(rc, -1);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utilization_exact_default),
		cmocka_unit_test(test_utilization_threshold),
		cmocka_unit_test(test_frag_peak),
		cmocka_unit_test(test_mops_ranges),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_missing_and_new),
		cmocka_unit_test(test_parse_drop),
	};
	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
