/*
 * segregated.c - segregated fits: one free list per size class, a good fit
 * within the request's class, else the head of the nearest non-empty
 * larger class (Wilson et al.'s "segregated fits"; the scheme of dlmalloc's
 * bins and TLSF's two-level lists).
 *
 * Classes are over block sizes (multiples of 16, at least BT_MIN_BLOCK):
 *
 *   below 1024 bytes   exact classes: class size/16 (3..63), every block of
 *                      a class has the same size;
 *   1024 .. 2^24 - 1   `spacing` classes per power of two (option spacing:
 *                      1, 2, 4, 8 or 16; default 4): [2^k, 2^(k+1)) cut into
 *                      `spacing` equal ranges;
 *   2^24 and more      one last class.
 *
 * find(asize) looks at the first SEG_SCAN (8) blocks of asize's own class
 * and takes the smallest that fits (among equal sizes the one nearer the
 * head, i.e. the most recently freed; an exact fit ends the scan).  If none
 * of them fits, it takes the head of the first non-empty class above,
 * found in a two-level bitmap with two count-trailing-zeros: every block
 * there is larger than any request of asize's class.  If asize's class is
 * the last one and its scan fails, the heap grows.  So this is a good fit,
 * not best fit: a fitting block deeper in its class than SEG_SCAN is passed
 * over for a larger class (or, in the last class, for heap growth), and a
 * larger class gives its head, not its smallest block.  A request whose
 * exact class is non-empty gets a best fit.
 *
 * Lists: doubly linked, NULL-terminated lists through the free blocks'
 * payloads (struct bt_node: left = next, right = prev).  A block is
 * inserted at the head of its class (LIFO within a class: the most recently
 * freed block of a size is reused first, while its cache lines are warm;
 * insertion touches only the old head).  The heads (one per class for the
 * largest spacing, 289) and the bitmap live in h->ext, in the simulated
 * heap next to struct bt: about 2.3 KiB of every footprint.  Blocks and
 * mechanisms are the boundary-tag heap's (btag.h); calloc skips clearing
 * a fresh mapping, which the heap hands out zeroed.
 *
 * Costs: insert and remove O(1); find at most SEG_SCAN list steps plus an
 * O(1) bitmap search, never a walk over the free blocks; check O(free
 * blocks + classes).
 *
 * Fragmentation: near best fit.  A block taken from the request's own
 * class is at most one class width (2^k / spacing) larger than the
 * request; otherwise it comes from the nearest non-empty class above, which
 * best fit would also have had to use (though best fit would take that
 * class's smallest block).  The rest of a split block goes back to the
 * free lists, so a looser fit costs external, not internal, fragmentation;
 * internal fragmentation is the block rounding alone (header and footer,
 * 16-byte multiples, rests below min_split).  Measured on generated and
 * bundled traces: utilization within 1.6 points of best-fit's with spacing
 * 4 (sometimes above it), within 0.7 with spacing 16, up to 5.5 points
 * below with spacing 1.  FIFO instead of LIFO within a class made no
 * consistent difference.
 */
#include <stdio.h>
#include <string.h>

#include "btag.h"
#include "heap.h"
#include "host/hb_assert.h"

/* ---- Fixed constants ------------------------------------------------------ */

#define SEG_EXACT_LIMIT 1024u                        /* exact classes below this size */
#define SEG_EXACT       (SEG_EXACT_LIMIT / BT_ALIGN) /* class numbers 0..63 (0..2 unused) */
#define SEG_MIN_POW     10u                          /* log2(SEG_EXACT_LIMIT) */
#define SEG_LAST_POW    24u                          /* blocks >= 2^24 share the last class */
#define SEG_MAX_SHIFT   4u                           /* log2 of the largest spacing */
#define SEG_DEF_SHIFT   2u                           /* default spacing: 4 */
#define SEG_MAX_CLASSES (SEG_EXACT + ((SEG_LAST_POW - SEG_MIN_POW) << SEG_MAX_SHIFT) + 1)
#define SEG_WORDS       ((SEG_MAX_CLASSES + 63) / 64) /* bitmap words */
#define SEG_SCAN        8u                            /* blocks looked at in the own class */

_Static_assert(SEG_EXACT_LIMIT == 1u << SEG_MIN_POW, "exact classes end at a power of two");
_Static_assert((SEG_EXACT_LIMIT >> SEG_MAX_SHIFT) >= BT_ALIGN,
	       "sub-classes are never finer than the 16-byte exact classes");
_Static_assert(SEG_WORDS < 64, "one summary word covers the bitmap");
_Static_assert(sizeof(struct bt_node) + 2 * BT_WORD <= BT_MIN_BLOCK, "links fit a free block");

static const struct allocator_option seg_options[] = {
	{"spacing", "size classes per power of two above 1 KiB: 1, 2, 4 (default), 8 or 16"},
	BT_COMMON_OPTIONS,
	{NULL, NULL},
};

/* The policy's state, in h->ext. */
struct seg {
	unsigned shift;           /* log2(spacing) */
	unsigned last;            /* the last class: every block >= 2^SEG_LAST_POW */
	uint64_t summary;         /* bit w set iff bits[w] != 0 */
	uint64_t bits[SEG_WORDS]; /* bit c set iff class c is non-empty */
	char *head[SEG_MAX_CLASSES];
};

#define NEXT(b) (bt_node(b)->left)
#define PREV(b) (bt_node(b)->right)

/* ---- Classes ---------------------------------------------------------------- */

static unsigned seg_class(const struct seg *s, uint64_t size)
{
	if (size < SEG_EXACT_LIMIT)
		return (unsigned)(size / BT_ALIGN);
	unsigned k = 63u - (unsigned)__builtin_clzll(size);
	if (k >= SEG_LAST_POW)
		return s->last;
	unsigned sub = (unsigned)(size >> (k - s->shift)) & ((1u << s->shift) - 1);
	unsigned c = SEG_EXACT + ((k - SEG_MIN_POW) << s->shift) + sub;
	HB_ASSERT(c < s->last); /* an index into head[] and the bitmap */
	return c;
}

static void class_mark(struct seg *s, unsigned c)
{
	s->bits[c / 64] |= (uint64_t)1 << (c % 64);
	s->summary |= (uint64_t)1 << (c / 64);
}

static void class_unmark(struct seg *s, unsigned c)
{
	s->bits[c / 64] &= ~((uint64_t)1 << (c % 64));
	if (!s->bits[c / 64])
		s->summary &= ~((uint64_t)1 << (c / 64));
}

/* The first non-empty class at or above c, or -1. */
static int class_next(const struct seg *s, unsigned c)
{
	if (c > s->last)
		return -1;
	unsigned w = c / 64;
	uint64_t m = s->bits[w] & (~(uint64_t)0 << (c % 64));
	if (!m) {
		uint64_t above = s->summary & (~(uint64_t)0 << (w + 1));
		if (!above)
			return -1;
		w = (unsigned)__builtin_ctzll(above);
		m = s->bits[w];
	}
	return (int)(w * 64 + (unsigned)__builtin_ctzll(m));
}

/* ---- The index -------------------------------------------------------------- */

static void seg_insert(struct bt *h, char *b)
{
	struct seg *s = h->ext;
	unsigned c = seg_class(s, bt_size(b));
	char *first = s->head[c];
	NEXT(b) = first;
	PREV(b) = NULL;
	if (first)
		PREV(first) = b;
	else
		class_mark(s, c);
	s->head[c] = b;
}

static void seg_remove(struct bt *h, char *b)
{
	struct seg *s = h->ext;
	unsigned c = seg_class(s, bt_size(b));
	HB_ASSERT(s->bits[c / 64] >> (c % 64) & 1); /* b's class is not empty */
	char *next = NEXT(b), *prev = PREV(b);
	if (next)
		PREV(next) = prev;
	if (prev) {
		NEXT(prev) = next;
	} else {
		s->head[c] = next;
		if (!next)
			class_unmark(s, c);
	}
}

static char *seg_find(struct bt *h, uint64_t asize)
{
	struct seg *s = h->ext;
	unsigned c = seg_class(s, asize);
	char *best = NULL, *b = s->head[c];
	uint64_t best_size = UINT64_MAX;
	for (unsigned n = 0; b && n < SEG_SCAN; n++, b = NEXT(b)) {
		uint64_t size = bt_size(b);
		if (size >= asize && size < best_size) {
			best = b;
			best_size = size;
			if (size == asize)
				break;
		}
	}
	if (best)
		return best;
	int up = class_next(s, c + 1);
	return up < 0 ? NULL : s->head[up];
}

#define FAIL(...) return snprintf(why, len, __VA_ARGS__), -1

/* Every list: entries are free blocks of the heap with agreeing tags and
 * allocated neighbours, in the right class, linked both ways; the bitmap
 * says which lists are non-empty. */
static int seg_check(struct bt *h, uint64_t *count, char *why, size_t len)
{
	struct seg *s = h->ext;
	char *end = (char *)heap_hi(h->heap) - BT_WORD;
	*count = 0;
	if (s->shift > SEG_MAX_SHIFT ||
	    s->last != SEG_EXACT + ((SEG_LAST_POW - SEG_MIN_POW) << s->shift))
		FAIL("segregated state corrupt: shift %u, last class %u", s->shift, s->last);
	for (unsigned w = 0; w < SEG_WORDS; w++)
		if (!!(s->summary & ((uint64_t)1 << w)) != !!s->bits[w])
			FAIL("bitmap summary bit %u is %d but word %u is %#llx", w,
			     !!(s->summary & ((uint64_t)1 << w)), w,
			     (unsigned long long)s->bits[w]);
	for (unsigned c = 0; c < SEG_MAX_CLASSES; c++) {
		bool marked = s->bits[c / 64] & ((uint64_t)1 << (c % 64));
		char *first = s->head[c];
		if (c > s->last || c < BT_MIN_BLOCK / BT_ALIGN) {
			if (first || marked)
				FAIL("class %u is not in use but %s", c,
				     first ? "has a list" : "is marked non-empty");
			continue;
		}
		if (marked != (first != NULL))
			FAIL("class %u: bitmap says %s, list is %s", c,
			     marked ? "non-empty" : "empty", first ? "non-empty" : "empty");
		for (char *b = first, *prev = NULL; b; prev = b, b = NEXT(b)) {
			if (b < h->first || b >= end || ((uintptr_t)b + BT_WORD) % BT_ALIGN)
				FAIL("class %u: entry %p is not a block of the heap", c, (void *)b);
			uint64_t size = bt_size(b);
			if (size < BT_MIN_BLOCK || size % BT_ALIGN || b + size > end ||
			    *(uint64_t *)(b + size - BT_WORD) != *(uint64_t *)b)
				FAIL("class %u: entry %p has no valid block tags", c, (void *)b);
			if (bt_is_alloc(b))
				FAIL("class %u: entry %p is an allocated block", c, (void *)b);
			if (!(*(uint64_t *)(b - BT_WORD) & BT_F_ALLOC) || !bt_is_alloc(b + size))
				FAIL("class %u: entry %p has a free neighbour", c, (void *)b);
			if (seg_class(s, size) != c)
				FAIL("class %u: entry %p of %llu bytes belongs in class %u", c,
				     (void *)b, (unsigned long long)size, seg_class(s, size));
			if (PREV(b) != prev)
				FAIL("class %u: entry %p links back to %p, not to %p", c, (void *)b,
				     (void *)PREV(b), (void *)prev);
			if (++*count > h->free_blocks)
				FAIL("the lists hold more entries than the %llu free blocks",
				     (unsigned long long)h->free_blocks);
		}
	}
	return 0;
}

/* ---- Setup and the table ------------------------------------------------------ */

static int seg_setup(struct bt *h, const struct backend_opts *opts, char *err, size_t errlen)
{
	static const char *const spacings[] = {"1", "2", "4", "8", "16"};
	struct seg *s = h->ext;
	const char *v = backend_opt_get(opts, "spacing");
	unsigned shift = SEG_DEF_SHIFT;
	if (v) {
		for (shift = 0; shift <= SEG_MAX_SHIFT && strcmp(v, spacings[shift]); shift++)
			;
		if (shift > SEG_MAX_SHIFT)
			return snprintf(err, errlen, "spacing: expected 1, 2, 4, 8 or 16, got '%s'",
					v),
			       -1;
	}
	s->shift = shift;
	s->last = SEG_EXACT + ((SEG_LAST_POW - SEG_MIN_POW) << shift);
	return 0;
}

static const struct bt_policy seg_policy = {
	.name = "segregated fits",
	.insert = seg_insert,
	.remove = seg_remove,
	.find = seg_find,
	.check = seg_check,
	.ext_bytes = sizeof(struct seg),
	.setup = seg_setup,
};

static int seg_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		    size_t errlen)
{
	return bt_init(state, heap, &seg_policy, opts, err, errlen);
}

BT_ALLOCATOR(segregated_allocator, "segregated",
	     "segregated fits (size classes, good fit within a class), boundary tags", seg_options,
	     seg_init);
