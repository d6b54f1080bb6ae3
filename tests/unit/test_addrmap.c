/*
 * test_addrmap.c - the ordered address map (allocators/host/addrmap.c)
 * against what addrmap.h promises: hand-checked edge cases (the empty map,
 * keys 0 and UINTPTR_MAX, duplicates, absent keys, floor and ceil below and
 * above everything, answers left untouched on a miss); long random runs
 * checked op by op against a sorted array, with the whole contents walked
 * both ways now and then; growth through many pool doublings and back to
 * empty; addrmap_bytes; and, under an address-space limit, an insert that
 * runs out of memory changing nothing while every insert right after a
 * remove still succeeds.
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
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/addrmap.h"

/* ---- Helpers ---------------------------------------------------------------------- */

#define EXPECT_EQ(got, want, what) expect_eq((uint64_t)(got), (uint64_t)(want), what, __LINE__)

static void expect_eq(uint64_t got, uint64_t want, const char *what, int line)
{
	if (got != want)
		fail_msg("line %d: %s: expected %llu, got %llu", line, what,
			 (unsigned long long)want, (unsigned long long)got);
}

/* floor or ceil of key: expected found (and then k, val), got ... */
#define EXPECT_FIND(fn, m, key, found, k, val) expect_find(#fn, fn, m, key, found, k, val, __LINE__)

typedef bool find_fn(const struct addrmap *, uintptr_t, uintptr_t *, uint64_t *);

static void expect_find(const char *name, find_fn *fn, const struct addrmap *m, uintptr_t key,
			bool found, uintptr_t k, uint64_t val, int line)
{
	uintptr_t gk = 12345;
	uint64_t gv = 67890;
	bool got = fn(m, key, &gk, &gv);
	if (got != found)
		fail_msg("line %d: %s(%#llx): expected %s, got %s", line, name,
			 (unsigned long long)key, found ? "a key" : "none", got ? "a key" : "none");
	if (!found && (gk != 12345 || gv != 67890))
		fail_msg("line %d: %s(%#llx) found none but wrote its answers", line, name,
			 (unsigned long long)key);
	if (found && (gk != k || gv != val))
		fail_msg("line %d: %s(%#llx): expected %#llx -> %llu, got %#llx -> %llu", line,
			 name, (unsigned long long)key, (unsigned long long)k,
			 (unsigned long long)val, (unsigned long long)gk, (unsigned long long)gv);
	/* a NULL val is allowed */
	EXPECT_EQ(fn(m, key, &gk, NULL), found, "the same search with val NULL");
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- The reference: a sorted array ------------------------------------------------ */

struct ref {
	uintptr_t *key;
	uint64_t *val;
	size_t n, cap;
};

static void ref_init(struct ref *r, size_t cap)
{
	r->key = malloc(cap * sizeof *r->key);
	r->val = malloc(cap * sizeof *r->val);
	assert_non_null(r->key);
	assert_non_null(r->val);
	r->n = 0;
	r->cap = cap;
}

static void ref_free(struct ref *r)
{
	free(r->key);
	free(r->val);
}

/* How many keys are < key. */
static size_t ref_rank(const struct ref *r, uintptr_t key)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->key[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool ref_has(const struct ref *r, uintptr_t key, size_t *at)
{
	*at = ref_rank(r, key);
	return *at < r->n && r->key[*at] == key;
}

static int ref_insert(struct ref *r, uintptr_t key, uint64_t val)
{
	size_t at;
	if (ref_has(r, key, &at))
		return -1;
	assert_true(r->n < r->cap);
	memmove(&r->key[at + 1], &r->key[at], (r->n - at) * sizeof r->key[0]);
	memmove(&r->val[at + 1], &r->val[at], (r->n - at) * sizeof r->val[0]);
	r->key[at] = key;
	r->val[at] = val;
	r->n++;
	return 0;
}

static int ref_remove(struct ref *r, uintptr_t key, uint64_t *val)
{
	size_t at;
	if (!ref_has(r, key, &at))
		return -1;
	*val = r->val[at];
	r->n--;
	memmove(&r->key[at], &r->key[at + 1], (r->n - at) * sizeof r->key[0]);
	memmove(&r->val[at], &r->val[at + 1], (r->n - at) * sizeof r->val[0]);
	return 0;
}

/* The map holds exactly the reference: the count, then every entry walked
 * upward with ceil and downward with floor. */
static void expect_same(const struct addrmap *m, const struct ref *r, const char *when)
{
	if (m->count != r->n)
		fail_msg("%s: count: expected %zu, got %zu", when, r->n, m->count);
	uintptr_t k, at = 0;
	uint64_t v;
	size_t i = 0;
	while (addrmap_ceil(m, at, &k, &v)) {
		if (i >= r->n || k != r->key[i] || v != r->val[i])
			fail_msg("%s: walking up, entry %zu: expected %#llx -> %llu, got %#llx -> "
				 "%llu",
				 when, i, i < r->n ? (unsigned long long)r->key[i] : 0ull,
				 i < r->n ? (unsigned long long)r->val[i] : 0ull,
				 (unsigned long long)k, (unsigned long long)v);
		i++;
		if (k == UINTPTR_MAX)
			break;
		at = k + 1;
	}
	EXPECT_EQ(i, r->n, "entries walking up");
	at = UINTPTR_MAX;
	while (i > 0 && addrmap_floor(m, at, &k, &v)) {
		i--;
		if (k != r->key[i] || v != r->val[i])
			fail_msg("%s: walking down, entry %zu: expected %#llx, got %#llx", when, i,
				 (unsigned long long)r->key[i], (unsigned long long)k);
		if (k == 0)
			break;
		at = k - 1;
	}
	EXPECT_EQ(i, 0, "entries left walking down");
}

/* ---- Hand-checked cases ------------------------------------------------------------ */

static void test_empty(void **state)
{
	(void)state;
	struct addrmap m;
	addrmap_init(&m);
	uint64_t v = 7;
	EXPECT_EQ(m.count, 0, "count of a new map");
	EXPECT_EQ(addrmap_bytes(&m), 0, "bytes of a new map");
	EXPECT_EQ(addrmap_get(&m, 0, &v), false, "get(0) on an empty map");
	EXPECT_EQ(v, 7, "get's val after a miss");
	EXPECT_EQ(addrmap_get(&m, UINTPTR_MAX, NULL), false, "get(max) on an empty map");
	EXPECT_EQ(addrmap_remove(&m, 0, &v), -1, "remove(0) on an empty map");
	EXPECT_EQ(addrmap_remove(&m, 4096, NULL), -1, "remove(4096) on an empty map");
	EXPECT_FIND(addrmap_floor, &m, 0, false, 0, 0);
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX, false, 0, 0);
	EXPECT_FIND(addrmap_ceil, &m, 0, false, 0, 0);
	EXPECT_FIND(addrmap_ceil, &m, UINTPTR_MAX, false, 0, 0);
	addrmap_destroy(&m);
	/* destroying twice, or a map never used, is harmless */
	addrmap_destroy(&m);
	EXPECT_EQ(m.count, 0, "count after destroy");
}

static void test_extremes(void **state)
{
	(void)state;
	struct addrmap m;
	addrmap_init(&m);
	EXPECT_EQ(addrmap_insert(&m, 0, 100), 0, "insert(0)");
	EXPECT_FIND(addrmap_floor, &m, 0, true, 0, 100);
	EXPECT_FIND(addrmap_ceil, &m, 0, true, 0, 100);
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX, true, 0, 100);
	EXPECT_FIND(addrmap_ceil, &m, 1, false, 0, 0);
	EXPECT_EQ(addrmap_insert(&m, UINTPTR_MAX, 200), 0, "insert(max)");
	EXPECT_FIND(addrmap_ceil, &m, 1, true, UINTPTR_MAX, 200);
	EXPECT_FIND(addrmap_ceil, &m, UINTPTR_MAX, true, UINTPTR_MAX, 200);
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX - 1, true, 0, 100);
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX, true, UINTPTR_MAX, 200);
	EXPECT_EQ(addrmap_insert(&m, UINTPTR_MAX, 1), -1, "insert(max) again");
	EXPECT_EQ(addrmap_insert(&m, 0, 1), -1, "insert(0) again");
	EXPECT_EQ(m.count, 2, "count after duplicates");
	uint64_t v = 0;
	EXPECT_EQ(addrmap_get(&m, UINTPTR_MAX, &v), true, "get(max)");
	EXPECT_EQ(v, 200, "a duplicate insert leaves the value");
	EXPECT_EQ(addrmap_remove(&m, 0, &v), 0, "remove(0)");
	EXPECT_EQ(v, 100, "remove(0)'s value");
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX - 1, false, 0, 0);
	EXPECT_FIND(addrmap_ceil, &m, 0, true, UINTPTR_MAX, 200);
	EXPECT_EQ(addrmap_remove(&m, UINTPTR_MAX, NULL), 0, "remove(max), val NULL");
	EXPECT_EQ(m.count, 0, "count after removing both");
	EXPECT_FIND(addrmap_ceil, &m, 0, false, 0, 0);
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX, false, 0, 0);
	addrmap_destroy(&m);
}

/* Three keys 0x1000, 0x2000, 0x3000, and every kind of neighbour query. */
static void test_small(void **state)
{
	(void)state;
	struct addrmap m;
	addrmap_init(&m);
	EXPECT_EQ(addrmap_insert(&m, 0x2000, 2), 0, "insert 0x2000");
	EXPECT_EQ(addrmap_insert(&m, 0x3000, 3), 0, "insert 0x3000");
	EXPECT_EQ(addrmap_insert(&m, 0x1000, 1), 0, "insert 0x1000");
	EXPECT_EQ(addrmap_insert(&m, 0x2000, 9), -1, "insert 0x2000 again");
	EXPECT_EQ(m.count, 3, "count");
	EXPECT_FIND(addrmap_floor, &m, 0xfff, false, 0, 0);
	EXPECT_FIND(addrmap_floor, &m, 0x1000, true, 0x1000, 1);
	EXPECT_FIND(addrmap_floor, &m, 0x1fff, true, 0x1000, 1);
	EXPECT_FIND(addrmap_floor, &m, 0x2000, true, 0x2000, 2);
	EXPECT_FIND(addrmap_floor, &m, 0x2001, true, 0x2000, 2);
	EXPECT_FIND(addrmap_floor, &m, UINTPTR_MAX, true, 0x3000, 3);
	EXPECT_FIND(addrmap_ceil, &m, 0, true, 0x1000, 1);
	EXPECT_FIND(addrmap_ceil, &m, 0x1001, true, 0x2000, 2);
	EXPECT_FIND(addrmap_ceil, &m, 0x2000, true, 0x2000, 2);
	EXPECT_FIND(addrmap_ceil, &m, 0x3000, true, 0x3000, 3);
	EXPECT_FIND(addrmap_ceil, &m, 0x3001, false, 0, 0);
	uint64_t v = 0;
	EXPECT_EQ(addrmap_get(&m, 0x1fff, &v), false, "get between keys");
	EXPECT_EQ(addrmap_remove(&m, 0x1fff, &v), -1, "remove between keys");
	EXPECT_EQ(addrmap_remove(&m, 0x2000, &v), 0, "remove 0x2000");
	EXPECT_EQ(v, 2, "its value");
	EXPECT_EQ(addrmap_remove(&m, 0x2000, &v), -1, "remove 0x2000 again");
	EXPECT_FIND(addrmap_floor, &m, 0x2fff, true, 0x1000, 1);
	EXPECT_FIND(addrmap_ceil, &m, 0x1001, true, 0x3000, 3);
	/* the remove's room: an insert of another key right after */
	EXPECT_EQ(addrmap_insert(&m, 0x8000, 8), 0, "insert right after a remove");
	EXPECT_EQ(m.count, 3, "count");
	EXPECT_EQ(addrmap_get(&m, 0x8000, &v), true, "get 0x8000");
	EXPECT_EQ(v, 8, "its value");
	addrmap_destroy(&m);
}

/* ---- Random runs against the reference -------------------------------------------- */

/* A key near the ones in use: aligned like a block address in a domain of
 * `span` slots, now and then one of the extremes or an odd address. */
static uintptr_t random_key(uint64_t *s, uintptr_t base, uint64_t span)
{
	uint64_t x = rng_next(s);
	switch (x % 64) {
	case 0: return 0;
	case 1: return UINTPTR_MAX;
	case 2: return UINTPTR_MAX - 16 * (x >> 32 & 3);
	case 3: return UINTPTR_MAX / 64 * ((x >> 16) % 64); /* far away */
	case 4: return base + 16 * ((x >> 8) % span) + 8;   /* between slots */
	default: return base + 16 * ((x >> 8) % span);
	}
}

/* An insert as the checker makes it, after addrmap_near of the key (2 of
 * 3), or with the search of an earlier op (1 of 3: a stale path, which the
 * map must see and not follow). */
static int insert_after_near(struct addrmap *m, uintptr_t key, uint64_t val, uint64_t i)
{
	static struct addrmap_near before;
	struct addrmap_near nb;
	addrmap_near(m, key, &nb);
	int rc = addrmap_insert_near(m, key, val, i % 3 ? &nb : &before);
	before = nb;
	return rc;
}

/* A remove as the checker makes it, along a descent made ahead: this op's
 * own (1 of 4), or one made for an op up to 7 removes before (often of
 * another key, or of this key in a map changed since: a stale path, which
 * the map must see and not follow). */
static int remove_after_seek(struct addrmap *m, uintptr_t key, uint64_t *val, uint64_t i)
{
	static struct addrmap_seek ring[8];
	addrmap_seek(m, key, &ring[i % 8]);
	return addrmap_remove_seek(m, key, val, &ring[(i + (i / 4 % 4 ? i / 16 % 8 : 0)) % 8]);
}

/* One op, the same on map and reference, results compared.  bias (0..100):
 * how often a mutation is an insert rather than a remove; half the inserts
 * follow addrmap_near (insert_after_near), half the removes addrmap_seek
 * (remove_after_seek). */
static void random_op(struct addrmap *m, struct ref *r, uint64_t *s, uintptr_t base, uint64_t span,
		      unsigned bias, uint64_t i)
{
	uintptr_t key = random_key(s, base, span), rk = 0, gk = 0;
	uint64_t op = rng_next(s) % 100, rv = 0, gv = 0;
	size_t at;
	if (op < 30) {
		bool ins = rng_next(s) % 100 < bias;
		int want = ins ? ref_insert(r, key, i) : ref_remove(r, key, &rv);
		int got = !ins    ? (i % 2 ? remove_after_seek(m, key, &gv, i / 2)
					   : addrmap_remove(m, key, &gv))
			  : i % 2 ? insert_after_near(m, key, i, i / 2)
				  : addrmap_insert(m, key, i);
		if (got != want || (!ins && want == 0 && gv != rv))
			fail_msg("op %llu: %s(%#llx): expected %d (val %llu), got %d (val %llu)",
				 (unsigned long long)i, ins ? "insert" : "remove",
				 (unsigned long long)key, want, (unsigned long long)rv, got,
				 (unsigned long long)gv);
	} else if (op < 50) {
		bool want = ref_has(r, key, &at), got = addrmap_get(m, key, &gv);
		if (got != want || (got && gv != r->val[at]))
			fail_msg("op %llu: get(%#llx): expected %d, got %d", (unsigned long long)i,
				 (unsigned long long)key, want, got);
	} else if (op < 75) {
		/* floor: the largest key <= key */
		size_t n = ref_rank(r, key) + (ref_has(r, key, &at) ? 1 : 0);
		bool got = addrmap_floor(m, key, &gk, &gv);
		if (got != (n > 0) || (got && (gk != r->key[n - 1] || gv != r->val[n - 1])))
			fail_msg("op %llu: floor(%#llx): expected %s %#llx, got %s %#llx",
				 (unsigned long long)i, (unsigned long long)key, n ? "key" : "none",
				 n ? (unsigned long long)r->key[n - 1] : 0ull, got ? "key" : "none",
				 (unsigned long long)gk);
	} else {
		size_t n = ref_rank(r, key);
		bool got = addrmap_ceil(m, key, &gk, &gv);
		rk = n < r->n ? r->key[n] : 0;
		if (got != (n < r->n) || (got && (gk != rk || gv != r->val[n])))
			fail_msg("op %llu: ceil(%#llx): expected %s %#llx, got %s %#llx",
				 (unsigned long long)i, (unsigned long long)key,
				 n < r->n ? "key" : "none", (unsigned long long)rk,
				 got ? "key" : "none", (unsigned long long)gk);
	}
}

/* Phases that fill the map towards span / 2 entries and drain it towards
 * empty, so leaves and inner nodes split, borrow, merge, and the root grows
 * and collapses, again and again. */
static void random_run(uint64_t seed, uintptr_t base, uint64_t span, uint64_t ops)
{
	struct addrmap m;
	struct ref r;
	uint64_t s = seed;
	char when[64];
	addrmap_init(&m);
	/* slots, between-slot keys, far keys and the extremes */
	ref_init(&r, 2 * span + 128);
	uint32_t low = UINT32_MAX, high = 0;
	for (uint64_t i = 0; i < ops; i++) {
		unsigned bias = (i / (ops / 8)) % 2 ? 10 : 85;
		random_op(&m, &r, &s, base, span, bias, i);
		low = m.height < low ? m.height : low;
		high = m.height > high ? m.height : high;
		if (i % 9973 == 0 || i + 1 == ops) {
			snprintf(when, sizeof when, "seed %llu op %llu", (unsigned long long)seed,
				 (unsigned long long)i);
			expect_same(&m, &r, when);
		}
	}
	/* (the tree's height, m.height, says how deep the run went) */
	printf("seed %llu: %llu ops over %llu slots, height %u to %u, %zu entries at the end, "
	       "%zu bytes\n",
	       (unsigned long long)seed, (unsigned long long)ops, (unsigned long long)span, low,
	       high, m.count, addrmap_bytes(&m));
	addrmap_destroy(&m);
	ref_free(&r);
}

static void test_random_small(void **state)
{
	(void)state;
	/* a few dozen keys: a root leaf that splits and collapses */
	random_run(1, 0x10000, 40, 200000);
	random_run(2, 0, 100, 200000);
}

static void test_random_large(void **state)
{
	(void)state;
	/* thousands of keys: two levels and three, inner nodes that borrow and merge */
	random_run(3, 0x7f0000000000 & UINTPTR_MAX, 12000, 400000);
	random_run(4, 0x1000, 3000, 400000);
}

/* ---- Growth ------------------------------------------------------------------------- */

/* The i-th of n distinct keys, in a scrambled order (n a power of two): an
 * odd multiplier permutes 0..n-1. */
static uintptr_t scrambled(uint64_t i, uint64_t n)
{
	return (uintptr_t)(0x100000 + 64 * ((i * 0x9e3779b1u) & (n - 1)));
}

static void expect_all(const struct addrmap *m, uint64_t n, uint64_t from, const char *when)
{
	/* keys from..n-1 (in 0x100000 + 64 i order) are present, with value i */
	for (uint64_t i = 0; i < n; i += 7) {
		uintptr_t key = (uintptr_t)(0x100000 + 64 * i), k = 0;
		uint64_t v = 0;
		bool present = i >= from;
		if (addrmap_get(m, key, &v) != present || (present && v != i))
			fail_msg("%s: get(%#llx): expected %s", when, (unsigned long long)key,
				 present ? "present" : "absent");
		if (present) {
			EXPECT_EQ(addrmap_floor(m, key + 63, &k, &v), true, "floor inside a gap");
			EXPECT_EQ(k, key, "floor inside a gap");
			EXPECT_EQ(addrmap_ceil(m, key - 63, &k, &v), true, "ceil inside a gap");
			EXPECT_EQ(k, key, "ceil inside a gap");
		}
	}
}

static void test_growth(void **state)
{
	(void)state;
	const uint64_t n = 1 << 18;
	struct addrmap m;
	addrmap_init(&m);
	size_t bytes = 0;
	for (uint64_t j = 0; j < n; j++) {
		uintptr_t key = scrambled(j, n);
		uint64_t i = (key - 0x100000) / 64;
		if (addrmap_insert(&m, key, i) != 0)
			fail_msg("insert %llu of %llu failed", (unsigned long long)j,
				 (unsigned long long)n);
		size_t b = addrmap_bytes(&m);
		if (b < bytes)
			fail_msg("addrmap_bytes went down while inserting: %zu -> %zu", bytes, b);
		bytes = b;
	}
	EXPECT_EQ(m.count, n, "count after filling");
	expect_all(&m, n, 0, "filled");
	/* plausible: at least the keys and values, at most a few times that,
	 * in whole pages */
	size_t least = n * (sizeof(uintptr_t) + sizeof(uint64_t));
	/* (the pool's size in nodes, m.cap, says it has doubled many times) */
	printf("%llu entries: %zu bytes (%.1f per entry), a pool of %u nodes\n",
	       (unsigned long long)n, bytes, (double)bytes / (double)n, m.cap);
	if (m.cap < 1024)
		fail_msg("a pool of %u nodes for %llu entries: it never grew", m.cap,
			 (unsigned long long)n);
	if (bytes < least || bytes > 4 * least || bytes % (size_t)sysconf(_SC_PAGESIZE))
		fail_msg("addrmap_bytes %zu for %llu entries: expected whole pages between %zu "
			 "and %zu",
			 bytes, (unsigned long long)n, least, 4 * least);
	/* remove the lower half in scrambled order, then all */
	uint64_t v;
	for (uint64_t j = 0; j < n; j++) {
		uintptr_t key = scrambled(j, n);
		if ((key - 0x100000) / 64 < n / 2 && addrmap_remove(&m, key, &v) != 0)
			fail_msg("remove of %#llx failed", (unsigned long long)key);
	}
	EXPECT_EQ(m.count, n / 2, "count after removing half");
	expect_all(&m, n, n / 2, "half removed");
	EXPECT_EQ(addrmap_bytes(&m), bytes, "bytes after removes: the pages stay touched");
	for (uint64_t j = n; j-- > 0;)
		if ((scrambled(j, n) - 0x100000) / 64 >= n / 2)
			EXPECT_EQ(addrmap_remove(&m, scrambled(j, n), NULL), 0, "remove the rest");
	EXPECT_EQ(m.count, 0, "count after removing all");
	uintptr_t k;
	EXPECT_EQ(addrmap_ceil(&m, 0, &k, NULL), false, "ceil(0) once empty again");
	/* filling again the same way takes as many nodes, all given back
	 * ones: no new pages */
	for (uint64_t j = 0; j < n; j++) {
		uintptr_t key = scrambled(j, n);
		EXPECT_EQ(addrmap_insert(&m, key, (key - 0x100000) / 64), 0, "refill");
	}
	EXPECT_EQ(addrmap_bytes(&m), bytes, "bytes after filling again");
	expect_all(&m, n, 0, "refilled");
	addrmap_destroy(&m);
}

/* ---- Out of memory ------------------------------------------------------------------ */

static size_t vm_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* The child's failure: the line, on stderr (an exit status is too narrow). */
#define OOM_FAIL() return oom_fail(__LINE__)

static int oom_fail(int line)
{
	fprintf(stderr, "test_addrmap.c:%d: broken under the address-space limit\n", line);
	return 1;
}

/* In a child under RLIMIT_AS: 0 if all held. */
static int oom_child(void)
{
	struct addrmap m;
	addrmap_init(&m);
	uint64_t s = 5, n = 0;
	for (; n < 100000; n++)
		if (addrmap_insert(&m, (uintptr_t)(4096 * (n + 1)), n) != 0)
			OOM_FAIL();
	/* room for the pool to double once more, not twice */
	size_t vm = vm_bytes();
	struct rlimit lim = {vm + 8u * 1024 * 1024, vm + 8u * 1024 * 1024};
	if (!vm || setrlimit(RLIMIT_AS, &lim) != 0)
		OOM_FAIL();
	uintptr_t next = 4096 * (n + 1);
	while (addrmap_insert(&m, next, n) == 0) {
		next += 4096;
		if (++n > 100000000)
			OOM_FAIL();
	}
	/* the failed insert changed nothing */
	if (m.count != n || addrmap_get(&m, next, NULL))
		OOM_FAIL();
	/* every insert right after a remove succeeds, wherever the keys */
	for (int i = 0; i < 200000; i++) {
		uintptr_t gone = (uintptr_t)(4096 * (rng_next(&s) % n + 1)), k;
		if (!addrmap_ceil(&m, gone, &k, NULL) && !addrmap_floor(&m, gone, &k, NULL))
			OOM_FAIL();
		if (addrmap_remove(&m, k, NULL) != 0)
			OOM_FAIL();
		uintptr_t add = (uintptr_t)(4096 * (rng_next(&s) % (2 * n) + 1) + 16 * (i % 200));
		while (addrmap_get(&m, add, NULL))
			add += 8;
		if (addrmap_insert(&m, add, 0) != 0)
			OOM_FAIL();
	}
	if (m.count != n)
		OOM_FAIL();
	return 0;
}

static void test_out_of_memory(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(oom_child());
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("under an address-space limit: %s %d (its line is on stderr)",
			 WIFEXITED(st) ? "exit status" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),         cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_small),         cmocka_unit_test(test_random_small),
		cmocka_unit_test(test_random_large),  cmocka_unit_test(test_growth),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
