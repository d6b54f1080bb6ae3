/*
 * unsafe.c - a deliberately thread-unsafe malloc replacement for
 * tests/cli_threads.sh: a bump allocator over one big mapping whose
 * pointer is read, then written back without any lock or atomic after
 * giving up the core (sched_yield), so that another thread running the
 * same code reads the same pointer and gets the same block, on one core
 * as on many.  Single-threaded it is correct (free does nothing);
 * under --threads recorded heapbench must report it as an error or a
 * crash, never as a good result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA ((size_t)8 << 30) /* reserved, touched on use */

static char *next, *end;

static void *bump(size_t n, size_t align)
{
	if (!next) {
		void *m = mmap(NULL, ARENA, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		next = m;
		end = next + ARENA;
	}
	if (align < 16)
		align = 16;
	char *p = (char *)(((uintptr_t)next + 16 + align - 1) & ~(uintptr_t)(align - 1));
	sched_yield(); /* the race's window */
	if (p + n > end) {
		errno = ENOMEM;
		return NULL;
	}
	((size_t *)p)[-1] = n;
	next = p + n;
	return p;
}

void *malloc(size_t n)
{
	return bump(n, 16);
}

void *calloc(size_t k, size_t n)
{
	void *p = bump(k * n, 16);
	if (p)
		memset(p, 0, k * n);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = bump(n, 16);
	if (p && old) {
		size_t was = ((size_t *)old)[-1];
		memcpy(p, old, was < n ? was : n);
	}
	return p;
}

void free(void *p)
{
	(void)p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = bump(n, align);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	return bump(n, align);
}

void *memalign(size_t align, size_t n)
{
	return bump(n, align);
}

size_t malloc_usable_size(void *p)
{
	return p ? ((size_t *)p)[-1] : 0;
}
