/*
 * null.c - a bump pointer whose free does nothing: the cost of the replay
 * loop itself.
 *
 * Its timed pass measures the harness: one op read, one indirect call that
 * adds to a pointer, one store into the id table.  Its ns_per_op is the
 * floor under every other backend's figure (README, "Overhead").
 *
 * It writes nothing into the blocks it hands out (a header would be a
 * store into a new cache line per op, and measure the memory system rather
 * than the loop).  So realloc, not knowing the old size, copies the new
 * size's bytes, clipped at the bump pointer: the old block and whatever
 * followed it, all mapped, of which the caller keeps min(old, new).  calloc
 * must zero (the heap's pages are reused between passes).  Memory comes
 * from the simulated heap in 1 MiB steps and is never reused: the footprint
 * is the sum of all requests, and utilization means nothing here.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "allocator.h"
#include "heap.h"

#define NULL_ALIGN 16u
#define NULL_STEP  (1u << 20)

struct bump {
	struct heap *heap;
	char *next, *end; /* the unused rest of the break region */
	uint64_t in_use;
};

static int null_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		     size_t errlen)
{
	(void)opts;
	struct bump *b = heap_sbrk(heap, NULL_STEP);
	if (!b)
		return snprintf(err, errlen, "heap limit too small"), -1;
	*b = (struct bump){
		.heap = heap, .next = (char *)b + sizeof *b, .end = (char *)b + NULL_STEP};
	b->next += (NULL_ALIGN - (uintptr_t)b->next % NULL_ALIGN) % NULL_ALIGN;
	*state = b;
	return 0;
}

static void null_fini(void *state)
{
	(void)state;
}

/* n bytes at an address that is align-aligned */
static void *bump(struct bump *b, size_t n, size_t align)
{
	if (n > (UINT64_C(1) << 40))
		return NULL;
	uint64_t need = (n + NULL_ALIGN - 1) & ~(uint64_t)(NULL_ALIGN - 1);
	char *p = b->next + (align - (uintptr_t)b->next % align) % align;
	if (p + need > b->end) {
		uint64_t grow = (uint64_t)(p + need - b->end);
		grow = (grow + NULL_STEP - 1) / NULL_STEP * NULL_STEP;
		if (!heap_sbrk(b->heap, (intptr_t)grow))
			return NULL;
		b->end += grow;
	}
	b->next = p + need;
	b->in_use += n;
	return p;
}

static void *null_malloc(void *state, size_t size)
{
	return bump(state, size, NULL_ALIGN);
}

static void *null_calloc(void *state, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	void *p = bump(state, nmemb * size, NULL_ALIGN);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

static void *null_memalign(void *state, size_t align, size_t size)
{
	return bump(state, size, align > NULL_ALIGN ? align : NULL_ALIGN);
}

static void *null_realloc(void *state, void *p, size_t size)
{
	struct bump *b = state;
	char *old = b->next;
	char *q = bump(b, size, NULL_ALIGN);
	if (q && p) {
		/* everything from p up to the old bump pointer is mapped */
		size_t avail = (size_t)(old - (char *)p);
		memmove(q, p, avail < size ? avail : size);
	}
	return q;
}

static int null_free(void *state, void *p, char *why, size_t len)
{
	(void)state;
	(void)p;
	(void)why;
	(void)len;
	return 0;
}

static void null_stats(void *state, struct alloc_stats *out)
{
	struct bump *b = state;
	alloc_stats_simulated(b->heap, b->in_use, out);
}

const struct allocator null_allocator = {
	.name = "null",
	.description = "bump pointer, free does nothing: the cost of the replay loop itself",
	.flags = ALLOC_F_SIMULATED,
	.init = null_init,
	.fini = null_fini,
	.malloc = null_malloc,
	.calloc = null_calloc,
	.memalign = null_memalign,
	.realloc = null_realloc,
	.free = null_free,
	.stats = null_stats,
};
