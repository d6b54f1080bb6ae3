/*
 * buddy.c - binary buddy system (Knowlton 1965; Knuth, TAOCP 2.5).
 *
 * Heap layout: the heap starts with a page holding this state (free-list
 * heads, bitmap, counters); the managed area follows at an origin that is
 * a whole page from the heap base, and grows with heap_sbrk by one
 * 2^max_order chunk at a time, aligned to its size relative to the origin.
 * Near a heap limit, where a whole chunk no longer fits, it grows by just
 * the block a request needs (plus free filler blocks up to that block's
 * alignment), so the last chunk may be incomplete:
 *
 *     | struct buddy ... pad | chunk 0         | chunk 1         | ... |
 *     ^ heap base            ^ origin (base + 4096)                    ^ break
 *
 * Every block is 2^k bytes (min_order <= k <= max_order) at an offset from
 * the origin that is a multiple of 2^k, so the buddy of the block at offset
 * x is at x ^ 2^k.  Blocks tile the managed area.  Each starts with a
 * 16-byte header:
 *
 *     | tag (4) | order (1) | state (1) | 0 (2) | lead (8) | payload ...
 *     ^ block                                             ^ block + lead
 *
 *   tag    a check value: a hash of the header's address and of this
 *          state's generation, xor its order and state.  A header read
 *          through a stray pointer (or left over from an earlier state in
 *          a reused heap) does not match, so free() rejects pointers it
 *          never returned, in O(1).  Headers left inside merged blocks say
 *          FREE, so a second free() of a merged block is caught too;
 *   state  FREE or ALLOC (and ALIGNED, MAPPED for the headers below);
 *   lead   ALLOC: payload - block, 16 unless memalign moved the payload.
 *
 * Payloads are 16-byte aligned: the origin is page-aligned, so a block of
 * order k is aligned to min(2^k, 4096) absolutely.  A free block keeps its
 * list links at block + 16 and block + 24: the minimum block is 32 bytes
 * (min_order >= 5).  memalign(a, n) takes a block of at least a + n bytes
 * and puts the payload at the first a-aligned address after the header
 * (block + a for a <= 4096), splitting off the upper halves it does not
 * need; an ALIGNED header just before such a payload holds the lead back
 * to the block, so free() finds the block in O(1).
 *
 * Requests of at least mmap_threshold bytes, those that do not fit a
 * 2^max_order block and memalign beyond the largest block get their own
 * mapping:
 *
 *     | mapping start ... | length (8) | header: MAPPED, lead (16) | payload ... |
 *
 * Index: one doubly linked, circular, LIFO free list per order, and a bitmap
 * of the non-empty lists, so the smallest free block of order >= k is one
 * ctz away.  malloc takes it and splits it down, listing the upper halves;
 * free merges the block with its buddy while the buddy is a free block of
 * the same order (its header says so, O(1)).  Costs: malloc and free
 * O(max_order - min_order), realloc the same plus a copy when it moves
 * (in place when the block still fits: shrinking frees upper halves, and
 * a lower buddy grows into free upper buddies); check O(blocks + free
 * blocks * (max_order - min_order)).  The break never shrinks.
 *
 * Fragmentation: every request is rounded up to a power of two including
 * its 16-byte header, so internal fragmentation is up to ~50% of a block (a
 * request of 2^k - 15 bytes takes a 2^(k+1) block) and ~25% on average
 * when sizes spread evenly between powers of two; memalign also wastes the
 * lead.  External fragmentation: free blocks whose buddies are in use
 * cannot merge, so a few long-lived small blocks can pin large free areas;
 * and the heap grows in whole chunks, so small traces see up to a chunk of
 * untouched space (choose a smaller max_order for them).
 */
#include <stdio.h>
#include <string.h>

#include "allocator.h"
#include "heap.h"
#include "host/hb_assert.h"

/* ---- Constants and options --------------------------------------------- */

#define ALIGN 16u
#define HDR   16u /* block header; payloads start here unless memalign moved them */
/* A free block holds its header and two links. */
#define MIN_ORDER_LIMIT 5u
/* One chunk must fit the smallest reservation heap_create accepts (1 GiB). */
#define MAX_ORDER_LIMIT 30u
#define STATE_BYTES     HEAP_PAGE /* the state's page: keeps the origin page-aligned */

#define DEFAULT_MIN_ORDER 5u
#define DEFAULT_MAX_ORDER 20u

enum { B_FREE = 1, B_ALLOC = 2, B_ALIGNED = 3, B_MAPPED = 4 };

static const struct allocator_option bd_options[] = {
	{"min_order", "log2 of the smallest block, 5..30 (default 5: 32 bytes)"},
	{"max_order", "log2 of the largest block and of the heap's growth step, min_order..30 "
		      "(default 20: 1 MiB)"},
	{"mmap_threshold", "requests of at least this many bytes get their own mapping (default "
			   "0: only those that do not fit a max_order block)"},
	{NULL, NULL},
};

struct bhdr {
	uint32_t tag;
	uint8_t order;
	uint8_t state;
	uint16_t zero;
	uint64_t lead;
};
_Static_assert(sizeof(struct bhdr) == HDR, "the block header is 16 bytes");

/* Free-list links, at block + HDR in a free block. */
struct link {
	struct link *next, *prev;
};
_Static_assert(HDR + sizeof(struct link) <= (1u << MIN_ORDER_LIMIT),
	       "a minimum block holds its header and its links");

struct buddy {
	struct heap *heap;
	char *origin, *end; /* the managed area, up to the break */
	uint64_t bitmap;    /* bit k: heads[k] is not empty */
	unsigned min_order, max_order;
	uint64_t large_from; /* requests of at least this size are mapped */
	uint64_t in_use;     /* bytes of allocated blocks and mappings */
	uint64_t nmapped;    /* live mappings */
	uint64_t gen;        /* generation: new in every state of a reused heap */
	uint64_t salt;       /* of the header tags, from gen */
	struct link heads[MAX_ORDER_LIMIT + 1];
};
_Static_assert(sizeof(struct buddy) <= STATE_BYTES, "the state fits its page");

/* ---- Block helpers ------------------------------------------------------ */

static size_t bsize(unsigned k)
{
	return (size_t)1 << k;
}

static struct bhdr *hdr(const void *blk)
{
	return (struct bhdr *)blk;
}

static struct link *links(char *blk)
{
	return (struct link *)(blk + HDR);
}

static char *block_of_link(struct link *l)
{
	return (char *)l - HDR;
}

static uint64_t offset(const struct buddy *b, const void *p)
{
	return (uint64_t)((uintptr_t)p - (uintptr_t)b->origin);
}

static char *buddy_of(const struct buddy *b, char *blk, unsigned k)
{
	return b->origin + (offset(b, blk) ^ bsize(k));
}

/* The check value of a header at h: a hash of its address and of this
 * state's generation, with the order and the state mixed in. */
static uint32_t tag_of(const struct buddy *b, const void *h, unsigned order, unsigned state)
{
	uint64_t x = ((uintptr_t)h >> 4 ^ b->salt) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32) ^ (order << 8 | state);
}

static void hdr_set(const struct buddy *b, char *h, unsigned order, unsigned state, uint64_t lead)
{
	*hdr(h) = (struct bhdr){.tag = tag_of(b, h, order, state),
				.order = (uint8_t)order,
				.state = (uint8_t)state,
				.lead = lead};
}

static bool hdr_valid(const struct buddy *b, const void *h)
{
	return hdr(h)->tag == tag_of(b, h, hdr(h)->order, hdr(h)->state);
}

/* The smallest order whose block holds need bytes (header included);
 * need <= 2^max_order. */
static unsigned order_for(const struct buddy *b, uint64_t need)
{
	if (need <= bsize(b->min_order))
		return b->min_order;
	return 64u - (unsigned)__builtin_clzll(need - 1);
}

/* ---- Free lists (per order, circular, LIFO) ------------------------------ */

static void list_push(struct buddy *b, char *blk, unsigned k)
{
	HB_ASSERT(k >= b->min_order && k <= b->max_order);
	struct link *l = links(blk), *h = &b->heads[k];
	l->next = h->next;
	l->prev = h;
	h->next->prev = l;
	h->next = l;
	b->bitmap |= (uint64_t)1 << k;
}

static void list_remove(struct buddy *b, char *blk, unsigned k)
{
	HB_ASSERT(hdr(blk)->state == B_FREE && hdr(blk)->order == k);
	struct link *l = links(blk);
	l->prev->next = l->next;
	l->next->prev = l->prev;
	if (b->heads[k].next == &b->heads[k])
		b->bitmap &= ~((uint64_t)1 << k);
}

/* Lists block blk of order k as free, merging it with its buddy while the
 * buddy is free and of the same order (and exists: the last chunk may be
 * incomplete). */
static inline void block_release(struct buddy *b, char *blk, unsigned k)
{
	while (k < b->max_order) {
		char *bud = buddy_of(b, blk, k);
		if ((uintptr_t)bud >= (uintptr_t)b->end || hdr(bud)->state != B_FREE ||
		    hdr(bud)->order != k)
			break;
		list_remove(b, bud, k);
		if (bud < blk) {
			/* blk's header stays behind inside the merged block:
			 * it must say free, so a second free() of it is caught */
			hdr_set(b, blk, k, B_FREE, 0);
			blk = bud;
		}
		k++;
	}
	hdr_set(b, blk, k, B_FREE, 0);
	list_push(b, blk, k);
}

/* Splits allocated block blk from order k down to order k2, listing the
 * upper halves (whose buddies, the lower halves, stay in use: no merge). */
static void block_split(struct buddy *b, char *blk, unsigned k, unsigned k2)
{
	while (k > k2) {
		k--;
		char *up = blk + bsize(k);
		hdr_set(b, up, k, B_FREE, 0);
		list_push(b, up, k);
	}
}

/* The order of a filler block at offset x: the largest x is aligned to. */
static unsigned filler_order(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/* Grows the managed area by a free block of order g at the first offset
 * aligned to 2^g, the gap before it filled with free blocks, each of the
 * order its offset is aligned to (a gap exists only after growth near the
 * limit).  False if the heap refuses. */
static bool area_grow(struct buddy *b, unsigned g)
{
	uint64_t e = offset(b, b->end), t = (e + bsize(g) - 1) & ~(uint64_t)(bsize(g) - 1);
	if (!heap_sbrk(b->heap, (intptr_t)(t + bsize(g) - e)))
		return false;
	b->end = b->origin + t + bsize(g);
	/* the new pieces say allocated until each is released, so that no
	 * merge reads a header that is not written yet */
	for (uint64_t x = e; x < t; x += bsize(filler_order(x)))
		hdr_set(b, b->origin + x, filler_order(x), B_ALLOC, HDR);
	hdr_set(b, b->origin + t, g, B_ALLOC, HDR);
	for (uint64_t x = e; x < t; x += bsize(filler_order(x)))
		block_release(b, b->origin + x, filler_order(x));
	block_release(b, b->origin + t, g);
	return true;
}

/* A block of order k taken from the free lists: split down from the
 * smallest non-empty order >= k, after growing the heap by a chunk (or,
 * near the heap limit, by a block of order k) if there is none.  Its
 * header is for the caller to write.  NULL if the heap cannot grow. */
static inline char *block_take(struct buddy *b, unsigned k)
{
	uint64_t bits = b->bitmap & (~(uint64_t)0 << k);
	if (!bits) {
		if (!area_grow(b, b->max_order) && (k == b->max_order || !area_grow(b, k)))
			return NULL;
		bits = b->bitmap & (~(uint64_t)0 << k);
	}
	unsigned j = (unsigned)__builtin_ctzll(bits);
	HB_ASSERT(j <= b->max_order); /* the bitmap has no bits beyond it */
	char *blk = block_of_link(b->heads[j].next);
	list_remove(b, blk, j);
	block_split(b, blk, j, k);
	return blk;
}

/* Grows allocated block blk from order k to k2 in place if it is the lower
 * buddy at every level in between and each upper buddy is one free block. */
static bool block_grow(struct buddy *b, char *blk, unsigned k, unsigned k2)
{
	if (offset(b, blk) & (bsize(k2) - 1) || offset(b, blk) + bsize(k2) > offset(b, b->end))
		return false;
	for (unsigned j = k; j < k2; j++) {
		char *up = blk + bsize(j);
		if (hdr(up)->state != B_FREE || hdr(up)->order != j)
			return false;
	}
	for (unsigned j = k; j < k2; j++)
		list_remove(b, blk + bsize(j), j);
	return true;
}

/* ---- Mapped blocks ------------------------------------------------------- */

static uint64_t *mapped_len(void *p)
{
	return (uint64_t *)p - 3;
}

static uint32_t mapped_tag(const struct buddy *b, const void *h, uint64_t len)
{
	return tag_of(b, h, 0, B_MAPPED) ^ (uint32_t)(len >> 12);
}

static void *mapped_alloc(struct buddy *b, size_t size, size_t align)
{
	/* a mapping is page-aligned: the first a-aligned address at least
	 * 32 bytes in (length word and header) lies at most a + 16 bytes in */
	uint64_t a = align > ALIGN ? align : ALIGN;
	if (size > ((uint64_t)1 << 62) || a > ((uint64_t)1 << 40))
		return NULL;
	uint64_t len = size + a + HDR;
	char *m = heap_map(b->heap, (size_t)len);
	if (!m)
		return NULL;
	char *p = (char *)(((uintptr_t)m + 2 * HDR + (uintptr_t)a - 1) & ~(uintptr_t)(a - 1));
	uint64_t rounded = (len + HEAP_PAGE - 1) & ~(uint64_t)(HEAP_PAGE - 1);
	*mapped_len(p) = rounded;
	hdr_set(b, p - HDR, 0, B_MAPPED, (uint64_t)(p - m));
	hdr(p - HDR)->tag = mapped_tag(b, p - HDR, rounded);
	b->in_use += rounded;
	b->nmapped++;
	return p;
}

static uint64_t mapped_usable(void *p)
{
	return *mapped_len(p) - hdr((char *)p - HDR)->lead;
}

/* Mapped block p resized for size bytes (heap_remap: its pages moved, not
 * copied), or NULL with p as it was.  The payload keeps its offset in the
 * page-aligned mapping: 16-byte alignment holds. */
static void *mapped_resize(struct buddy *b, void *p, size_t size)
{
	uint64_t lead = hdr((char *)p - HDR)->lead, old = *mapped_len(p), len = lead + size;
	if (size > ((uint64_t)1 << 62))
		return NULL;
	char *m = heap_remap(b->heap, (char *)p - lead, (size_t)old, (size_t)len);
	if (!m)
		return NULL;
	char *q = m + lead;
	uint64_t rounded = (len + HEAP_PAGE - 1) & ~(uint64_t)(HEAP_PAGE - 1);
	*mapped_len(q) = rounded;
	hdr_set(b, q - HDR, 0, B_MAPPED, lead);
	hdr(q - HDR)->tag = mapped_tag(b, q - HDR, rounded);
	b->in_use = b->in_use - old + rounded;
	return q;
}

static int mapped_free(struct buddy *b, void *p)
{
	uint64_t len = *mapped_len(p);
	if (heap_unmap(b->heap, (char *)p - hdr((char *)p - HDR)->lead, (size_t)len) < 0)
		return -1;
	b->in_use -= len;
	b->nmapped--;
	return 0;
}

/* ---- The policy ---------------------------------------------------------- */

static void *bd_malloc(void *state, size_t size)
{
	struct buddy *b = state;
	if (size >= b->large_from)
		return mapped_alloc(b, size, ALIGN);
	unsigned k = order_for(b, size + HDR);
	char *blk = block_take(b, k);
	if (!blk)
		return NULL;
	hdr_set(b, blk, k, B_ALLOC, HDR);
	b->in_use += bsize(k);
	return blk + HDR;
}

static void *bd_calloc(void *state, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	char *p = bd_malloc(state, nmemb * size);
	if (p && hdr(p - HDR)->state != B_MAPPED) /* mappings come zeroed */
		memset(p, 0, nmemb * size);
	return p;
}

static void *bd_memalign(void *state, size_t align, size_t size)
{
	struct buddy *b = state;
	if (align & (align - 1))
		return NULL;
	if (align <= ALIGN)
		return bd_malloc(state, size);
	uint64_t n = size ? size : 1; /* the payload must not end the block */
	if (size >= b->large_from || align >= bsize(b->max_order) ||
	    align + n > bsize(b->max_order))
		return mapped_alloc(b, size, align);
	unsigned k = order_for(b, align + n);
	char *blk = block_take(b, k);
	if (!blk)
		return NULL;
	/* blk is aligned to min(2^k, page) >= align when align <= page: the
	 * payload is then at blk + align; beyond a page it may come earlier,
	 * and the unused upper halves go back */
	char *p = (char *)(((uintptr_t)blk + HDR + align - 1) & ~(uintptr_t)(align - 1));
	uint64_t lead = (uint64_t)(p - blk);
	unsigned k2 = order_for(b, lead + n);
	block_split(b, blk, k, k2);
	hdr_set(b, blk, k2, B_ALLOC, lead);
	if (lead > HDR)
		hdr_set(b, p - HDR, 0, B_ALIGNED, lead);
	b->in_use += bsize(k2);
	return p;
}

/* The block of payload p (which this backend handed out). */
static char *block_of(void *p)
{
	struct bhdr *h = hdr((char *)p - HDR);
	return h->state == B_ALIGNED ? (char *)p - h->lead : (char *)p - HDR;
}

/* Frees what p is, without validation (realloc's old block). */
static void release(struct buddy *b, void *p)
{
	if (hdr((char *)p - HDR)->state == B_MAPPED) {
		mapped_free(b, p);
		return;
	}
	char *blk = block_of(p);
	unsigned k = hdr(blk)->order;
	HB_ASSERT(hdr(blk)->state == B_ALLOC && k >= b->min_order && k <= b->max_order);
	b->in_use -= bsize(k);
	block_release(b, blk, k);
}

static size_t bd_usable_size(void *state, void *p)
{
	(void)state;
	if (hdr((char *)p - HDR)->state == B_MAPPED)
		return (size_t)mapped_usable(p);
	char *blk = block_of(p);
	return bsize(hdr(blk)->order) - (size_t)hdr(blk)->lead;
}

static void *bd_realloc(void *state, void *p, size_t size)
{
	struct buddy *b = state;
	if (!p)
		return bd_malloc(state, size);
	if (!size) { /* frees, as glibc does (the harness never asks) */
		release(b, p);
		return NULL;
	}
	uint64_t n = size;
	if (hdr((char *)p - HDR)->state == B_MAPPED) {
		/* keep a mapping that still suits the request */
		uint64_t usable = mapped_usable(p);
		if (size >= b->large_from && n <= usable && n >= usable / 2)
			return p;
		if (size >= b->large_from)
			return mapped_resize(b, p, size);
	} else {
		char *blk = block_of(p);
		unsigned k = hdr(blk)->order;
		uint64_t lead = hdr(blk)->lead;
		if (size < b->large_from && lead + n <= bsize(b->max_order)) {
			unsigned k2 = order_for(b, lead + n);
			if (k2 <= k) { /* shrink: the upper halves go back */
				block_split(b, blk, k, k2);
			} else if (!block_grow(b, blk, k, k2)) {
				goto move;
			}
			hdr_set(b, blk, k2, B_ALLOC, lead);
			b->in_use = b->in_use - bsize(k) + bsize(k2);
			return p;
		}
	}
move:;
	void *q = bd_malloc(state, size);
	if (!q)
		return NULL;
	size_t keep = bd_usable_size(state, p);
	memcpy(q, p, keep < size ? keep : size);
	release(b, p);
	return q;
}

/* Rejects pointers this backend did not hand out, before touching
 * anything; *blk gets the block (NULL for a mapping). */
static const char *bd_validate(const struct buddy *b, void *p, char **blk)
{
	uintptr_t a = (uintptr_t)p;
	*blk = NULL;
	if (a % ALIGN)
		return "pointer is not 16-byte aligned: not a block";
	if (a >= (uintptr_t)b->origin + HDR && a < (uintptr_t)b->end) {
		char *x = (char *)p - HDR;
		if (hdr(x)->state == B_ALIGNED && hdr_valid(b, x)) {
			uint64_t lead = hdr(x)->lead;
			if (lead <= HDR || lead % ALIGN || lead > offset(b, p))
				return "no valid block header at pointer (interior or foreign "
				       "pointer?)";
			x = (char *)p - lead;
		}
		const struct bhdr *h = hdr(x);
		unsigned k = h->order;
		if (k - b->min_order > b->max_order - b->min_order ||
		    offset(b, x) & (bsize(k) - 1) || offset(b, x) + bsize(k) > offset(b, b->end) ||
		    !hdr_valid(b, x))
			return "no valid block header at pointer (interior or foreign pointer?)";
		if (h->state == B_FREE)
			return "block is already free (double free?)";
		if (h->state != B_ALLOC || h->lead != (uint64_t)((char *)p - x))
			return "no valid block header at pointer (interior or foreign pointer?)";
		*blk = x;
		return NULL;
	}
	if (!heap_contains(b->heap, (char *)p - 3 * 8, 3 * 8))
		return "pointer outside the heap (or a mapping already freed)";
	const struct bhdr *h = hdr((char *)p - HDR);
	uint64_t len = *mapped_len(p);
	if (h->state != B_MAPPED || h->tag != mapped_tag(b, h, len) || h->lead < 2 * HDR ||
	    h->lead % ALIGN || len % HEAP_PAGE || len <= h->lead ||
	    !heap_contains(b->heap, (char *)p - h->lead, (size_t)len))
		return "not the start of a block (interior or foreign pointer?)";
	return NULL;
}

/* Everything but a plain block: NULL, aligned and mapped blocks, and the
 * pointers to reject. */
__attribute__((noinline)) static int free_slow(struct buddy *b, void *p, char *why, size_t len)
{
	if (!p)
		return 0;
	char *blk;
	const char *bad = bd_validate(b, p, &blk);
	if (!bad && !blk && mapped_free(b, p) < 0)
		bad = "not the start of a mapped block";
	if (bad) {
		if (why)
			snprintf(why, len, "free(%p): %s", p, bad);
		return -1;
	}
	if (blk) {
		unsigned k = hdr(blk)->order;
		b->in_use -= bsize(k);
		block_release(b, blk, k);
	}
	return 0;
}

static int bd_free(void *state, void *p, char *why, size_t len)
{
	struct buddy *b = state;
	uint64_t a = offset(b, p), size = offset(b, b->end);
	/* the common case, checked in full: a malloc'd block in the managed
	 * area (NULL wraps around to a huge offset) */
	if (a >= HDR && a < size && !(a % ALIGN)) {
		char *blk = (char *)p - HDR;
		const struct bhdr *h = hdr(blk);
		unsigned k = h->order;
		if (h->state == B_ALLOC && h->lead == HDR &&
		    k - b->min_order <= b->max_order - b->min_order &&
		    !((a - HDR) & (bsize(k) - 1)) && a - HDR + bsize(k) <= size &&
		    h->tag == tag_of(b, blk, k, B_ALLOC)) {
			b->in_use -= bsize(k);
			block_release(b, blk, k);
			return 0;
		}
	}
	return free_slow(b, p, why, len);
}

/* ---- Invariants ---------------------------------------------------------- */

#define FAIL(...) return snprintf(why, len, __VA_ARGS__), -1

/* Whether x is the start of a block: descends from x's chunk, where every
 * level's aligned position below a split block starts a block.  Headers at
 * block starts must have been checked already. */
static bool is_block_start(const struct buddy *b, char *x)
{
	uint64_t off = offset(b, x);
	for (unsigned j = b->max_order;; j--) {
		char *y = b->origin + (off & ~(uint64_t)(bsize(j) - 1));
		if (hdr(y)->order >= j || j == b->min_order)
			return y == x;
	}
}

/* One block's header, at a block start. */
static int check_block(const struct buddy *b, char *blk, char *why, size_t len)
{
	const struct bhdr *h = hdr(blk);
	unsigned k = h->order;
	unsigned long long off = offset(b, blk);
	if (k < b->min_order || k > b->max_order)
		FAIL("block %p (offset %#llx): order %u outside [%u, %u]", (void *)blk, off, k,
		     b->min_order, b->max_order);
	if (off & (bsize(k) - 1))
		FAIL("block %p (offset %#llx) of order %u is not aligned to its size", (void *)blk,
		     off, k);
	if (blk + bsize(k) > b->end)
		FAIL("block %p of order %u runs past the end of the heap", (void *)blk, k);
	if (h->state != B_FREE && h->state != B_ALLOC)
		FAIL("block %p: state %u is neither free nor allocated", (void *)blk, h->state);
	if (!hdr_valid(b, blk))
		FAIL("block %p: header check value %#x, expected %#x (overwritten?)", (void *)blk,
		     h->tag, tag_of(b, blk, k, h->state));
	if (h->state == B_FREE)
		return 0;
	if (h->lead < HDR || h->lead % ALIGN || h->lead >= bsize(k))
		FAIL("allocated block %p of order %u: payload offset %llu", (void *)blk, k,
		     (unsigned long long)h->lead);
	if (h->lead > HDR) {
		char *a = blk + h->lead - HDR;
		if (hdr(a)->state != B_ALIGNED || hdr(a)->lead != h->lead || !hdr_valid(b, a))
			FAIL("aligned block %p: no header leading back to it before its payload "
			     "%p",
			     (void *)blk, (void *)(blk + h->lead));
	}
	return 0;
}

static int bd_check(void *state, char *why, size_t len)
{
	struct buddy *b = state;
	struct heap_usage u;
	heap_usage(b->heap, &u);
	uint64_t base = (uint64_t)(b->origin - (char *)heap_lo(b->heap));
	if (base % HEAP_PAGE || base < sizeof *b)
		FAIL("the origin %p is not page-aligned after the state", (void *)b->origin);
	if (b->end != heap_hi(b->heap) || offset(b, b->end) % bsize(b->min_order))
		FAIL("the managed area [%p, %p) does not end at the break %p in whole blocks",
		     (void *)b->origin, (void *)b->end, heap_hi(b->heap));

	/* every block, in address order */
	uint64_t nfree[MAX_ORDER_LIMIT + 1] = {0}, free_bytes = 0, used_bytes = 0;
	for (char *blk = b->origin; blk < b->end; blk += bsize(hdr(blk)->order)) {
		if (check_block(b, blk, why, len) < 0)
			return -1;
		unsigned k = hdr(blk)->order;
		if (hdr(blk)->state == B_ALLOC) {
			used_bytes += bsize(k);
			continue;
		}
		nfree[k]++;
		free_bytes += bsize(k);
		/* a lower buddy's buddy is the next block start */
		char *bud = blk + bsize(k);
		if (k < b->max_order && !(offset(b, blk) & bsize(k)) && bud < b->end &&
		    hdr(bud)->state == B_FREE && hdr(bud)->order == k)
			FAIL("free buddies %p and %p of order %u are not merged", (void *)blk,
			     (void *)bud, k);
	}
	if (free_bytes + used_bytes != (uint64_t)(b->end - b->origin))
		FAIL("free %llu + allocated %llu bytes != managed area %llu",
		     (unsigned long long)free_bytes, (unsigned long long)used_bytes,
		     (unsigned long long)(b->end - b->origin));

	/* every list: exactly the free blocks of its order */
	for (unsigned k = 0; k <= MAX_ORDER_LIMIT; k++) {
		struct link *head = &b->heads[k], *prev = head;
		uint64_t n = 0;
		for (struct link *l = head->next; l != head; prev = l, l = l->next) {
			char *blk = block_of_link(l);
			if (k < b->min_order || k > b->max_order)
				FAIL("free list of order %u, outside [%u, %u], holds %p", k,
				     b->min_order, b->max_order, (void *)blk);
			if ((uintptr_t)blk < (uintptr_t)b->origin ||
			    (uintptr_t)blk >= (uintptr_t)b->end || offset(b, blk) % bsize(k))
				FAIL("free list %u: entry %p is not a block of that order", k,
				     (void *)blk);
			if (l->prev != prev)
				FAIL("free list %u: entry %p has prev link %p, expected %p", k,
				     (void *)blk, (void *)l->prev, (void *)prev);
			if (!is_block_start(b, blk))
				FAIL("free list %u: entry %p is inside another block", k,
				     (void *)blk);
			if (hdr(blk)->state != B_FREE || hdr(blk)->order != k)
				FAIL("free list %u: block %p is %s of order %u", k, (void *)blk,
				     hdr(blk)->state == B_FREE ? "free" : "allocated",
				     hdr(blk)->order);
			if (++n > nfree[k])
				FAIL("free list %u holds more entries than the %llu free blocks "
				     "of that order (a block listed twice?)",
				     k, (unsigned long long)nfree[k]);
		}
		if (head->prev != prev)
			FAIL("free list %u: the head's prev link %p is not the last entry %p", k,
			     (void *)head->prev, (void *)prev);
		if (n != nfree[k])
			FAIL("%llu free blocks of order %u in the heap, %llu in its list",
			     (unsigned long long)nfree[k], k, (unsigned long long)n);
		if (!(b->bitmap >> k & 1) != !n)
			FAIL("bitmap bit %u is %d but the list has %llu entries", k,
			     (int)(b->bitmap >> k & 1), (unsigned long long)n);
	}
	if (b->bitmap >> MAX_ORDER_LIMIT >> 1)
		FAIL("bitmap %#llx has bits beyond order %u", (unsigned long long)b->bitmap,
		     MAX_ORDER_LIMIT);

	if (b->nmapped != u.mappings)
		FAIL("%llu mapped blocks counted, the heap has %llu mappings",
		     (unsigned long long)b->nmapped, (unsigned long long)u.mappings);
	if (used_bytes + u.mapped_bytes != b->in_use)
		FAIL("allocated bytes: %llu in blocks + %llu mapped, counter says %llu",
		     (unsigned long long)used_bytes, (unsigned long long)u.mapped_bytes,
		     (unsigned long long)b->in_use);
	return 0;
}

/* ---- Lifecycle ----------------------------------------------------------- */

/* 0 if the option `name` is an order buddy supports; else -1 and a message
 * saying why the range is what it is. */
static int order_check(const char *name, uint64_t order, const char *why, char *err, size_t errlen)
{
	if (order >= MIN_ORDER_LIMIT && order <= MAX_ORDER_LIMIT)
		return 0;
	snprintf(err, errlen, "%s: %llu is outside [%u, %u] (%s)", name, (unsigned long long)order,
		 MIN_ORDER_LIMIT, MAX_ORDER_LIMIT, why);
	return -1;
}

static int bd_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	uint64_t min_order = DEFAULT_MIN_ORDER, max_order = DEFAULT_MAX_ORDER, threshold = 0;
	if (backend_opt_bytes(opts, "min_order", &min_order, err, errlen) < 0 ||
	    backend_opt_bytes(opts, "max_order", &max_order, err, errlen) < 0 ||
	    backend_opt_bytes(opts, "mmap_threshold", &threshold, err, errlen) < 0)
		return -1;
	if (order_check("min_order", min_order, "a free block holds a 16-byte header and two links",
			err, errlen) < 0 ||
	    order_check("max_order", max_order, "the heap grows by 2^max_order bytes at a time",
			err, errlen) < 0)
		return -1;
	if (min_order > max_order)
		return snprintf(err, errlen, "min_order %llu is larger than max_order %llu",
				(unsigned long long)min_order, (unsigned long long)max_order),
		       -1;

	/* the state lives at the bottom of the heap, in a page of its own so
	 * that the origin is page-aligned: no malloc anywhere */
	char *base = heap_sbrk(heap, 0);
	uint64_t at = (uint64_t)(base - (char *)heap_lo(heap));
	uint64_t origin =
		(at + sizeof(struct buddy) + STATE_BYTES - 1) & ~(uint64_t)(STATE_BYTES - 1);
	if (!heap_sbrk(heap, (intptr_t)(origin - at)))
		return snprintf(err, errlen,
				"heap limit too small for the buddy state (%llu bytes)",
				(unsigned long long)(origin - at)),
		       -1;
	struct buddy *b = (struct buddy *)base;
	/* a reused heap (heap_reset) still holds the last state: a new
	 * generation makes its leftover headers invalid */
	uint64_t gen = b->gen + 1;
	*b = (struct buddy){
		.heap = heap,
		.origin = (char *)heap_lo(heap) + origin,
		.end = (char *)heap_lo(heap) + origin,
		.min_order = (unsigned)min_order,
		.max_order = (unsigned)max_order,
		.large_from = bsize((unsigned)max_order) - HDR + 1,
		.gen = gen,
		.salt = gen * 0xc2b2ae3d27d4eb4full,
	};
	if (threshold && threshold < b->large_from)
		b->large_from = threshold;
	for (unsigned k = 0; k <= MAX_ORDER_LIMIT; k++)
		b->heads[k].next = b->heads[k].prev = &b->heads[k];
	*state = b;
	return 0;
}

static void bd_fini(void *state)
{
	(void)state; /* everything lives in the heap, which the caller destroys */
}

static void bd_stats(void *state, struct alloc_stats *out)
{
	struct buddy *b = state;
	alloc_stats_simulated(b->heap, b->in_use, out);
}

const struct allocator buddy_allocator = {
	.name = "buddy",
	.description = "binary buddy system: power-of-two blocks, per-order free lists, "
		       "split and merge with the buddy",
	.options = bd_options,
	.flags = ALLOC_F_SIMULATED,
	.init = bd_init,
	.fini = bd_fini,
	.malloc = bd_malloc,
	.calloc = bd_calloc,
	.memalign = bd_memalign,
	.realloc = bd_realloc,
	.free = bd_free,
	.usable_size = bd_usable_size,
	.check = bd_check,
	.stats = bd_stats,
};
