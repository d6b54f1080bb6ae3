/*
 * orderlog.c - a library: backend for tests/cli_threads.sh that records
 * the order in which its calls arrive, so that the test can prove the
 * threaded replay keeps every block's ops in the trace's order.
 *
 * Blocks are carved from the simulated heap and never reused within a pass
 * (free only records), so that an address names one block of the pass.
 * Every call appends a record {kind, size, in, out} to a shared file
 * mapping named by ORDER_LOG_FILE (the counts survive the worker's _exit);
 * init appends a record of kind 'I', which separates the passes.  Under
 * --threads recorded the harness runs a simulated-heap backend's calls
 * behind one lock, so the records' order is the order the calls ran in.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "allocator.h"
#include "heap.h"

#define LOG_CAP (1u << 22) /* records; the file is sparse */

struct rec {
	uint64_t kind, size, in, out;
};

static struct {
	uint64_t n;
	struct rec r[];
} * log_map;

static void record(char kind, uint64_t size, const void *in, const void *out)
{
	if (!log_map)
		return;
	uint64_t i = __atomic_fetch_add(&log_map->n, 1, __ATOMIC_RELAXED);
	if (i < LOG_CAP)
		log_map->r[i] = (struct rec){(uint64_t)kind, size, (uintptr_t)in, (uintptr_t)out};
}

struct st {
	struct heap *heap;
};

/* A block of n bytes aligned to align (>= 16), its size 16 bytes before it. */
static void *carve(struct st *s, size_t n, size_t align)
{
	if (align < 16)
		align = 16;
	char *base = heap_sbrk(s->heap, (intptr_t)(n + align + 16));
	if (!base)
		return NULL;
	uintptr_t p = ((uintptr_t)base + 16 + align - 1) & ~(uintptr_t)(align - 1);
	((uint64_t *)p)[-2] = n;
	return (void *)p;
}

static int ol_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t len)
{
	(void)opts, (void)err, (void)len;
	if (!log_map) {
		const char *path = getenv("ORDER_LOG_FILE");
		size_t bytes = sizeof *log_map + (size_t)LOG_CAP * sizeof(struct rec);
		int fd = path ? open(path, O_RDWR | O_CREAT, 0644) : -1;
		void *m = MAP_FAILED;
		if (fd >= 0 && ftruncate(fd, (off_t)bytes) == 0)
			m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd >= 0)
			close(fd);
		log_map = m == MAP_FAILED ? NULL : m;
	}
	static struct st s;
	s.heap = heap;
	*state = &s;
	record('I', 0, NULL, NULL);
	return 0;
}

static void ol_fini(void *state)
{
	(void)state;
}

static void *ol_malloc(void *state, size_t n)
{
	void *p = carve(state, n, 16);
	record('a', n, NULL, p);
	return p;
}

static void *ol_memalign(void *state, size_t align, size_t n)
{
	void *p = carve(state, n, align);
	record('m', n, NULL, p);
	return p;
}

static void *ol_realloc(void *state, void *old, size_t n)
{
	void *p = carve(state, n, 16);
	if (p && old) {
		uint64_t was = ((uint64_t *)old)[-2];
		memcpy(p, old, was < n ? was : n);
	}
	record('r', n, old, p);
	return p;
}

static int ol_free(void *state, void *p, char *why, size_t len)
{
	(void)state, (void)why, (void)len;
	record('f', 0, p, NULL);
	return 0;
}

static size_t ol_usable(void *state, void *p)
{
	(void)state;
	return ((uint64_t *)p)[-2];
}

extern const struct allocator heapbench_allocator;

const struct allocator heapbench_allocator = {
	.name = "orderlog",
	.description = "test backend: records the order of its calls (ORDER_LOG_FILE)",
	.flags = ALLOC_F_SIMULATED,
	.init = ol_init,
	.fini = ol_fini,
	.malloc = ol_malloc,
	.memalign = ol_memalign,
	.realloc = ol_realloc,
	.free = ol_free,
	.usable_size = ol_usable,
};
