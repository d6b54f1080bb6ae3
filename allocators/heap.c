/*
 * heap.c - the simulated heap (see heap.h).
 *
 * The break region is reserved once with MAP_NORESERVE; shrinking the break
 * gives pages back (MADV_DONTNEED) so that the process's resident memory
 * follows the simulated footprint.  Live mappings are kept in an addrmap
 * (start -> size) so that heap_unmap and heap_contains can reject pointers
 * the heap never handed out.
 */
#include "heap.h"

#include <stdlib.h>

#include "host/addrmap.h"
#include "host/hb_assert.h"
#include "host/os.h"

struct heap {
	char *lo, *brk;
	size_t reserve; /* bytes reserved at lo */
	uint64_t limit;
	uint64_t mapped, peak;
	struct addrmap maps;
};

static uint64_t footprint_of(const struct heap *h)
{
	return (uint64_t)(h->brk - h->lo) + h->mapped;
}

static void peak_note(struct heap *h)
{
	uint64_t f = footprint_of(h);
	if (f > h->peak)
		h->peak = f;
}

struct heap *heap_create(uint64_t limit)
{
	/* the heap's own record comes from mmap too: nothing here uses malloc */
	struct heap *h = os_map(sizeof *h);
	if (!h)
		return NULL;
	/* as much address space as the system lets us reserve (overcommit
	 * settings and ulimit -v may refuse the largest) */
	for (h->reserve = HEAP_RESERVE; h->reserve >= ((size_t)1 << 30); h->reserve /= 4)
		if ((h->lo = h->brk = os_reserve(h->reserve)))
			break;
	if (!h->lo) {
		os_unmap(h, sizeof *h);
		return NULL;
	}
	h->limit = limit;
	addrmap_init(&h->maps);
	return h;
}

static void mappings_unmap(struct heap *h)
{
	/* walk the mappings through floor queries: no iteration API needed */
	uintptr_t k;
	uint64_t size;
	while (addrmap_floor(&h->maps, UINTPTR_MAX, &k, &size)) {
		addrmap_remove(&h->maps, k, NULL);
		os_unmap((void *)k, (size_t)size);
	}
	h->mapped = 0;
}

void heap_reset(struct heap *h)
{
	mappings_unmap(h);
	h->brk = h->lo;
	h->peak = 0;
}

void heap_destroy(struct heap *h)
{
	if (!h)
		return;
	mappings_unmap(h);
	addrmap_destroy(&h->maps);
	os_unmap(h->lo, h->reserve);
	os_unmap(h, sizeof *h);
}

void *heap_sbrk(struct heap *h, intptr_t incr)
{
	char *old = h->brk;
	if (incr < 0) {
		if ((uintptr_t)(-incr) > (uintptr_t)(h->brk - h->lo))
			return NULL;
		/* return whole pages beyond the new break to the system */
		uintptr_t keep =
			((uintptr_t)(old + incr) + os_page_size() - 1) & ~(os_page_size() - 1);
		if (keep < (uintptr_t)old)
			os_discard((void *)keep, (size_t)((uintptr_t)old - keep));
	} else {
		if ((uintptr_t)incr > h->reserve - (uintptr_t)(h->brk - h->lo))
			return NULL;
		if (h->limit && footprint_of(h) + (uint64_t)incr > h->limit)
			return NULL;
	}
	h->brk += incr;
	HB_ASSERT(h->brk >= h->lo && (size_t)(h->brk - h->lo) <= h->reserve);
	peak_note(h);
	return old;
}

void *heap_lo(const struct heap *h)
{
	return h->lo;
}

void *heap_hi(const struct heap *h)
{
	return h->brk;
}

static uint64_t page_round(size_t size)
{
	return ((uint64_t)size + HEAP_PAGE - 1) & ~(uint64_t)(HEAP_PAGE - 1);
}

static void *map_counted(struct heap *h, size_t size, bool within_limit)
{
	uint64_t rounded = page_round(size);
	if (size == 0 || rounded < size)
		return NULL;
	if (within_limit && h->limit && footprint_of(h) + rounded > h->limit)
		return NULL;
	void *p = os_map((size_t)rounded);
	if (!p)
		return NULL;
	if (addrmap_insert(&h->maps, (uintptr_t)p, rounded) < 0) {
		os_unmap(p, (size_t)rounded);
		return NULL;
	}
	h->mapped += rounded;
	peak_note(h);
	return p;
}

void *heap_map(struct heap *h, size_t size)
{
	return map_counted(h, size, true);
}

void *heap_map_over(struct heap *h, size_t size)
{
	return map_counted(h, size, false);
}

int heap_unmap(struct heap *h, void *p, size_t size)
{
	uint64_t have;
	if (!addrmap_get(&h->maps, (uintptr_t)p, &have) || have != page_round(size))
		return -1;
	addrmap_remove(&h->maps, (uintptr_t)p, NULL);
	os_unmap(p, (size_t)have);
	HB_ASSERT(h->mapped >= have);
	h->mapped -= have;
	return 0;
}

void *heap_remap(struct heap *h, void *p, size_t old_size, size_t new_size)
{
	uint64_t have, rounded = page_round(new_size);
	if (new_size == 0 || rounded < new_size || !addrmap_get(&h->maps, (uintptr_t)p, &have) ||
	    have != page_round(old_size))
		return NULL;
	if (rounded > have && h->limit && footprint_of(h) + (rounded - have) > h->limit)
		return NULL;
	void *q = rounded == have ? p : os_remap(p, (size_t)have, (size_t)rounded);
	if (!q)
		return NULL;
	/* an insert right after a remove never needs memory (addrmap.h):
	 * it cannot fail */
	addrmap_remove(&h->maps, (uintptr_t)p, NULL);
	int rc = addrmap_insert(&h->maps, (uintptr_t)q, rounded);
	HB_ASSERT(rc == 0);
	(void)rc;
	h->mapped = h->mapped - have + rounded;
	peak_note(h);
	return q;
}

bool heap_contains(const struct heap *h, const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, end = a + n;
	if (end < a)
		return false;
	if (a >= (uintptr_t)h->lo && end <= (uintptr_t)h->brk)
		return true;
	uintptr_t k;
	uint64_t size;
	return addrmap_floor(&h->maps, a, &k, &size) && end <= k + size;
}

void heap_usage(const struct heap *h, struct heap_usage *u)
{
	u->brk_bytes = (uint64_t)(h->brk - h->lo);
	u->mapped_bytes = h->mapped;
	u->footprint = footprint_of(h);
	u->peak_footprint = h->peak;
	HB_ASSERT(u->peak_footprint >= u->footprint);
	u->mappings = h->maps.count;
	u->limit = h->limit;
}
