/*
 * btag.c - the boundary-tag heap shared by first-fit, next-fit, best-fit
 * and segregated fits (btag.h).
 *
 * Costs: malloc is the policy's search (O(log n) in the tree index) plus O(1)
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
	char *hi = heap_hi(f->heap);
	if (!(p > (void *)f->first && p < (void *)hi)) {
		/* outside the break: one of our mappings, or foreign */
		if (!heap_contains(f->heap, (char *)p - 2 * BT_WORD, 2 * BT_WORD))
			return "pointer outside the heap";
		uint64_t w = ((uint64_t *)p)[-1], lead = ((uint64_t *)p)[-2];
		if ((w & (BT_F_MAPPED | BT_F_ALLOC)) != (BT_F_MAPPED | BT_F_ALLOC) ||
		    lead % BT_ALIGN || lead < 2 * BT_WORD ||
		    !heap_contains(f->heap, (char *)p - lead, mapped_len(p)))
			return "not the start of a mapped block";
		return NULL;
	}
	char *b = block_of(p);
	uint64_t size = bsize(b);
	if (*hdr(b) & BT_F_MAPPED || size < BT_MIN_BLOCK || size % BT_ALIGN ||
	    b + size > hi - BT_WORD || *ftr(b) != *hdr(b))
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
	uint64_t index = f->policy->index_mapped ? f->policy->index_mapped(f) : 0;
	if (index > u.mapped_bytes || used_bytes + u.mapped_bytes - index != f->in_use)
		FAIL("allocated bytes: %llu in blocks + %llu mapped - %llu of index, counter says "
		     "%llu",
		     (unsigned long long)used_bytes, (unsigned long long)u.mapped_bytes,
		     (unsigned long long)index, (unsigned long long)f->in_use);
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
