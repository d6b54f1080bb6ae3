/*
 * malloclab.c - mm:PATH, a student's unmodified malloc-lab allocator
 * (docs/malloclab.md): the lab's memlib over the simulated heap, and the
 * student's mm_init, mm_malloc, mm_free and mm_realloc (mm_calloc and
 * mm_checkheap when they are there) called as a backend.
 *
 * The student's code keeps its state in static variables, as the lab
 * expects: one state per worker at a time (a worker replays one job), set
 * up again by mm_init on the fresh heap of every pass.  The memlib
 * functions below are exported by the heapbench binary
 * (allocators/exports.list) and resolved when the worker loads the
 * student's object (harness/replay/mmbuild.c builds it from mm.c).
 *
 * Two conventions, chosen by the `api` option (mmbuild.c guesses it from
 * the mm.h the file is built with, or --lab sets it):
 *   csapp  the 2002 CS:APP handout: int mm_init(void), 0 or -1; mem_sbrk
 *          takes an int (read from the low 32 bits of its argument);
 *   cmu    the later CMU handouts: bool mm_init(void), true on success;
 *          mem_sbrk takes an intptr_t; bool mm_checkheap(int lineno).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "allocator.h"
#include "heap.h"
#include "malloclab/memlib.h"

static const struct allocator_option mm_options[] = {
	{"path", "the student's mm.c, or an object built from it"},
	{"bits", "32 or 64: the word size it is built for (mm:PATH:bits=32; default 64, or "
		 "32 under --lab csapp2002)"},
	{"api", "csapp (2002: int mm_init) or cmu (later: bool mm_init); default: from mm.h"},
	{NULL, NULL},
};

/* The heap of the state alive now (one at a time), and the convention. */
static struct heap *mm_heap;
static bool mm_api_cmu;

/* The block the student's code returned last, and its request: the
 * checker asks its usable size right after the call. */
static void *mm_last;
static size_t mm_last_request;
/* The width of the tags the blocks so far followed: 0 until one did. */
static unsigned mm_tag_width;

/* ---- memlib --------------------------------------------------------------- */

void *mem_sbrk(intptr_t incr)
{
	if (!mm_api_cmu)
		incr = (int)(uint32_t)(uintptr_t)incr; /* the handout's int */
	void *old = mm_heap && incr >= 0 ? heap_sbrk(mm_heap, incr) : NULL;
	if (!old) {
		errno = ENOMEM;
		return (void *)-1;
	}
	return old;
}

void *mem_heap_lo(void)
{
	return mm_heap ? heap_lo(mm_heap) : NULL;
}

void *mem_heap_hi(void)
{
	return mm_heap ? (char *)heap_hi(mm_heap) - 1 : NULL;
}

size_t mem_heapsize(void)
{
	return mm_heap ? (size_t)((char *)heap_hi(mm_heap) - (char *)heap_lo(mm_heap)) : 0;
}

size_t mem_pagesize(void)
{
	return (size_t)getpagesize();
}

void mem_init(void)
{
}

void mem_deinit(void)
{
}

void mem_reset_brk(void)
{
	if (mm_heap)
		heap_sbrk(mm_heap, -(intptr_t)mem_heapsize());
}

void *mem_memset(void *dst, int c, size_t n)
{
	return memset(dst, c, n);
}

void *mem_memcpy(void *dst, const void *src, size_t n)
{
	return memcpy(dst, src, n);
}

/* ---- The student's functions ------------------------------------------------- */

static struct {
	long (*init)(void);
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*realloc)(void *, size_t);
	void *(*calloc)(size_t, size_t);
	long (*checkheap)(int);
} mm;

static int mm_init_state(void **state, struct heap *heap, const struct backend_opts *opts,
			 char *err, size_t errlen)
{
	(void)opts;
	mm_heap = heap;
	mm_last = NULL;
	mm_tag_width = 0;
	*state = &mm;
	/* only the low byte of a bool is defined; an int is 0 or -1 */
	long rc = mm.init();
	bool ok = mm_api_cmu ? (rc & 0xff) != 0 : (int)rc >= 0;
	if (!ok) {
		snprintf(err, errlen, "mm_init returned %s", mm_api_cmu ? "false" : "-1");
		mm_heap = NULL;
		return -1;
	}
	return 0;
}

static void mm_fini(void *state)
{
	(void)state;
	mm_heap = NULL;
}

/* ---- usable_size from the boundary tags ------------------------------------ */

static uint64_t tag_at(const char *p, unsigned width)
{
	uint32_t w4;
	uint64_t w8;
	if (width == 4)
		return memcpy(&w4, p, 4), w4;
	return memcpy(&w8, p, 8), w8;
}

/* The payload bytes of block p read as the lab's convention with tags of
 * `width` bytes, or 0 where the tags do not follow it: a header before p
 * whose low bit says allocated and whose size (the low 3 bits, or 4 under
 * the later handouts, masked) holds the header and the request inside the
 * heap, followed by the next block's header (or the epilogue, size 0);
 * the footer, when the block's last word repeats the header, is not
 * usable. */
static size_t tags_usable(const char *p, size_t n, unsigned width)
{
	const char *lo = heap_lo(mm_heap), *end = heap_hi(mm_heap);
	if (p - lo < (ptrdiff_t)width || p > end)
		return 0;
	const char *head = p - width;
	uint64_t h = tag_at(head, width), mask = mm_api_cmu ? 0xf : 0x7;
	uint64_t size = h & ~mask;
	if (!(h & 1) || size < n + width || size > (uint64_t)(end - head) - width)
		return 0;
	uint64_t next = tag_at(head + size, width);
	uint64_t next_size = next & ~mask;
	bool epilogue = next_size == 0 && (next & 1) && head + size + width == end;
	if (!epilogue &&
	    (next_size < 2 * (uint64_t)width || next_size > (uint64_t)(end - head) - size))
		return 0;
	bool footer = tag_at(head + size - width, width) == h && size >= n + 2 * width;
	return (size_t)(size - width - (footer ? width : 0));
}

static size_t mm_usable(void *state, void *p)
{
	(void)state;
	if (p != mm_last || !mm_heap)
		return 0;
	if (mm_tag_width)
		return tags_usable(p, mm_last_request, mm_tag_width);
	/* the handout's word first: 4-byte tags in 2002, 8-byte ones later */
	unsigned first = mm_api_cmu ? 8 : 4;
	unsigned order[2] = {first, 12 - first};
	for (int i = 0; i < 2; i++) {
		size_t u = tags_usable(p, mm_last_request, order[i]);
		if (u) {
			mm_tag_width = order[i];
			return u;
		}
	}
	return 0;
}

static void *returned(void *p, size_t n)
{
	mm_last = p;
	mm_last_request = n;
	return p;
}

static void *mm_malloc_call(void *state, size_t n)
{
	(void)state;
	return returned(mm.malloc(n), n);
}

static void *mm_calloc_call(void *state, size_t k, size_t n)
{
	(void)state;
	return returned(mm.calloc(k, n), k * n);
}

static void *mm_realloc_call(void *state, void *p, size_t n)
{
	(void)state;
	return returned(mm.realloc(p, n), n);
}

static int mm_free_call(void *state, void *p, char *why, size_t len)
{
	(void)state;
	(void)why;
	(void)len;
	mm.free(p);
	return 0;
}

static int mm_check_call(void *state, char *why, size_t len)
{
	(void)state;
	if ((mm.checkheap(__LINE__) & 0xff) != 0)
		return 0;
	snprintf(why, len, "mm_checkheap returned false");
	return -1;
}

static int unloaded_init(void **state, struct heap *heap, const struct backend_opts *opts,
			 char *err, size_t errlen)
{
	(void)state;
	(void)heap;
	(void)opts;
	snprintf(err, errlen, "mm: the object is loaded by the worker, not here");
	return -1;
}

/* Stands for every mm:PATH until the worker loads the object. */
const struct allocator mm_allocator = {
	.name = "mm",
	.description = "a student's malloc-lab mm.c, unmodified (mm:PATH)",
	.options = mm_options,
	.flags = ALLOC_F_SIMULATED,
	.init = unloaded_init,
};

/* The loaded one. */
static struct allocator mm_loaded;

const struct allocator *mm_load(const char *so, bool cmu, char *err, size_t errlen)
{
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "%s", why ? why : "cannot load it");
		return NULL;
	}
	static const char *const need[] = {"mm_init", "mm_malloc", "mm_free", "mm_realloc"};
	void *f[4];
	for (int i = 0; i < 4; i++)
		if (!(f[i] = dlsym(h, need[i]))) {
			snprintf(err, errlen,
				 "it defines no %s (a malloc-lab mm.c defines %s, %s, %s and %s)",
				 need[i], need[0], need[1], need[2], need[3]);
			return NULL;
		}
	/* ISO C has no conversion of void * to a function pointer; POSIX's
	 * dlsym promises it works, through the object's representation */
	memcpy(&mm.init, &f[0], sizeof f[0]);
	memcpy(&mm.malloc, &f[1], sizeof f[1]);
	memcpy(&mm.free, &f[2], sizeof f[2]);
	memcpy(&mm.realloc, &f[3], sizeof f[3]);
	void *c = dlsym(h, "mm_calloc"), *k = cmu ? dlsym(h, "mm_checkheap") : NULL;
	memcpy(&mm.calloc, &c, sizeof c);
	memcpy(&mm.checkheap, &k, sizeof k);
	mm_api_cmu = cmu;
	mm_loaded = (struct allocator){
		.name = "mm",
		.description = mm_allocator.description,
		.flags = ALLOC_F_SIMULATED,
		.init = mm_init_state,
		.fini = mm_fini,
		.malloc = mm_malloc_call,
		.calloc = mm.calloc ? mm_calloc_call : NULL,
		.realloc = mm_realloc_call,
		.free = mm_free_call,
		.usable_size = mm_usable,
		.check = mm.checkheap ? mm_check_call : NULL,
	};
	return &mm_loaded;
}
