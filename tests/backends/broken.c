/*
 * broken.c - the catalog of broken backends that tests/cli_containment.sh
 * runs beside healthy ones: each a library: backend, built once per fault
 * (-DFAULT="name" makes libbroken_name.so), that works as a bump allocator
 * on the simulated heap until its fault strikes:
 *
 *   garbage   at the 100th malloc, fills the harness's result page (the
 *             worker's mapping of the memory file "heapbench-job") with
 *             0x7f bytes, and goes on working
 *   fork      at the 100th malloc, forks a child that leaves the session
 *             and forks again; both (named hb-orphan) wait forever
 *   closeout  closes stdout and stderr in its init
 *   exitfini  calls exit(0) in its fini
 *   initcrash dies of SIGSEGV in its init
 *   runaway   at the 100th malloc, touches memory without end
 *   loop      at the 100th malloc, loops forever
 *   lying     usable_size claims 4 KiB more than each block has (the
 *             next block starts right after it)
 *
 * Each fault is something a real allocator under test has done, or could:
 * the harness must report it as that job's status and run the others.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

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

/* A child that leaves the session and forks a grandchild: both wait,
 * named hb-orphan, until something kills them. */
static void leave_children(void)
{
	if (fork() != 0)
		return;
	setsid();
	fork();
	prctl(PR_SET_NAME, "hb-orphan");
	for (;;)
		pause();
}

/* Anonymous memory, touched page by page, without end. */
static void run_away(void)
{
	for (;;) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p != MAP_FAILED)
			memset(p, 1, 1 << 20);
	}
}

/* What strikes at the 100th malloc. */
static void strike(void)
{
	if (fault("garbage"))
		scribble_page();
	if (fault("fork"))
		leave_children();
	if (fault("runaway"))
		run_away();
	while (fault("loop"))
		;
}

static int b_init(void **state, struct heap *h, const struct backend_opts *opts, char *err,
		  size_t len)
{
	(void)opts, (void)err, (void)len;
	heap = h;
	*state = &heap;
	if (fault("closeout"))
		close(1), close(2);
	if (fault("initcrash"))
		raise(SIGSEGV);
	return 0;
}

static void b_fini(void *state)
{
	(void)state;
	if (fault("exitfini"))
		exit(0);
}

static size_t b_usable_size(void *state, void *p)
{
	(void)state;
	return ((uint64_t *)p)[-2] + (fault("lying") ? 4096 : 0);
}

/* A block of n bytes, 16-aligned, its size 16 bytes before it: the next
 * block starts where its 16-byte rounding ends. */
static void *b_malloc(void *state, size_t n)
{
	(void)state;
	if (++calls == 100)
		strike();
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
	.usable_size = b_usable_size,
};
