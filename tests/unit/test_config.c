/*
 * test_config.c - the config checker (config.c): a good config's values,
 * and each kind of mistake as its exact one-line message with
 * FILE:LINE:COLUMN.  Configs are written to a scratch directory; their
 * traces are the bundled examples (the tests run from the repository root).
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report/plot.h"
#include "scratch.h"
#include "suite/config.h"

#define TR "traces:\n  - traces/examples/tiny.rep\n"
#define BE "backends:\n  - first-fit\n"

static void test_good(void **state)
{
	(void)state;
	char path[PATH_MAX];
	scratch_file(path, "good.yaml",
		     "name: unit\n" TR "  - {path: traces/examples/coalesce.rep, name: co}\n"
		     "backends:\n  - first-fit\n"
		     "  - {name: ff-lifo, backend: first-fit, options: {order: lifo}}\n"
		     "repeat: 3\ncheck: fast\nheap_check: 7\nlatency: yes\ntimeout: 2.5\n"
		     "memory_limit: 3GiB\n"
		     "heap_limit: 4GiB\noutput: out/unit\nplots: [throughput, latency]\n"
		     "sample_every: 64\nalign: 32\n"
		     "regression:\n  baseline: base.jsonl\n"
		     "  max_drop: {utilization: 0.01, mops: 0.2}\n  fail_on: [crash, oom]\n");
	struct config *c = config_load(path);
	assert_non_null(c);
	assert_string_equal(c->name, "unit");
	assert_int_equal(c->ntraces, 2);
	assert_string_equal(c->traces[0].name, "tiny");
	assert_string_equal(c->traces[1].name, "co");
	assert_string_equal(c->traces[1].path, "traces/examples/coalesce.rep");
	assert_int_equal(c->nbackends, 2);
	assert_string_equal(c->backends[1].spec, "ff-lifo");
	assert_int_equal(c->base.repeat, 3);
	assert_int_equal(c->base.check, CHECK_FAST);
	assert_int_equal(c->base.heap_check_every, 7);
	assert_true(c->base.latency);
	assert_true(c->limits.timeout == 2.5);
	assert_int_equal(c->limits.memory, 3ull << 30);
	assert_int_equal(c->base.heap_limit, 4ull << 30);
	assert_string_equal(c->output, "out/unit");
	assert_int_equal(c->plots, PLOT_THROUGHPUT | PLOT_LATENCY);
	assert_int_equal(c->base.sample_every, 64);
	assert_int_equal(c->base.alignment, 32);
	assert_true(c->has_regression);
	assert_string_equal(c->baseline, "base.jsonl");
	assert_true(c->max_drop[RES_UTILIZATION] == 0.01);
	assert_true(c->max_drop[RES_MOPS] == 0.2);
	assert_true(c->max_drop[RES_FRAG_PEAK] < 0);
	assert_int_equal(c->fail_on, (1u << JOB_CRASH) | (1u << JOB_OOM));
	config_free(c);
}

static void test_defaults(void **state)
{
	(void)state;
	char path[PATH_MAX];
	scratch_file(path, "quick.yaml", TR BE);
	struct config *c = config_load(path);
	assert_non_null(c);
	assert_string_equal(c->name, "quick"); /* the file's name */
	assert_string_equal(c->output, "results/quick");
	assert_int_equal(c->plots, PLOT_ALL);
	assert_int_equal(c->base.repeat, 5);
	assert_int_equal(c->base.check, CHECK_FULL);
	assert_false(c->has_regression);
	config_free(c);
}

/* config_load of yaml fails with exactly "heapbench: FILE:" + where */
static void mistake(const char *yaml, const char *where)
{
	char path[PATH_MAX], want[PATH_MAX + 512];
	scratch_file(path, "bad.yaml", yaml);
	struct capture cap;
	capture_begin(&cap);
	struct config *c = config_load(path);
	char *err = capture_end(&cap);
	snprintf(want, sizeof want, "heapbench: %s:%s\n", path, where);
	assert_string_equal(err, want);
	assert_null(c);
	free(err);
}

static void test_unknown_key(void **state)
{
	(void)state;
	mistake(TR BE "repaet: 3\n", "5:1: config: unknown key 'repaet' (did you mean 'repeat'?)");
	mistake(TR BE "colour: red\n",
		"5:1: config: unknown key 'colour' (known: name, traces, backends, repeat, check, "
		"heap_check, latency, timeout, memory_limit, heap_limit, output, plots, "
		"regression, "
		"sample_every, align, align_strict, lab, threads, copies, pace)");
	mistake(TR "backends:\n  - {name: x, backnd: first-fit}\n",
		"4:15: backends: unknown key 'backnd' (did you mean 'backend'?)");
	mistake("traces:\n  - {path: traces/examples/tiny.rep, nmae: t}\n" BE,
		"2:38: traces: unknown key 'nmae' (did you mean 'name'?)");
}

static void test_wrong_type(void **state)
{
	(void)state;
	mistake(TR BE "repeat: lots\n",
		"5:9: repeat: expected a whole number from 0 to 100, got 'lots'");
	mistake("traces: traces/examples/tiny.rep\n" BE,
		"1:9: traces: expected a list, got a value");
	mistake(TR BE "latency: maybe\n", "5:10: latency: expected true or false, got 'maybe'");
	mistake(TR BE "timeout: [1]\n", "5:10: timeout: expected a value, got a list");
	mistake(TR BE "name: {a: b}\n", "5:7: name: expected a value, got a mapping");
	mistake(TR BE "align: 24\n", "5:8: align: expected a power of two up to 4096");
	mistake(TR BE "sample_every: 0\n", "5:15: sample_every: must be at least 1");
}

static void test_backend_and_values(void **state)
{
	(void)state;
	mistake(TR "backends:\n  - first-fit\n  - frist-fit\n",
		"5:5: unknown backend 'frist-fit' (known: first-fit, next-fit, best-fit, "
		"segregated, buddy, null, system, jemalloc, mimalloc, tcmalloc, preload:PATH, "
		"library:PATH, mm:PATH)");
	mistake(TR "backends:\n  - {name: x, preload: a.so, library: b.so}\n",
		"4:30: backends: give one of backend, preload and library");
	mistake(TR BE "heap_limit: 4 GB\n",
		"5:13: heap_limit: expected a size like 512MiB or 4GiB, got '4 GB'");
	mistake(TR BE "check: sometimes\n",
		"5:8: check: expected one of off, fast, full, got 'sometimes'");
	mistake(TR BE "plots: [throughput, pie]\n",
		"5:21: plots: expected one of throughput, utilization, fragmentation, timeline, "
		"latency, scaling, got 'pie'");
}

static void test_regression(void **state)
{
	(void)state;
	mistake(TR BE "regression:\n  baseline: x.jsonl\n  fail_on: [error, panic]\n",
		"7:20: fail_on: expected one of ok, error, crash, timeout, oom, got 'panic'");
	mistake(TR BE "regression:\n  baseline: x.jsonl\n  max_drop: {utilization: 5}\n",
		"7:27: utilization: expected a number from 0 to 1, got '5'");
	mistake(TR BE "regression:\n  baseline: x.jsonl\n  max_drop: {ops: 0.1}\n",
		"7:14: max_drop: unknown key 'ops' (did you mean 'mops'?)");
	mistake(TR BE "regression:\n  baseline: x.jsonl\n  max_drop: {throughput: 0.1}\n",
		"7:14: max_drop: unknown key 'throughput' (known: utilization, frag_peak, mops)");
	mistake(TR BE "regression:\n  max_drop: {mops: 0.1}\n",
		"6:3: regression: needs a baseline (a results.jsonl or run directory)");
}

/* What YAML allows but a config must not mean: a key twice (libyaml keeps
 * both, the last would win), a second document (it would be ignored);
 * values beyond what their use can take; and messages that stay one short
 * line for a huge or multi-line value. */
static void test_strict(void **state)
{
	(void)state;
	mistake(TR BE "repeat: 3\nlatency: no\nrepeat: 4\n",
		"7:1: duplicate key 'repeat' (also line 5)");
	mistake(TR "backends:\n  - {name: a, backend: first-fit, options: {order: lifo, order: "
		   "fifo}}\n",
		"4:58: duplicate key 'order' (also line 4)");
	mistake("traces:\n  - {path: traces/examples/tiny.rep, path: "
		"traces/examples/coalesce.rep}\n" BE,
		"2:38: duplicate key 'path' (also line 2)");
	mistake(TR BE "---\nrepeat: 2\n",
		"6:1: a second YAML document: a config is one document (remove the ---)");
	mistake("traces:\n  - {path: traces/examples/tiny.rep, name: a}\n"
		"  - {path: traces/examples/coalesce.rep, name: b}\n"
		"  - {path: traces/examples/coalesce.rep, name: a}\n" BE,
		"4:12: trace name 'a' is used twice (also line 2); give one a name: {path: ..., "
		"name: ...}");
	mistake("traces: [traces/examples]\n" BE, "1:10: traces: traces/examples: Is a directory");
	mistake(TR BE "memory_limit: 99999999999999999999\n",
		"5:15: memory_limit: expected a size like 512MiB or 4GiB (0: none), got "
		"'99999999999999999999'");
	mistake(TR BE "repeat: \"3\\n4\"\n",
		"5:9: repeat: expected a whole number from 0 to 100, got '3\\n4'");
	char big[4096], fill[3001], want[512];
	memset(fill, 'x', 3000);
	fill[3000] = '\0';
	snprintf(big, sizeof big, "name: %s\n" TR BE, fill);
	mistake(big, "1:7: name: 3000 bytes long, more than the 200 it may have");
	fill[1000] = '\0';
	snprintf(big, sizeof big, TR BE "check: %s\n", fill);
	snprintf(want, sizeof want,
		 "5:8: check: expected one of off, fast, full, got '%.160s... (1000 bytes)'", fill);
	mistake(big, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_backend_and_values),
		cmocka_unit_test(test_regression),
		cmocka_unit_test(test_strict),
	};
	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
