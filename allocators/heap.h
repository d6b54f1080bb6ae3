/*
 * heap.h - the simulated heap that built-in backends draw from.
 *
 * Like the malloc lab's memlib, but exact and bounded:
 *   - heap_sbrk grows (or shrinks) a break inside one reserved virtual
 *     region (MAP_NORESERVE: untouched pages cost nothing);
 *   - heap_map / heap_unmap serve large blocks as separate mappings, and
 *     heap_remap resizes one as mremap does (moving its pages, not their
 *     bytes: glibc's realloc of a mapped chunk);
 *   - the footprint (break size + mapped bytes, each mapping rounded up to
 *     HEAP_PAGE) is known exactly at every moment, with its peak, so the
 *     same trace and backend give the same utilization on every machine;
 *   - an optional limit turns exhaustion into a NULL return, never a crash.
 * Costs: sbrk O(1); map/unmap/remap O(log m) in the number of live mappings.
 */
#ifndef HB_HEAP_H
#define HB_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Accounting granularity of mappings: fixed, so footprints do not depend on
 * the machine's page size. */
#define HEAP_PAGE 4096u
/* Address space reserved for the break (not memory: nothing is committed);
 * heap_create falls back to smaller reservations, down to 1 GiB, where the
 * system refuses this one. */
#if SIZE_MAX > 0xffffffffu
#define HEAP_RESERVE ((size_t)1 << 38)
#else /* a 32-bit worker (mm:PATH:bits=32) */
#define HEAP_RESERVE ((size_t)1 << 30)
#endif

struct heap;

/* A new heap with a footprint limit in bytes (0 = none).  NULL if the
 * address space cannot be reserved. */
struct heap *heap_create(uint64_t limit);
void heap_destroy(struct heap *h);
/* Empties the heap for a fresh backend state: every mapping is unmapped and
 * the break goes back to the start, but the pages of the break region stay
 * resident, so that a timed pass does not time the kernel's page faults.
 * The peak starts again from zero. */
void heap_reset(struct heap *h);

/* Moves the break by incr bytes and returns the old break, or NULL if the
 * break would leave the reservation, go below the start or pass the limit. */
void *heap_sbrk(struct heap *h, intptr_t incr);
/* The first byte of the break region, and the current break. */
void *heap_lo(const struct heap *h);
void *heap_hi(const struct heap *h);

/* A fresh zeroed mapping of at least size bytes, or NULL (limit, or the
 * system refused).  heap_unmap must get the same size; it returns -1 and
 * changes nothing if [p, p+size) is not a live mapping of this heap. */
void *heap_map(struct heap *h, size_t size);
int heap_unmap(struct heap *h, void *p, size_t size);
/* heap_map past the limit: for the metadata an operation that cannot fail
 * needs (a free-block index growing during a free).  The footprint counts
 * it as any mapping, so it may then exceed the limit, and what asks for
 * memory next within the limit is refused. */
void *heap_map_over(struct heap *h, size_t size);
/* The live mapping p of old_size bytes resized to new_size, perhaps moved
 * (its contents go with it, page by page, without a copy): the new start,
 * or NULL with p unchanged (the limit, or the system refused).  The
 * footprint goes from old to new at once: never both. */
void *heap_remap(struct heap *h, void *p, size_t old_size, size_t new_size);

/* Whether [p, p+n) lies inside the break region or one live mapping. */
bool heap_contains(const struct heap *h, const void *p, size_t n);

struct heap_usage {
	uint64_t brk_bytes;    /* current break - start */
	uint64_t mapped_bytes; /* live mappings, page-rounded */
	uint64_t footprint;    /* brk_bytes + mapped_bytes */
	uint64_t peak_footprint;
	uint64_t mappings; /* live mappings */
	uint64_t limit;    /* 0 = none */
};
void heap_usage(const struct heap *h, struct heap_usage *u);

#endif
