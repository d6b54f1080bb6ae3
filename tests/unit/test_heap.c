/*
 * test_heap.c - the simulated heap (allocators/heap.c) against what heap.h
 * promises, with expected values worked out by hand: the break moves by
 * exactly what is asked and the footprint follows it byte for byte; a
 * mapping counts its size rounded up to HEAP_PAGE; the peak survives
 * shrinking and starts again at heap_reset; a limit turns exhaustion into
 * NULL with nothing changed; heap_unmap and heap_contains reject what the
 * heap never handed out.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "heap.h"

/* ---- Helpers -------------------------------------------------------------------- */

#define EXPECT_EQ(got, want, what) expect_eq((uint64_t)(got), (uint64_t)(want), what, __LINE__)

static void expect_eq(uint64_t got, uint64_t want, const char *what, int line)
{
	if (got != want)
		fail_msg("line %d: %s: expected %llu, got %llu", line, what,
			 (unsigned long long)want, (unsigned long long)got);
}

#define EXPECT_PTR(got, want, what) expect_ptr(got, want, what, __LINE__)

static void expect_ptr(const void *got, const void *want, const char *what, int line)
{
	if (got != want)
		fail_msg("line %d: %s: expected %p, got %p", line, what, want, got);
}

/* The whole of heap_usage at once: brk bytes, mapped bytes, peak, mappings
 * (the footprint must be brk + mapped). */
#define EXPECT_USAGE(h, brk, mapped, peak, maps) expect_usage(h, brk, mapped, peak, maps, __LINE__)

static void expect_usage(const struct heap *h, uint64_t brk, uint64_t mapped, uint64_t peak,
			 uint64_t maps, int line)
{
	struct heap_usage u;
	heap_usage(h, &u);
	expect_eq(u.brk_bytes, brk, "brk_bytes", line);
	expect_eq(u.mapped_bytes, mapped, "mapped_bytes", line);
	expect_eq(u.footprint, brk + mapped, "footprint", line);
	expect_eq(u.peak_footprint, peak, "peak_footprint", line);
	expect_eq(u.mappings, maps, "mappings", line);
	expect_eq((uint64_t)((char *)heap_hi(h) - (char *)heap_lo(h)), brk, "heap_hi - heap_lo",
		  line);
}

static struct heap *open_heap(uint64_t limit)
{
	struct heap *h = heap_create(limit);
	if (!h)
		fail_msg("heap_create(%llu) returned NULL", (unsigned long long)limit);
	return h;
}

/* ---- The break ------------------------------------------------------------------ */

/* heap_sbrk returns the old break and moves it by exactly incr: no rounding. */
static void test_sbrk_exact(void **state)
{
	(void)state;
	struct heap *h = open_heap(0);
	char *lo = heap_lo(h);
	EXPECT_PTR(heap_hi(h), lo, "a new heap's break");
	EXPECT_USAGE(h, 0, 0, 0, 0);
	EXPECT_PTR(heap_sbrk(h, 0), lo, "sbrk(0)");
	EXPECT_PTR(heap_sbrk(h, 100), lo, "sbrk(100)");
	EXPECT_PTR(heap_sbrk(h, 1), lo + 100, "sbrk(1)");
	EXPECT_PTR(heap_sbrk(h, 27), lo + 101, "sbrk(27)");
	EXPECT_USAGE(h, 128, 0, 128, 0);
	/* the region is usable memory, to the last byte */
	memset(lo, 0xa5, 128);
	EXPECT_PTR(heap_sbrk(h, 0), lo + 128, "sbrk(0) after growing");
	struct heap_usage u;
	heap_usage(h, &u);
	EXPECT_EQ(u.limit, 0, "limit of an unlimited heap");
	heap_destroy(h);
	heap_destroy(NULL); /* a no-op */
}

/* Shrinking moves the break back and lowers the footprint, not the peak;
 * below the start is refused with nothing changed. */
static void test_sbrk_shrink_and_peak(void **state)
{
	(void)state;
	struct heap *h = open_heap(0);
	char *lo = heap_lo(h);
	heap_sbrk(h, 10000);
	EXPECT_PTR(heap_sbrk(h, -3000), lo + 10000, "sbrk(-3000)");
	EXPECT_USAGE(h, 7000, 0, 10000, 0);
	EXPECT_PTR(heap_sbrk(h, -7001), NULL, "sbrk below the start");
	EXPECT_USAGE(h, 7000, 0, 10000, 0);
	EXPECT_PTR(heap_sbrk(h, -7000), lo + 7000, "sbrk back to the start");
	EXPECT_USAGE(h, 0, 0, 10000, 0);
	/* growing again below the old peak leaves it; above, it follows */
	heap_sbrk(h, 9999);
	EXPECT_USAGE(h, 9999, 0, 10000, 0);
	heap_sbrk(h, 2);
	EXPECT_USAGE(h, 10001, 0, 10001, 0);
	/* pages given back by shrinking come back zeroed or not, but usable */
	heap_sbrk(h, -10001);
	heap_sbrk(h, 8192);
	memset(lo, 1, 8192);
	heap_destroy(h);
}

/* More than the reservation is refused, not wrapped around. */
static void test_sbrk_reservation(void **state)
{
	(void)state;
	struct heap *h = open_heap(0);
	heap_sbrk(h, 4096);
	EXPECT_PTR(heap_sbrk(h, INTPTR_MAX), NULL, "sbrk(INTPTR_MAX)");
	EXPECT_PTR(heap_sbrk(h, (intptr_t)HEAP_RESERVE), NULL, "sbrk past the reservation");
	EXPECT_USAGE(h, 4096, 0, 4096, 0);
	heap_destroy(h);
}

/* ---- Mappings ------------------------------------------------------------------- */

/* Each mapping counts its size rounded up to HEAP_PAGE; it is zeroed and
 * page-aligned. */
static void test_map_accounting(void **state)
{
	(void)state;
	struct heap *h = open_heap(0);
	heap_sbrk(h, 100);
	char *a = heap_map(h, 1), *b = heap_map(h, 4096), *c = heap_map(h, 4097);
	if (!a || !b || !c)
		fail_msg("heap_map returned NULL: %p %p %p", (void *)a, (void *)b, (void *)c);
	/* 4096 + 4096 + 8192 mapped, plus the break's 100 */
	EXPECT_USAGE(h, 100, 16384, 16484, 3);
	EXPECT_EQ((uintptr_t)a % HEAP_PAGE, 0, "a mapping's alignment");
	for (size_t i = 0; i < 8192; i++)
		if (c[i])
			fail_msg("byte %zu of a fresh mapping: expected 0, got %d", i, c[i]);
	memset(c, 0xff, 8192);
	EXPECT_PTR(heap_map(h, 0), NULL, "heap_map(0)");
	EXPECT_PTR(heap_map(h, SIZE_MAX), NULL, "heap_map(SIZE_MAX)");
	EXPECT_USAGE(h, 100, 16384, 16484, 3);
	/* unmapping lowers the footprint; the peak stays */
	EXPECT_EQ(heap_unmap(h, c, 4097), 0, "heap_unmap(c, 4097)");
	EXPECT_USAGE(h, 100, 8192, 16484, 2);
	heap_destroy(h);
}

/* heap_remap resizes a mapping with its contents: the footprint goes from
 * the old rounded size to the new one, never holding both (the peak says
 * so); it refuses a size that is not the mapping's, a foreign pointer and
 * growth past the limit, changing nothing. */
static void test_remap(void **state)
{
	(void)state;
	struct heap *h = open_heap(64 * HEAP_PAGE);
	heap_sbrk(h, 100);
	unsigned char *m = heap_map(h, 10000); /* 3 pages */
	for (size_t i = 0; i < 10000; i++)
		m[i] = (unsigned char)(i * 7);
	EXPECT_USAGE(h, 100, 12288, 12388, 1);
	unsigned char *g = heap_remap(h, m, 10000, 50000); /* 13 pages */
	if (!g)
		fail_msg("heap_remap(10000 -> 50000) returned NULL");
	for (size_t i = 0; i < 10000; i++)
		if (g[i] != (unsigned char)(i * 7))
			fail_msg("byte %zu moved wrong: %d", i, g[i]);
	/* 100 + 53248: never 100 + 12288 + 53248 */
	EXPECT_USAGE(h, 100, 53248, 53348, 1);
	EXPECT_EQ(heap_contains(h, g + 49999, 1), 1, "the grown mapping's last byte");
	EXPECT_PTR(heap_remap(h, g, 10000, 60000), NULL, "heap_remap with the old size");
	EXPECT_PTR(heap_remap(h, g + HEAP_PAGE, 40000, 50000), NULL, "heap_remap inside a mapping");
	EXPECT_PTR(heap_remap(h, g, 50000, 65 * HEAP_PAGE), NULL, "heap_remap past the limit");
	EXPECT_USAGE(h, 100, 53248, 53348, 1);
	unsigned char *s = heap_remap(h, g, 50000, 5000); /* 2 pages */
	if (!s || s[4999] != (unsigned char)(4999 * 7))
		fail_msg("heap_remap(50000 -> 5000) lost the bytes it keeps");
	EXPECT_USAGE(h, 100, 8192, 53348, 1);
	EXPECT_EQ(heap_unmap(h, s, 5000), 0, "heap_unmap of the shrunk mapping");
	EXPECT_USAGE(h, 100, 0, 53348, 0);
	heap_destroy(h);
}

/* heap_unmap takes any size that rounds to the mapping's (as implemented),
 * and refuses, changing nothing, what is not a live mapping of its size. */
static void test_unmap_rejects(void **state)
{
	(void)state;
	struct heap *h = open_heap(0);
	struct heap *other = open_heap(0);
	char *m = heap_map(h, 3 * HEAP_PAGE), *o = heap_map(other, HEAP_PAGE);
	char local[64];
	EXPECT_EQ(heap_unmap(h, m, HEAP_PAGE), -1, "unmap with a smaller size");
	EXPECT_EQ(heap_unmap(h, m, 4 * HEAP_PAGE), -1, "unmap with a larger size");
	EXPECT_EQ(heap_unmap(h, m + HEAP_PAGE, HEAP_PAGE), -1, "unmap of an interior page");
	EXPECT_EQ(heap_unmap(h, local, sizeof local), -1, "unmap of a stack address");
	EXPECT_EQ(heap_unmap(h, o, HEAP_PAGE), -1, "unmap of another heap's mapping");
	EXPECT_EQ(heap_unmap(h, heap_lo(h), HEAP_PAGE), -1, "unmap of the break region");
	EXPECT_USAGE(h, 0, 3 * HEAP_PAGE, 3 * HEAP_PAGE, 1);
	/* 3 * 4096 - 100 rounds up to the mapping's size */
	EXPECT_EQ(heap_unmap(h, m, 3 * HEAP_PAGE - 100), 0, "unmap with a size that rounds alike");
	EXPECT_USAGE(h, 0, 0, 3 * HEAP_PAGE, 0);
	EXPECT_EQ(heap_unmap(h, m, 3 * HEAP_PAGE), -1, "a second unmap");
	EXPECT_USAGE(other, 0, HEAP_PAGE, HEAP_PAGE, 1);
	heap_destroy(h);
	heap_destroy(other);
}

/* ---- The limit ------------------------------------------------------------------ */

/* The footprint may reach the limit, never pass it: sbrk and map return
 * NULL and change nothing. */
static void test_limit(void **state)
{
	(void)state;
	struct heap *h = open_heap(10000);
	char *lo = heap_lo(h);
	struct heap_usage u;
	heap_usage(h, &u);
	EXPECT_EQ(u.limit, 10000, "limit");
	EXPECT_PTR(heap_sbrk(h, 10001), NULL, "sbrk past the limit");
	EXPECT_USAGE(h, 0, 0, 0, 0);
	EXPECT_PTR(heap_sbrk(h, 10000), lo, "sbrk up to the limit");
	EXPECT_PTR(heap_sbrk(h, 1), NULL, "sbrk at the limit");
	EXPECT_PTR(heap_map(h, 1), NULL, "map at the limit");
	EXPECT_USAGE(h, 10000, 0, 10000, 0);
	/* room again after shrinking: 1808 + 4096 = 5904 */
	heap_sbrk(h, -8192);
	char *m = heap_map(h, 4000);
	if (!m)
		fail_msg("heap_map(4000) with 5904 bytes left under the limit returned NULL");
	EXPECT_USAGE(h, 1808, 4096, 10000, 1);
	/* a mapping counts rounded: 4097 would be 8192 bytes, 13904 in all */
	EXPECT_PTR(heap_map(h, 4097), NULL, "map whose rounded size passes the limit");
	EXPECT_PTR(heap_sbrk(h, 4097), NULL, "sbrk one byte past the limit");
	EXPECT_PTR(heap_sbrk(h, 4096), lo + 1808, "sbrk up to the limit, with a mapping");
	EXPECT_USAGE(h, 5904, 4096, 10000, 1);
	/* unmapping makes room for the break */
	EXPECT_EQ(heap_unmap(h, m, 4000), 0, "heap_unmap");
	EXPECT_PTR(heap_sbrk(h, 4096), lo + 5904, "sbrk into the room of the mapping");
	EXPECT_USAGE(h, 10000, 0, 10000, 0);
	/* metadata a free needs passes the limit, counted: 10000 + 4096; then
	 * nothing within the limit fits */
	char *over = heap_map_over(h, 100);
	if (!over)
		fail_msg("heap_map_over at the limit returned NULL");
	EXPECT_USAGE(h, 10000, 4096, 14096, 1);
	EXPECT_PTR(heap_map(h, 1), NULL, "map past the limit, after heap_map_over");
	EXPECT_PTR(heap_sbrk(h, 16), NULL, "sbrk past the limit, after heap_map_over");
	EXPECT_EQ(heap_unmap(h, over, 100), 0, "heap_unmap of heap_map_over's mapping");
	EXPECT_USAGE(h, 10000, 0, 14096, 0);
	heap_destroy(h);
}

/* ---- Bounds --------------------------------------------------------------------- */

/* heap_contains: inside the break region or inside one live mapping (its
 * rounded length), nothing else. */
static void test_contains(void **state)
{
	(void)state;
	struct heap *h = open_heap(0);
	char *lo = heap_lo(h);
	heap_sbrk(h, 1000);
	char *m = heap_map(h, 100), *n = heap_map(h, HEAP_PAGE);
	char local[16];
	static const struct {
		long at; /* offset from lo, or from m with from_map */
		size_t len;
		bool from_map, want;
	} cases[] = {
		{0, 1000, false, true},     /* the whole break region */
		{999, 1, false, true},      /* its last byte */
		{999, 2, false, false},     /* past the break */
		{1000, 1, false, false},    /* at the break */
		{0, HEAP_PAGE, true, true}, /* a mapping's rounded length */
		{HEAP_PAGE - 1, 1, true, true},
		{HEAP_PAGE - 1, 2, true, false}, /* across the end of a mapping */
		{0, SIZE_MAX, true, false},      /* a length that wraps around */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *p = (cases[i].from_map ? m : lo) + cases[i].at;
		if (heap_contains(h, p, cases[i].len) != cases[i].want)
			fail_msg("case %zu: heap_contains(%s%+ld, %zu): expected %d, got %d", i,
				 cases[i].from_map ? "map" : "lo", cases[i].at, cases[i].len,
				 cases[i].want, !cases[i].want);
	}
	if (heap_contains(h, local, sizeof local))
		fail_msg("heap_contains(stack): expected 0, got 1");
	/* a mapping no longer counts once unmapped */
	heap_unmap(h, n, HEAP_PAGE);
	if (heap_contains(h, n, 1))
		fail_msg("heap_contains(an unmapped mapping): expected 0, got 1");
	heap_unmap(h, m, 100);
	heap_destroy(h);
}

/* ---- Reset ---------------------------------------------------------------------- */

/* heap_reset: no mappings, the break at the start, the peak at zero; the
 * heap works as new. */
static void test_reset(void **state)
{
	(void)state;
	struct heap *h = open_heap(20000);
	char *lo = heap_lo(h);
	heap_sbrk(h, 5000);
	char *m = heap_map(h, 5000);
	EXPECT_USAGE(h, 5000, 8192, 13192, 1);
	heap_reset(h);
	EXPECT_USAGE(h, 0, 0, 0, 0);
	EXPECT_PTR(heap_lo(h), lo, "heap_lo after reset");
	if (heap_contains(h, m, 1))
		fail_msg("heap_contains(a mapping from before the reset): expected 0, got 1");
	struct heap_usage u;
	heap_usage(h, &u);
	EXPECT_EQ(u.limit, 20000, "limit after reset");
	/* the limit still holds, counted from zero */
	EXPECT_PTR(heap_sbrk(h, 20000), lo, "sbrk up to the limit after reset");
	EXPECT_PTR(heap_sbrk(h, 1), NULL, "sbrk past the limit after reset");
	EXPECT_USAGE(h, 20000, 0, 20000, 0);
	memset(lo, 7, 20000);
	heap_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sbrk_exact),
		cmocka_unit_test(test_sbrk_shrink_and_peak),
		cmocka_unit_test(test_sbrk_reservation),
		cmocka_unit_test(test_map_accounting),
		cmocka_unit_test(test_unmap_rejects),
		cmocka_unit_test(test_remap),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
