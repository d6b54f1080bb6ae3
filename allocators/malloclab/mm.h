/*
 * mm.h - the student's interface to the malloc lab driver, for an mm.c
 * that brings no mm.h of its own (mm:PATH, docs/malloclab.md).  An mm.h
 * next to the student's mm.c is used instead: `#include "mm.h"` finds the
 * including file's directory first.
 *
 * The functions of the 2002 CS:APP handout: mm_init returns 0, or -1 on
 * failure.  The later CMU handouts' optional ones (mm_calloc,
 * mm_checkheap) are not declared, since their signatures changed from one
 * term to the next: heapbench finds them in the built object.
 */
#ifndef HB_MALLOCLAB_MM_H
#define HB_MALLOCLAB_MM_H

#include <stdio.h>

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
