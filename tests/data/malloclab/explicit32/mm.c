/*
 * mm.c - a malloc-lab allocator written for heapbench's tests, against the
 * 2002 CS:APP handout's interface, in the way many students wrote theirs
 * for that handout's 32-bit build: an explicit free list whose links are
 * kept in the payload as 4-byte words, `(unsigned int)` pointers.  It only
 * works where a pointer is 4 bytes (mm:PATH:bits=32, the 32-bit worker);
 * built 64-bit, the first free list walk follows a truncated pointer.
 * (tests/cli_worker32.sh)
 *
 * block: | hdr size|a | next | prev | ... | ftr size|a |, 4-byte tags and
 * links, size a multiple of 8, at least 16; free blocks LIFO, first fit,
 * split when the rest holds a block, coalesced on free.
 */
#include <string.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"heapbench", "heapbench tests", "tests", "", ""};

#define WORD      4u
#define DWORD     8u
#define MIN_BLOCK 16u
#define EXTEND    (1u << 12)

typedef unsigned int word; /* a tag, or a pointer: the same width here */

#define LD(p)        (*(word *)(p))
#define ST(p, v)     (*(word *)(p) = (word)(v))
#define SZ(p)        (LD(p) & ~7u)
#define ALLOC(p)     (LD(p) & 1u)
#define HEAD(bp)     ((char *)(bp) - WORD)
#define FOOT(bp)     ((char *)(bp) + SZ(HEAD(bp)) - DWORD)
#define AFTER(bp)    ((char *)(bp) + SZ(HEAD(bp)))
#define BEFORE(bp)   ((char *)(bp) - SZ((char *)(bp) - DWORD))
#define LINK_NEXT(bp) (*(word *)(bp))
#define LINK_PREV(bp) (*((word *)(bp) + 1))

static char *free_head; /* the first free block, or NULL */

static void tag(char *bp, word size, word used)
{
	ST(HEAD(bp), size | used);
	ST(FOOT(bp), size | used);
}

static void push(char *bp)
{
	LINK_NEXT(bp) = (word)free_head;
	LINK_PREV(bp) = 0;
	if (free_head)
		LINK_PREV(free_head) = (word)bp;
	free_head = bp;
}

static void unlink_block(char *bp)
{
	char *next = (char *)LINK_NEXT(bp), *prev = (char *)LINK_PREV(bp);
	if (prev)
		LINK_NEXT(prev) = (word)next;
	else
		free_head = next;
	if (next)
		LINK_PREV(next) = (word)prev;
}

static char *merge(char *bp)
{
	word size = SZ(HEAD(bp));
	if (!ALLOC(HEAD(AFTER(bp)))) {
		unlink_block(AFTER(bp));
		size += SZ(HEAD(AFTER(bp)));
		tag(bp, size, 0);
	}
	if (!ALLOC(FOOT(BEFORE(bp)))) {
		char *before = BEFORE(bp);
		unlink_block(before);
		size += SZ(HEAD(before));
		bp = before;
		tag(bp, size, 0);
	}
	push(bp);
	return bp;
}

static char *extend(size_t bytes)
{
	word size = (word)((bytes + DWORD - 1) / DWORD * DWORD);
	char *bp = mem_sbrk((int)size);
	if (bp == (void *)-1)
		return NULL;
	tag(bp, size, 0);
	ST(HEAD(AFTER(bp)), 1u); /* the new epilogue */
	return merge(bp);
}

int mm_init(void)
{
	char *p = mem_sbrk(4 * WORD);
	if (p == (void *)-1)
		return -1;
	ST(p, 0);                   /* padding: payloads 8-aligned */
	ST(p + WORD, DWORD | 1u);   /* prologue header */
	ST(p + 2 * WORD, DWORD | 1u); /* prologue footer */
	ST(p + 3 * WORD, 1u);       /* epilogue */
	free_head = NULL;
	return extend(EXTEND) ? 0 : -1;
}

static word block_size(size_t n)
{
	size_t s = (n + DWORD + DWORD - 1) / DWORD * DWORD;
	return (word)(s < MIN_BLOCK ? MIN_BLOCK : s);
}

static void place(char *bp, word size)
{
	word have = SZ(HEAD(bp));
	unlink_block(bp);
	if (have - size >= MIN_BLOCK) {
		tag(bp, size, 1);
		char *rest = AFTER(bp);
		tag(rest, have - size, 0);
		push(rest);
	} else {
		tag(bp, have, 1);
	}
}

void *mm_malloc(size_t n)
{
	if (n == 0)
		return NULL;
	word size = block_size(n);
	char *bp;
	for (bp = free_head; bp; bp = (char *)LINK_NEXT(bp))
		if (SZ(HEAD(bp)) >= size)
			break;
	if (!bp && !(bp = extend(size > EXTEND ? size : EXTEND)))
		return NULL;
	place(bp, size);
	return bp;
}

void mm_free(void *ptr)
{
	if (!ptr)
		return;
	char *bp = ptr;
	tag(bp, SZ(HEAD(bp)), 0);
	merge(bp);
}

void *mm_realloc(void *ptr, size_t n)
{
	if (!ptr)
		return mm_malloc(n);
	if (n == 0) {
		mm_free(ptr);
		return NULL;
	}
	size_t have = SZ(HEAD(ptr)) - DWORD;
	if (n <= have)
		return ptr;
	void *fresh = mm_malloc(n);
	if (!fresh)
		return NULL;
	memcpy(fresh, ptr, have);
	mm_free(ptr);
	return fresh;
}
