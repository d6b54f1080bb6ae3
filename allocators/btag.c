/*
 * btag.c - the boundary-tag heap shared by first-fit, next-fit, best-fit
 * and segregated fits, and the treap that indexes free blocks (btag.h).
 *
 * Costs: malloc is the policy's search (O(log n) in the treap) plus O(1)
 * splitting; free is O(1) coalescing plus index updates; realloc in place
 * is O(1) plus index updates.
 */
#include "btag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "host/hb_assert.h"

#define DEFAULT_MMAP_THRESHOLD (128u * 1024u)

/* ---- Block helpers ------------------------------------------------------ */

static uint64_t *hdr(char *b)
{
	return (uint64_t *)b;
}

static uint64_t bsize(char *b)
{
	return *hdr(b) & ~(uint64_t)BT_F_MASK;
}

static bool balloc(char *b)
{
	return *hdr(b) & BT_F_ALLOC;
}

static uint64_t *ftr(char *b)
{
	return (uint64_t *)(b + bsize(b) - BT_WORD);
}

static void bset(char *b, uint64_t size, unsigned flags)
{
	*hdr(b) = size | flags;
	*(uint64_t *)(b + size - BT_WORD) = size | flags;
}

static char *payload(char *b)
{
	return b + BT_WORD;
}

static char *block_of(void *p)
{
	return (char *)p - BT_WORD;
}

static char *bnext(char *b)
{
	return b + bsize(b);
}

static char *bprev(char *b)
{
	uint64_t psize = *(uint64_t *)(b - BT_WORD) & ~(uint64_t)BT_F_MASK;
	return b - psize;
}

static bool prev_free(char *b)
{
	return !(*(uint64_t *)(b - BT_WORD) & BT_F_ALLOC);
}

/* Block size for a request: payload + header + footer, 16-aligned. */
static uint64_t asize_of(size_t size)
{
	uint64_t a = ((uint64_t)size + 2 * BT_WORD + BT_ALIGN - 1) & ~(uint64_t)(BT_ALIGN - 1);
	return a < BT_MIN_BLOCK ? BT_MIN_BLOCK : a;
}

/* ---- The policy's index -------------------------------------------------- */

static void list_insert(struct bt *f, char *b)
{
	f->free_blocks++;
	f->policy->insert(f, b);
}

/* The facts about a free block that merging and splitting rely on. */
static void block_assert_free(char *b)
{
	HB_ASSERT(!balloc(b));
	HB_ASSERT_SLOW(*ftr(b) == *hdr(b)); /* a second cache line: debug builds */
}

static void list_remove(struct bt *f, char *b)
{
	block_assert_free(b);
	HB_ASSERT(f->free_blocks > 0);
	f->free_blocks--;
	f->policy->remove(f, b);
}

/* Marks b free, merges it with free neighbours and lists the result. */
static char *block_release(struct bt *f, char *b)
{
	uint64_t size = bsize(b);
	/* b's own tags say free even where b merges into its predecessor:
	 * a second free of b must find a free block, not a stale header */
	bset(b, size, 0);
	char *next = bnext(b);
	const struct bt_policy *pol = f->policy;
	if (pol->grow && prev_free(b)) {
		/* the predecessor keeps its place in an address-ordered index */
		char *prev = bprev(b);
		block_assert_free(prev);
		if (!balloc(next)) {
			list_remove(f, next);
			size += bsize(next);
		}
		size += bsize(prev);
		bset(prev, size, 0);
		pol->grow(f, prev, size);
		return prev;
	}
	if (pol->replace && !balloc(next)) {
		/* b absorbs its successor and takes its place in the index */
		block_assert_free(next);
		uint64_t nsize = bsize(next);
		bset(b, size + nsize, 0);
		pol->replace(f, next, b, nsize);
		return b;
	}
	if (!balloc(next)) {
		list_remove(f, next);
		size += bsize(next);
	}
	if (prev_free(b)) {
		char *prev = bprev(b);
		list_remove(f, prev);
		size += bsize(prev);
		b = prev;
	}
	bset(b, size, 0);
	list_insert(f, b);
	return b;
}

/* Allocates asize bytes at the start of free block b (already unlisted),
 * returning the rest to the free list if it is worth a block. */
static void block_place(struct bt *f, char *b, uint64_t asize)
{
	uint64_t size = bsize(b);
	if (size - asize >= BT_MIN_BLOCK && size - asize >= f->min_split) {
		bset(b, asize, BT_F_ALLOC);
		char *rest = bnext(b);
		bset(rest, size - asize, 0);
		list_insert(f, rest);
	} else {
		bset(b, size, BT_F_ALLOC);
	}
	f->in_use += bsize(b);
}

/* Grows the break so that a free block of at least asize ends the heap;
 * returns it (unlisted) or NULL. */
static char *break_extend(struct bt *f, uint64_t asize)
{
	char *epi = (char *)heap_hi(f->heap) - BT_WORD;
	uint64_t have = 0;
	char *top = NULL;
	if (prev_free(epi)) {
		top = bprev(epi);
		have = bsize(top);
	}
	if (top && have >= asize) {
		/* a good-fit policy (segregated) may pass over a free top block
		 * that fits: growing the heap then means using it as it is */
		list_remove(f, top);
		return top;
	}
	uint64_t need = asize - have;
	if (need > (uint64_t)INTPTR_MAX || !heap_sbrk(f->heap, (intptr_t)need))
		return NULL;
	char *b = epi; /* the old epilogue becomes the new block's header */
	if (top) {
		list_remove(f, top);
		b = top;
	}
	bset(b, asize, 0);
	HB_ASSERT(bnext(b) == (char *)heap_hi(f->heap) - BT_WORD);
	*hdr(bnext(b)) = 0 | BT_F_ALLOC; /* new epilogue */
	return b;
}

/* ---- Mapped blocks ------------------------------------------------------- */

static bool is_mapped(void *p)
{
	return ((uint64_t *)p)[-1] & BT_F_MAPPED;
}

static uint64_t mapped_len(void *p)
{
	return ((uint64_t *)p)[-1] & ~(uint64_t)BT_F_MASK;
}

static uint64_t mapped_usable(void *p)
{
	return mapped_len(p) - ((uint64_t *)p)[-2];
}

static void *mapped_alloc(struct bt *f, size_t size, size_t align)
{
	/* a mapping is page-aligned, so the first a-aligned address at least
	 * two words in lies at most a bytes in (a >= 16) */
	uint64_t a = align > BT_ALIGN ? align : BT_ALIGN;
	uint64_t len = a + size;
	if (len < size || align > ((uint64_t)1 << 40))
		return NULL;
	char *m = heap_map(f->heap, (size_t)len);
	if (!m)
		return NULL;
	char *p = (char *)(((uintptr_t)m + 2 * BT_WORD + (uintptr_t)a - 1) & ~(uintptr_t)(a - 1));
	uint64_t lead = (uint64_t)(p - m);
	((uint64_t *)p)[-2] = lead;
	((uint64_t *)p)[-1] =
		((len + HEAP_PAGE - 1) & ~(uint64_t)(HEAP_PAGE - 1)) | BT_F_MAPPED | BT_F_ALLOC;
	f->in_use += mapped_len(p);
	return p;
}

/* Mapped block p resized for size bytes (heap_remap), or NULL with p as it
 * was.  The payload keeps its offset in the mapping, which stays
 * page-aligned: 16-byte alignment, all a realloc promises, holds. */
static void *mapped_resize(struct bt *f, void *p, size_t size)
{
	uint64_t lead = ((uint64_t *)p)[-2], old = mapped_len(p), len = lead + size;
	if (len < size)
		return NULL;
	char *m = heap_remap(f->heap, (char *)p - lead, (size_t)old, (size_t)len);
	if (!m)
		return NULL;
	char *q = m + lead;
	((uint64_t *)q)[-1] =
		((len + HEAP_PAGE - 1) & ~(uint64_t)(HEAP_PAGE - 1)) | BT_F_MAPPED | BT_F_ALLOC;
	f->in_use = f->in_use - old + mapped_len(q);
	return q;
}

/* ---- The policy ---------------------------------------------------------- */

/* The treap path to the block the last fit search returned (end), root
 * first: taking that block out of the index, or putting the rest of it in
 * its place, then needs no second descent.  Every other change to an index
 * clears it.  It is scratch of one malloc call: break_alloc holds it as a
 * local and lends it to the index through h->fit, so each heap has its own
 * and none of it counts in a footprint.  Paths deeper than BT_PATH_MAX are
 * not cached. */
#define BT_PATH_MAX 64
struct bt_path {
	char *end; /* NULL: nothing cached */
	int depth; /* path[0..depth-1] are end's ancestors */
	char *path[BT_PATH_MAX];
};

/* The block break_alloc hands out, taken out of the index (or the heap
 * grown for it), or NULL. */
static char *break_take(struct bt *f, uint64_t asize)
{
	char *b = f->policy->find(f, asize);
	uint64_t size = b ? bsize(b) : 0;
	HB_ASSERT(!b || size >= asize); /* the policy found a fit */
	if (b && f->policy->replace && size - asize >= BT_MIN_BLOCK &&
	    size - asize >= f->min_split) {
		/* the rest of the split takes b's place in the index */
		block_assert_free(b);
		char *rest = b + asize;
		bset(rest, size - asize, 0);
		f->policy->replace(f, b, rest, size);
		bset(b, asize, BT_F_ALLOC);
		f->in_use += asize;
	} else {
		if (b)
			list_remove(f, b);
		else if (!(b = break_extend(f, asize)))
			return NULL;
		block_place(f, b, asize);
	}
	return b;
}

/* A block of asize bytes from the break region (never a mapping). */
static void *break_alloc(struct bt *f, uint64_t asize)
{
	struct bt_path fit; /* only end needs a value: the rest is written first */
	fit.end = NULL;
	f->fit = &fit;
	char *b = break_take(f, asize);
	f->fit = NULL;
	if (!b)
		return NULL;
	if (f->policy->placed)
		f->policy->placed(f, b);
	return payload(b);
}

void *bt_malloc(void *state, size_t size)
{
	struct bt *f = state;
	if (f->mmap_threshold && size >= f->mmap_threshold)
		return mapped_alloc(f, size, BT_ALIGN);
	if (size > ((uint64_t)1 << 62))
		return NULL;
	return break_alloc(f, asize_of(size));
}

void *bt_calloc(void *state, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n))
		return NULL;
	void *p = bt_malloc(state, n);
	/* a fresh mapping is zero already; memory of the break may be reused */
	if (p && !is_mapped(p))
		memset(p, 0, n);
	return p;
}

/* Shrinks allocated block b to asize, freeing the tail if it is worth a
 * block (the tail merges with a free successor). */
static void block_shrink(struct bt *f, char *b, uint64_t asize)
{
	uint64_t cur = bsize(b);
	if (cur - asize < BT_MIN_BLOCK || cur - asize < f->min_split)
		return;
	bset(b, asize, BT_F_ALLOC);
	char *rest = bnext(b);
	bset(rest, cur - asize, BT_F_ALLOC);
	f->in_use -= cur - asize;
	block_release(f, rest);
}

void *bt_memalign(void *state, size_t align, size_t size)
{
	struct bt *f = state;
	if (align <= BT_ALIGN)
		return bt_malloc(state, size);
	if (f->mmap_threshold && size >= f->mmap_threshold)
		return mapped_alloc(f, size, align);
	/* a block with room for the request, the alignment and a free block
	 * in front (a gap must be a whole block to be given back) */
	if (size > ((uint64_t)1 << 62) || align > ((uint64_t)1 << 40))
		return NULL;
	uint64_t asize = asize_of(size);
	char *p = break_alloc(f, asize + align + BT_MIN_BLOCK);
	if (!p)
		return NULL;
	char *b = block_of(p);
	if ((uintptr_t)p % align) {
		uintptr_t want =
			((uintptr_t)p + BT_MIN_BLOCK + align - 1) & ~(uintptr_t)(align - 1);
		char *nb = block_of((void *)want);
		uint64_t total = bsize(b), gap = (uint64_t)(nb - b);
		bset(b, gap, BT_F_ALLOC);
		bset(nb, total - gap, BT_F_ALLOC);
		f->in_use -= gap;
		block_release(f, b);
		b = nb;
	}
	block_shrink(f, b, asize);
	return payload(b);
}

void *bt_realloc(void *state, void *p, size_t size)
{
	struct bt *f = state;
	if (!p)
		return bt_malloc(state, size);
	if (size == 0) { /* realloc(p, 0) frees p, as glibc does */
		bt_free(state, p, NULL, 0);
		return NULL;
	}
	if (is_mapped(p)) {
		if (size <= mapped_usable(p) &&
		    !(f->mmap_threshold && size < f->mmap_threshold / 2))
			return p;
		/* still large: the mapping is resized, its pages moved, not copied */
		if (f->mmap_threshold && size >= f->mmap_threshold)
			return mapped_resize(f, p, size);
		void *q = bt_malloc(state, size);
		if (!q)
			return NULL;
		uint64_t keep = mapped_usable(p);
		memcpy(q, p, (size_t)(keep < size ? keep : size));
		bt_free(state, p, NULL, 0);
		return q;
	}
	char *b = block_of(p);
	uint64_t asize = asize_of(size), cur = bsize(b);
	if (size > ((uint64_t)1 << 62))
		return NULL;
	if (!(f->mmap_threshold && size >= f->mmap_threshold)) {
		if (asize <= cur) { /* shrink in place, freeing the tail */
			block_shrink(f, b, asize);
			return p;
		}
		char *next = bnext(b);
		uint64_t room = cur + (balloc(next) ? 0 : bsize(next));
		bool at_top = balloc(next) ? bsize(next) == 0 : bsize(bnext(next)) == 0;
		if (room >= asize || at_top) {
			/* grow into the free successor, or the top of the heap */
			if (!balloc(next))
				list_remove(f, next);
			if (room < asize) {
				if (!heap_sbrk(f->heap, (intptr_t)(asize - room))) {
					if (!balloc(next))
						list_insert(f, next);
					goto move;
				}
				room = asize;
				*hdr(b + room) = 0 | BT_F_ALLOC; /* new epilogue */
			}
			f->in_use -= cur;
			bset(b, room, 0);
			block_place(f, b, asize);
			return p;
		}
	}
move:;
	void *q = bt_malloc(state, size);
	if (!q)
		return NULL;
	uint64_t keep = cur - 2 * BT_WORD;
	memcpy(q, p, (size_t)(keep < size ? keep : size));
	bt_free(state, p, NULL, 0);
	return q;
}

/* Rejects pointers this heap did not hand out, before touching anything. */
static const char *pointer_validate(struct bt *f, void *p)
{
	if ((uintptr_t)p % BT_ALIGN)
		return "pointer is not 16-byte aligned: not a block";
	if (heap_contains(f->heap, (char *)p - 2 * BT_WORD, 2 * BT_WORD) &&
	    !(p > (void *)f->first && p < heap_hi(f->heap))) {
		/* inside a mapping of ours */
		uint64_t w = ((uint64_t *)p)[-1], lead = ((uint64_t *)p)[-2];
		if ((w & (BT_F_MAPPED | BT_F_ALLOC)) != (BT_F_MAPPED | BT_F_ALLOC) ||
		    lead % BT_ALIGN || lead < 2 * BT_WORD ||
		    !heap_contains(f->heap, (char *)p - lead, mapped_len(p)))
			return "not the start of a mapped block";
		return NULL;
	}
	if (!(p > (void *)f->first && p < heap_hi(f->heap)))
		return "pointer outside the heap";
	char *b = block_of(p);
	uint64_t size = bsize(b);
	if (*hdr(b) & BT_F_MAPPED || size < BT_MIN_BLOCK || size % BT_ALIGN ||
	    b + size > (char *)heap_hi(f->heap) - BT_WORD || *ftr(b) != *hdr(b))
		return "no valid block header at pointer (interior or foreign pointer?)";
	if (!balloc(b))
		return "block is already free (double free?)";
	return NULL;
}

int bt_free(void *state, void *p, char *why, size_t len)
{
	struct bt *f = state;
	if (!p)
		return 0;
	const char *bad = pointer_validate(f, p);
	if (bad) {
		if (why)
			snprintf(why, len, "free(%p): %s", p, bad);
		return -1;
	}
	if (is_mapped(p)) {
		uint64_t lead = ((uint64_t *)p)[-2], mlen = mapped_len(p);
		if (heap_unmap(f->heap, (char *)p - lead, (size_t)mlen) < 0) {
			if (why)
				snprintf(why, len, "free(%p): not the start of a mapped block", p);
			return -1;
		}
		f->in_use -= mlen;
		return 0;
	}
	char *b = block_of(p);
	HB_ASSERT(f->in_use >= bsize(b));
	f->in_use -= bsize(b);
	block_release(f, b);
	return 0;
}

size_t bt_usable_size(void *state, void *p)
{
	(void)state;
	if (is_mapped(p))
		return (size_t)mapped_usable(p);
	return (size_t)(bsize(block_of(p)) - 2 * BT_WORD);
}

/* ---- Invariants ---------------------------------------------------------- */

#define FAIL(...) return snprintf(why, len, __VA_ARGS__), -1

int bt_check(void *state, char *why, size_t len)
{
	struct bt *f = state;
	char *end = (char *)heap_hi(f->heap) - BT_WORD;
	uint64_t nfree = 0, free_bytes = 0, used_bytes = 0;
	bool last_free = false;
	char *b;
	for (b = f->first; b < end; b = bnext(b)) {
		uint64_t size = bsize(b);
		if (size < BT_MIN_BLOCK || size % BT_ALIGN || b + size > end)
			FAIL("block %p: bad size %llu", (void *)b, (unsigned long long)size);
		if (*ftr(b) != *hdr(b))
			FAIL("block %p: header %#llx and footer %#llx disagree", (void *)b,
			     (unsigned long long)*hdr(b), (unsigned long long)*ftr(b));
		if (*hdr(b) & BT_F_MAPPED)
			FAIL("block %p in the break region is marked mapped", (void *)b);
		if (!balloc(b)) {
			if (last_free)
				FAIL("blocks %p and %p are both free: not coalesced",
				     (void *)bprev(b), (void *)b);
			nfree++;
			free_bytes += size;
		} else {
			used_bytes += size;
		}
		last_free = !balloc(b);
	}
	if (b != end || *hdr(end) != (0 | BT_F_ALLOC))
		FAIL("no epilogue at the break (%p)", (void *)end);
	if (nfree != f->free_blocks)
		FAIL("%llu free blocks in the heap, the counter says %llu",
		     (unsigned long long)nfree, (unsigned long long)f->free_blocks);
	uint64_t listed = 0;
	if (f->policy->check(f, &listed, why, len) < 0)
		return -1;
	if (listed != nfree)
		FAIL("%llu free blocks in the heap, %llu in the %s index",
		     (unsigned long long)nfree, (unsigned long long)listed, f->policy->name);
	struct heap_usage u;
	heap_usage(f->heap, &u);
	uint64_t overhead = (uint64_t)(f->first - (char *)heap_lo(f->heap)) + BT_WORD;
	if (free_bytes + used_bytes + overhead != u.brk_bytes)
		FAIL("free %llu + used %llu + prologue/epilogue %llu bytes != heap size %llu",
		     (unsigned long long)free_bytes, (unsigned long long)used_bytes,
		     (unsigned long long)overhead, (unsigned long long)u.brk_bytes);
	if (used_bytes + u.mapped_bytes != f->in_use)
		FAIL("allocated bytes: %llu in blocks + %llu mapped, counter says %llu",
		     (unsigned long long)used_bytes, (unsigned long long)u.mapped_bytes,
		     (unsigned long long)f->in_use);
	return 0;
}

/* ---- Lifecycle ----------------------------------------------------------- */

int bt_init(void **state, struct heap *heap, const struct bt_policy *policy,
	    const struct backend_opts *opts, char *err, size_t errlen)
{
	uint64_t threshold = DEFAULT_MMAP_THRESHOLD, min_split = BT_MIN_BLOCK;
	if (backend_opt_bytes(opts, "mmap_threshold", &threshold, err, errlen) < 0 ||
	    backend_opt_bytes(opts, "min_split", &min_split, err, errlen) < 0)
		return -1;
	/* the state (and the policy's) lives at the bottom of the heap: no
	 * malloc anywhere */
	char *base = heap_sbrk(heap, 0);
	uint64_t ext = (sizeof(struct bt) + BT_ALIGN - 1) & ~(uint64_t)(BT_ALIGN - 1);
	uint64_t start = (ext + policy->ext_bytes + BT_ALIGN - 1) & ~(uint64_t)(BT_ALIGN - 1);
	if (!heap_sbrk(heap, (intptr_t)(start + 4 * BT_WORD)))
		return snprintf(err, errlen, "heap limit too small"), -1;
	memset(base, 0, (size_t)start);
	struct bt *f = (struct bt *)base;
	*f = (struct bt){.heap = heap,
			 .ext = policy->ext_bytes ? base + ext : NULL,
			 .policy = policy,
			 .mmap_threshold = threshold,
			 .min_split = min_split,
			 .order = (enum bt_order)policy->order};
	char *pro = base + start + BT_WORD; /* pad word, then the prologue */
	bset(pro, 2 * BT_WORD, BT_F_ALLOC);
	f->first = pro + 2 * BT_WORD;
	*hdr(f->first) = 0 | BT_F_ALLOC; /* epilogue */
	if (policy->setup && policy->setup(f, opts, err, errlen) < 0)
		return -1;
	*state = f;
	return 0;
}

void bt_fini(void *state)
{
	(void)state; /* everything lives in the heap, which the caller destroys */
}

void bt_stats(void *state, struct alloc_stats *out)
{
	struct bt *f = state;
	alloc_stats_simulated(f->heap, f->in_use, out);
}

/* ---- The treap index --------------------------------------------------------- */

/* Children and annotations live in the free block's payload (struct
 * bt_node); priorities hash the block's address, so the shape is a
 * deterministic function of the set of free blocks. */

#define L(b) (bt_node(b)->left)
#define R(b) (bt_node(b)->right)

/* A node's priority shares the `max` word with the subtree maximum: block
 * sizes in the break region stay below 2^40 (the reservation is smaller),
 * and a priority that moves with the node lets a block take another's place
 * in the tree (bt_tree_replace) without breaking the heap order. */
#define PRIO_SHIFT 40
#define SIZE_MASK  ((UINT64_C(1) << PRIO_SHIFT) - 1)

static uint32_t prio(char *b)
{
	return (uint32_t)(bt_node(b)->max >> PRIO_SHIFT);
}

static uint64_t tmax(char *b)
{
	return b ? bt_node(b)->max & SIZE_MASK : 0;
}

static void set_max(char *b, uint64_t m)
{
	bt_node(b)->max = (bt_node(b)->max & ~SIZE_MASK) | m;
}

/* The largest size in b's subtree, from b's own size and its children's
 * annotations: what b's annotation must say. */
static uint64_t subtree_max(char *b)
{
	uint64_t m = bt_size(b), l = tmax(L(b)), r = tmax(R(b));
	return m > l ? (m > r ? m : r) : (l > r ? l : r);
}

static void update(char *b)
{
	set_max(b, subtree_max(b));
}

/* <0, 0, >0: a before, equal to, after b in the tree's order */
static int key_cmp(const struct bt *h, char *a, char *b)
{
	uint64_t x, y;
	switch (h->order) {
	case BT_BY_SEQ_ASC: x = bt_node(a)->seq, y = bt_node(b)->seq; break;
	case BT_BY_SEQ_DESC: x = bt_node(b)->seq, y = bt_node(a)->seq; break;
	case BT_BY_SIZE:
		x = bt_size(a), y = bt_size(b);
		if (x == y) /* equal sizes go by address */
			x = (uintptr_t)a, y = (uintptr_t)b;
		break;
	default: x = (uintptr_t)a, y = (uintptr_t)b; break;
	}
	return (x > y) - (x < y);
}

/* Maxima are kept without reading siblings where possible: a sibling not
 * on the search path is a cache miss, and the search path is all the
 * work there is.  Insertion raises the maxima on the way down to the new
 * block's place and recomputes them only on the split below it; removal
 * recomputes only where the removed block was the maximum; merging two
 * subtrees takes the larger of their maxima. */

/* Splits t around n's key: the blocks before n into *l, the rest into *r,
 * each subtree's maximum recomputed on the way back up. */
static void tree_split(struct bt *h, char *t, char *n, char **l, char **r)
{
	if (!t) {
		*l = *r = NULL;
		return;
	}
	if (key_cmp(h, t, n) < 0) {
		*l = t;
		tree_split(h, R(t), n, &R(t), r);
	} else {
		*r = t;
		tree_split(h, L(t), n, l, &L(t));
	}
	update(t);
}

/* Insertion top down: n goes where its priority puts it (below every
 * ancestor of higher or equal priority, as rotations would leave it), and
 * the subtree it lands on splits into its children: no rotations, and no
 * walk below n's place but the split's. */
static void tree_insert_top(struct bt *h, char *n, uint64_t nsize)
{
	char **link = &h->root;
	uint32_t pn = prio(n);
	while (*link && prio(*link) >= pn) {
		char *t = *link;
		if (tmax(t) < nsize)
			set_max(t, nsize);
		link = key_cmp(h, n, t) < 0 ? &L(t) : &R(t);
	}
	tree_split(h, *link, n, &L(n), &R(n));
	update(n);
	*link = n;
}

static char *tree_merge(char *a, char *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	uint64_t m = tmax(a) > tmax(b) ? tmax(a) : tmax(b);
	if (prio(a) > prio(b)) {
		R(a) = tree_merge(R(a), b);
		set_max(a, m);
		return a;
	}
	L(b) = tree_merge(a, L(b));
	set_max(b, m);
	return b;
}

static char *tree_remove(struct bt *h, char *t, char *n, uint64_t nsize)
{
	if (!t)
		return NULL;
	if (t == n)
		return tree_merge(L(t), R(t));
	if (key_cmp(h, n, t) < 0)
		L(t) = tree_remove(h, L(t), n, nsize);
	else
		R(t) = tree_remove(h, R(t), n, nsize);
	if (nsize >= tmax(t))
		update(t);
	return t;
}

/* The index changes other than through the cached path: the path goes
 * stale. */
static void path_forget(struct bt *h)
{
	if (h->fit)
		h->fit->end = NULL;
}

void bt_tree_insert(struct bt *h, char *b)
{
	struct bt_node *n = bt_node(b);
	n->left = n->right = NULL;
	n->seq = ++h->seq;
	uint64_t hash = (uint64_t)(uintptr_t)b * 0x9e3779b97f4a7c15ull;
	n->max = (hash >> PRIO_SHIFT << PRIO_SHIFT) | bt_size(b);
	path_forget(h);
	tree_insert_top(h, b, bt_size(b));
}

/* The link that points at b, when the last search's path ends at b (the
 * path then holds b's ancestors, root first); else NULL. */
#if HB_DEBUG >= 1
/* Whether fit holds the search path from the root to b as the index is
 * now: what a cached path promises (O(depth), for HB_ASSERT_SLOW). */
static bool path_leads_to(const struct bt *h, const struct bt_path *fit, char *b)
{
	char *t = h->root;
	for (int i = 0; i < fit->depth; i++) {
		if (fit->path[i] != t)
			return false;
		t = key_cmp(h, b, t) < 0 ? L(t) : R(t);
	}
	return t == b;
}

/* Whether every block on path[0..depth-1] is annotated with its subtree's
 * maximum: what the early stops of the maxima updates rely on. */
static bool path_maxima_hold(char **path, int depth)
{
	for (int i = 0; i < depth; i++)
		if (tmax(path[i]) != subtree_max(path[i]))
			return false;
	return true;
}
#endif

static char **cached_link(struct bt *h, char *b)
{
	struct bt_path *fit = h->fit;
	if (!fit)
		return NULL;
	char *end = fit->end;
	fit->end = NULL;
	if (end != b || !b)
		return NULL;
	HB_ASSERT(fit->depth >= 0 && fit->depth <= BT_PATH_MAX);
	HB_ASSERT_SLOW(path_leads_to(h, fit, b));
	if (fit->depth == 0)
		return &h->root;
	char *parent = fit->path[fit->depth - 1];
	return L(parent) == b ? &L(parent) : &R(parent);
}

static void tree_unlink(struct bt *h, char *b, uint64_t size)
{
	char **link = cached_link(h, b);
	if (!link) {
		h->root = tree_remove(h, h->root, b, size);
		return;
	}
	*link = tree_merge(L(b), R(b));
	/* only ancestors whose maximum was b's size can fall */
	char **path = h->fit->path;
	for (int i = h->fit->depth - 1; i >= 0 && tmax(path[i]) <= size; i--)
		update(path[i]);
	HB_ASSERT_SLOW(path_maxima_hold(path, h->fit->depth));
}

void bt_tree_remove(struct bt *h, char *b)
{
	tree_unlink(h, b, bt_size(b));
}

void bt_tree_replace(struct bt *h, char *old, char *b, uint64_t old_size)
{
	char *stack[BT_PATH_MAX], **path = stack;
	int depth = 0;
	char **link = cached_link(h, old);
	if (link) {
		path = h->fit->path, depth = h->fit->depth;
	} else {
		link = &h->root;
		while (*link != old) {
			if (depth == BT_PATH_MAX) {
				/* deeper than any treap of this size should be */
				tree_unlink(h, old, old_size);
				bt_tree_insert(h, b);
				return;
			}
			path[depth++] = *link;
			link = key_cmp(h, old, *link) < 0 ? &L(*link) : &R(*link);
		}
	}
	*bt_node(b) = *bt_node(old); /* children, priority, order */
	*link = b;
	update(b);
	uint64_t size = bt_size(b);
	if (size >= old_size) {
		/* ancestors' maxima can only rise */
		for (int i = depth - 1; i >= 0 && tmax(path[i]) < size; i--)
			set_max(path[i], size);
	} else {
		/* only ancestors whose maximum was the old size can fall */
		for (int i = depth - 1; i >= 0 && tmax(path[i]) <= old_size; i--)
			update(path[i]);
	}
	HB_ASSERT_SLOW(path_maxima_hold(path, depth));
}

void bt_tree_grow(struct bt *h, char *b, uint64_t size)
{
	path_forget(h);
	char *t = h->root;
	while (t != b) {
		HB_ASSERT(t); /* b is indexed */
		if (tmax(t) < size)
			set_max(t, size);
		t = key_cmp(h, b, t) < 0 ? L(t) : R(t);
	}
	if (tmax(b) < size)
		set_max(b, size);
}

static char *first_fit_in(char *t, uint64_t asize)
{
	if (tmax(t) < asize)
		return NULL;
	for (;;) {
		if (tmax(L(t)) >= asize)
			t = L(t);
		else if (bt_size(t) >= asize)
			return t;
		else
			t = R(t); /* the annotation promises a fit here */
	}
}

/* first_fit_in from t, whose ancestors are fit->path[0..depth-1],
 * extending the path to the block found for cached_link */
static char *fit_down(struct bt_path *fit, char *t, int depth, uint64_t asize)
{
	if (tmax(t) < asize)
		return NULL;
	for (;;) {
		char *next;
		if (tmax(L(t)) >= asize)
			next = L(t);
		else if (bt_size(t) >= asize)
			break;
		else
			next = R(t); /* the annotation promises a fit here */
		if (depth == BT_PATH_MAX)
			return first_fit_in(next, asize);
		fit->path[depth++] = t;
		t = next;
	}
	fit->end = t;
	fit->depth = depth;
	return t;
}

/* The path a search records into: the one break_alloc lent, else (a search
 * outside a malloc caches nothing) the caller's spare. */
static struct bt_path *path_for_search(struct bt *h, struct bt_path *spare)
{
	struct bt_path *fit = h->fit ? h->fit : spare;
	fit->end = NULL;
	return fit;
}

char *bt_tree_first_fit(struct bt *h, uint64_t asize)
{
	struct bt_path spare;
	return fit_down(path_for_search(h, &spare), h->root, 0, asize);
}

/* The leftmost block at or after `from` that fits (address order),
 * recursively: the fallback for paths longer than BT_PATH_MAX. */
static char *first_fit_from(char *t, const char *from, uint64_t asize)
{
	while (t && tmax(t) >= asize) {
		if (t < from) {
			t = R(t);
			continue;
		}
		char *r = first_fit_from(L(t), from, asize);
		if (r)
			return r;
		if (bt_size(t) >= asize)
			return t;
		return first_fit_in(R(t), asize);
	}
	return NULL;
}

/* The search path for `from` passes, deepest first, the blocks at or after
 * it in address order; between each and the next lies its right subtree. */
char *bt_tree_first_fit_from(struct bt *h, const char *from, uint64_t asize)
{
	struct bt_path spare, *fit = path_for_search(h, &spare);
	int depth = 0;
	for (char *t = h->root; t; t = t < from ? R(t) : L(t)) {
		if (depth == BT_PATH_MAX)
			return first_fit_from(h->root, from, asize);
		fit->path[depth++] = t;
	}
	for (int i = depth - 1; i >= 0; i--) {
		char *c = fit->path[i];
		if (c < from)
			continue;
		if (bt_size(c) >= asize) {
			fit->end = c;
			fit->depth = i;
			return c;
		}
		if (tmax(R(c)) >= asize)
			return fit_down(fit, R(c), i + 1, asize);
	}
	return NULL;
}

char *bt_tree_best_fit(struct bt *h, uint64_t asize)
{
	struct bt_path spare, *fit = path_for_search(h, &spare);
	char *t = h->root, *best = NULL;
	int depth = 0, best_depth = 0;
	while (t) {
		if (depth < BT_PATH_MAX)
			fit->path[depth] = t;
		if (bt_size(t) >= asize) {
			best = t, best_depth = depth;
			t = L(t);
		} else {
			t = R(t);
		}
		depth++;
	}
	/* the path to best is a prefix of the path searched */
	fit->end = best_depth < BT_PATH_MAX ? best : NULL;
	fit->depth = best_depth;
	return best;
}

static int tree_check(struct bt *h, char *t, char *lo, char *hi, uint64_t *count, char *why,
		      size_t len)
{
	if (!t)
		return 0;
	char *end = (char *)heap_hi(h->heap) - BT_WORD;
	if (t < h->first || t >= end || ((uintptr_t)t + BT_WORD) % BT_ALIGN)
		FAIL("index entry %p is not a block of the heap", (void *)t);
	if (bt_is_alloc(t))
		FAIL("index entry %p is an allocated block", (void *)t);
	if ((lo && key_cmp(h, lo, t) >= 0) || (hi && key_cmp(h, t, hi) >= 0))
		FAIL("index out of order at %p", (void *)t);
	if ((L(t) && prio(L(t)) > prio(t)) || (R(t) && prio(R(t)) > prio(t)))
		FAIL("index heap order broken at %p", (void *)t);
	uint64_t m = subtree_max(t);
	if (tmax(t) != m)
		FAIL("index entry %p: max annotation %llu, subtree max %llu", (void *)t,
		     (unsigned long long)tmax(t), (unsigned long long)m);
	if (++*count > h->free_blocks)
		FAIL("index holds more entries than the %llu free blocks",
		     (unsigned long long)h->free_blocks);
	if (tree_check(h, L(t), lo, t, count, why, len) < 0)
		return -1;
	return tree_check(h, R(t), t, hi, count, why, len);
}

int bt_tree_check(struct bt *h, uint64_t *count, char *why, size_t len)
{
	*count = 0;
	return tree_check(h, h->root, NULL, NULL, count, why, len);
}
