/*
 * config.h - the constants a malloc-lab mm.c may take from the driver's
 * config.h, with the values of heapbench's default (the 64-bit, 16-byte
 * rule of the later handouts; --lab csapp2002 compiles with 8).
 */
#ifndef HB_MALLOCLAB_CONFIG_H
#define HB_MALLOCLAB_CONFIG_H

#ifndef ALIGNMENT
#define ALIGNMENT 16
#endif
#ifndef MAX_HEAP
#define MAX_HEAP (100 * (1 << 20))
#endif

#endif
