/*
 * unsafe.c - a malloc replacement that is not thread-safe, for
 * tests/cli_threads.sh: a bump allocator over one big mapping, correct on
 * the thread that called it first, which hands every other thread the
 * block it handed out last (what a free list popped without a lock does
 * when two threads read its head at once), deterministically rather than
 * when a race happens to strike.  Replayed serially it is a good
 * allocator; under --threads recorded heapbench must report it as an
 * error or a crash, never as a good result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARENA ((size_t)8 << 30) /* reserved, touched on use */

static char *next, *end, *last;
static pid_t owner; /* the first caller's thread */

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
	pid_t me = (pid_t)syscall(SYS_gettid);
	if (!owner)
		owner = me;
	if (me != owner && last && n <= ((size_t *)last)[-1] && (uintptr_t)last % align == 0)
		return last; /* another thread's block: the bug this backend has */
	if (align < 16)
		align = 16;
	char *p = (char *)(((uintptr_t)next + 16 + align - 1) & ~(uintptr_t)(align - 1));
	if (p + n > end) {
		errno = ENOMEM;
		return NULL;
	}
	((size_t *)p)[-1] = n;
	next = p + n;
	return last = p;
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
