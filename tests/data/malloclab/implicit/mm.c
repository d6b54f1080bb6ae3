/*
 * mm.c - a malloc-lab allocator written for heapbench's tests, against the
 * 2002 CS:APP handout's interface (mm.h, memlib.h; tests/cli_malloclab.sh):
 * an implicit free list of blocks with 4-byte boundary tags, first fit,
 * splitting, coalescing on free; payloads 8-byte aligned.
 *
 * heap: | pad | prologue hdr 8|1 | prologue ftr 8|1 | blocks ... | epilogue 0|1 |
 * block: | hdr size|a | payload ... | ftr size|a |, size a multiple of 8
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"heapbench", "heapbench tests", "tests", "", ""};

#define W        4u
#define D        8u
#define CHUNK    (1u << 12)
#define TAG(s, a) ((uint32_t)(s) | (uint32_t)(a))
#define GET(p)    (*(uint32_t *)(p))
#define PUT(p, v) (*(uint32_t *)(p) = (v))
#define SIZE(p)   (GET(p) & ~7u)
#define USED(p)   (GET(p) & 1u)
#define HDR(bp)   ((char *)(bp) - W)
#define FTR(bp)   ((char *)(bp) + SIZE(HDR(bp)) - D)
#define NEXT(bp)  ((char *)(bp) + SIZE(HDR(bp)))
#define PREV(bp)  ((char *)(bp) - SIZE((char *)(bp) - D))

static char *heap;

static void *join(char *bp)
{
	uint32_t prev = USED(FTR(PREV(bp))), next = USED(HDR(NEXT(bp)));
	uint32_t size = SIZE(HDR(bp));
	if (!next) {
		size += SIZE(HDR(NEXT(bp)));
		PUT(HDR(bp), TAG(size, 0));
		PUT(FTR(bp), TAG(size, 0));
	}
	if (!prev) {
		size += SIZE(HDR(PREV(bp)));
		bp = PREV(bp);
		PUT(HDR(bp), TAG(size, 0));
		PUT(FTR(bp), TAG(size, 0));
	}
	return bp;
}

static void *grow(size_t bytes)
{
	size_t size = (bytes + D - 1) / D * D;
	char *bp = mem_sbrk((int)size);
	if (bp == (void *)-1)
		return NULL;
	PUT(HDR(bp), TAG(size, 0));
	PUT(FTR(bp), TAG(size, 0));
	PUT(HDR(NEXT(bp)), TAG(0, 1));
	return join(bp);
}

int mm_init(void)
{
	if ((heap = mem_sbrk(4 * W)) == (void *)-1)
		return -1;
	PUT(heap, 0);
	PUT(heap + W, TAG(D, 1));
	PUT(heap + 2 * W, TAG(D, 1));
	PUT(heap + 3 * W, TAG(0, 1));
	heap += 2 * W;
	return grow(CHUNK) ? 0 : -1;
}

static void place(char *bp, size_t size)
{
	size_t have = SIZE(HDR(bp));
	if (have - size >= 2 * D) {
		PUT(HDR(bp), TAG(size, 1));
		PUT(FTR(bp), TAG(size, 1));
		bp = NEXT(bp);
		PUT(HDR(bp), TAG(have - size, 0));
		PUT(FTR(bp), TAG(have - size, 0));
	} else {
		PUT(HDR(bp), TAG(have, 1));
		PUT(FTR(bp), TAG(have, 1));
	}
}

void *mm_malloc(size_t n)
{
	if (n == 0)
		return NULL;
	size_t size = n <= D ? 2 * D : (n + D + D - 1) / D * D;
	for (char *bp = heap; SIZE(HDR(bp)) > 0; bp = NEXT(bp))
		if (!USED(HDR(bp)) && SIZE(HDR(bp)) >= size) {
			place(bp, size);
			return bp;
		}
	char *bp = grow(size > CHUNK ? size : CHUNK);
	if (!bp)
		return NULL;
	place(bp, size);
	return bp;
}

void mm_free(void *bp)
{
	if (!bp)
		return;
	uint32_t size = SIZE(HDR(bp));
	PUT(HDR(bp), TAG(size, 0));
	PUT(FTR(bp), TAG(size, 0));
	join(bp);
}

void *mm_realloc(void *p, size_t n)
{
	if (!p)
		return mm_malloc(n);
	if (n == 0) {
		mm_free(p);
		return NULL;
	}
	void *q = mm_malloc(n);
	if (!q)
		return NULL;
	size_t old = SIZE(HDR(p)) - D;
	memcpy(q, p, old < n ? old : n);
	mm_free(p);
	return q;
}
