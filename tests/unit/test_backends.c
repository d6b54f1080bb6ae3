/*
 * test_backends.c - one conformance suite over every built-in backend in
 * the registry: the C semantics at the edges (free(NULL), realloc(NULL, n),
 * realloc(p, 0), calloc, memalign, usable_size), rejection of pointers the
 * backend never handed out (with the heap still consistent afterwards),
 * exhaustion of a heap limit, the backend's own check after random work,
 * and two heaps of one backend on one thread staying independent.  A backend added to the registry
 * is tested here without a line of new test code.
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

#include "allocator.h"
#include "heap.h"

struct inst {
	const struct allocator *a;
	struct heap *heap;
	void *st;
	char err[ALLOC_ERRLEN];
};

static void start(struct inst *in, const struct allocator *a, uint64_t limit)
{
	in->a = a;
	in->heap = heap_create(limit);
	assert_non_null(in->heap);
	struct backend_opts none = {NULL, 0};
	if (a->init(&in->st, in->heap, &none, in->err, sizeof in->err) < 0)
		fail_msg("%s: init failed: %s", a->name, in->err);
}

static void stop(struct inst *in)
{
	in->a->fini(in->st);
	heap_destroy(in->heap);
}

static void expect_consistent(struct inst *in, const char *after)
{
	if (in->a->check && in->a->check(in->st, in->err, sizeof in->err) < 0)
		fail_msg("%s: check after %s: %s", in->a->name, after, in->err);
}

/* Runs fn over every built-in backend of the registry. */
static void each_builtin(void (*fn)(const struct allocator *))
{
	int n = 0;
	for (size_t i = 0; allocator_registry[i]; i++)
		/* null is no allocator: it never frees nor checks anything */
		if ((allocator_registry[i]->flags & ALLOC_F_SIMULATED) &&
		    strcmp(allocator_registry[i]->name, "null")) {
			fn(allocator_registry[i]);
			n++;
		}
	assert_true(n >= 1);
}

/* ---- The C semantics ----------------------------------------------------------- */

static void edges(const struct allocator *a)
{
	struct inst in;
	start(&in, a, 0);
	/* free(NULL) does nothing */
	assert_int_equal(a->free(in.st, NULL, in.err, sizeof in.err), 0);
	/* realloc(NULL, n) is malloc(n) */
	char *p = a->realloc(in.st, NULL, 100);
	assert_non_null(p);
	memset(p, 0x5a, 100);
	assert_true(a->usable_size(in.st, p) >= 100);
	/* growing and shrinking keep the contents */
	p = a->realloc(in.st, p, 5000);
	assert_non_null(p);
	for (int i = 0; i < 100; i++)
		assert_int_equal((unsigned char)p[i], 0x5a);
	p = a->realloc(in.st, p, 10);
	assert_non_null(p);
	for (int i = 0; i < 10; i++)
		assert_int_equal((unsigned char)p[i], 0x5a);
	expect_consistent(&in, "realloc");
	/* realloc(p, 0) frees p */
	if (a->realloc(in.st, p, 0))
		fail_msg("%s: realloc(p, 0) did not free p (returned a block)", a->name);
	expect_consistent(&in, "realloc(p, 0)");
	/* malloc(0) gives a unique pointer or NULL, either freeable */
	void *z = a->malloc(in.st, 0);
	assert_int_equal(a->free(in.st, z, in.err, sizeof in.err), 0);
	/* calloc memory is zero, even where freed data was */
	char *d = a->malloc(in.st, 4096);
	memset(d, 0xff, 4096);
	a->free(in.st, d, NULL, 0);
	char *c = a->calloc ? a->calloc(in.st, 64, 64) : NULL;
	if (c)
		for (int i = 0; i < 4096; i++)
			assert_int_equal(c[i], 0);
	expect_consistent(&in, "calloc");
	stop(&in);
}

static void test_edges(void **state)
{
	(void)state;
	each_builtin(edges);
}

static void memalign_all(const struct allocator *a)
{
	struct inst in;
	start(&in, a, 0);
	void *keep[64];
	int n = 0;
	for (size_t align = 16; align <= 65536; align *= 2)
		for (size_t size = 1; size <= 300000; size *= 37) {
			void *p = a->memalign(in.st, align, size);
			if (!p)
				fail_msg("%s: memalign(%zu, %zu) returned NULL", a->name, align,
					 size);
			if ((uintptr_t)p % align)
				fail_msg("%s: memalign(%zu, %zu) returned %p", a->name, align, size,
					 p);
			assert_true(a->usable_size(in.st, p) >= size);
			memset(p, 1, size);
			if (n < 64)
				keep[n++] = p;
			else
				a->free(in.st, p, NULL, 0);
		}
	expect_consistent(&in, "memalign");
	for (int i = 0; i < n; i++)
		assert_int_equal(a->free(in.st, keep[i], in.err, sizeof in.err), 0);
	expect_consistent(&in, "freeing aligned blocks");
	stop(&in);
}

static void test_memalign(void **state)
{
	(void)state;
	each_builtin(memalign_all);
}

/* ---- Robust free ------------------------------------------------------------------- */

static void bad_frees(const struct allocator *a)
{
	struct inst in, other;
	start(&in, a, 0);
	start(&other, a, 0);
	char *p = a->malloc(in.st, 200), *q = a->malloc(in.st, 300),
	     *big = a->malloc(in.st, 1 << 20);
	char *foreign = a->malloc(other.st, 64);
	char stack[64];
	assert_non_null(p);
	assert_non_null(big);
	void *bad[] = {stack + 16, p + 16,   p + 1,   q + 64,
		       big + 4096, big + 16, foreign, (char *)heap_lo(in.heap) + 8};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		in.err[0] = '\0';
		if (a->free(in.st, bad[i], in.err, sizeof in.err) != -1)
			fail_msg("%s: free of bad pointer #%zu (%p) was accepted", a->name, i,
				 bad[i]);
		assert_true(in.err[0] != '\0');
		expect_consistent(&in, "a rejected free");
	}
	/* double free */
	assert_int_equal(a->free(in.st, p, in.err, sizeof in.err), 0);
	assert_int_equal(a->free(in.st, p, in.err, sizeof in.err), -1);
	assert_int_equal(a->free(in.st, big, in.err, sizeof in.err), 0);
	assert_int_equal(a->free(in.st, big, in.err, sizeof in.err), -1);
	expect_consistent(&in, "a rejected double free");
	/* the heap still works */
	assert_non_null(a->malloc(in.st, 100));
	assert_int_equal(a->free(in.st, q, in.err, sizeof in.err), 0);
	expect_consistent(&in, "more work");
	stop(&in);
	stop(&other);
}

static void test_bad_frees(void **state)
{
	(void)state;
	each_builtin(bad_frees);
}

/* ---- Limits and random work ------------------------------------------------------- */

static void exhaustion(const struct allocator *a)
{
	struct inst in;
	start(&in, a, 1 << 20);
	int got = 0;
	while (a->malloc(in.st, 1000) && got < 100000)
		got++;
	if (got < 100 || got >= 100000)
		fail_msg("%s: %d blocks of 1000 bytes fit in a 1 MiB heap", a->name, got);
	if (a->malloc(in.st, 2 << 20) || a->memalign(in.st, 4096, 2 << 20))
		fail_msg("%s: 2 MiB allocated past a 1 MiB limit", a->name);
	expect_consistent(&in, "exhaustion");
	stop(&in);
}

static void test_exhaustion(void **state)
{
	(void)state;
	each_builtin(exhaustion);
}

static void random_work(const struct allocator *a)
{
	struct inst in;
	start(&in, a, 0);
	enum { N = 512 };
	char *blocks[N] = {0};
	size_t sizes[N] = {0};
	uint64_t x = 12345;
	for (int step = 0; step < 20000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int k = (int)(x % N);
		size_t size = (x >> 20) % 4 == 0 ? (x >> 24) % 300000 : (x >> 24) % 600;
		if (!blocks[k]) {
			blocks[k] =
				(x >> 40) % 8
					? a->malloc(in.st, size)
					: a->memalign(in.st, (size_t)64 << ((x >> 44) % 8), size);
			sizes[k] = size;
			if (blocks[k])
				memset(blocks[k], k & 0xff, size);
		} else if ((x >> 50) % 3 == 0) {
			char *p = a->realloc(in.st, blocks[k], size ? size : 1);
			assert_non_null(p);
			size_t keep = sizes[k] < size ? sizes[k] : size;
			for (size_t i = 0; i < keep; i++)
				if ((unsigned char)p[i] != (k & 0xff))
					fail_msg("%s: realloc lost byte %zu at step %d", a->name, i,
						 step);
			memset(p, k & 0xff, size ? size : 1);
			blocks[k] = p;
			sizes[k] = size ? size : 1;
		} else {
			assert_int_equal(a->free(in.st, blocks[k], in.err, sizeof in.err), 0);
			blocks[k] = NULL;
		}
		if (step % 500 == 0)
			expect_consistent(&in, "random work");
	}
	expect_consistent(&in, "random work");
	stop(&in);
}

static void test_random_work(void **state)
{
	(void)state;
	each_builtin(random_work);
}

/* ---- Heaps side by side ------------------------------------------------------------ */

/* A script of random work on one heap, one op per call; the offset from
 * heap_lo of every block it gets from the break region goes to got[] (a
 * mapping, placed by the system, to -1). */
struct script {
	struct inst in;
	uint64_t x;
	char *blocks[64];
	long got[4000];
	int n;
};

static void script_start(struct script *s, const struct allocator *a, uint64_t seed)
{
	memset(s, 0, sizeof *s);
	start(&s->in, a, 0);
	s->x = seed;
}

static void script_step(struct script *s)
{
	const struct allocator *a = s->in.a;
	s->x ^= s->x << 13, s->x ^= s->x >> 7, s->x ^= s->x << 17;
	uint64_t x = s->x;
	char **b = &s->blocks[x % 64];
	char *p;
	if (*b) {
		assert_int_equal(a->free(s->in.st, *b, s->in.err, sizeof s->in.err), 0);
		p = *b = NULL;
		if ((x >> 8) % 2)
			return;
	}
	size_t size = (x >> 16) % 16 == 0 ? (x >> 24) % 200000 : (x >> 24) % 2000;
	p = *b = a->malloc(s->in.st, size);
	assert_non_null(p);
	char *lo = heap_lo(s->in.heap), *hi = heap_hi(s->in.heap);
	s->got[s->n++] = p > lo && p < hi ? (long)(p - lo) : -1;
}

/* Two heaps of one backend on one thread, their ops interleaved, choose the
 * same blocks as each heap alone: no state is shared between heaps (the
 * boundary-tag index's fit path included). */
static void two_heaps(const struct allocator *a)
{
	enum { STEPS = 3000 };
	static struct script alone[2], both[2];
	for (int i = 0; i < 2; i++) {
		script_start(&alone[i], a, 1000 + (uint64_t)i);
		for (int k = 0; k < STEPS; k++)
			script_step(&alone[i]);
		stop(&alone[i].in);
	}
	script_start(&both[0], a, 1000);
	script_start(&both[1], a, 1001);
	for (int k = 0; k < STEPS; k++)
		for (int i = 0; i < 2; i++)
			script_step(&both[i]);
	for (int i = 0; i < 2; i++) {
		expect_consistent(&both[i].in, "interleaved work");
		assert_int_equal(both[i].n, alone[i].n);
		for (int k = 0; k < alone[i].n; k++)
			if (both[i].got[k] != alone[i].got[k])
				fail_msg("%s: heap %d, block %d: alone at offset %ld, interleaved "
					 "with another heap at %ld",
					 a->name, i, k, alone[i].got[k], both[i].got[k]);
		stop(&both[i].in);
	}
}

static void test_two_heaps(void **state)
{
	(void)state;
	each_builtin(two_heaps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),       cmocka_unit_test(test_memalign),
		cmocka_unit_test(test_bad_frees),   cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_random_work), cmocka_unit_test(test_two_heaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
