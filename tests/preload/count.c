/*
 * count.c - a tiny malloc replacement for the preload tests: glibc's
 * allocator underneath (the __libc_* entry points), and a count of every
 * call in a file named by COUNT_MALLOC_FILE, so that a test can prove that
 * `-a preload:PATH` really routed the replay's calls through it.
 *
 * The counts live in a shared file mapping, updated on every call, because
 * the worker leaves with _exit and no destructor would run.  The file holds
 * five 64-bit counters: malloc, calloc, realloc, free, aligned.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_ALIGNED, C_N };
static uint64_t *counts;
static int state; /* 0 not yet, 1 mapped, -1 no file */

static void count(int k)
{
	if (state == 0) {
		const char *path = getenv("COUNT_MALLOC_FILE");
		int fd = path ? open(path, O_RDWR | O_CREAT, 0644) : -1;
		void *m = MAP_FAILED;
		if (fd >= 0 && ftruncate(fd, C_N * sizeof *counts) == 0)
			m = mmap(NULL, C_N * sizeof *counts, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				 0);
		if (fd >= 0)
			close(fd);
		counts = m == MAP_FAILED ? NULL : m;
		state = counts ? 1 : -1;
	}
	if (state == 1)
		__atomic_fetch_add(&counts[k], 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
	count(C_MALLOC);
	return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	count(C_CALLOC);
	return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	count(C_REALLOC);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	count(C_FREE);
	__libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	count(C_ALIGNED);
	void *p = __libc_memalign(align, n);
	if (!p && n)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	count(C_ALIGNED);
	return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
	count(C_ALIGNED);
	return __libc_memalign(align, n);
}
