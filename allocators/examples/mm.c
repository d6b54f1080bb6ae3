/*
 * mm.c - an example user allocator for heapbench: the classic malloc-lab
 * design (an implicit free list with boundary tags, first fit, splitting,
 * immediate coalescing), written against heapbench's backend contract
 * (allocators/allocator.h) and loaded at run time as a shared object.
 *
 * Build it with this one command, from the repository root:
 *
 *   cc -std=c11 -O2 -fPIC -shared -I allocators -o build/mm.so allocators/examples/mm.c
 *
 * and replay a trace with it:
 *
 *   build/heapbench replay -a library:build/mm.so traces/synthetic/ramp.trace
 *
 * The library exports one symbol, `heapbench_allocator`; everything else is
 * static.  It takes every byte from the simulated heap it is given, through
 * heap_sbrk (which the heapbench binary exports), keeps its own state at the
 * bottom of that heap and never calls malloc, so heapbench measures its
 * footprint exactly.  It keeps no static mutable state: init may run many
 * times in one process, once per fresh heap.
 *
 * Heap layout (each tag, and the pad, is an 8-byte word; x|a is a tag):
 *
 *   | struct mm | pad | 16|1 | 16|1 | block | block | ... | 0|1 |
 *                     \ prologue /  ^ first               ^ epilogue: heap_hi - 8
 *
 * (struct mm is rounded up to 16 bytes and starts 16-byte aligned.)
 *
 * Block layout: a size is a multiple of 16 and counts both tags; a is 1
 * when the block is allocated.  Every header sits at 8 mod 16, so every
 * payload is 16-byte aligned.
 *
 *   | header: size|a | payload ...                         | footer: size|a |
 *   ^ block          ^ block + 8: what malloc returns       ^ block + size - 8
 *
 * The footer lets free find the previous block in O(1) to coalesce with it.
 * The prologue and epilogue are allocated blocks that are never freed, so no
 * real block is first or last and coalescing needs no edge cases.
 *
 * Invariants (check walks them all): the blocks tile the heap from the
 * prologue to the epilogue; every block is at least MM_MIN_BLOCK bytes; no
 * two free blocks are adjacent (free coalesces at once); in_use is the sum
 * of the allocated blocks' sizes.
 *
 * Costs: malloc walks every block, free and allocated, from the bottom of the
 * heap until one fits: O(blocks) per call.  That is fine for an example and
 * for small traces, but slow on traces with many thousands of live blocks
 * (the built-in backends index their free blocks to avoid exactly this).
 * free is O(1).  The heap grows by exactly what a request lacks and never
 * shrinks.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "allocator.h"
#include "heap.h"

#define MM_WORD      8u  /* one boundary tag */
#define MM_ALIGN     16u /* of every payload, and the unit of block sizes */
#define MM_MIN_BLOCK 32u /* two tags and 16 bytes of payload */
#define MM_ALLOC     1u  /* the a bit of a tag */
/* No heap is this big; capping requests (and alignments) here keeps every
 * size and address sum far from overflowing 64 bits. */
#define MM_MAX_SIZE ((uint64_t)1 << 60)

/* The allocator's state: the first bytes of the heap. */
struct mm {
	struct heap *heap;
	char *first;     /* header of the first block (the epilogue while there is none) */
	uint64_t in_use; /* sum of the allocated blocks' sizes, tags included */
};

/* struct mm rounded up, so that what follows it keeps the alignment */
#define MM_STATE_BYTES ((sizeof(struct mm) + MM_ALIGN - 1) & ~(size_t)(MM_ALIGN - 1))

#if defined(__GNUC__)
#define MM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MM_PRINTF(f, a)
#endif

/* Puts a message in why and returns -1: how init, free and check fail. */
static int fail(char *why, size_t len, const char *fmt, ...) MM_PRINTF(3, 4);

static int fail(char *why, size_t len, const char *fmt, ...)
{
	/* why may be NULL in timed passes, where nobody reads the message */
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- Tags and blocks ---------------------------------------------------- */

/* Tags are read and written with memcpy: the heap is untyped memory that the
 * program also fills with its own data, and memcpy is free of aliasing
 * trouble (it compiles to one load or store). */
static uint64_t tag_get(const char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

static void tag_put(char *p, uint64_t w)
{
	memcpy(p, &w, sizeof(w));
}

static uint64_t tag_size(uint64_t w)
{
	return w & ~(uint64_t)(MM_ALIGN - 1);
}

static bool tag_alloc(uint64_t w)
{
	return w & MM_ALLOC;
}

static uint64_t block_size(const char *b)
{
	return tag_size(tag_get(b));
}

static bool block_alloc(const char *b)
{
	return tag_alloc(tag_get(b));
}

/* The block before b, found through its footer: the word just below b. */
static char *block_prev(char *b)
{
	return b - tag_size(tag_get(b - MM_WORD));
}

/* Writes both tags of the block at b. */
static void block_set(char *b, uint64_t size, bool alloc)
{
	uint64_t w = size | (alloc ? MM_ALLOC : 0);
	tag_put(b, w);
	tag_put(b + size - MM_WORD, w);
}

/* The epilogue's header: the last word of the heap. */
static char *epilogue_of(const struct mm *m)
{
	return (char *)heap_hi(m->heap) - MM_WORD;
}

/* The block size a request of size bytes needs, or 0 if it is too big. */
static uint64_t block_size_for(size_t size)
{
	if ((uint64_t)size > MM_MAX_SIZE)
		return 0;
	uint64_t asize = ((uint64_t)size + 2 * MM_WORD + MM_ALIGN - 1) & ~(uint64_t)(MM_ALIGN - 1);
	return asize < MM_MIN_BLOCK ? MM_MIN_BLOCK : asize;
}

/*
 * Bytes to skip at the start of a block at b so that its payload is aligned
 * to align (a power of two, at least MM_ALIGN): 0, or enough for a leading
 * free block of at least MM_MIN_BLOCK bytes.  Always 0 for MM_ALIGN.
 */
static uint64_t block_gap(const char *b, size_t align)
{
	uintptr_t p = (uintptr_t)b + MM_WORD;
	uint64_t gap = (uint64_t)(((p + align - 1) & ~(uintptr_t)(align - 1)) - p);
	/* gap is a multiple of 16; a 16-byte gap cannot stand alone as a
	 * block, so use the next aligned address (align >= 32 here) */
	if (gap != 0 && gap < MM_MIN_BLOCK)
		gap += align;
	return gap;
}

/*
 * Marks [b, b + size) free and merges it with whichever neighbours are free;
 * returns the merged block.  The header at b is written free first even when
 * b merges into its predecessor, so that a later free of the same pointer
 * finds a clear a bit and is reported as a double free.
 */
static char *block_release(char *b, uint64_t size)
{
	block_set(b, size, false);
	char *next = b + size;
	if (!block_alloc(next)) { /* the epilogue is allocated: never past it */
		size += block_size(next);
		block_set(b, size, false);
	}
	if (!tag_alloc(tag_get(b - MM_WORD))) { /* nor is the prologue */
		char *prev = block_prev(b);
		size += block_size(prev);
		b = prev;
		block_set(b, size, false);
	}
	return b;
}

/* Shrinks the allocated block b to asize bytes when the rest is big enough
 * to be a block of its own, and frees the rest; otherwise b keeps it. */
static void block_trim(struct mm *m, char *b, uint64_t asize)
{
	uint64_t size = block_size(b);
	if (size - asize < MM_MIN_BLOCK)
		return;
	block_set(b, asize, true);
	m->in_use -= size - asize;
	block_release(b + asize, size - asize);
}

/*
 * Allocates asize bytes at gap bytes into the free block b (gap + asize <=
 * its size); the gap, if any, stays a free block.  Neither the gap nor the
 * tail can touch another free block: b's neighbours are allocated, since no
 * two free blocks are adjacent.
 */
static char *block_place(struct mm *m, char *b, uint64_t gap, uint64_t asize)
{
	uint64_t size = block_size(b);
	if (gap) {
		block_set(b, gap, false);
		b += gap;
		size -= gap;
	}
	block_set(b, size, true);
	m->in_use += size;
	block_trim(m, b, asize);
	return b;
}

/* ---- The heap ----------------------------------------------------------- */

/*
 * Grows the heap by size bytes (a multiple of 16) as a free block at the
 * top, merged with the last block if that one is free; returns the merged
 * block, or NULL with nothing changed when the heap is full.
 */
static char *break_grow(struct mm *m, uint64_t size)
{
	char *old = heap_sbrk(m->heap, (intptr_t)size);
	if (!old)
		return NULL;
	/* the old epilogue becomes the new block's header */
	char *b = old - MM_WORD;
	tag_put(b + size, MM_ALLOC);
	return block_release(b, size);
}

/* First fit: the lowest free block that holds asize bytes at an aligned
 * payload, and that payload's gap from the block's start in *gap. */
static char *fit_find(struct mm *m, uint64_t asize, size_t align, uint64_t *gap)
{
	for (char *b = m->first;; b += block_size(b)) {
		uint64_t w = tag_get(b);
		if (tag_size(w) == 0) /* the epilogue */
			return NULL;
		if (tag_alloc(w))
			continue;
		uint64_t g = block_gap(b, align);
		if (g + asize <= tag_size(w)) {
			*gap = g;
			return b;
		}
	}
}

/*
 * Nothing fits: grows the heap by what is missing.  If the last block is
 * free, it is extended rather than left behind, so the heap grows by exactly
 * what the request lacks.  The aligned payload is placed as it would be in
 * the final block, whose start is known before growing.
 */
static char *fit_by_growing(struct mm *m, uint64_t asize, size_t align, uint64_t *gap)
{
	char *top = epilogue_of(m);
	char *start = top;
	char *last = block_prev(top); /* the prologue when the heap is empty */
	if (!block_alloc(last))
		start = last;
	uint64_t g = block_gap(start, align);
	/* > 0: fit_find has just seen that start does not fit */
	char *b = break_grow(m, g + asize - (uint64_t)(top - start));
	if (!b)
		return NULL;
	*gap = g;
	return b;
}

static void *request_alloc(struct mm *m, size_t size, size_t align)
{
	uint64_t asize = block_size_for(size);
	if (!asize || align > MM_MAX_SIZE)
		return NULL;
	uint64_t gap = 0;
	char *b = fit_find(m, asize, align, &gap);
	if (!b)
		b = fit_by_growing(m, asize, align, &gap);
	if (!b)
		return NULL;
	return block_place(m, b, gap, asize) + MM_WORD;
}

/*
 * Whether ptr is a payload this allocator handed out and still owns: in the
 * heap, aligned, with an allocated header, a footer that agrees and
 * neighbours whose tags agree too.  Reads only, so a rejected free changes
 * nothing.  It checks tags rather than walking the heap (which would make
 * free O(blocks)): a stale pointer into a block whose payload happens to
 * hold a matching header, footer and neighbours would pass.
 */
static int block_valid(const struct mm *m, const void *ptr, char *why, size_t len)
{
	uintptr_t p = (uintptr_t)ptr;
	const char *top = epilogue_of(m);
	if (p < (uintptr_t)m->first + MM_WORD || p >= (uintptr_t)top)
		return fail(why, len, "%p does not point into this allocator's blocks", ptr);
	if (p % MM_ALIGN)
		return fail(why, len, "%p is misaligned: payloads are %u-byte aligned", ptr,
			    MM_ALIGN);
	const char *b = (const char *)ptr - MM_WORD;
	uint64_t w = tag_get(b);
	uint64_t size = tag_size(w);
	if (!tag_alloc(w))
		return fail(why, len,
			    "%p is not an allocated block: freed already, or not a block start",
			    ptr);
	if (size < MM_MIN_BLOCK || size > (uint64_t)(top - b))
		return fail(why, len, "%p has a header with an impossible size %llu: not a block",
			    ptr, (unsigned long long)size);
	if (tag_get(b + size - MM_WORD) != w)
		return fail(why, len,
			    "%p: header %#llx and footer %#llx disagree: not a block, or overrun",
			    ptr, (unsigned long long)w,
			    (unsigned long long)tag_get(b + size - MM_WORD));

	/* the previous block (the prologue at the bottom) ends just below b */
	uint64_t pw = tag_get(b - MM_WORD);
	uint64_t psize = tag_size(pw);
	const char *prologue = m->first - 2 * MM_WORD;
	if (psize < 2 * MM_WORD || psize > (uint64_t)(b - prologue) || tag_get(b - psize) != pw)
		return fail(why, len, "%p: the tags of the block before it disagree: not a block",
			    ptr);
	/* the next block (the epilogue at the top) starts just after it */
	const char *next = b + size;
	uint64_t nw = tag_get(next);
	uint64_t nsize = tag_size(nw);
	if (next == top ? nw != MM_ALLOC
			: nsize < MM_MIN_BLOCK || nsize > (uint64_t)(top - next) ||
				  tag_get(next + nsize - MM_WORD) != nw)
		return fail(why, len, "%p: the tags of the block after it disagree: not a block",
			    ptr);
	return 0;
}

/* ---- The backend -------------------------------------------------------- */

static int mm_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	(void)opts; /* it declares none, so the harness passes none */
	/* normally the start of a fresh heap; align it for the layout */
	char *lo = heap_sbrk(heap, 0);
	if (!lo)
		return fail(err, errlen, "cannot read the heap's break");
	size_t pad = (MM_ALIGN - (uintptr_t)lo % MM_ALIGN) % MM_ALIGN;
	/* state, pad word, prologue (2 words), epilogue */
	size_t total = pad + MM_STATE_BYTES + 4 * MM_WORD;
	if (!heap_sbrk(heap, (intptr_t)total))
		return fail(err, errlen, "the heap cannot hold the allocator's %zu bytes of state",
			    total);

	struct mm *m = (struct mm *)(void *)(lo + pad);
	char *prologue = (char *)m + MM_STATE_BYTES + MM_WORD;
	tag_put(prologue - MM_WORD, 0);
	block_set(prologue, 2 * MM_WORD, true);
	m->heap = heap;
	m->first = prologue + 2 * MM_WORD;
	m->in_use = 0;
	tag_put(m->first, MM_ALLOC);
	*state = m;
	return 0;
}

static void mm_fini(void *state)
{
	/* everything, state included, lives in the heap the caller destroys */
	(void)state;
}

/* malloc(0) returns a minimum block, like glibc: a unique pointer to free. */
static void *mm_malloc(void *state, size_t size)
{
	return request_alloc(state, size, MM_ALIGN);
}

static void *mm_calloc(void *state, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	/* a reused block holds old data: clear it */
	void *p = request_alloc(state, nmemb * size, MM_ALIGN);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

static void *mm_memalign(void *state, size_t align, size_t size)
{
	if (align == 0 || (align & (align - 1)))
		return NULL;
	return request_alloc(state, size, align < MM_ALIGN ? MM_ALIGN : align);
}

static int mm_free(void *state, void *ptr, char *why, size_t len)
{
	struct mm *m = state;
	if (!ptr)
		return 0;
	if (block_valid(m, ptr, why, len) < 0)
		return -1;
	char *b = (char *)ptr - MM_WORD;
	m->in_use -= block_size(b);
	block_release(b, block_size(b));
	return 0;
}

/*
 * In place when possible: shrinking splits off the tail; growing takes a
 * free successor, and extends the heap when the block (or its free
 * successor) is the last one.  Otherwise malloc, copy, free.  A pointer that
 * free would reject gets NULL and changes nothing; realloc(p, 0), which the
 * harness never calls, shrinks p to a minimum block.
 */
static void *mm_realloc(void *state, void *ptr, size_t size)
{
	struct mm *m = state;
	if (!ptr)
		return request_alloc(m, size, MM_ALIGN);
	uint64_t asize = block_size_for(size);
	if (!asize || block_valid(m, ptr, NULL, 0) < 0)
		return NULL;
	char *b = (char *)ptr - MM_WORD;
	uint64_t cur = block_size(b);

	if (asize > cur) {
		char *top = epilogue_of(m);
		char *next = b + cur;
		uint64_t avail = cur;
		if (!block_alloc(next))
			avail += block_size(next);
		/* at the top: grow the heap by what is missing; break_grow merges
		 * the new space with the free successor, if any */
		bool last = next == top || (!block_alloc(next) && next + block_size(next) == top);
		if (avail < asize && last && break_grow(m, asize - avail))
			avail = asize;
		if (avail >= asize) {
			/* the successor is one free block of avail - cur bytes */
			block_set(b, avail, true);
			m->in_use += avail - cur;
			cur = avail;
		}
	}
	if (asize <= cur) {
		block_trim(m, b, asize);
		return ptr;
	}

	void *q = request_alloc(m, size, MM_ALIGN);
	/* on failure ptr stays as it was, as C requires */
	if (!q)
		return NULL;
	/* the old payload, smaller than size since the block was too small */
	memcpy(q, ptr, cur - 2 * MM_WORD);
	m->in_use -= cur;
	block_release(b, cur);
	return q;
}

static size_t mm_usable_size(void *state, void *ptr)
{
	(void)state;
	return (size_t)(block_size((char *)ptr - MM_WORD) - 2 * MM_WORD);
}

static int mm_check(void *state, char *why, size_t len)
{
	const struct mm *m = state;
	const char *lo = heap_lo(m->heap);
	const char *top = epilogue_of(m);
	const char *prologue = m->first - 2 * MM_WORD;

	if ((uintptr_t)m < (uintptr_t)lo ||
	    m->first != (const char *)m + MM_STATE_BYTES + 3 * MM_WORD)
		return fail(why, len, "state: first block at %p, expected %p", (void *)m->first,
			    (void *)((const char *)m + MM_STATE_BYTES + 3 * MM_WORD));
	if ((uintptr_t)top < (uintptr_t)m->first)
		return fail(why, len, "the heap's break is below the first block");
	if (tag_get(prologue) != (2 * MM_WORD | MM_ALLOC) ||
	    tag_get(prologue + MM_WORD) != (2 * MM_WORD | MM_ALLOC))
		return fail(why, len, "prologue at %p overwritten: %#llx %#llx", (void *)prologue,
			    (unsigned long long)tag_get(prologue),
			    (unsigned long long)tag_get(prologue + MM_WORD));

	uint64_t total = 0, used = 0, n = 0;
	bool prev_free = false;
	const char *b = m->first;
	for (; b < top; n++) {
		uint64_t w = tag_get(b);
		uint64_t size = tag_size(w);
		if ((uintptr_t)(b + MM_WORD) % MM_ALIGN)
			return fail(why, len, "block %llu at %p: payload not %u-byte aligned",
				    (unsigned long long)n, (void *)b, MM_ALIGN);
		if (w & (MM_ALIGN - 1) & ~(uint64_t)MM_ALLOC)
			return fail(why, len, "block %llu at %p: unknown flag bits in %#llx",
				    (unsigned long long)n, (void *)b, (unsigned long long)w);
		if (size < MM_MIN_BLOCK || size > (uint64_t)(top - b))
			return fail(why, len,
				    "block %llu at %p: size %llu is below %u or runs past the top",
				    (unsigned long long)n, (void *)b, (unsigned long long)size,
				    MM_MIN_BLOCK);
		if (tag_get(b + size - MM_WORD) != w)
			return fail(why, len, "block %llu at %p: header %#llx, footer %#llx",
				    (unsigned long long)n, (void *)b, (unsigned long long)w,
				    (unsigned long long)tag_get(b + size - MM_WORD));
		if (!tag_alloc(w) && prev_free)
			return fail(why, len,
				    "block %llu at %p: free, and so is the block before it "
				    "(missed coalescing)",
				    (unsigned long long)n, (void *)b);
		prev_free = !tag_alloc(w);
		total += size;
		if (tag_alloc(w))
			used += size;
		b += size;
	}
	if (tag_get(top) != MM_ALLOC)
		return fail(why, len, "epilogue at %p overwritten: %#llx", (void *)top,
			    (unsigned long long)tag_get(top));
	/* the blocks plus the fixed overhead below and above them are the heap */
	uint64_t heap_bytes = (uint64_t)((const char *)heap_hi(m->heap) - lo);
	uint64_t overhead = (uint64_t)(m->first - lo) + MM_WORD;
	if (total + overhead != heap_bytes)
		return fail(
			why, len,
			"%llu blocks cover %llu bytes, plus %llu of overhead; the heap has %llu",
			(unsigned long long)n, (unsigned long long)total,
			(unsigned long long)overhead, (unsigned long long)heap_bytes);
	if (used != m->in_use)
		return fail(why, len, "allocated blocks hold %llu bytes, but in_use says %llu",
			    (unsigned long long)used, (unsigned long long)m->in_use);
	return 0;
}

static void mm_stats(void *state, struct alloc_stats *out)
{
	const struct mm *m = state;
	alloc_stats_simulated(m->heap, m->in_use, out);
}

/* ---- The one exported symbol -------------------------------------------- */

extern const struct allocator heapbench_allocator;

const struct allocator heapbench_allocator = {
	.name = "mm-implicit",
	.description = "example user allocator: implicit free list, boundary tags, first fit",
	.options = NULL,
	.flags = ALLOC_F_SIMULATED,
	.init = mm_init,
	.fini = mm_fini,
	.malloc = mm_malloc,
	.calloc = mm_calloc,
	.memalign = mm_memalign,
	.realloc = mm_realloc,
	.free = mm_free,
	.usable_size = mm_usable_size,
	.check = mm_check,
	.stats = mm_stats,
};
