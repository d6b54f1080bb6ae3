/*
 * first_fit.c - first fit over an address-ordered free list.
 *
 * Block layout (every size a multiple of 16, payloads 16-byte aligned):
 *
 *     | header: size|flags (8) | payload ...             | footer: size|flags (8) |
 *     ^ block                  ^ block + 8 = payload      ^ block + size - 8
 *
 * Boundary tags in every block let free() coalesce with both neighbours in
 * O(1).  A free block keeps its list links in the payload, so the minimum
 * block is 32 bytes (header, next, prev, footer).  The break region starts
 * with an 8-byte pad and a 16-byte allocated prologue, and ends with an
 * allocated epilogue header of size 0, so no block needs edge cases.
 *
 * Requests of at least mmap_threshold bytes get their own mapping:
 *
 *     | mapping start ... | offset to start (8) | size|MAPPED|ALLOC (8) | payload |
 *
 * Policy: the lowest-addressed free block that fits, split when the rest is
 * at least min_split bytes (and a whole block); the heap grows by exactly
 * what a request lacks (extending a free block at the top).  Costs: malloc
 * and free walk the free list, O(free blocks); the replay-engine issue only
 * needs this backend correct (the built-in policies issue makes it fast).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "heap.h"

/* ---- Constants and options --------------------------------------------- */

#define ALIGN     16u
#define WORD      8u
#define MIN_BLOCK 32u
#define F_ALLOC   1u
#define F_MAPPED  2u
#define F_MASK    15u

#define DEFAULT_MMAP_THRESHOLD (128u * 1024u)

static const struct allocator_option ff_options[] = {
	{"mmap_threshold", "requests of at least this many bytes get their own mapping "
			   "(default 131072; 0 = never)"},
	{"min_split", "split a block only if at least this many bytes remain (default 32, "
		      "the minimum block)"},
	{NULL, NULL},
};

struct ff {
	struct heap *heap;
	char *first;     /* first real block (after the prologue) */
	char *free_head; /* lowest-addressed free block */
	uint64_t mmap_threshold;
	uint64_t min_split;
	uint64_t in_use; /* bytes of allocated blocks (heap and mapped) */
};

/* ---- Block helpers ------------------------------------------------------ */

static uint64_t *hdr(char *b)
{
	return (uint64_t *)b;
}

static uint64_t bsize(char *b)
{
	return *hdr(b) & ~(uint64_t)F_MASK;
}

static bool balloc(char *b)
{
	return *hdr(b) & F_ALLOC;
}

static uint64_t *ftr(char *b)
{
	return (uint64_t *)(b + bsize(b) - WORD);
}

static void bset(char *b, uint64_t size, unsigned flags)
{
	*hdr(b) = size | flags;
	*(uint64_t *)(b + size - WORD) = size | flags;
}

static char *payload(char *b)
{
	return b + WORD;
}

static char *block_of(void *p)
{
	return (char *)p - WORD;
}

static char *bnext(char *b)
{
	return b + bsize(b);
}

static char *bprev(char *b)
{
	uint64_t psize = *(uint64_t *)(b - WORD) & ~(uint64_t)F_MASK;
	return b - psize;
}

static bool prev_free(char *b)
{
	return !(*(uint64_t *)(b - WORD) & F_ALLOC);
}

/* free-list links live in the payload of a free block */
static char **lnext(char *b)
{
	return (char **)(b + WORD);
}

static char **lprev(char *b)
{
	return (char **)(b + 2 * WORD);
}

/* Block size for a request: payload + header + footer, 16-aligned. */
static uint64_t asize_of(size_t size)
{
	uint64_t a = ((uint64_t)size + 2 * WORD + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	return a < MIN_BLOCK ? MIN_BLOCK : a;
}

/* ---- Free list (address-ordered, doubly linked) -------------------------- */

static void list_insert(struct ff *f, char *b)
{
	char *prev = NULL, *cur = f->free_head;
	while (cur && cur < b) {
		prev = cur;
		cur = *lnext(cur);
	}
	*lnext(b) = cur;
	*lprev(b) = prev;
	if (cur)
		*lprev(cur) = b;
	if (prev)
		*lnext(prev) = b;
	else
		f->free_head = b;
}

static void list_remove(struct ff *f, char *b)
{
	char *n = *lnext(b), *p = *lprev(b);
	if (p)
		*lnext(p) = n;
	else
		f->free_head = n;
	if (n)
		*lprev(n) = p;
}

/* Marks b free, merges it with free neighbours and lists the result. */
static char *block_release(struct ff *f, char *b)
{
	uint64_t size = bsize(b);
	char *next = bnext(b);
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
static void block_place(struct ff *f, char *b, uint64_t asize)
{
	uint64_t size = bsize(b);
	if (size - asize >= MIN_BLOCK && size - asize >= f->min_split) {
		bset(b, asize, F_ALLOC);
		char *rest = bnext(b);
		bset(rest, size - asize, 0);
		list_insert(f, rest);
	} else {
		bset(b, size, F_ALLOC);
	}
	f->in_use += bsize(b);
}

/* Grows the break so that a free block of at least asize ends the heap;
 * returns it (unlisted) or NULL. */
static char *heap_extend(struct ff *f, uint64_t asize)
{
	char *epi = (char *)heap_hi(f->heap) - WORD;
	uint64_t have = 0;
	char *top = NULL;
	if (prev_free(epi)) {
		top = bprev(epi);
		have = bsize(top);
	}
	uint64_t need = asize - have;
	if (asize <= have || need > (uint64_t)INTPTR_MAX || !heap_sbrk(f->heap, (intptr_t)need))
		return NULL;
	char *b = epi; /* the old epilogue becomes the new block's header */
	if (top) {
		list_remove(f, top);
		b = top;
	}
	bset(b, asize, 0);
	*hdr(bnext(b)) = 0 | F_ALLOC; /* new epilogue */
	return b;
}

/* ---- Mapped blocks ------------------------------------------------------- */

static bool is_mapped(void *p)
{
	return ((uint64_t *)p)[-1] & F_MAPPED;
}

static uint64_t mapped_len(void *p)
{
	return ((uint64_t *)p)[-1] & ~(uint64_t)F_MASK;
}

static uint64_t mapped_usable(void *p)
{
	return mapped_len(p) - ((uint64_t *)p)[-2];
}

static void *mapped_alloc(struct ff *f, size_t size, size_t align)
{
	/* a mapping is page-aligned, so the first a-aligned address at least
	 * two words in lies at most a bytes in (a >= 16) */
	uint64_t a = align > ALIGN ? align : ALIGN;
	uint64_t len = a + size;
	if (len < size || align > ((uint64_t)1 << 40))
		return NULL;
	char *m = heap_map(f->heap, (size_t)len);
	if (!m)
		return NULL;
	char *p = (char *)(((uintptr_t)m + 2 * WORD + a - 1) & ~(uintptr_t)(a - 1));
	uint64_t lead = (uint64_t)(p - m);
	((uint64_t *)p)[-2] = lead;
	((uint64_t *)p)[-1] =
		((len + HEAP_PAGE - 1) & ~(uint64_t)(HEAP_PAGE - 1)) | F_MAPPED | F_ALLOC;
	f->in_use += mapped_len(p);
	return p;
}

/* ---- The policy ---------------------------------------------------------- */

/* A block of asize bytes from the break region (never a mapping). */
static void *heap_alloc(struct ff *f, uint64_t asize)
{
	char *b = f->free_head;
	while (b && bsize(b) < asize)
		b = *lnext(b);
	if (b)
		list_remove(f, b);
	else if (!(b = heap_extend(f, asize)))
		return NULL;
	block_place(f, b, asize);
	return payload(b);
}

static void *ff_malloc(void *state, size_t size)
{
	struct ff *f = state;
	if (f->mmap_threshold && size >= f->mmap_threshold)
		return mapped_alloc(f, size, ALIGN);
	if (size > ((uint64_t)1 << 62))
		return NULL;
	return heap_alloc(f, asize_of(size));
}

/* Shrinks allocated block b to asize, freeing the tail if it is worth a
 * block (the tail merges with a free successor). */
static void block_shrink(struct ff *f, char *b, uint64_t asize)
{
	uint64_t cur = bsize(b);
	if (cur - asize < MIN_BLOCK || cur - asize < f->min_split)
		return;
	bset(b, asize, F_ALLOC);
	char *rest = bnext(b);
	bset(rest, cur - asize, F_ALLOC);
	f->in_use -= cur - asize;
	block_release(f, rest);
}

static void *ff_memalign(void *state, size_t align, size_t size)
{
	struct ff *f = state;
	if (align <= ALIGN)
		return ff_malloc(state, size);
	if (f->mmap_threshold && size >= f->mmap_threshold)
		return mapped_alloc(f, size, align);
	/* a block with room for the request, the alignment and a free block
	 * in front (a gap must be a whole block to be given back) */
	if (size > ((uint64_t)1 << 62) || align > ((uint64_t)1 << 40))
		return NULL;
	uint64_t asize = asize_of(size);
	char *p = heap_alloc(f, asize + align + MIN_BLOCK);
	if (!p)
		return NULL;
	char *b = block_of(p);
	if ((uintptr_t)p % align) {
		uintptr_t want = ((uintptr_t)p + MIN_BLOCK + align - 1) & ~(uintptr_t)(align - 1);
		char *nb = block_of((void *)want);
		uint64_t total = bsize(b), gap = (uint64_t)(nb - b);
		bset(b, gap, F_ALLOC);
		bset(nb, total - gap, F_ALLOC);
		f->in_use -= gap;
		block_release(f, b);
		b = nb;
	}
	block_shrink(f, b, asize);
	return payload(b);
}

static int ff_free(void *state, void *p, char *why, size_t len);

static void *ff_realloc(void *state, void *p, size_t size)
{
	struct ff *f = state;
	if (!p)
		return ff_malloc(state, size);
	if (is_mapped(p)) {
		if (size <= mapped_usable(p) &&
		    !(f->mmap_threshold && size < f->mmap_threshold / 2))
			return p;
		void *q = ff_malloc(state, size);
		if (!q)
			return NULL;
		uint64_t keep = mapped_usable(p);
		memcpy(q, p, (size_t)(keep < size ? keep : size));
		ff_free(state, p, NULL, 0);
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
				*hdr(b + room) = 0 | F_ALLOC; /* new epilogue */
			}
			f->in_use -= cur;
			bset(b, room, 0);
			block_place(f, b, asize);
			return p;
		}
	}
move:;
	void *q = ff_malloc(state, size);
	if (!q)
		return NULL;
	uint64_t keep = cur - 2 * WORD;
	memcpy(q, p, (size_t)(keep < size ? keep : size));
	ff_free(state, p, NULL, 0);
	return q;
}

/* Rejects pointers this heap did not hand out, before touching anything. */
static const char *ff_validate(struct ff *f, void *p)
{
	if ((uintptr_t)p % ALIGN)
		return "pointer is not 16-byte aligned: not a block";
	if (heap_contains(f->heap, (char *)p - 2 * WORD, 2 * WORD) &&
	    !(p > (void *)f->first && p < heap_hi(f->heap))) {
		/* inside a mapping of ours */
		uint64_t w = ((uint64_t *)p)[-1], lead = ((uint64_t *)p)[-2];
		if ((w & (F_MAPPED | F_ALLOC)) != (F_MAPPED | F_ALLOC) || lead % ALIGN ||
		    lead < 2 * WORD || !heap_contains(f->heap, (char *)p - lead, mapped_len(p)))
			return "not the start of a mapped block";
		return NULL;
	}
	if (!(p > (void *)f->first && p < heap_hi(f->heap)))
		return "pointer outside the heap";
	char *b = block_of(p);
	uint64_t size = bsize(b);
	if (*hdr(b) & F_MAPPED || size < MIN_BLOCK || size % ALIGN ||
	    b + size > (char *)heap_hi(f->heap) - WORD || *ftr(b) != *hdr(b))
		return "no valid block header at pointer (interior or foreign pointer?)";
	if (!balloc(b))
		return "block is already free (double free?)";
	return NULL;
}

static int ff_free(void *state, void *p, char *why, size_t len)
{
	struct ff *f = state;
	if (!p)
		return 0;
	const char *bad = ff_validate(f, p);
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
	f->in_use -= bsize(b);
	block_release(f, b);
	return 0;
}

static size_t ff_usable_size(void *state, void *p)
{
	(void)state;
	if (is_mapped(p))
		return (size_t)mapped_usable(p);
	return (size_t)(bsize(block_of(p)) - 2 * WORD);
}

/* ---- Invariants ---------------------------------------------------------- */

#define FAIL(...) return snprintf(why, len, __VA_ARGS__), -1

static int ff_check(void *state, char *why, size_t len)
{
	struct ff *f = state;
	char *end = (char *)heap_hi(f->heap) - WORD;
	uint64_t nfree = 0, free_bytes = 0, used_bytes = 0;
	bool last_free = false;
	char *b;
	for (b = f->first; b < end; b = bnext(b)) {
		uint64_t size = bsize(b);
		if (size < MIN_BLOCK || size % ALIGN || b + size > end)
			FAIL("block %p: bad size %llu", (void *)b, (unsigned long long)size);
		if (*ftr(b) != *hdr(b))
			FAIL("block %p: header %#llx and footer %#llx disagree", (void *)b,
			     (unsigned long long)*hdr(b), (unsigned long long)*ftr(b));
		if (*hdr(b) & F_MAPPED)
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
	if (b != end || *hdr(end) != (0 | F_ALLOC))
		FAIL("no epilogue at the break (%p)", (void *)end);
	uint64_t listed = 0;
	char *prev = NULL;
	for (char *c = f->free_head; c; prev = c, c = *lnext(c)) {
		if (c < f->first || c >= end)
			FAIL("free list entry %p outside the heap", (void *)c);
		if (balloc(c))
			FAIL("free list entry %p is allocated", (void *)c);
		if (*lprev(c) != prev)
			FAIL("free list entry %p: prev link %p, expected %p", (void *)c,
			     (void *)*lprev(c), (void *)prev);
		if (prev && c <= prev)
			FAIL("free list not in address order at %p", (void *)c);
		if (++listed > nfree)
			break;
	}
	if (listed != nfree)
		FAIL("%llu free blocks in the heap, %llu in the free list",
		     (unsigned long long)nfree, (unsigned long long)listed);
	struct heap_usage u;
	heap_usage(f->heap, &u);
	uint64_t overhead = (uint64_t)(f->first - (char *)heap_lo(f->heap)) + WORD;
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

static int ff_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	uint64_t threshold = DEFAULT_MMAP_THRESHOLD, min_split = MIN_BLOCK;
	if (backend_opt_bytes(opts, "mmap_threshold", &threshold, err, errlen) < 0 ||
	    backend_opt_bytes(opts, "min_split", &min_split, err, errlen) < 0)
		return -1;
	/* the state lives at the bottom of the heap: no malloc anywhere */
	char *base = heap_sbrk(heap, 0);
	uint64_t start = (sizeof(struct ff) + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	if (!heap_sbrk(heap, (intptr_t)(start + 4 * WORD)))
		return snprintf(err, errlen, "heap limit too small"), -1;
	struct ff *f = (struct ff *)base;
	*f = (struct ff){.heap = heap, .mmap_threshold = threshold, .min_split = min_split};
	char *pro = base + start + WORD; /* pad word, then the prologue */
	bset(pro, 2 * WORD, F_ALLOC);
	f->first = pro + 2 * WORD;
	*hdr(f->first) = 0 | F_ALLOC; /* epilogue */
	*state = f;
	return 0;
}

static void ff_fini(void *state)
{
	(void)state; /* everything lives in the heap, which the caller destroys */
}

static void ff_stats(void *state, struct alloc_stats *out)
{
	struct ff *f = state;
	struct heap_usage u;
	heap_usage(f->heap, &u);
	out->footprint = u.footprint;
	out->in_use = f->in_use;
	out->source = "simulated-heap";
}

const struct allocator first_fit_allocator = {
	.name = "first-fit",
	.description = "first fit, address-ordered free list, boundary tags, immediate coalescing",
	.options = ff_options,
	.flags = ALLOC_F_SIMULATED,
	.init = ff_init,
	.fini = ff_fini,
	.malloc = ff_malloc,
	.memalign = ff_memalign,
	.realloc = ff_realloc,
	.free = ff_free,
	.usable_size = ff_usable_size,
	.check = ff_check,
	.stats = ff_stats,
};
