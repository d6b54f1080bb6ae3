/*
 * mmbuild.h - the object a malloc-lab mm.c is built into (mmbuild.c).
 */
#ifndef HB_REPLAY_MMBUILD_H
#define HB_REPLAY_MMBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/replay.h"

/* The handouts heapbench knows (--lab). */
enum mm_lab {
	MM_LAB_NONE,
	MM_LAB_CSAPP2002, /* CS:APP's 2002 handout: 8-byte alignment, 20 MiB heap */
	MM_LAB_CMU2016,   /* CMU 15-213's later ones: 16-byte alignment */
};

/* The object for path: path itself unless it ends in .c, else the object
 * built from it (once per content) for a process of `bits` (32: -m32),
 * into so.  *cmu: whether the later handouts' convention applies (lab, or
 * the file's own declarations).  0, or -1 with err (naming the first
 * compiler error). */
int mm_object(const char *path, unsigned lab, unsigned bits, char *so, size_t solen, bool *cmu,
	      char *err, size_t errlen);

/* The word size cfg's mm:PATH runs at: its option bits (32 or 64), else
 * its lab's (csapp2002: 32, as that handout's Makefile builds -m32), else
 * 64.  32 runs in the 32-bit worker (job.h). */
unsigned mm_bits(const struct replay_config *cfg);

#endif
