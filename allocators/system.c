/*
 * system.c - the process's own malloc (glibc on Debian).
 *
 * Footprint is glibc's own accounting, mallinfo2(): arena (bytes obtained
 * with sbrk, in all arenas) + hblkhd (bytes in mmap'd chunks); in use is
 * uordblks + hblkhd.  The harness adds the growth of the process's
 * resident set to every job, so all backends can also be compared on that
 * physical measure.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"

static int sys_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		    size_t errlen)
{
	(void)heap;
	(void)opts;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static void sys_fini(void *state)
{
	(void)state;
}

static void *sys_malloc(void *state, size_t size)
{
	(void)state;
	return malloc(size);
}

static void *sys_calloc(void *state, size_t nmemb, size_t size)
{
	(void)state;
	return calloc(nmemb, size);
}

static void *sys_memalign(void *state, size_t align, size_t size)
{
	(void)state;
	void *p;
	if (align < sizeof(void *))
		align = sizeof(void *);
	return posix_memalign(&p, align, size) ? NULL : p;
}

static void *sys_realloc(void *state, void *p, size_t size)
{
	(void)state;
	return realloc(p, size);
}

static int sys_free(void *state, void *p, char *why, size_t len)
{
	(void)state;
	(void)why;
	(void)len;
	free(p); /* glibc aborts on what it can detect; the worker reports the crash */
	return 0;
}

static size_t sys_usable_size(void *state, void *p)
{
	(void)state;
	return malloc_usable_size(p);
}

static void sys_stats(void *state, struct alloc_stats *out)
{
	(void)state;
	struct mallinfo2 mi = mallinfo2();
	out->footprint = mi.arena + mi.hblkhd;
	out->in_use = mi.uordblks + mi.hblkhd;
	out->source = "mallinfo2";
}

const struct allocator system_allocator = {
	.name = "system",
	.description = "the process's malloc (glibc); footprint from mallinfo2 arena + hblkhd",
	.options = NULL,
	.flags = ALLOC_F_PROCESS | ALLOC_F_LIBC,
	.init = sys_init,
	.fini = sys_fini,
	.malloc = sys_malloc,
	.calloc = sys_calloc,
	.memalign = sys_memalign,
	.realloc = sys_realloc,
	.free = sys_free,
	.usable_size = sys_usable_size,
	.check = NULL,
	.stats = sys_stats,
};
