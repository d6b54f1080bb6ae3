/*
 * test_segregated.c - the segregated-fits backend (allocators/segregated.c)
 * driven through its table, with its own check() after every step: class
 * selection on hand-made heaps with exact expected addresses, the bounded
 * scan in a class and in the last class, the spacing option, bad frees,
 * realloc/memalign/calloc, random work, and a differential test against a
 * linear-scan reference of the policy on generated and bundled traces.
 *
 * Hand-made heaps: a fresh heap hands out blocks back to back from its
 * first block, so every address is "base + offset", base being the payload
 * of the first block.  A request of n bytes takes a block of
 * max(48, round16(n + 16)) bytes; requests below are written as
 * BLOCK(size) - 16 so that the block sizes are plain.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "base/diag.h"
#include "btag.h"
#include "heap.h"
#include "trace/gen.h"
#include "trace/trace.h"

#define MiB ((uint64_t)1 << 20)

/* the request that makes a block of exactly b bytes (b >= 64) */
#define BLOCK(b) ((size_t)(b)-16)

/* ---- A backend instance and checked calls ------------------------------------- */

struct fx {
	const struct allocator *a;
	struct heap *heap;
	void *st;
	char *base; /* payload of the first block */
	char err[ALLOC_ERRLEN];
};

/* init with up to two options; returns init's result (err in f->err) */
static int fx_try(struct fx *f, const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct backend_opt o[2] = {{k1, v1}, {k2, v2}};
	struct backend_opts opts = {o, k2 ? 2 : k1 ? 1 : 0};
	memset(f, 0, sizeof *f);
	f->a = allocator_find("segregated");
	assert_non_null(f->a);
	f->heap = heap_create(0);
	assert_non_null(f->heap);
	return f->a->init(&f->st, f->heap, &opts, f->err, sizeof f->err);
}

static void fx_open(struct fx *f, const char *k1, const char *v1, const char *k2, const char *v2)
{
	if (fx_try(f, k1, v1, k2, v2) < 0)
		fail_msg("init failed: %s", f->err);
}

static void fx_close(struct fx *f)
{
	f->a->fini(f->st);
	heap_destroy(f->heap);
}

static void fx_check(struct fx *f, int line)
{
	if (f->a->check(f->st, f->err, sizeof f->err) < 0)
		fail_msg("line %d: check: %s", line, f->err);
}

static char *fx_malloc(struct fx *f, size_t n, int line)
{
	char *p = f->a->malloc(f->st, n);
	if (!p)
		fail_msg("line %d: malloc(%zu) returned NULL", line, n);
	if (!f->base)
		f->base = p;
	fx_check(f, line);
	return p;
}

static void fx_free(struct fx *f, void *p, int line)
{
	if (f->a->free(f->st, p, f->err, sizeof f->err) < 0)
		fail_msg("line %d: free(%p) rejected: %s", line, p, f->err);
	fx_check(f, line);
}

/* a bad pointer: the free is rejected with a reason, the heap unchanged */
static void fx_bad_free(struct fx *f, void *p, const char *what, int line)
{
	f->err[0] = '\0';
	if (f->a->free(f->st, p, f->err, sizeof f->err) != -1)
		fail_msg("line %d: free of %s (%p) was accepted", line, what, p);
	if (!f->err[0])
		fail_msg("line %d: free of %s rejected without a reason", line, what);
	fx_check(f, line);
}

static void fx_at(struct fx *f, const void *p, long long off, int line)
{
	long long got = (const char *)p - f->base;
	if (got != off)
		fail_msg("line %d: expected the block at base%+lld, got base%+lld", line, off, got);
}

#define CHECK(f)           fx_check(f, __LINE__)
#define MALLOC(f, n)       fx_malloc(f, n, __LINE__)
#define FREE(f, p)         fx_free(f, p, __LINE__)
#define BAD_FREE(f, p, w)  fx_bad_free(f, p, w, __LINE__)
#define AT(f, p, off)      fx_at(f, p, (long long)(off), __LINE__)
#define USABLE(f, p, want) assert_int_equal((f)->a->usable_size((f)->st, p), want)

/* Blocks of the given sizes back to back, each followed by a 48-byte guard
 * so that freed blocks never coalesce; p[i] gets block i's payload.
 * Returns the offset of the top of the heap (the next new block). */
static long long layout(struct fx *f, const uint64_t *sizes, size_t n, char **p)
{
	long long off = 0;
	for (size_t i = 0; i < n; i++) {
		p[i] = MALLOC(f, BLOCK(sizes[i]));
		AT(f, p[i], off);
		off += (long long)sizes[i];
		AT(f, MALLOC(f, 32), off);
		off += 48;
	}
	return off;
}

/* ---- Class selection ----------------------------------------------------------- */

/* Exact classes (below 1 KiB): a freed block is reused by a request of its
 * size even when a larger free block lies lower; a request whose class is
 * empty takes the nearest non-empty class above. */
static void test_exact_classes(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	static const uint64_t sizes[] = {224, 128}; /* A @0, B @272 */
	char *p[2];
	layout(&f, sizes, 2, p);
	FREE(&f, p[0]);
	FREE(&f, p[1]);
	AT(&f, MALLOC(&f, BLOCK(128)), 272); /* B: its own class, not A */
	AT(&f, MALLOC(&f, BLOCK(224)), 0);   /* A */
	FREE(&f, p[0]);
	FREE(&f, p[1]);
	/* 112: class empty -> class 128 (B), not A; no split (16 left) */
	char *q = MALLOC(&f, BLOCK(112));
	AT(&f, q, 272);
	USABLE(&f, q, 112);
	fx_close(&f);
}

/* A @0 (224) and B @272 (512) free.  320 takes B (the only class above
 * that is non-empty) and splits: the rest (192) lies at 592.  176 then
 * takes the rest (class 192), not A (class 224); 64 takes A (the rest of
 * 160 stays at 64); 160 takes that rest; with nothing free, the heap
 * grows at its top (832). */
static void test_higher_class(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	static const uint64_t sizes[] = {224, 512};
	char *p[2];
	long long top = layout(&f, sizes, 2, p);
	assert_int_equal(top, 832);
	FREE(&f, p[0]);
	FREE(&f, p[1]);
	char *q = MALLOC(&f, BLOCK(320));
	AT(&f, q, 272);
	USABLE(&f, q, 304);
	q = MALLOC(&f, BLOCK(176));
	AT(&f, q, 592);
	USABLE(&f, q, 176); /* the whole 192: a 16-byte rest is no block */
	AT(&f, MALLOC(&f, BLOCK(64)), 0);
	AT(&f, MALLOC(&f, BLOCK(160)), 64);
	AT(&f, MALLOC(&f, 32), top);
	fx_close(&f);
}

/* Spacing 4: [1024, 1280) is one class.  X @0 (1200), Y @1248 (1104),
 * Z @2400 (1264), W @3712 (1600, class [1536, 1792)), freed X, Y, Z, W:
 * the class list is Z, Y, X (most recent first). */
static void test_log_class(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	static const uint64_t sizes[] = {1200, 1104, 1264, 1600};
	char *p[4];
	long long top = layout(&f, sizes, 4, p);
	assert_int_equal(top, 5360);
	for (int i = 0; i < 4; i++)
		FREE(&f, p[i]);
	/* 1104: Z fits, Y fits exactly: Y */
	char *y = MALLOC(&f, BLOCK(1104));
	AT(&f, y, 1248);
	FREE(&f, y); /* list: Y, Z, X */
	/* 1152: Y is too small, Z (1264) and X (1200) fit: the smaller, X,
	 * split into 1152 + a 48-byte rest at 1152 */
	AT(&f, MALLOC(&f, BLOCK(1152)), 0);
	/* 1264: Z, exactly */
	AT(&f, MALLOC(&f, BLOCK(1264)), 2400);
	/* 1216: Y (1104) is too small: the class above, W, split (rest 384) */
	AT(&f, MALLOC(&f, BLOCK(1216)), 3712);
	/* 1216 again: nothing fits in the class or above: the heap grows */
	AT(&f, MALLOC(&f, BLOCK(1216)), top);
	fx_close(&f);
}

/* Among the blocks scanned the smallest fit wins, the most recently freed
 * among equals; a larger class gives its head, not its smallest block. */
static void test_ties_and_spacing(void **state)
{
	(void)state;
	struct fx f;
	/* spacing 1: A @0 (1504), B @1552 (1200), C @2800 (1200), freed A, B,
	 * C; 1104 fits in all three: B and C are the smallest, C the more
	 * recent */
	fx_open(&f, "spacing", "1", NULL, NULL);
	static const uint64_t abc[] = {1504, 1200, 1200};
	char *p[3];
	layout(&f, abc, 3, p);
	for (int i = 0; i < 3; i++)
		FREE(&f, p[i]);
	AT(&f, MALLOC(&f, BLOCK(1104)), 2800);
	fx_close(&f);

	/* R @0 (1104) freed before S @1152 (1136); a request of 1040: with
	 * spacing 16 its class [1024, 1088) is empty and the class above,
	 * [1088, 1152), gives its head S; with spacing 8 or less both are in
	 * the request's class and the smaller, R, wins */
	static const struct {
		const char *spacing;
		long long want;
	} cases[] = {{"16", 1152}, {"8", 0}, {"4", 0}, {"2", 0}, {"1", 0}};
	static const uint64_t rs[] = {1104, 1136};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		fx_open(&f, "spacing", cases[k].spacing, NULL, NULL);
		layout(&f, rs, 2, p);
		FREE(&f, p[0]);
		FREE(&f, p[1]);
		char *q = MALLOC(&f, BLOCK(1040));
		if (q - f.base != cases[k].want)
			fail_msg("spacing %s: expected base%+lld, got base%+lld", cases[k].spacing,
				 cases[k].want, (long long)(q - f.base));
		fx_close(&f);
	}
}

/* The scan of a class looks at 8 blocks: a fitting block 9th in its list
 * is passed over (good fit, not best fit), 8th is found.  Spacing 1:
 * [1024, 2048) is one class; BIG @0 (2000) is freed first, then n blocks
 * of 1040; a request of 1504 fits only BIG. */
static void test_scan_bounded(void **state)
{
	(void)state;
	for (int n = 7; n <= 8; n++) {
		struct fx f;
		fx_open(&f, "spacing", "1", NULL, NULL);
		uint64_t sizes[9] = {2000};
		char *p[9];
		for (int i = 1; i <= n; i++)
			sizes[i] = 1040;
		long long top = layout(&f, sizes, (size_t)n + 1, p);
		for (int i = 0; i <= n; i++)
			FREE(&f, p[i]);
		char *q = MALLOC(&f, BLOCK(1504));
		long long want = n == 7 ? 0 : top;
		if (q - f.base != want)
			fail_msg("%d small blocks before BIG: expected base%+lld, got base%+lld", n,
				 want, (long long)(q - f.base));
		fx_close(&f);
	}
}

/* Blocks of 2^24 bytes and more share the last class, searched the same
 * bounded way; a failed scan there grows the heap.  mmap_threshold=0 keeps
 * the huge blocks in the break region (only their tags are touched). */
static void test_last_class(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, "mmap_threshold", "0", NULL, NULL);
	static const uint64_t sizes[] = {20 * MiB, 17 * MiB}; /* L1 @0, L2 @20M+48 */
	char *p[2];
	layout(&f, sizes, 2, p);
	FREE(&f, p[0]);
	FREE(&f, p[1]);
	/* 18 MiB: L2 (the head) is too small, L1 fits; the rest, 2 MiB, at 18M */
	AT(&f, MALLOC(&f, BLOCK(18 * MiB)), 0);
	/* 16 MiB, the smallest size of the last class: L2 */
	AT(&f, MALLOC(&f, BLOCK(16 * MiB)), 20 * MiB + 48);
	/* 1 MiB: the rest of L2, exactly; then its class is empty and the
	 * nearest class above holds the 2 MiB rest of L1 */
	AT(&f, MALLOC(&f, BLOCK(1 * MiB)), 36 * MiB + 48);
	AT(&f, MALLOC(&f, BLOCK(1 * MiB)), 18 * MiB);
	fx_close(&f);

	/* BIG (24 MiB) freed first, then n blocks of 16 MiB: 20 MiB fits only
	 * BIG, found 8th in the last class, passed over 9th (the heap grows) */
	for (int n = 7; n <= 8; n++) {
		fx_open(&f, "mmap_threshold", "0", NULL, NULL);
		uint64_t big[9] = {24 * MiB};
		char *q[9];
		for (int i = 1; i <= n; i++)
			big[i] = 16 * MiB;
		long long top = layout(&f, big, (size_t)n + 1, q);
		for (int i = 0; i <= n; i++)
			FREE(&f, q[i]);
		char *r = MALLOC(&f, BLOCK(20 * MiB));
		long long want = n == 7 ? 0 : top;
		if (r - f.base != want)
			fail_msg("%d huge blocks before BIG: expected base%+lld, got base%+lld", n,
				 want, (long long)(r - f.base));
		fx_close(&f);
	}
}

/* ---- Options -------------------------------------------------------------------- */

static void test_options(void **state)
{
	(void)state;
	struct fx f;
	static const char *const good[] = {"1", "2", "4", "8", "16"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		fx_open(&f, "spacing", good[i], "min_split", "64");
		char *p = MALLOC(&f, 5000);
		MALLOC(&f, 100);
		FREE(&f, p);
		AT(&f, MALLOC(&f, 4000), 0);
		fx_close(&f);
	}
	static const char *const bad[] = {"0", "3", "32", "", "4x", " 4", "-4", "04", "four"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (fx_try(&f, "spacing", bad[i], NULL, NULL) != -1)
			fail_msg("spacing '%s' was accepted", bad[i]);
		if (!strstr(f.err, "spacing") || !strstr(f.err, bad[i]))
			fail_msg("spacing '%s': the message does not say what is wrong: '%s'",
				 bad[i], f.err);
		heap_destroy(f.heap);
	}
	assert_int_equal(fx_try(&f, "mmap_threshold", "lots", NULL, NULL), -1);
	heap_destroy(f.heap);
	/* option names are checked against the table */
	const struct allocator *a = allocator_find("segregated");
	char err[ALLOC_ERRLEN];
	struct backend_opt o = {"classes", "4"};
	struct backend_opts opts = {&o, 1};
	assert_int_equal(allocator_check_options(a, &opts, err, sizeof err), -1);
	static const char *const known[] = {"spacing", "mmap_threshold", "min_split"};
	for (size_t i = 0; i < 3; i++) {
		o.key = known[i];
		if (allocator_check_options(a, &opts, err, sizeof err) < 0)
			fail_msg("option %s: %s", known[i], err);
	}

	/* min_split=256: a 192-byte rest stays in the block */
	fx_open(&f, "min_split", "256", NULL, NULL);
	static const uint64_t sizes[] = {512};
	char *p[1];
	layout(&f, sizes, 1, p);
	FREE(&f, p[0]);
	char *q = MALLOC(&f, BLOCK(320));
	AT(&f, q, 0);
	USABLE(&f, q, 496);
	fx_close(&f);
}

/* ---- Bad frees ------------------------------------------------------------------ */

static void test_bad_frees(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	char *p = MALLOC(&f, 100), *q = MALLOC(&f, 100), *r = MALLOC(&f, 100);
	char *g = MALLOC(&f, 100);
	memset(q, 0, 100);
	_Alignas(16) char local[64];
	BAD_FREE(&f, local + 16, "a stack pointer");
	BAD_FREE(&f, q + 16, "an interior pointer");
	BAD_FREE(&f, q + 8, "a misaligned pointer");
	BAD_FREE(&f, (char *)heap_hi(f.heap) + 4096, "a pointer past the break");
	assert_int_equal(f.a->free(f.st, NULL, f.err, sizeof f.err), 0);
	CHECK(&f);
	/* double free of a block that stayed alone */
	FREE(&f, q);
	BAD_FREE(&f, q, "a freed block");
	/* double free of blocks merged into their neighbours */
	FREE(&f, p);
	BAD_FREE(&f, p, "a freed block merged with its successor");
	BAD_FREE(&f, q, "a freed block merged into its predecessor");
	/* the heap still works: p, q and r coalesce, and a request of their
	 * three blocks takes it */
	FREE(&f, r);
	AT(&f, MALLOC(&f, BLOCK(3 * 128)), 0);
	/* mapped blocks */
	char *m = MALLOC(&f, 300000);
	BAD_FREE(&f, m + 16, "an interior pointer of a mapped block");
	FREE(&f, m);
	BAD_FREE(&f, m, "a freed mapped block");
	FREE(&f, g);
	fx_close(&f);
}

/* p, q, r back to back: free r, then p, then q: q merges with both (one
 * block at p's address), so q's own tags are left inside it.  A second free(q) must
 * be rejected, not accepted on the stale tags: block_release marks the
 * freed block's own tags free before it merges. */
static void test_double_free_merged(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	char *p = MALLOC(&f, 100), *q = MALLOC(&f, 100), *r = MALLOC(&f, 100);
	MALLOC(&f, 100);
	FREE(&f, r);
	FREE(&f, p);
	FREE(&f, q);
	uint64_t stale = ((uint64_t *)q)[-1];
	if (stale & BT_F_ALLOC)
		fail_msg("the header of a block merged on both sides: expected free, got %#llx",
			 (unsigned long long)stale);
	BAD_FREE(&f, q, "a block freed and merged on both sides");
	BAD_FREE(&f, r, "a block freed and merged into its predecessor");
	fx_close(&f);
}

/* check() walks the class lists: a broken link is reported, and the heap
 * is consistent again once it is repaired. */
static void test_check_sees_broken_links(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	static const uint64_t sizes[] = {128, 128, 128};
	char *p[3];
	layout(&f, sizes, 3, p);
	for (int i = 0; i < 3; i++)
		FREE(&f, p[i]);
	/* the class-128 list is C, B, A; B is p[1] - 8 */
	struct bt_node *n = bt_node(p[1] - 8);
	char *saved = n->left;
	n->left = p[1] - 8; /* B -> B */
	if (f.a->check(f.st, f.err, sizeof f.err) != -1)
		fail_msg("check passed with a broken link");
	if (!strstr(f.err, "links"))
		fail_msg("check: expected a message about links, got '%s'", f.err);
	n->left = saved;
	CHECK(&f);
	n->right = NULL;
	assert_int_equal(f.a->check(f.st, f.err, sizeof f.err), -1);
	n->right = p[2] - 8; /* B's prev is C: the list is C, B, A */
	CHECK(&f);
	fx_close(&f);
}

/* ---- realloc, memalign, calloc -------------------------------------------------- */

static void fill(char *p, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(seed + i * 7);
}

static void expect_fill(const char *p, size_t n, int seed, int line)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (char)(seed + i * 7))
			fail_msg("line %d: byte %zu: expected %d, got %d", line, i,
				 (char)(seed + i * 7), p[i]);
}

static void test_realloc_memalign_calloc(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, NULL, NULL, NULL, NULL);
	char *a = f.a->realloc(f.st, NULL, 100); /* malloc */
	assert_non_null(a);
	f.base = a;
	CHECK(&f);
	char *b = MALLOC(&f, 100);
	AT(&f, b, 128);
	AT(&f, MALLOC(&f, 32), 256);
	fill(a, 100, 1);
	FREE(&f, b);
	/* grow into the free successor: 128 + 128 covers 224 */
	char *a2 = f.a->realloc(f.st, a, 200);
	assert_ptr_equal(a2, a);
	CHECK(&f);
	USABLE(&f, a, 240);
	expect_fill(a, 100, 1, __LINE__);
	/* shrink: the 176-byte tail becomes a free block */
	assert_ptr_equal(f.a->realloc(f.st, a, 50), a);
	CHECK(&f);
	AT(&f, MALLOC(&f, BLOCK(176)), 80);
	expect_fill(a, 50, 1, __LINE__);
	/* grow at the top of the heap: in place */
	char *t = MALLOC(&f, 100);
	AT(&f, t, 304);
	fill(t, 100, 2);
	assert_ptr_equal(f.a->realloc(f.st, t, 5000), t);
	CHECK(&f);
	expect_fill(t, 100, 2, __LINE__);
	/* no room: moved, contents kept */
	char *a3 = f.a->realloc(f.st, a, 3000);
	assert_non_null(a3);
	assert_ptr_not_equal(a3, a);
	CHECK(&f);
	expect_fill(a3, 50, 1, __LINE__);

	for (size_t align = 32; align <= 65536; align *= 4) {
		char *m = f.a->memalign(f.st, align, 100);
		assert_non_null(m);
		if ((uintptr_t)m % align)
			fail_msg("memalign(%zu, 100) returned %p", align, (void *)m);
		CHECK(&f);
		fill(m, 100, 3);
		FREE(&f, m);
	}
	char *big = f.a->memalign(f.st, 4096, 300000);
	assert_non_null(big);
	assert_int_equal((uintptr_t)big % 4096, 0);
	FREE(&f, big);

	/* calloc: reused memory is cleared */
	char *d = MALLOC(&f, 500);
	memset(d, 0xaa, 500);
	FREE(&f, d);
	char *c = f.a->calloc(f.st, 5, 100);
	assert_ptr_equal(c, d); /* its exact class */
	CHECK(&f);
	for (int i = 0; i < 500; i++)
		assert_int_equal(c[i], 0);
	assert_null(f.a->calloc(f.st, SIZE_MAX / 2, 4));
	char *cm = f.a->calloc(f.st, 1000, 300);
	assert_non_null(cm);
	for (int i = 0; i < 300000; i += 97)
		assert_int_equal(cm[i], 0);
	FREE(&f, cm);
	CHECK(&f);
	fx_close(&f);
}

/* ---- Random work ----------------------------------------------------------------- */

static void random_work(const char *spacing)
{
	struct fx f;
	fx_open(&f, "spacing", spacing, NULL, NULL);
	enum { N = 300 };
	char *blk[N] = {0};
	size_t len[N] = {0};
	uint64_t x = 88172645463325252ull;
	for (int step = 0; step < 6000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int k = (int)(x % N);
		unsigned r = (unsigned)(x >> 32) % 100;
		size_t size = r < 60   ? (x >> 40) % 200
			      : r < 95 ? (x >> 40) % 6000
				       : (x >> 40) % 200000;
		if (!blk[k]) {
			unsigned kind = (unsigned)(x >> 20) % 8;
			blk[k] = kind == 0
					 ? f.a->memalign(f.st, (size_t)32 << ((x >> 24) % 6), size)
				 : kind == 1 ? f.a->calloc(f.st, 1, size)
					     : f.a->malloc(f.st, size);
			assert_non_null(blk[k]);
			if (kind == 1)
				for (size_t i = 0; i < size; i++)
					assert_int_equal(blk[k][i], 0);
			assert_true(f.a->usable_size(f.st, blk[k]) >= size);
			len[k] = size;
			fill(blk[k], size, k);
		} else if (r % 3 == 0) {
			expect_fill(blk[k], len[k], k, __LINE__);
			char *p = f.a->realloc(f.st, blk[k], size + 1);
			assert_non_null(p);
			expect_fill(p, len[k] < size + 1 ? len[k] : size + 1, k, __LINE__);
			blk[k] = p;
			len[k] = size + 1;
			fill(p, len[k], k);
		} else {
			expect_fill(blk[k], len[k], k, __LINE__);
			if (f.a->free(f.st, blk[k], f.err, sizeof f.err) < 0)
				fail_msg("step %d: %s", step, f.err);
			blk[k] = NULL;
		}
		if (f.a->check(f.st, f.err, sizeof f.err) < 0)
			fail_msg("spacing %s, step %d: check: %s", spacing, step, f.err);
	}
	fx_close(&f);
}

static void test_random_work(void **state)
{
	(void)state;
	random_work("1");
	random_work("4");
	random_work("16");
}

/* ---- Differential: the policy's definition as a linear scan ------------------------ */

/* The reference keeps every free block in one list, the most recently
 * inserted first: the blocks of one class, in list order, are then that
 * class's LIFO list.  Its classes come from the definition (1024 and up:
 * `spacing` equal ranges per power of two, all of 2^24 and up one class). */

#define NEXT(b) (bt_node(b)->left)
#define PREV(b) (bt_node(b)->right)

static unsigned ref_spacing;

static unsigned ref_class(uint64_t size)
{
	if (size < 1024)
		return (unsigned)(size / 16);
	unsigned c = 64;
	for (uint64_t lo = 1024; lo < ((uint64_t)1 << 24); lo *= 2)
		for (unsigned i = 0; i < ref_spacing; i++, c++)
			if (size < lo + (i + 1) * (lo / ref_spacing))
				return c;
	return c;
}

static void ref_insert(struct bt *h, char *b)
{
	NEXT(b) = h->root;
	PREV(b) = NULL;
	if (h->root)
		PREV(h->root) = b;
	h->root = b;
}

static void ref_remove(struct bt *h, char *b)
{
	if (PREV(b))
		NEXT(PREV(b)) = NEXT(b);
	else
		h->root = NEXT(b);
	if (NEXT(b))
		PREV(NEXT(b)) = PREV(b);
}

/* The smallest fit among the first 8 blocks of the request's class (the
 * first among equals), else the most recent block of the lowest non-empty
 * class above. */
static char *ref_find(struct bt *h, uint64_t asize)
{
	unsigned c = ref_class(asize), seen = 0, up = UINT_MAX;
	char *best = NULL, *above = NULL;
	for (char *b = h->root; b; b = NEXT(b)) {
		unsigned k = ref_class(bt_size(b));
		if (k == c && seen < 8) {
			seen++;
			if (bt_size(b) >= asize && (!best || bt_size(b) < bt_size(best)))
				best = b;
		}
		if (k > c && k < up) {
			up = k;
			above = b;
		}
	}
	return best ? best : above;
}

static int ref_check(struct bt *h, uint64_t *count, char *why, size_t len)
{
	*count = 0;
	for (char *b = h->root; b; b = NEXT(b))
		if (++*count > h->free_blocks + 1)
			return snprintf(why, len, "reference list loops"), -1;
	return 0;
}

/* not const: ext_bytes is set to the backend's, so that both heaps have the
 * same layout (memalign's choices depend on the addresses) */
static struct bt_policy ref_policy = {
	.name = "reference segregated fits",
	.insert = ref_insert,
	.remove = ref_remove,
	.find = ref_find,
	.check = ref_check,
};

struct side {
	struct heap *heap;
	void *st;
	void **ptrs;
	const struct allocator *a; /* NULL: the reference */
};

static void *side_call(struct side *s, const struct trace_op *op)
{
	void *old = op->id == TRACE_ID_NULL ? NULL : s->ptrs[op->id];
	switch (op->kind) {
	case TRACE_ALLOC: return bt_malloc(s->st, op->size);
	case TRACE_CALLOC:
		if (s->a)
			return s->a->calloc(s->st, op->arg, op->size);
		else {
			void *p = bt_malloc(s->st, op->arg * op->size);
			if (p)
				memset(p, 0, op->arg * op->size);
			return p;
		}
	case TRACE_MEMALIGN: return bt_memalign(s->st, op->arg, op->size);
	case TRACE_REALLOC: return bt_realloc(s->st, old, op->size);
	default: assert_int_equal(bt_free(s->st, old, NULL, 0), 0); return NULL;
	}
}

/* offset from the first block, or -1 for NULL, -2 for a mapping */
static int64_t where(struct side *s, void *p)
{
	if (!p)
		return -1;
	char *first = ((struct bt *)s->st)->first, *hi = heap_hi(s->heap);
	return (char *)p >= first && (char *)p < hi ? (char *)p - first : -2;
}

static uint64_t footprint(struct side *s)
{
	struct heap_usage u;
	heap_usage(s->heap, &u);
	return u.footprint;
}

static void differential(const struct trace *t, const char *spacing, const char *threshold)
{
	struct backend_opt o[2] = {{"spacing", spacing}, {"mmap_threshold", threshold}};
	struct backend_opts opts = {o, threshold ? 2 : 1};
	struct side fast = {.a = allocator_find("segregated")}, slow = {0};
	char err[ALLOC_ERRLEN];
	ref_spacing = (unsigned)atoi(spacing);
	fast.heap = heap_create(0);
	slow.heap = heap_create(0);
	assert_int_equal(fast.a->init(&fast.st, fast.heap, &opts, err, sizeof err), 0);
	/* bt_init puts struct bt (rounded to 16), the policy's state, a pad
	 * word and the 16-byte prologue below the first block */
	ref_policy.ext_bytes =
		(size_t)(((struct bt *)fast.st)->first - (char *)heap_lo(fast.heap)) -
		((sizeof(struct bt) + 15) & ~(size_t)15) - 24;
	assert_int_equal(bt_init(&slow.st, slow.heap, &ref_policy, &opts, err, sizeof err), 0);
	assert_int_equal(((struct bt *)fast.st)->first - (char *)heap_lo(fast.heap),
			 ((struct bt *)slow.st)->first - (char *)heap_lo(slow.heap));
	fast.ptrs = calloc(t->nids + 1, sizeof(void *));
	slow.ptrs = calloc(t->nids + 1, sizeof(void *));
	assert_non_null(fast.ptrs);
	assert_non_null(slow.ptrs);
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		void *pf = side_call(&fast, op), *ps = side_call(&slow, op);
		int64_t wf = where(&fast, pf), ws = where(&slow, ps);
		if (wf != ws)
			fail_msg("%s, spacing %s: op %llu: the backend chose offset %lld, the "
				 "reference %lld",
				 t->path, spacing, (unsigned long long)i, (long long)wf,
				 (long long)ws);
		if (footprint(&fast) != footprint(&slow))
			fail_msg("%s, spacing %s: op %llu: footprint %llu, reference %llu", t->path,
				 spacing, (unsigned long long)i,
				 (unsigned long long)footprint(&fast),
				 (unsigned long long)footprint(&slow));
		if (op->id != TRACE_ID_NULL) {
			fast.ptrs[op->id] = op->kind == TRACE_FREE ? NULL : pf;
			slow.ptrs[op->id] = op->kind == TRACE_FREE ? NULL : ps;
		}
		if (i % 499 == 0 && fast.a->check(fast.st, err, sizeof err) < 0)
			fail_msg("%s, spacing %s: check after op %llu: %s", t->path, spacing,
				 (unsigned long long)i, err);
	}
	if (fast.a->check(fast.st, err, sizeof err) < 0)
		fail_msg("%s, spacing %s: check at the end: %s", t->path, spacing, err);
	assert_int_equal(bt_check(slow.st, err, sizeof err), 0);
	free(fast.ptrs);
	free(slow.ptrs);
	heap_destroy(fast.heap);
	heap_destroy(slow.heap);
}

static void test_differential_generated(void **state)
{
	(void)state;
	static const char *const spacings[] = {"1", "2", "4", "8", "16"};
	for (int p = 0; trace_gen_patterns[p]; p++)
		for (uint64_t seed = 1; seed <= 2; seed++) {
			struct trace *t = trace_generate(trace_gen_patterns[p], 6000, seed);
			assert_non_null(t);
			free(t->path);
			char name[64];
			snprintf(name, sizeof name, "%s/seed %llu", trace_gen_patterns[p],
				 (unsigned long long)seed);
			t->path = strdup(name);
			for (size_t s = 0; s < sizeof spacings / sizeof *spacings; s++)
				differential(t, spacings[s], NULL);
			differential(t, "4", "0"); /* everything in the break region */
			trace_free(t);
		}
}

static void test_differential_bundled(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"traces/examples/tiny.rep",
		"traces/synthetic/peak.trace",
		"traces/synthetic/ramp.trace",
		"traces/synthetic/plateau.trace",
		"traces/synthetic/random-uniform.trace",
		"traces/synthetic/random-exponential.trace",
		"tests/data/rep/cmu2016.rep",
		"tests/data/rep/quirk-realloc-null.rep",
		"tests/data/text/kinds.trace",
	};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct diag d;
		diag_init(&d, paths[i], false);
		struct trace *t = trace_load_verified(paths[i], &d);
		assert_non_null(t);
		differential(t, "4", NULL);
		differential(t, "16", "0");
		trace_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_classes),
		cmocka_unit_test(test_higher_class),
		cmocka_unit_test(test_log_class),
		cmocka_unit_test(test_ties_and_spacing),
		cmocka_unit_test(test_scan_bounded),
		cmocka_unit_test(test_last_class),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_bad_frees),
		cmocka_unit_test(test_double_free_merged),
		cmocka_unit_test(test_check_sees_broken_links),
		cmocka_unit_test(test_realloc_memalign_calloc),
		cmocka_unit_test(test_random_work),
		cmocka_unit_test(test_differential_generated),
		cmocka_unit_test(test_differential_bundled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
