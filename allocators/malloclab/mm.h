/*
 * mm.h - the student's interface to the malloc lab driver, for an mm.c
 * that brings no mm.h of its own (mm:PATH, docs/malloclab.md).  An mm.h
 * next to the student's mm.c is used instead: `#include "mm.h"` finds the
 * including file's directory first.
 *
 * Two interfaces, as the handouts' mm.h had them:
 *   - the 2002 CS:APP handout's (the default): mm_init returns 0, or -1 on
 *     failure, and the student names a team;
 *   - the later CMU handouts' (HB_LAB_CMU2016: --lab cmu2016, or a file
 *     declaring `bool mm_init`): bool mm_init, mm_calloc, and the heap
 *     checker bool mm_checkheap(int lineno).  Under DRIVER (heapbench
 *     builds with it) the allocator's names are mm_*: the student's file
 *     maps malloc to mm_malloc itself, as those handouts' starter did.
 */
#ifndef HB_MALLOCLAB_MM_H
#define HB_MALLOCLAB_MM_H

#include <stddef.h>
#include <stdio.h>

#ifdef HB_LAB_CMU2016

#include <stdbool.h>

bool mm_init(void);
void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);
void *mm_calloc(size_t nmemb, size_t size);
bool mm_checkheap(int lineno);

#else

int mm_init(void);
void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);

/* The team a student names in mm.c (the 2002 handout's struct). */
typedef struct {
	char *teamname; /* ID1+ID2 or ID1 */
	char *name1;    /* full name of the first member */
	char *id1;      /* login ID of the first member */
	char *name2;    /* full name of the second member (if any) */
	char *id2;      /* login ID of the second member */
} team_t;

extern team_t team;

#endif

#endif
