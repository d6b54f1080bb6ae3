/*
 * test_differential.c - each boundary-tag policy is faithful to its
 * definition: a small, obviously correct reference of the policy (a linear
 * scan over a plain list) runs side by side with the fast backend on the
 * same traces, and the two must return the same heap offsets op by op.
 *
 * Both sides share the boundary-tag heap (btag.c), so they split, coalesce
 * and grow alike; the only difference is how the free block is chosen, and
 * that the fast side's index takes mappings of the heap (btindex.c): its
 * footprint less those is the reference's.
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
#include <sys/mman.h>

#include "btag.h"
#include "heap.h"
#include "trace/gen.h"
#include "trace/trace.h"

/* ---- Reference policies: one list, linear scans ---------------------------- */

#define NEXT(b) (bt_node(b)->left)
#define PREV(b) (bt_node(b)->right)

enum ref_kind { REF_ADDRESS, REF_LIFO, REF_FIFO, REF_NEXT, REF_BEST };

static enum ref_kind kind_of(const struct bt *h)
{
	return (enum ref_kind)h->policy->order;
}

/* The list's ends, in h->ext: the reference has as many bytes of state as
 * the tree index, so that both heaps' blocks start at the same offset. */
struct ref_list {
	char *head, *tail;
};
_Static_assert(sizeof(struct ref_list) <= BT_TREE_EXT_BYTES, "the list fits the state");

static struct ref_list *ends(struct bt *h)
{
	return h->ext;
}

static void list_link_after(struct bt *h, char *prev, char *b)
{
	char *next = prev ? NEXT(prev) : ends(h)->head;
	NEXT(b) = next;
	PREV(b) = prev;
	if (next)
		PREV(next) = b;
	else
		ends(h)->tail = b;
	if (prev)
		NEXT(prev) = b;
	else
		ends(h)->head = b;
}

static void ref_insert(struct bt *h, char *b)
{
	bt_node(b)->seq = ++h->seq;
	char *prev = NULL;
	switch (kind_of(h)) {
	case REF_LIFO: break; /* at the head */
	case REF_FIFO: prev = ends(h)->tail; break;
	default: /* address order */
		for (char *c = ends(h)->head; c && c < b; c = NEXT(c))
			prev = c;
	}
	list_link_after(h, prev, b);
}

static void ref_remove(struct bt *h, char *b)
{
	if (PREV(b))
		NEXT(PREV(b)) = NEXT(b);
	else
		ends(h)->head = NEXT(b);
	if (NEXT(b))
		PREV(NEXT(b)) = PREV(b);
	else
		ends(h)->tail = PREV(b);
}

static char *ref_find(struct bt *h, uint64_t asize)
{
	char *best = NULL;
	switch (kind_of(h)) {
	case REF_BEST:
		for (char *c = ends(h)->head; c; c = NEXT(c))
			if (bt_size(c) >= asize && (!best || bt_size(c) < bt_size(best) ||
						    (bt_size(c) == bt_size(best) && c < best)))
				best = c;
		return best;
	case REF_NEXT:
		for (char *c = ends(h)->head; c; c = NEXT(c))
			if (h->rover && c >= h->rover && bt_size(c) >= asize)
				return c;
		break; /* then wrap around to the lowest address */
	default: break;
	}
	for (char *c = ends(h)->head; c; c = NEXT(c))
		if (bt_size(c) >= asize)
			return c;
	return NULL;
}

static void ref_placed(struct bt *h, char *b)
{
	h->rover = b;
}

static int ref_check(struct bt *h, uint64_t *count, char *why, size_t len)
{
	*count = 0;
	for (char *c = ends(h)->head; c; c = NEXT(c))
		if (++*count > h->free_blocks + 1) {
			snprintf(why, len, "reference list loops");
			return -1;
		}
	return 0;
}

#define REF_POLICY(id, kind)                                                                       \
	static const struct bt_policy id = {.name = #id,                                           \
					    .order = kind,                                         \
					    .insert = ref_insert,                                  \
					    .remove = ref_remove,                                  \
					    .find = ref_find,                                      \
					    .placed = ref_placed,                                  \
					    .check = ref_check,                                    \
					    .ext_bytes = BT_TREE_EXT_BYTES}

REF_POLICY(ref_address, REF_ADDRESS);
REF_POLICY(ref_lifo, REF_LIFO);
REF_POLICY(ref_fifo, REF_FIFO);
REF_POLICY(ref_next, REF_NEXT);
REF_POLICY(ref_best, REF_BEST);

/* ---- Side by side ------------------------------------------------------------ */

struct side {
	struct heap *heap;
	void *st;
	const struct allocator *a; /* the fast backend, or NULL for the reference */
	void **ptrs;
};

static void *side_call(struct side *s, const struct trace_op *op)
{
	void *old = op->id == TRACE_ID_NULL ? NULL : s->ptrs[op->id];
	switch (op->kind) {
	case TRACE_ALLOC: return bt_malloc(s->st, op->size);
	case TRACE_CALLOC: {
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

/* Where a block lies: its offset in the break region, or "mapped". */
static int64_t where(struct side *s, void *p)
{
	if (!p)
		return -1;
	char *lo = heap_lo(s->heap), *hi = heap_hi(s->heap);
	return (char *)p >= lo && (char *)p < hi ? (char *)p - lo : -2;
}

/* Replays t on the fast backend (with options) and on the reference
 * policy; fails at the first op where they disagree. */
/* ops between two bt_check calls; the tallest tree index seen */
static uint64_t check_every = 997;
static int tallest;
/* the heaps are spread over hundreds of GiB (test_huge): each touched page
 * must be a small page, not a transparent huge one */
static bool small_pages;

static void differential_opts(const struct trace *t, const char *backend,
			      const struct backend_opts *opts, const struct bt_policy *ref)
{
	struct side fast = {.a = allocator_find(backend)}, slow = {0};
	char err[256], label[128];
	int at = snprintf(label, sizeof label, "%s", backend);
	for (size_t k = 0; k < opts->n && at > 0 && (size_t)at < sizeof label; k++)
		at += snprintf(label + at, sizeof label - (size_t)at, ":%s=%s", opts->v[k].key,
			       opts->v[k].value);
	assert_non_null(fast.a);
	fast.heap = heap_create(0);
	slow.heap = heap_create(0);
	if (small_pages) /* advice only: test_huge checked that the heaps reserve this much */
		for (struct heap *hp = fast.heap; hp; hp = hp == fast.heap ? slow.heap : NULL)
			(void)madvise(heap_lo(hp), HEAP_RESERVE, MADV_NOHUGEPAGE);
	assert_int_equal(fast.a->init(&fast.st, fast.heap, opts, err, sizeof err), 0);
	assert_int_equal(bt_init(&slow.st, slow.heap, ref, opts, err, sizeof err), 0);
	fast.ptrs = calloc(t->nids + 1, sizeof(void *));
	slow.ptrs = calloc(t->nids + 1, sizeof(void *));
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		void *pf = side_call(&fast, op), *ps = side_call(&slow, op);
		int64_t wf = where(&fast, pf), ws = where(&slow, ps);
		if (wf != ws)
			fail_msg("%s on %s: op %llu (%s): the backend chose offset %lld, the "
				 "reference %lld",
				 label, t->path, (unsigned long long)i, ref->name, (long long)wf,
				 (long long)ws);
		struct heap_usage uf, us;
		heap_usage(fast.heap, &uf);
		heap_usage(slow.heap, &us);
		uint64_t index = bt_tree_mapped(fast.st);
		if (uf.footprint - index != us.footprint)
			fail_msg("%s on %s: op %llu: footprint %llu less %llu of index, reference "
				 "%llu",
				 label, t->path, (unsigned long long)i,
				 (unsigned long long)uf.footprint, (unsigned long long)index,
				 (unsigned long long)us.footprint);
		struct bt *f = fast.st;
		if (f->policy->index_mapped) {
			int height = ((struct bt_tree *)f->ext)->height;
			tallest = height > tallest ? height : tallest;
		}
		if (op->id != TRACE_ID_NULL) {
			fast.ptrs[op->id] = op->kind == TRACE_FREE ? NULL : pf;
			slow.ptrs[op->id] = op->kind == TRACE_FREE ? NULL : ps;
		}
		if (i % check_every == 0 && bt_check(fast.st, err, sizeof err) < 0)
			fail_msg("%s: check after op %llu: %s", label, (unsigned long long)i, err);
	}
	assert_int_equal(bt_check(fast.st, err, sizeof err), 0);
	assert_int_equal(bt_check(slow.st, err, sizeof err), 0);
	free(fast.ptrs);
	free(slow.ptrs);
	heap_destroy(fast.heap);
	heap_destroy(slow.heap);
}

static void differential(const struct trace *t, const char *backend, const char *opt_key,
			 const char *opt_val, const struct bt_policy *ref)
{
	struct backend_opt o = {opt_key, opt_val};
	struct backend_opts opts = {&o, opt_key ? 1 : 0};
	differential_opts(t, backend, &opts, ref);
}

static const struct {
	const char *backend, *key, *val;
	const struct bt_policy *ref;
} pairs[] = {
	{"first-fit", NULL, NULL, &ref_address},
	{"first-fit", "order", "lifo", &ref_lifo},
	{"first-fit", "order", "fifo", &ref_fifo},
	{"next-fit", NULL, NULL, &ref_next},
	{"best-fit", NULL, NULL, &ref_best},
	{"first-fit", "min_split", "256", &ref_address},
	{"best-fit", "mmap_threshold", "0", &ref_best},
};

static void run_pairs(const struct trace *t)
{
	for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
		differential(t, pairs[k].backend, pairs[k].key, pairs[k].val, pairs[k].ref);
}

static void test_generated(void **state)
{
	(void)state;
	for (int p = 0; trace_gen_patterns[p]; p++)
		for (uint64_t seed = 1; seed <= 3; seed++) {
			struct trace *t = trace_generate(trace_gen_patterns[p], 8000, seed);
			assert_non_null(t);
			free(t->path);
			char name[64];
			snprintf(name, sizeof name, "%s/seed %llu", trace_gen_patterns[p],
				 (unsigned long long)seed);
			t->path = strdup(name);
			run_pairs(t);
			trace_free(t);
		}
}

/* Thousands of free blocks at once: a tree index three levels high or more,
 * whose nodes split, empty and merge into the root, checked every 101 ops. */
static void test_deep(void **state)
{
	(void)state;
	static const char *const patterns[] = {"plateau", "random-uniform", "peak"};
	check_every = 101;
	tallest = 0;
	for (size_t p = 0; p < sizeof patterns / sizeof *patterns; p++) {
		struct trace *t = trace_generate_live(patterns[p], 60000, 7, 4000);
		assert_non_null(t);
		run_pairs(t);
		trace_free(t);
	}
	check_every = 997;
	assert_true(tallest >= 2);
}

static void test_bundled(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"traces/examples/tiny.rep",
		"traces/synthetic/peak.trace",
		"traces/synthetic/ramp.trace",
		"traces/synthetic/plateau.trace",
		"traces/synthetic/random-uniform.trace",
		"tests/data/rep/cmu2016.rep",
		"tests/data/rep/quirk-realloc-null.rep",
		"tests/data/text/kinds.trace",
	};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct diag d;
		diag_init(&d, paths[i], false);
		struct trace *t = trace_load_verified(paths[i], &d);
		assert_non_null(t);
		run_pairs(t);
		trace_free(t);
	}
}

/* ---- Blocks of 32 GiB and more ------------------------------------------------ */

/* The tree index keeps sizes as 32-bit counts of 16-byte units, which
 * saturate at 32 GiB - 16 (btindex.c): there a request must read the
 * blocks' own headers to choose, and best fit must still take the smallest
 * of the saturated blocks.  Blocks that large stay in the break with
 * mmap_threshold=0; the simulated heap only reserves address space, and
 * nothing here writes a payload, so the test touches a few thousand small
 * pages (headers and footers). */
#define HUGE_SLOTS 40
#define HUGE_OPS   4000
#define HUGE_CAP   ((uint64_t)0x7fffffff * 16) /* the largest exact compact size */
#define GIB        ((uint64_t)1 << 30)

static uint64_t huge_rand(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17; /* xorshift64 */
	return *x;
}

/* A request: small, large, either side of the saturation point, or past it. */
static uint64_t huge_size(uint64_t *rng)
{
	uint64_t r = huge_rand(rng), v = r >> 8;
	switch (r % 4) {
	case 0: return 16 + v % 4096;
	case 1: return v % GIB;
	case 2: return HUGE_CAP - 65536 + v % 131072;
	default: return HUGE_CAP + v % (8 * GIB);
	}
}

static void huge_op(struct trace_op *op, uint8_t kind, uint32_t id, uint64_t size)
{
	*op = (struct trace_op){.size = size, .id = id, .kind = kind};
}

/* Saturated free blocks A (40 GiB), B (33), C (35) apart, freed in the
 * order A, C, B, then requests on both sides of the point: the first ops
 * of the huge trace; the rest is random, with at most 120 GiB live. */
static uint64_t huge_trace(struct trace_op *ops, uint64_t seed)
{
	static const uint64_t lead[] = {40 * GIB, 100, 33 * GIB, 100, 35 * GIB, 100};
	uint64_t n = 0, live[HUGE_SLOTS] = {0}, total = 0, rng = seed * 0x9e3779b97f4a7c15u;
	for (uint32_t k = 0; k < 6; k++)
		huge_op(&ops[n++], TRACE_ALLOC, k, lead[k]), live[k] = lead[k], total += lead[k];
	static const uint32_t order[] = {0, 4, 2};
	for (int k = 0; k < 3; k++)
		huge_op(&ops[n++], TRACE_FREE, order[k], 0), total -= live[order[k]],
			live[order[k]] = 0;
	huge_op(&ops[n++], TRACE_ALLOC, 0, HUGE_CAP - 1000), live[0] = HUGE_CAP, total += HUGE_CAP;
	huge_op(&ops[n++], TRACE_ALLOC, 2, 34 * GIB), live[2] = 34 * GIB, total += 34 * GIB;
	while (n < HUGE_OPS) {
		uint32_t id = (uint32_t)(huge_rand(&rng) % HUGE_SLOTS);
		uint64_t size = huge_size(&rng);
		if (live[id] && live[id] < 65536 && size < 120 * GIB - total &&
		    huge_rand(&rng) % 4 == 0)
			/* a realloc moves only the small block's bytes */
			huge_op(&ops[n++], TRACE_REALLOC, id, size), total += size - live[id],
				live[id] = size;
		else if (live[id])
			huge_op(&ops[n++], TRACE_FREE, id, 0), total -= live[id], live[id] = 0;
		else if (size < 120 * GIB - total)
			huge_op(&ops[n++], TRACE_ALLOC, id, size), live[id] = size, total += size;
	}
	return n;
}

static void test_huge(void **state)
{
	(void)state;
	struct heap *probe = heap_create(0);
	bool room = probe && HEAP_RESERVE >= 240 * GIB && heap_sbrk(probe, (intptr_t)(240 * GIB));
	if (probe)
		heap_destroy(probe);
	if (!room) {
		print_message("skipped: this system lets a heap reserve less than 240 GiB\n");
		skip();
	}
	static const struct {
		const char *backend, *order;
		const struct bt_policy *ref;
	} cases[] = {
		{"first-fit", "address", &ref_address}, {"first-fit", "lifo", &ref_lifo},
		{"first-fit", "fifo", &ref_fifo},       {"next-fit", NULL, &ref_next},
		{"best-fit", NULL, &ref_best},
	};
	struct trace_op *ops = calloc(HUGE_OPS, sizeof *ops);
	assert_non_null(ops);
	small_pages = true;
	for (uint64_t seed = 1; seed <= 2; seed++) {
		char name[64];
		snprintf(name, sizeof name, "huge blocks/seed %llu", (unsigned long long)seed);
		struct trace t = {.path = name, .ops = ops, .nids = HUGE_SLOTS, .nthreads = 1};
		t.nops = huge_trace(ops, seed);
		for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
			struct backend_opt o[] = {{"mmap_threshold", "0"},
						  {"order", cases[k].order}};
			struct backend_opts opts = {o, cases[k].order ? 2 : 1};
			differential_opts(&t, cases[k].backend, &opts, cases[k].ref);
		}
	}
	small_pages = false;
	free(ops);
}

/* The definitions on a hand-made free list: blocks A (64), B (256), C (128)
 * free in address order A < B < C, freed in the order C, A, B.  A request
 * of 100 bytes (a 128-byte block) must take: address first fit B; lifo
 * (most recent first: B) B; fifo (C first) C; best fit C. */
static void test_hand_made(void **state)
{
	(void)state;
	static const struct {
		const char *backend, *key, *val;
		int want; /* 1 = B, 2 = C */
	} cases[] = {
		{"first-fit", NULL, NULL, 1},
		{"first-fit", "order", "lifo", 1},
		{"first-fit", "order", "fifo", 2},
		{"best-fit", NULL, NULL, 2},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		struct backend_opt o = {cases[k].key, cases[k].val};
		struct backend_opts opts = {&o, cases[k].key ? 1 : 0};
		const struct allocator *a = allocator_find(cases[k].backend);
		struct heap *heap = heap_create(0);
		void *st;
		char err[256];
		assert_int_equal(a->init(&st, heap, &opts, err, sizeof err), 0);
		/* A, x, B, y, C, z: the x/y/z guards keep the free blocks apart */
		void *A = a->malloc(st, 48), *x = a->malloc(st, 16), *B = a->malloc(st, 240),
		     *y = a->malloc(st, 16), *C = a->malloc(st, 112), *z = a->malloc(st, 16);
		(void)x, (void)y, (void)z;
		a->free(st, C, NULL, 0);
		a->free(st, A, NULL, 0);
		a->free(st, B, NULL, 0);
		void *got = a->malloc(st, 100);
		void *want = cases[k].want == 1 ? B : C;
		if (got != want)
			fail_msg("%s%s%s: took %s, expected %s", cases[k].backend,
				 cases[k].key ? ":" : "", cases[k].key ? cases[k].val : "",
				 got == A   ? "A"
				 : got == B ? "B"
				 : got == C ? "C"
					    : "another block",
				 cases[k].want == 1 ? "B" : "C");
		assert_int_equal(a->check(st, err, sizeof err), 0);
		heap_destroy(heap);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_made), cmocka_unit_test(test_generated),
		cmocka_unit_test(test_deep),      cmocka_unit_test(test_bundled),
		cmocka_unit_test(test_huge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
