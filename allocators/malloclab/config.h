/*
 * config.h - the constants a malloc-lab mm.c may take from the driver's
 * config.h, with the values of heapbench's default (the 64-bit, 16-byte
 * rule of the later handouts, 100 MiB), or of the 2002 handout's (8 bytes,
 * 20 MiB) when mm:PATH is built under --lab csapp2002.
 */
#ifndef HB_MALLOCLAB_CONFIG_H
#define HB_MALLOCLAB_CONFIG_H

/* a file that defines them itself keeps its own */
#ifdef HB_LAB_CSAPP2002 /* mm:PATH under --lab csapp2002 */
#ifndef ALIGNMENT
#define ALIGNMENT 8
#endif
#ifndef MAX_HEAP
#define MAX_HEAP (20 * (1 << 20))
#endif
#else
#ifndef ALIGNMENT
#define ALIGNMENT 16
#endif
#ifndef MAX_HEAP
#define MAX_HEAP (100 * (1 << 20))
#endif
#endif

#endif
