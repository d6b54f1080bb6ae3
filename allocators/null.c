/*
 * null.c - a bump pointer whose free does nothing: the cost of the replay
 * loop itself.
 *
 * Its timed pass measures the harness: one op read, one indirect call that
 * adds to a pointer, one store into the id table.  Its ns_per_op is the
 * floor under every other backend's figure (README, "Overhead").
 *
 * Each block is a 16-byte header holding the request size (for realloc's
 * copy and usable_size), then the payload, rounded up to 16 bytes.  Memory
 * comes from the simulated heap in 1 MiB steps and is never reused, so the
 * footprint is the sum of all requests: utilization means nothing here.
 */
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
	*b = (struct bump){.heap = heap, .next = (char *)b + sizeof *b, .end = (char *)b + NULL_STEP};
	b->next += (NULL_ALIGN - (uintptr_t)b->next % NULL_ALIGN) % NULL_ALIGN;
	*state = b;
	return 0;
}

static void null_fini(void *state)
{
	(void)state;
}

/* n bytes at an address that is align-aligned, 16 bytes after a header */
static void *bump(struct bump *b, size_t n, size_t align)
{
	if (n > (UINT64_C(1) << 40))
		return NULL;
	uint64_t need = (n + NULL_ALIGN - 1) & ~(uint64_t)(NULL_ALIGN - 1);
	char *p = b->next + NULL_ALIGN;
	p += (align - (uintptr_t)p % align) % align;
	if (p + need > b->end) {
		uint64_t grow = (uint64_t)(p + need - b->end);
		grow = (grow + NULL_STEP - 1) / NULL_STEP * NULL_STEP;
		if (!heap_sbrk(b->heap, (intptr_t)grow))
			return NULL;
		b->end += grow;
	}
	((uint64_t *)p)[-1] = n;
	b->next = p + need;
	b->in_use += n;
	return p;
}

static void *null_malloc(void *state, size_t size)
{
	return bump(state, size, NULL_ALIGN);
}

static void *null_memalign(void *state, size_t align, size_t size)
{
	return bump(state, size, align > NULL_ALIGN ? align : NULL_ALIGN);
}

static void *null_realloc(void *state, void *p, size_t size)
{
	void *q = bump(state, size, NULL_ALIGN);
	if (q && p) {
		uint64_t old = ((uint64_t *)p)[-1];
		memcpy(q, p, old < size ? old : size);
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

static size_t null_usable_size(void *state, void *p)
{
	(void)state;
	return ((uint64_t *)p)[-1];
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
	.memalign = null_memalign,
	.realloc = null_realloc,
	.free = null_free,
	.usable_size = null_usable_size,
	.stats = null_stats,
};
