/*
 * test_buddy.c - the buddy backend (allocators/buddy.c), driven through its
 * table: split and merge on hand-made cases with exact offsets, memalign,
 * realloc in place and moving, rejected frees, options, heap exhaustion, a
 * differential test against a small reference buddy system, and the real
 * harness (checked pass, --heap-check every op) on the test traces and on
 * generated ones.
 *
 * Offsets are relative to the heap base: the buddy state takes the first
 * page, so the managed area starts at ORIGIN = 4096 and the payload of a
 * block at offset x (from the origin) is at ORIGIN + x + 16.
 *
 * Jobs run in worker processes that re-execute this very program
 * (`test_buddy __worker ...`).
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

#include "allocator.h"
#include "base/diag.h"
#include "heap.h"
#include "replay/job.h"
#include "replay/replay.h"
#include "trace/gen.h"
#include "trace/trace.h"

#define ORIGIN 4096
#define HDR    16
/* the payload of the block at offset x from the origin */
#define AT(x) (ORIGIN + (x) + HDR)

/* ---- Helpers --------------------------------------------------------------- */

struct bd {
	struct heap *heap;
	const struct allocator *a;
	void *st;
};

/* "k=v,k=v" into opts (pointing into buf). */
static size_t parse_opts(const char *spec, char *buf, size_t buflen, struct backend_opt *v,
			 size_t max)
{
	size_t n = 0;
	snprintf(buf, buflen, "%s", spec ? spec : "");
	for (char *s = buf, *tok; n < max && (tok = strtok(s, ",")); s = NULL) {
		char *eq = strchr(tok, '=');
		assert_non_null(eq);
		*eq = '\0';
		v[n++] = (struct backend_opt){tok, eq + 1};
	}
	return n;
}

/* init with options spec; -1 and the message in err if init refuses. */
static int bd_try_open(struct bd *t, uint64_t limit, const char *spec, char *err, size_t errlen)
{
	char buf[256];
	struct backend_opt v[8];
	struct backend_opts opts = {v, parse_opts(spec, buf, sizeof buf, v, 8)};
	t->a = allocator_find("buddy");
	assert_non_null(t->a);
	t->heap = heap_create(limit);
	assert_non_null(t->heap);
	if (allocator_check_options(t->a, &opts, err, errlen) < 0)
		return -1;
	return t->a->init(&t->st, t->heap, &opts, err, errlen);
}

static void bd_open(struct bd *t, uint64_t limit, const char *spec)
{
	char err[ALLOC_ERRLEN];
	if (bd_try_open(t, limit, spec, err, sizeof err) < 0)
		fail_msg("init with '%s': %s", spec ? spec : "", err);
}

static void bd_close(struct bd *t)
{
	t->a->fini(t->st);
	heap_destroy(t->heap);
}

static long long off(const struct bd *t, const void *p)
{
	return (long long)((uintptr_t)p - (uintptr_t)heap_lo(t->heap));
}

#define assert_heap_ok(t)                                                                          \
	do {                                                                                       \
		char why_[ALLOC_ERRLEN];                                                           \
		if ((t)->a->check((t)->st, why_, sizeof why_) < 0)                                 \
			fail_msg("check failed: %s", why_);                                        \
	} while (0)

/* malloc(size) must return the payload at heap offset want. */
static void *expect_malloc(struct bd *t, size_t size, long long want)
{
	void *p = t->a->malloc(t->st, size);
	assert_non_null(p);
	if (off(t, p) != want)
		fail_msg("malloc(%zu): expected heap offset %lld, got %lld", size, want, off(t, p));
	assert_heap_ok(t);
	return p;
}

static void expect_free(struct bd *t, void *p)
{
	char why[ALLOC_ERRLEN] = "";
	if (t->a->free(t->st, p, why, sizeof why) < 0)
		fail_msg("free(offset %lld) refused: %s", off(t, p), why);
	assert_heap_ok(t);
}

/* free(p) must be refused with a message containing text, and change
 * nothing. */
static void expect_bad_free(struct bd *t, void *p, const char *text)
{
	char why[ALLOC_ERRLEN] = "";
	struct alloc_stats before, after;
	t->a->stats(t->st, &before);
	if (t->a->free(t->st, p, why, sizeof why) != -1)
		fail_msg("free(%p) was accepted; expected a refusal containing \"%s\"", p, text);
	if (!strstr(why, text))
		fail_msg("free(%p): expected \"%s\" in the message, got \"%s\"", p, text, why);
	t->a->stats(t->st, &after);
	assert_int_equal(before.in_use, after.in_use);
	assert_int_equal(before.footprint, after.footprint);
	assert_heap_ok(t);
}

static void expect_footprint(struct bd *t, uint64_t want)
{
	struct alloc_stats s;
	t->a->stats(t->st, &s);
	if (s.footprint != want)
		fail_msg("footprint: expected %llu, got %llu", (unsigned long long)want,
			 (unsigned long long)s.footprint);
	assert_string_equal(s.source, "simulated-heap");
}

static void expect_in_use(struct bd *t, uint64_t want)
{
	struct alloc_stats s;
	t->a->stats(t->st, &s);
	if (s.in_use != want)
		fail_msg("in_use: expected %llu, got %llu", (unsigned long long)want,
			 (unsigned long long)s.in_use);
}

static void expect_usable(struct bd *t, void *p, size_t want)
{
	size_t got = t->a->usable_size(t->st, p);
	if (got != want)
		fail_msg("usable_size(offset %lld): expected %zu, got %zu", off(t, p), want, got);
}

static bool in_break(struct bd *t, const void *p)
{
	return (uintptr_t)p >= (uintptr_t)heap_lo(t->heap) &&
	       (uintptr_t)p < (uintptr_t)heap_hi(t->heap);
}

/* ---- Split and merge ------------------------------------------------------- */

/* max_order 10: malloc(16) needs order 5 (16 + 16 bytes); from an empty
 * heap one 1024-byte chunk is split down: the block is at 0 and the upper
 * halves 32 (order 5), 64 (6), 128 (7), 256 (8), 512 (9) are free, each
 * found by the next request of its order. */
static void test_split_from_empty(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	expect_footprint(&t, ORIGIN); /* the state's page, no chunk yet */
	void *p[7];
	p[0] = expect_malloc(&t, 16, AT(0));
	expect_footprint(&t, ORIGIN + 1024);
	expect_in_use(&t, 32);
	expect_usable(&t, p[0], 16);
	p[1] = expect_malloc(&t, 1, AT(32));
	p[2] = expect_malloc(&t, 40, AT(64));
	p[3] = expect_malloc(&t, 100, AT(128));
	p[4] = expect_malloc(&t, 240, AT(256));
	p[5] = expect_malloc(&t, 496, AT(512));
	expect_usable(&t, p[5], 496);
	expect_in_use(&t, 1024);
	expect_footprint(&t, ORIGIN + 1024);
	/* the chunk is full: the next request grows the heap by a chunk */
	p[6] = expect_malloc(&t, 0, AT(1024));
	expect_footprint(&t, ORIGIN + 2048);
	for (int i = 0; i < 7; i++)
		expect_free(&t, p[i]);
	expect_in_use(&t, 0);
	/* both chunks merged back: two max blocks, the last freed on top */
	void *a = expect_malloc(&t, 1008, AT(1024));
	void *b = expect_malloc(&t, 1008, AT(0));
	expect_footprint(&t, ORIGIN + 2048);
	expect_usable(&t, b, 1008);
	expect_free(&t, a);
	expect_free(&t, b);
	bd_close(&t);
}

/* one block freed merges all the way back into one free max block */
static void test_merge_back(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *p = expect_malloc(&t, 16, AT(0));
	expect_free(&t, p);
	p = expect_malloc(&t, 1008, AT(0));
	expect_footprint(&t, ORIGIN + 1024);
	expect_free(&t, p);
	/* the upper buddy freed last merges down too */
	void *a = expect_malloc(&t, 16, AT(0));
	void *b = expect_malloc(&t, 16, AT(32));
	expect_free(&t, a);
	expect_free(&t, b);
	expect_malloc(&t, 1008, AT(0));
	bd_close(&t);
}

/* the buddy is allocated: no merge */
static void test_merge_refused_allocated(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *a = expect_malloc(&t, 16, AT(0));
	expect_malloc(&t, 16, AT(32));
	expect_free(&t, a); /* its buddy at 32 is in use: 0 stays order 5 */
	/* order 6 comes from 64, not from a merged 0 */
	expect_malloc(&t, 40, AT(64));
	expect_malloc(&t, 16, AT(0));
	bd_close(&t);
}

/* the buddy is split (its first part allocated, order 5): no merge */
static void test_merge_refused_split(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *p = expect_malloc(&t, 40, AT(0));  /* order 6; free: 64, 128, 256, 512 */
	void *q = expect_malloc(&t, 16, AT(64)); /* splits 64: 96 is free, order 5 */
	expect_free(&t, p);                      /* buddy 64 is order 5: stays order 6 */
	void *r = expect_malloc(&t, 100, AT(128));
	expect_free(&t, r); /* buddy 0 is order 6: 128 stays order 7 */
	/* q merges with 96, then 0, 128, 256 and 512: one max block again */
	expect_free(&t, q);
	expect_malloc(&t, 1008, AT(0));
	expect_footprint(&t, ORIGIN + 1024);
	bd_close(&t);
}

/* a larger heap: offsets follow the same rules with the default orders */
static void test_default_orders(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, NULL);
	void *p = expect_malloc(&t, 100, AT(0)); /* order 7 from a 1 MiB chunk */
	expect_footprint(&t, ORIGIN + (1 << 20));
	void *q = expect_malloc(&t, 1000, AT(1024));              /* order 10: 1024 is free */
	void *r = expect_malloc(&t, (1 << 20) - 16, AT(1 << 20)); /* a whole chunk */
	expect_footprint(&t, ORIGIN + (2 << 20));
	/* one byte more does not fit a chunk: a mapping of its own */
	void *m = t.a->malloc(t.st, (1 << 20) - 15);
	assert_non_null(m);
	assert_false(in_break(&t, m));
	assert_heap_ok(&t);
	expect_free(&t, m);
	expect_free(&t, r);
	expect_free(&t, q);
	expect_free(&t, p);
	expect_in_use(&t, 0);
	bd_close(&t);
}

/* ---- memalign ----------------------------------------------------------------- */

/* usable 0: at least size */
static void *expect_memalign(struct bd *t, size_t align, size_t size, long long want, size_t usable)
{
	void *p = t->a->memalign(t->st, align, size);
	assert_non_null(p);
	if (want >= 0 && off(t, p) != want)
		fail_msg("memalign(%zu, %zu): expected heap offset %lld, got %lld", align, size,
			 want, off(t, p));
	if ((uintptr_t)p % align)
		fail_msg("memalign(%zu, %zu) returned %p", align, size, p);
	if (usable)
		expect_usable(t, p, usable);
	else
		assert_true(t->a->usable_size(t->st, p) >= size);
	memset(p, 0x5a, size);
	assert_heap_ok(t);
	return p;
}

static void test_memalign(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=12");
	/* 64 + 48 bytes: order 7 at 0, payload at 0 + 64 */
	void *a = expect_memalign(&t, 64, 48, ORIGIN + 64, 64);
	/* 256 + 700: order 10 at 1024, payload at 1024 + 256 */
	void *b = expect_memalign(&t, 256, 700, ORIGIN + 1024 + 256, 768);
	/* alignment 16 or less is malloc */
	void *c = expect_memalign(&t, 8, 16, AT(128), 16);
	expect_free(&t, c);
	/* the aligned blocks are found again from their payloads */
	expect_free(&t, a);
	expect_free(&t, b);
	void *all = expect_malloc(&t, 4080, AT(0));
	expect_free(&t, all);
	/* 1024 + 3072 fills a whole 4096 block */
	void *d = expect_memalign(&t, 1024, 3072, ORIGIN + 1024, 3072);
	expect_free(&t, d);
	/* the largest block size, or more than fits: a mapping */
	void *e = expect_memalign(&t, 4096, 100, -1, 4096);
	assert_false(in_break(&t, e));
	/* (where a 64 KiB boundary falls in a mapping depends on the system) */
	void *f = expect_memalign(&t, 1 << 16, 5000, -1, 0);
	assert_false(in_break(&t, f));
	expect_free(&t, e);
	expect_free(&t, f);
	/* realloc keeps an aligned block's payload where it is while it fits,
	 * growing in place into the free buddy */
	void *g = expect_memalign(&t, 64, 48, ORIGIN + 64, 64);
	assert_ptr_equal(t.a->realloc(t.st, g, 40), g);
	assert_ptr_equal(t.a->realloc(t.st, g, 100), g); /* 64 + 100: order 8 */
	expect_usable(&t, g, 192);
	assert_heap_ok(&t);
	expect_bad_free(&t, (char *)g + 64, "no valid block header");
	expect_free(&t, g);
	expect_bad_free(&t, g, "already free");
	expect_malloc(&t, 4080, AT(0));
	bd_close(&t);
}

/* ---- realloc ------------------------------------------------------------------- */

static void fill(void *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}

static void expect_filled(const void *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7))
			fail_msg("byte %zu of %zu: expected %#x, got %#x", i, n,
				 (unsigned char)(seed + i * 7), ((const unsigned char *)p)[i]);
}

static void *expect_realloc(struct bd *t, void *p, size_t size, long long want)
{
	void *q = t->a->realloc(t->st, p, size);
	assert_non_null(q);
	if (want >= 0 && off(t, q) != want)
		fail_msg("realloc(offset %lld, %zu): expected heap offset %lld, got %lld",
			 off(t, p), size, want, off(t, q));
	assert_heap_ok(t);
	return q;
}

static void test_realloc_cases(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *p = expect_realloc(&t, NULL, 100, AT(0)); /* realloc(NULL) is malloc */
	fill(p, 100, 1);
	expect_realloc(&t, p, 112, AT(0)); /* still fits order 7 */
	expect_usable(&t, p, 112);
	expect_realloc(&t, p, 40, AT(0)); /* shrinks to order 6: 64 is freed */
	expect_usable(&t, p, 48);
	expect_in_use(&t, 64);
	void *q = expect_malloc(&t, 40, AT(64));
	expect_free(&t, q);
	expect_realloc(&t, p, 100, AT(0)); /* grows back into the free buddy 64 */
	expect_usable(&t, p, 112);
	expect_filled(p, 40, 1);
	fill(p, 100, 2);
	/* the buddy 128 in use: growing to order 8 moves to 256 */
	void *x = expect_malloc(&t, 100, AT(128));
	void *m = expect_realloc(&t, p, 200, AT(256));
	expect_filled(m, 100, 2);
	expect_malloc(&t, 100, AT(0)); /* the old block is free again */
	/* the upper buddy cannot grow in place: 512 is split for it */
	fill(x, 100, 3);
	void *y = expect_realloc(&t, x, 200, AT(512));
	expect_filled(y, 100, 3);
	/* to and from a mapping */
	fill(y, 200, 4);
	void *big = expect_realloc(&t, y, 5000, -1);
	assert_false(in_break(&t, big));
	expect_filled(big, 200, 4);
	/* the mapping still suits (usable 8160: at least half is used) */
	assert_ptr_equal(expect_realloc(&t, big, 4500, -1), big);
	void *back = expect_realloc(&t, big, 100, -1);
	assert_true(in_break(&t, back));
	expect_filled(back, 100, 4);
	/* realloc(p, 0) frees p */
	struct alloc_stats before;
	t.a->stats(t.st, &before);
	assert_null(t.a->realloc(t.st, back, 0));
	assert_heap_ok(&t);
	expect_in_use(&t, before.in_use - 128);
	bd_close(&t);
}

static void test_calloc_zeroes(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *p = expect_malloc(&t, 100, AT(0));
	memset(p, 0xff, 112);
	expect_free(&t, p);
	unsigned char *c = t.a->calloc(t.st, 10, 10);
	assert_int_equal(off(&t, c), AT(0));
	for (int i = 0; i < 100; i++)
		assert_int_equal(c[i], 0);
	assert_null(t.a->calloc(t.st, SIZE_MAX / 2, 3));
	assert_heap_ok(&t);
	bd_close(&t);
}

/* ---- Rejected frees ------------------------------------------------------------ */

static void test_bad_free(void **state)
{
	(void)state;
	struct bd t, other;
	bd_open(&t, 0, "max_order=10");
	bd_open(&other, 0, "max_order=10");
	_Alignas(16) char stack[64];
	memset(stack, 0, sizeof stack);
	/* an empty heap (no chunk yet) rejects everything but NULL */
	assert_int_equal(t.a->free(t.st, NULL, NULL, 0), 0);
	expect_bad_free(&t, stack + 16, "outside the heap");
	expect_bad_free(&t, (char *)heap_lo(t.heap) + ORIGIN + 16, "outside the heap");
	void *p = expect_malloc(&t, 100, AT(0));
	void *q = expect_malloc(&t, 16, AT(128));
	void *r = expect_malloc(&t, 16, AT(160));
	memset(p, 0xab, 100);

	assert_int_equal(t.a->free(t.st, NULL, NULL, 0), 0); /* free(NULL) */
	assert_int_equal(other.a->free(other.st, NULL, NULL, 0), 0);
	expect_bad_free(&t, stack + 16, "outside the heap");
	expect_bad_free(&t, (char *)p + 1, "not 16-byte aligned");
	expect_bad_free(&t, (char *)p + 32, "no valid block header");
	expect_bad_free(&t, (char *)p + 16, "no valid block header");
	expect_bad_free(&t, (char *)heap_lo(t.heap) + ORIGIN, "not the start of a block");
	expect_bad_free(&t, heap_hi(t.heap), "not the start of a block");
	expect_bad_free(&t, (char *)heap_hi(t.heap) + 4096, "outside the heap");
	void *o = other.a->malloc(other.st, 16);
	expect_bad_free(&t, o, "outside the heap");

	/* double frees: with no merge, and after the block merged away */
	expect_free(&t, q);
	expect_bad_free(&t, q, "already free");
	expect_free(&t, r); /* merges with 128 (q), then more */
	expect_bad_free(&t, r, "already free");
	expect_bad_free(&t, q, "already free");
	/* mapped blocks */
	void *m = t.a->malloc(t.st, 5000);
	assert_false(in_break(&t, m));
	expect_bad_free(&t, (char *)m + 16, "not the start of a block");
	expect_free(&t, m);
	expect_bad_free(&t, m, "outside the heap");
	/* the heap still works */
	expect_free(&t, p);
	expect_malloc(&t, 1008, AT(0));
	bd_close(&other);
	bd_close(&t);
}

/* a reused heap (heap_reset, as between timed passes) keeps the old
 * headers in its pages: they must not pass for blocks of the new state */
static void test_stale_headers(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *p = expect_malloc(&t, 16, AT(0));
	expect_malloc(&t, 100, AT(128));
	heap_reset(t.heap);
	char err[ALLOC_ERRLEN];
	assert_int_equal(t.a->init(&t.st, t.heap, NULL, err, sizeof err), 0);
	void *big = expect_malloc(&t, 1008, AT(0)); /* the same chunk again */
	expect_free(&t, big);
	expect_bad_free(&t, (char *)p + 128, "no valid block header");
	bd_close(&t);
}

/* check() notices a header overwritten behind the backend's back */
static void test_check_reports(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, 0, "max_order=10");
	void *p = expect_malloc(&t, 16, AT(0));
	char *free32 = (char *)p + 16; /* the free block at 32 */
	char why[ALLOC_ERRLEN];
	free32[4] = 6; /* its order */
	assert_int_equal(t.a->check(t.st, why, sizeof why), -1);
	if (!strstr(why, "block"))
		fail_msg("check: %s", why);
	free32[4] = 5;
	assert_heap_ok(&t);
	free32[0] ^= 1; /* its check value */
	assert_int_equal(t.a->check(t.st, why, sizeof why), -1);
	if (!strstr(why, "check value"))
		fail_msg("check: %s", why);
	free32[0] ^= 1;
	((void **)(free32 + 16))[1] = NULL; /* its prev link */
	assert_int_equal(t.a->check(t.st, why, sizeof why), -1);
	if (!strstr(why, "prev link"))
		fail_msg("check: %s", why);
	bd_close(&t);
}

/* ---- Options and limits --------------------------------------------------------- */

static void expect_bad_options(const char *spec, const char *text)
{
	struct bd t;
	char err[ALLOC_ERRLEN] = "";
	if (bd_try_open(&t, 0, spec, err, sizeof err) == 0)
		fail_msg("options '%s' were accepted; expected \"%s\"", spec, text);
	if (!strstr(err, text))
		fail_msg("options '%s': expected \"%s\" in the message, got \"%s\"", spec, text,
			 err);
	heap_destroy(t.heap);
}

static void test_options(void **state)
{
	(void)state;
	expect_bad_options("min_order=4", "min_order: 4 is outside [5, 30]");
	expect_bad_options("min_order=31", "min_order: 31 is outside [5, 30]");
	expect_bad_options("max_order=31", "max_order: 31 is outside [5, 30]");
	expect_bad_options("max_order=4", "max_order: 4 is outside [5, 30]");
	expect_bad_options("min_order=12,max_order=10", "min_order 12 is larger than max_order 10");
	expect_bad_options("min_order=abc", "min_order: expected a number of bytes, got 'abc'");
	expect_bad_options("mmap_threshold=-1", "mmap_threshold: expected a number");
	expect_bad_options("colour=blue", "backend buddy has no option 'colour'");

	/* min_order 6: malloc(1) takes 64 bytes */
	struct bd t;
	bd_open(&t, 0, "min_order=6,max_order=16");
	void *p = expect_malloc(&t, 1, AT(0));
	expect_usable(&t, p, 48);
	expect_malloc(&t, 1, AT(64));
	expect_footprint(&t, ORIGIN + (1 << 16));
	bd_close(&t);

	/* one order only: every block is a chunk */
	bd_open(&t, 0, "min_order=10,max_order=10");
	expect_malloc(&t, 1, AT(0));
	expect_malloc(&t, 1, AT(1024));
	bd_close(&t);

	/* mmap_threshold: requests at or above it get a mapping */
	bd_open(&t, 0, "max_order=10,mmap_threshold=512");
	p = expect_malloc(&t, 511, AT(0));
	void *m = t.a->malloc(t.st, 512);
	assert_false(in_break(&t, m));
	expect_footprint(&t, ORIGIN + 1024 + 4096);
	expect_in_use(&t, 1024 + 4096);
	expect_usable(&t, m, 4096 - 32);
	assert_heap_ok(&t);
	expect_free(&t, m);
	expect_footprint(&t, ORIGIN + 1024);
	bd_close(&t);
}

static void test_heap_limit(void **state)
{
	(void)state;
	struct bd t;
	char err[ALLOC_ERRLEN] = "";
	assert_int_equal(bd_try_open(&t, 100, "max_order=10", err, sizeof err), -1);
	if (!strstr(err, "heap limit too small"))
		fail_msg("init under a 100-byte limit: %s", err);
	heap_destroy(t.heap);

	bd_open(&t, ORIGIN + 2048, "max_order=10");
	void *a = expect_malloc(&t, 1008, AT(0));
	expect_malloc(&t, 1008, AT(1024));
	assert_null(t.a->malloc(t.st, 1));           /* no third chunk, not even 32 bytes */
	assert_null(t.a->malloc(t.st, 5000));        /* no mapping either */
	assert_null(t.a->memalign(t.st, 4096, 100)); /* nor an aligned one */
	assert_heap_ok(&t);
	expect_free(&t, a);
	void *b = expect_malloc(&t, 16, AT(0));
	assert_null(t.a->realloc(t.st, b, 2000)); /* cannot move: b stays */
	expect_usable(&t, b, 16);
	assert_heap_ok(&t);
	bd_close(&t);
}

/* Near the limit the heap grows by the block a request needs, with free
 * fillers up to its alignment; merges stop at the end of the heap. */
static void test_growth_near_limit(void **state)
{
	(void)state;
	struct bd t;
	bd_open(&t, ORIGIN + 1024 + 512, "max_order=10");
	void *c = expect_malloc(&t, 1008, AT(0));  /* chunk 0 */
	void *a = expect_malloc(&t, 16, AT(1024)); /* a chunk does not fit: 32 bytes */
	expect_footprint(&t, ORIGIN + 1024 + 32);
	/* order 7 at 1152: 1056 (order 5) and 1088 (order 6) are free fillers */
	void *b = expect_malloc(&t, 100, AT(1152));
	expect_footprint(&t, ORIGIN + 1280);
	void *f5 = expect_malloc(&t, 16, AT(1056));
	void *f6 = expect_malloc(&t, 40, AT(1088));
	expect_free(&t, a);
	expect_free(&t, f5);
	expect_free(&t, f6);
	expect_free(&t, b); /* 1024 merges up to order 8; its buddy 1280 is past the end */
	expect_in_use(&t, 1024);
	expect_malloc(&t, 240, AT(1024));
	/* the rest of the limit: 256 bytes, one order-8 block at 1280 */
	void *d = expect_malloc(&t, 240, AT(1280));
	expect_footprint(&t, ORIGIN + 1536);
	assert_null(t.a->malloc(t.st, 1));
	expect_free(&t, d);
	expect_free(&t, c);
	bd_close(&t);

	/* a 1 MiB limit holds no 1 MiB chunk next to the state: blocks of
	 * order 10 one by one, 1020 of them */
	bd_open(&t, 1 << 20, NULL);
	int n = 0;
	while (t.a->malloc(t.st, 1000))
		n++;
	assert_int_equal(n, ((1 << 20) - ORIGIN) / 1024);
	assert_heap_ok(&t);
	bd_close(&t);
}

/* ---- Differential test: a reference buddy system ----------------------------- */

/* The policy in plain arrays: one stack of free offsets per order (top =
 * last), split upper halves pushed from the top order down, the buddy
 * found by a linear search, the merged block pushed on top; a new chunk at
 * the end when no order >= k has a free block. */
struct ref {
	uint64_t *list[31];
	size_t n[31];
	uint64_t chunks;
	unsigned min, max;
};

static void ref_push(struct ref *r, unsigned k, uint64_t x)
{
	r->list[k] = realloc(r->list[k], (r->n[k] + 1) * sizeof(uint64_t));
	assert_non_null(r->list[k]);
	r->list[k][r->n[k]++] = x;
}

static uint64_t ref_malloc(struct ref *r, unsigned k)
{
	unsigned j = k;
	while (j <= r->max && r->n[j] == 0)
		j++;
	uint64_t x;
	if (j > r->max) {
		j = r->max;
		x = r->chunks++ << r->max;
	} else {
		x = r->list[j][--r->n[j]];
	}
	while (j > k) {
		j--;
		ref_push(r, j, x + ((uint64_t)1 << j));
	}
	return x;
}

static void ref_free(struct ref *r, uint64_t x, unsigned k)
{
	for (; k < r->max; k++) {
		uint64_t bud = x ^ ((uint64_t)1 << k);
		size_t i = 0;
		while (i < r->n[k] && r->list[k][i] != bud)
			i++;
		if (i == r->n[k])
			break;
		memmove(&r->list[k][i], &r->list[k][i + 1], (r->n[k] - i - 1) * sizeof(uint64_t));
		r->n[k]--;
		if (bud < x)
			x = bud;
	}
	ref_push(r, k, x);
}

static unsigned ref_order(const struct ref *r, size_t size)
{
	unsigned k = r->min;
	while (((uint64_t)1 << k) < size + HDR)
		k++;
	return k;
}

static void differential(unsigned min, unsigned max, unsigned nops, unsigned seed)
{
	char spec[64];
	snprintf(spec, sizeof spec, "min_order=%u,max_order=%u", min, max);
	struct bd t;
	bd_open(&t, 0, spec);
	struct ref r = {.min = min, .max = max};
	enum { NLIVE = 300 };
	void *live[NLIVE] = {0};
	uint64_t roff[NLIVE];
	unsigned rk[NLIVE];
	srand(seed);
	for (unsigned i = 0; i < nops; i++) {
		unsigned s = (unsigned)rand() % NLIVE;
		if (live[s]) {
			expect_free(&t, live[s]);
			live[s] = NULL;
			ref_free(&r, roff[s], rk[s]);
			continue;
		}
		/* mostly small, sometimes up to the largest block */
		size_t limit = rand() % 8 ? 300 : ((size_t)1 << max) - HDR;
		size_t size = (size_t)rand() % (limit + 1);
		live[s] = t.a->malloc(t.st, size);
		assert_non_null(live[s]);
		rk[s] = ref_order(&r, size);
		roff[s] = ref_malloc(&r, rk[s]);
		if (off(&t, live[s]) != (long long)AT(roff[s]))
			fail_msg("%s, seed %u, op %u: malloc(%zu) returned heap offset %lld, the "
				 "reference %lld",
				 spec, seed, i, size, off(&t, live[s]), (long long)AT(roff[s]));
		expect_usable(&t, live[s], ((size_t)1 << rk[s]) - HDR);
	}
	for (unsigned s = 0; s < NLIVE; s++)
		if (live[s])
			expect_free(&t, live[s]);
	/* everything merged: the footprint is the reference's chunks */
	expect_footprint(&t, ORIGIN + (r.chunks << max));
	expect_in_use(&t, 0);
	for (unsigned k = 0; k < 31; k++)
		free(r.list[k]);
	bd_close(&t);
}

static void test_differential(void **state)
{
	(void)state;
	differential(5, 12, 20000, 1);
	differential(5, 10, 20000, 2);
	differential(6, 16, 20000, 3);
	differential(7, 9, 5000, 4);
}

/* ---- The harness on real traces ------------------------------------------------ */

static void run_job(const struct trace *t, const char *name, const char *spec, uint64_t every)
{
	static char buf[256];
	struct replay_config cfg = {.backend = allocator_find("buddy"),
				    .check = CHECK_FULL,
				    .repeat = 1,
				    .alignment = 16,
				    .sample_every = 1,
				    .heap_check_every = every};
	cfg.nopt = parse_opts(spec, buf, sizeof buf, cfg.opt, REPLAY_MAX_OPTS);
	static struct replay_result r;
	memset(&r, 0, sizeof r);
	int fd = job_trace_fd(t);
	assert_true(fd >= 0);
	job_run(t, fd, &cfg, &(struct job_limits){120, 0}, &r);
	close(fd);
	if (r.status != JOB_OK)
		fail_msg("buddy:%s on %s: %s at op %lld: %s", spec ? spec : "", name,
			 replay_status_names[r.status], (long long)r.error_op, r.error);
	assert_string_equal(r.footprint_source, "simulated-heap");
	assert_true(r.have_usable);
	assert_true(r.peak_footprint_bytes >= r.peak_live_bytes);
}

static const char *const specs[] = {NULL, "min_order=6,max_order=16",
				    "max_order=12,mmap_threshold=1000"};

static void test_test_traces(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"traces/examples/tiny.rep",
		"traces/synthetic/peak.trace",
		"traces/synthetic/plateau.trace",
		"traces/synthetic/ramp.trace",
		"traces/synthetic/random-uniform.trace",
		"traces/synthetic/random-exponential.trace",
		"tests/data/rep/cmu2016.rep",
		"tests/data/rep/csapp2002.rep",
		"tests/data/rep/quirk-realloc-null.rep",
		"tests/data/rep/quirk-realloc-zero.rep",
		"tests/data/rep/quirk-free-null.rep",
		"tests/data/text/kinds.trace",
		"tests/data/text/threads.trace",
	};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct diag d;
		diag_init(&d, paths[i], false);
		struct trace *t = trace_load_verified(paths[i], &d);
		assert_non_null(t);
		for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
			run_job(t, paths[i], specs[s], 1);
		trace_free(t);
	}
}

static void test_generated_traces(void **state)
{
	(void)state;
	for (const char *const *p = trace_gen_patterns; *p; p++) {
		for (uint64_t seed = 1; seed <= 2; seed++) {
			struct trace *t = trace_generate(*p, 20000, seed);
			assert_non_null(t);
			for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
				run_job(t, *p, specs[s], 97);
			trace_free(t);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "__worker"))
		return job_worker_main(argc - 1, argv + 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_from_empty),
		cmocka_unit_test(test_merge_back),
		cmocka_unit_test(test_merge_refused_allocated),
		cmocka_unit_test(test_merge_refused_split),
		cmocka_unit_test(test_default_orders),
		cmocka_unit_test(test_memalign),
		cmocka_unit_test(test_realloc_cases),
		cmocka_unit_test(test_calloc_zeroes),
		cmocka_unit_test(test_bad_free),
		cmocka_unit_test(test_stale_headers),
		cmocka_unit_test(test_check_reports),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_heap_limit),
		cmocka_unit_test(test_growth_near_limit),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_test_traces),
		cmocka_unit_test(test_generated_traces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
