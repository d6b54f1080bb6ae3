/*
 * test_import.c - the shared layer of the importers (harness/trace/import.c):
 * calls as logs spell them, and the policy and count of every reality of a
 * recorded log, against ops and counts worked out by hand in the comments.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/import.h"
#include "trace/stats.h"
#include "trace/trace.h"

struct fixture {
	struct trace *t;
	struct src s;
	struct diag d;
	struct importer im;
};

static void start(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->t = trace_new("test.log");
	diag_init(&f->d, "test.log", false);
	f->d.quiet = true;
	f->s.line = 1;
	import_begin(&f->im, f->t, &f->s, &f->d, "test");
}

/* One call on the next line. */
static int call(struct fixture *f, char kind, uint64_t ptr, uint64_t old, uint64_t size,
		uint64_t arg)
{
	struct import_call c = {.kind = kind, .ptr = ptr, .old = old, .size = size, .arg = arg};
	f->s.line++;
	return import_call(&f->im, &c);
}

static void finish(struct fixture *f)
{
	assert_int_equal(import_finish(&f->im), 0);
}

static void stop(struct fixture *f)
{
	trace_free(f->t);
}

static const char *meta(const struct fixture *f, const char *key)
{
	const char *v = trace_meta_get(f->t, key);
	return v ? v : "(none)";
}

static void assert_op(const struct trace *t, uint64_t i, unsigned kind, uint32_t id, uint64_t size,
		      unsigned flags)
{
	assert_true(i < t->nops);
	assert_int_equal(t->ops[i].kind, kind);
	assert_int_equal(t->ops[i].id, id);
	assert_int_equal(t->ops[i].size, size);
	assert_int_equal(t->ops[i].flags, flags);
}

/* malloc 0x10 (100), malloc 0x20 (50), free 0x10, free 0x30 (never
 * allocated: dropped), free(NULL): 4 ops, peak live 150, one unknown free. */
static void test_unknown_free(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	assert_int_equal(call(&f, 'a', 0x10, 0, 100, 0), 0);
	assert_int_equal(call(&f, 'a', 0x20, 0, 50, 0), 0);
	assert_int_equal(call(&f, 'f', 0x10, 0, 0, 0), 0);
	assert_int_equal(call(&f, 'f', 0x30, 0, 0, 0), 0);
	assert_int_equal(call(&f, 'f', 0, 0, 0, 0), 0);
	finish(&f);
	assert_int_equal(f.t->nops, 4);
	assert_op(f.t, 0, TRACE_ALLOC, 0, 100, 0);
	assert_op(f.t, 1, TRACE_ALLOC, 1, 50, 0);
	assert_op(f.t, 2, TRACE_FREE, 0, 0, 0);
	assert_op(f.t, 3, TRACE_FREE, TRACE_ID_NULL, 0, 0);
	assert_string_equal(meta(&f, "import-unknown-frees"), "1");
	assert_string_equal(meta(&f, "import-lost-frees"), "0");
	assert_string_equal(meta(&f, "imported-from"), "test");
	struct trace_stats st;
	trace_compute_stats(f.t, &st);
	assert_int_equal(st.peak_live_bytes, 150);
	/* the op's source line is the call's */
	assert_int_equal(trace_line(f.t, 3), 6);
	stop(&f);
}

/* malloc 0x10 (8) then malloc 0x10 (16) again: the free was lost; the
 * old block is freed just before, so the ops are a, f, a on id 0. */
static void test_lost_free(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	call(&f, 'a', 0x10, 0, 8, 0);
	call(&f, 'a', 0x10, 0, 16, 0);
	finish(&f);
	assert_int_equal(f.t->nops, 3);
	assert_op(f.t, 0, TRACE_ALLOC, 0, 8, 0);
	assert_op(f.t, 1, TRACE_FREE, 0, 0, 0);
	assert_op(f.t, 2, TRACE_ALLOC, 0, 16, 0);
	assert_string_equal(meta(&f, "import-lost-frees"), "1");
	stop(&f);
}

/* malloc = NULL, then realloc(0x10, 100) = NULL: both failed, not
 * replayed; the block keeps its 8 bytes and its address. */
static void test_failed_calls(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	call(&f, 'a', 0, 0, (uint64_t)1 << 50, 0);
	call(&f, 'a', 0x10, 0, 8, 0);
	call(&f, 'r', 0, 0x10, 100, 0);
	call(&f, 'f', 0x10, 0, 0, 0);
	finish(&f);
	assert_int_equal(f.t->nops, 2);
	assert_op(f.t, 0, TRACE_ALLOC, 0, 8, 0);
	assert_op(f.t, 1, TRACE_FREE, 0, 0, 0);
	assert_string_equal(meta(&f, "import-failed-calls"), "2");
	assert_string_equal(meta(&f, "import-unknown-frees"), "0");
	stop(&f);
}

/* The reallocs: moved (0x10 -> 0x20, then freed at its new address; the
 * old address is dead), of NULL (an alloc spelled realloc), to 0 (a free
 * spelled realloc), of an address never allocated (an alloc, counted). */
static void test_reallocs(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	call(&f, 'a', 0x10, 0, 8, 0);
	call(&f, 'r', 0x20, 0x10, 32, 0);
	call(&f, 'f', 0x10, 0, 0, 0); /* dead now: unknown */
	call(&f, 'f', 0x20, 0, 0, 0);
	call(&f, 'r', 0x40, 0, 5, 0);
	call(&f, 'r', 0, 0x40, 0, 0);
	call(&f, 'r', 0x50, 0x99, 10, 0);
	finish(&f);
	assert_int_equal(f.t->nops, 6);
	assert_op(f.t, 0, TRACE_ALLOC, 0, 8, 0);
	assert_op(f.t, 1, TRACE_REALLOC, 0, 32, 0);
	assert_op(f.t, 2, TRACE_FREE, 0, 0, 0);
	assert_op(f.t, 3, TRACE_ALLOC, 0, 5, TRACE_F_REALLOC_NULL);
	assert_op(f.t, 4, TRACE_FREE, 0, 0, TRACE_F_REALLOC_ZERO);
	assert_op(f.t, 5, TRACE_ALLOC, 0, 10, 0);
	assert_string_equal(meta(&f, "import-unknown-frees"), "1");
	assert_string_equal(meta(&f, "import-unknown-reallocs"), "1");
	stop(&f);
}

/* realloc(p, 0) that returned a block (some libraries do): p freed, then
 * an allocation of 0 bytes at the result; malloc(0) is kept and counted. */
static void test_zero_sizes(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	call(&f, 'a', 0x10, 0, 8, 0);
	call(&f, 'r', 0x30, 0x10, 0, 0);
	call(&f, 'a', 0x60, 0, 0, 0);
	call(&f, 'c', 0x70, 0, 4, 0);
	finish(&f);
	assert_int_equal(f.t->nops, 5);
	assert_op(f.t, 1, TRACE_FREE, 0, 0, TRACE_F_REALLOC_ZERO);
	assert_op(f.t, 2, TRACE_ALLOC, 0, 0, 0);
	assert_op(f.t, 3, TRACE_ALLOC, 1, 0, 0);
	assert_op(f.t, 4, TRACE_CALLOC, 2, 4, 0);
	assert_string_equal(meta(&f, "import-zero-sizes"), "3");
	stop(&f);
}

/* Alignments: 0 -> 1 and 24 -> 32 (glibc's memalign rounds up). */
static void test_alignment(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	call(&f, 'm', 0x100, 0, 10, 0);
	call(&f, 'm', 0x200, 0, 10, 24);
	call(&f, 'm', 0x300, 0, 10, 4096);
	finish(&f);
	assert_int_equal(f.t->ops[0].arg, 1);
	assert_int_equal(f.t->ops[1].arg, 32);
	assert_int_equal(f.t->ops[2].arg, 4096);
	stop(&f);
}

/* A bad line is an error unless it is the cut-off last line; the first
 * process seen is the trace, the others are counted. */
static void test_truncated_and_processes(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	assert_true(import_process(&f.im, 100));
	call(&f, 'a', 0x10, 0, 8, 0);
	assert_false(import_process(&f.im, 200));
	import_skip_call(&f.im);
	assert_false(import_process(&f.im, 300));
	import_skip_call(&f.im);
	assert_false(import_process(&f.im, 200));
	import_skip_call(&f.im);
	f.s.line = 7;
	assert_int_equal(import_bad_line(&f.im, "bad"), -1);
	assert_string_equal(f.d.last, "bad");
	f.s.unterminated = true;
	assert_int_equal(import_bad_line(&f.im, "bad"), 0);
	import_other_line(&f.im);
	finish(&f);
	assert_string_equal(meta(&f, "import-truncated-lines"), "1");
	assert_string_equal(meta(&f, "import-other-processes"), "3");
	assert_string_equal(meta(&f, "import-other-lines"), "1");
	assert_string_equal(meta(&f, "pid"), "100");
	assert_string_equal(meta(&f, "processes"), "3");
	stop(&f);
}

/* Times: the ops before the first timed one take its time, an untimed op
 * after it the last one; a moved realloc and a lost free keep the call's. */
static void test_times(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	struct import_call c1 = {.kind = 'a', .ptr = 0x10, .size = 8};
	struct import_call c2 = {
		.kind = 'a', .ptr = 0x20, .size = 8, .time_ns = 500, .has_time = true};
	struct import_call c3 = {
		.kind = 'a', .ptr = 0x20, .size = 9, .time_ns = 700, .has_time = true};
	struct import_call c4 = {.kind = 'f', .ptr = 0x10};
	assert_int_equal(import_call(&f.im, &c1), 0);
	assert_int_equal(import_call(&f.im, &c2), 0);
	assert_int_equal(import_call(&f.im, &c3), 0); /* lost free, then alloc */
	assert_int_equal(import_call(&f.im, &c4), 0);
	finish(&f);
	assert_int_equal(f.t->nops, 5);
	assert_non_null(f.t->times);
	const uint64_t want[] = {500, 500, 700, 700, 700};
	for (int i = 0; i < 5; i++)
		assert_int_equal(f.t->times[i], want[i]);
	/* .hbt keeps them (flag HBT_F_TIMES); the ops are unchanged */
	char dir[] = "/tmp/hb-import-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.hbt", dir);
	assert_int_equal(trace_write(f.t, path), 0);
	struct trace *back = trace_load_file(path, true);
	assert_non_null(back);
	assert_int_equal(back->nops, 5);
	assert_non_null(back->times);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(back->times[i], want[i]);
		assert_memory_equal(&back->ops[i], &f.t->ops[i], sizeof back->ops[i]);
	}
	trace_free(back);
	unlink(path);
	/* and so does the text format (version 2, ` @NS` on every op) */
	snprintf(path, sizeof path, "%s/t.trace", dir);
	assert_int_equal(trace_write(f.t, path), 0);
	back = trace_load_file(path, true);
	assert_non_null(back);
	assert_int_equal(back->nops, 5);
	assert_non_null(back->times);
	for (int i = 0; i < 5; i++)
		assert_int_equal(back->times[i], want[i]);
	trace_free(back);
	unlink(path);
	rmdir(dir);
	stop(&f);
}

/* A log without one allocation call is no trace. */
static void test_empty(void **state)
{
	(void)state;
	struct fixture f;
	start(&f);
	import_other_line(&f.im);
	assert_int_equal(import_finish(&f.im), -1);
	assert_string_equal(f.d.last, "test log without any allocation call");
	stop(&f);
}

static void test_parsers(void **state)
{
	(void)state;
	const char *p = "0x1fA9 rest";
	uint64_t v;
	assert_true(import_hex(&p, &v));
	assert_int_equal(v, 0x1fa9);
	assert_string_equal(p, " rest");
	p = "0x";
	assert_false(import_hex(&p, &v));
	p = "12345678901234567"; /* 17 hex digits */
	assert_false(import_hex(&p, &v));
	p = "18446744073709551615)";
	assert_true(import_dec(&p, &v));
	assert_true(v == UINT64_MAX);
	p = "18446744073709551616";
	assert_false(import_dec(&p, &v));
	p = "malloc(";
	assert_true(import_lit(&p, "malloc"));
	assert_string_equal(p, "(");
	assert_false(import_lit(&p, "free"));
}

/* C's argument orders: each kind's fields, and the wrong arities refused. */
static void test_c_calls(void **state)
{
	(void)state;
	const uint64_t v[] = {7, 9};
	struct {
		char fn;
		int n;
		char kind;
		uint64_t ptr, old, arg, size;
	} cases[] = {
		{'a', 1, 'a', 0x50, 0, 0, 7}, {'c', 2, 'c', 0x50, 0, 7, 9},
		{'m', 2, 'm', 0x50, 0, 7, 9}, {'v', 1, 'm', 0x50, 0, 4096, 7},
		{'r', 2, 'r', 0x50, 7, 0, 9}, {'f', 1, 'f', 7, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct import_call c = {.thread = 3};
		assert_true(import_c_call(&c, cases[i].fn, v, cases[i].n, 0x50));
		assert_int_equal(c.kind, cases[i].kind);
		assert_int_equal(c.ptr, cases[i].ptr);
		assert_int_equal(c.old, cases[i].old);
		assert_int_equal(c.arg, cases[i].arg);
		assert_int_equal(c.size, cases[i].size);
		assert_int_equal(c.thread, 3); /* the caller's */
		assert_false(import_c_call(&c, cases[i].fn, v, cases[i].n == 1 ? 2 : 1, 0x50));
	}
	struct import_call c = {0};
	assert_false(import_c_call(&c, 'x', v, 1, 0));
	assert_false(import_c_call(&c, 0, v, 1, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_free),
		cmocka_unit_test(test_lost_free),
		cmocka_unit_test(test_failed_calls),
		cmocka_unit_test(test_reallocs),
		cmocka_unit_test(test_zero_sizes),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_truncated_and_processes),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_c_calls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
