/*
 * mm.c - a malloc-lab allocator written for heapbench's tests, against the
 * later CMU handouts' interface (its mm.h beside it; tests/cli_malloclab.sh):
 * 64-bit, payloads 16-byte aligned, an explicit LIFO free list threaded
 * through the free blocks, 8-byte boundary tags, first fit, splitting,
 * coalescing on free, and a heap checker.
 *
 * block: | hdr size|a | payload (free: next, prev) ... | ftr size|a |
 * a size is a multiple of 16; headers sit at 8 mod 16.
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#ifdef DRIVER
#define malloc  mm_malloc
#define free    mm_free
#define realloc mm_realloc
#define calloc  mm_calloc
#endif

#define W     8u
#define A     16u
#define MIN   32u
#define CHUNK (1u << 12)

typedef uint64_t word;
struct links {
	char *next, *prev;
};

static char *first;     /* the first block's payload */
static char *free_list; /* payloads of free blocks */

static word get(const char *p) { return *(const word *)p; }
static void put(char *p, word v) { *(word *)p = v; }
static word size_of(const char *bp) { return get(bp - W) & ~(word)15; }
static bool used(const char *bp) { return get(bp - W) & 1; }
static char *next_block(char *bp) { return bp + size_of(bp); }
static char *prev_block(char *bp) { return bp - (get(bp - 2 * W) & ~(word)15); }
static struct links *links(char *bp) { return (struct links *)bp; }

static void tag(char *bp, word size, bool a)
{
	put(bp - W, size | a);
	put(bp + size - 2 * W, size | a);
}

static void unlink_block(char *bp)
{
	struct links *l = links(bp);
	if (l->prev)
		links(l->prev)->next = l->next;
	else
		free_list = l->next;
	if (l->next)
		links(l->next)->prev = l->prev;
}

static void push(char *bp)
{
	links(bp)->prev = NULL;
	links(bp)->next = free_list;
	if (free_list)
		links(free_list)->prev = bp;
	free_list = bp;
}

static char *join(char *bp)
{
	word size = size_of(bp);
	char *next = next_block(bp);
	if (!used(next)) {
		unlink_block(next);
		size += size_of(next);
	}
	if (!(get(bp - 2 * W) & 1)) {
		bp = prev_block(bp);
		unlink_block(bp);
		size += size_of(bp);
	}
	tag(bp, size, false);
	push(bp);
	return bp;
}

static char *grow(word bytes)
{
	word size = (bytes + A - 1) / A * A;
	char *bp = mem_sbrk((intptr_t)size);
	if (bp == (void *)-1)
		return NULL;
	tag(bp, size, false);
	put(next_block(bp) - W, 1); /* the epilogue */
	return join(bp);
}

bool mm_init(void)
{
	char *p = mem_sbrk(4 * W);
	if (p == (void *)-1)
		return false;
	put(p, 0);
	put(p + W, 2 * W | 1); /* the prologue: header and footer */
	put(p + 2 * W, 2 * W | 1);
	put(p + 3 * W, 1); /* the epilogue */
	first = p + 4 * W;
	free_list = NULL;
	return grow(CHUNK) != NULL;
}

static void place(char *bp, word size)
{
	word have = size_of(bp);
	unlink_block(bp);
	if (have - size >= MIN) {
		tag(bp, size, true);
		char *rest = next_block(bp);
		tag(rest, have - size, false);
		push(rest);
	} else {
		tag(bp, have, true);
	}
}

void *malloc(size_t n)
{
	if (n == 0)
		return NULL;
	word size = n + 2 * W <= MIN ? MIN : (n + 2 * W + A - 1) / A * A;
	for (char *bp = free_list; bp; bp = links(bp)->next)
		if (size_of(bp) >= size) {
			place(bp, size);
			return bp;
		}
	char *bp = grow(size > CHUNK ? size : CHUNK);
	if (!bp)
		return NULL;
	place(bp, size);
	return bp;
}

void free(void *p)
{
	if (!p)
		return;
	char *bp = p;
	tag(bp, size_of(bp), false);
	join(bp);
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	void *q = malloc(n);
	if (!q)
		return NULL;
	word old = size_of(p) - 2 * W;
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}

void *calloc(size_t k, size_t n)
{
	if (n && k > SIZE_MAX / n)
		return NULL;
	void *p = malloc(k * n);
	if (p)
		memset(p, 0, k * n);
	return p;
}

/* Every block tiles the heap with matching tags and no two free
 * neighbours; the free list holds exactly the free blocks. */
bool mm_checkheap(int lineno)
{
	(void)lineno;
	size_t free_blocks = 0, listed = 0;
	bool prev_free = false;
	for (char *bp = first; size_of(bp) > 0; bp = next_block(bp)) {
		if ((uintptr_t)bp % A || get(bp - W) != get(bp + size_of(bp) - 2 * W))
			return false;
		if (!used(bp) && prev_free)
			return false;
		prev_free = !used(bp);
		free_blocks += prev_free;
	}
	for (char *bp = free_list; bp; bp = links(bp)->next)
		if (used(bp) || ++listed > free_blocks)
			return false;
	return listed == free_blocks;
}
