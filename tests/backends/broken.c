/*
 * broken.c - the catalog of broken backends that tests/cli_containment.sh
 * runs beside healthy ones: each a library: backend, built once per fault
 * (-DFAULT="name" makes libbroken_name.so), that works as a bump allocator
 * on the simulated heap until its fault strikes:
 *
 *   garbage   at the 100th malloc, fills the harness's result page (the
 *             worker's mapping of the memory file "heapbench-job") with
 *             0x7f bytes, and goes on working
 *
 * Each fault is something a real allocator under test has done, or could:
 * the harness must report it as that job's status and run the others.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "heap.h"

#ifndef FAULT
#error "build with -DFAULT=\"name\""
#endif

static struct heap *heap;
static uint64_t calls;

static bool fault(const char *name)
{
	return !strcmp(FAULT, name);
}

/* Every writable shared mapping of the job's memory file, filled. */
static void scribble_page(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[1] == 'w' &&
		    strstr(line, "heapbench-job"))
			memset((void *)lo, 0x7f, hi - lo);
	}
	if (f)
		fclose(f);
}

static int b_init(void **state, struct heap *h, const struct backend_opts *opts, char *err,
		  size_t len)
{
	(void)opts, (void)err, (void)len;
	heap = h;
	*state = &heap;
	return 0;
}

static void b_fini(void *state)
{
	(void)state;
}

/* A block of n bytes, 16-aligned, its size 16 bytes before it. */
static void *b_malloc(void *state, size_t n)
{
	(void)state;
	if (++calls == 100 && fault("garbage"))
		scribble_page();
	char *p = heap_sbrk(heap, (intptr_t)((n + 15) / 16 * 16 + 16));
	if (!p)
		return NULL;
	*(uint64_t *)p = n;
	return p + 16;
}

static void *b_realloc(void *state, void *old, size_t n)
{
	char *p = b_malloc(state, n);
	if (p && old) {
		uint64_t was = ((uint64_t *)old)[-2];
		memcpy(p, old, was < n ? was : n);
	}
	return p;
}

static int b_free(void *state, void *p, char *why, size_t len)
{
	(void)state, (void)p, (void)why, (void)len;
	return 0;
}

extern const struct allocator heapbench_allocator;

const struct allocator heapbench_allocator = {
	.name = "broken-" FAULT,
	.description = "test backend: a bump allocator with one fault (tests/backends/broken.c)",
	.flags = ALLOC_F_SIMULATED,
	.init = b_init,
	.fini = b_fini,
	.malloc = b_malloc,
	.realloc = b_realloc,
	.free = b_free,
};
