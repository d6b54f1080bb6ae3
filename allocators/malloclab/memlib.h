/*
 * memlib.h - the malloc lab's memory system, as heapbench provides it to an
 * unmodified mm.c (mm:PATH, docs/malloclab.md).
 *
 * The same functions as the CS:APP handouts' memlib, drawing from
 * heapbench's simulated heap: the break moves inside one reserved region,
 * the lab's heap limit (or --heap-limit) makes mem_sbrk fail, and the
 * footprint heapbench reports is the high-water mark of the break, the
 * denominator of mdriver's utilization.
 */
#ifndef HB_MALLOCLAB_MEMLIB_H
#define HB_MALLOCLAB_MEMLIB_H

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

/* Moves the break up by incr bytes and returns the old break, or
 * (void *)-1 with errno ENOMEM when the heap limit would be passed or incr
 * is negative (as in the handouts). */
void *mem_sbrk(intptr_t incr);
/* The first byte of the heap, and the last one (the break less one). */
void *mem_heap_lo(void);
void *mem_heap_hi(void);
/* Bytes between them, and the system's page size. */
size_t mem_heapsize(void);
size_t mem_pagesize(void);

/* The driver's own: heapbench calls them, a student's code need not. */
void mem_init(void);
void mem_deinit(void);
void mem_reset_brk(void);

/* Later CMU handouts route memset and memcpy on the heap through these. */
void *mem_memset(void *dst, int c, size_t n);
void *mem_memcpy(void *dst, const void *src, size_t n);

#endif
