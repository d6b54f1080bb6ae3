/*
 * library.c - library:PATH, a user's allocator in a shared object.
 *
 * The object exports `const struct allocator heapbench_allocator` (the
 * contract of allocator.h) and takes its memory from the simulated heap
 * passed to init, through the heap_* functions that the heapbench binary
 * exports to it (allocators/exports.list).  It is loaded in the worker
 * only, so a library that crashes while loading fails its job, not the
 * run.  allocators/examples/ has one to start from.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "allocator.h"

static const struct allocator_option library_options[] = {
	{"path", "the shared object exporting heapbench_allocator"},
	{NULL, NULL},
};

static int unloaded_init(void **state, struct heap *heap, const struct backend_opts *opts,
			 char *err, size_t errlen)
{
	(void)state;
	(void)heap;
	(void)opts;
	/* the worker replaces this entry with the loaded one (library_load) */
	snprintf(err, errlen, "library: the object is loaded by the worker, not here");
	return -1;
}

/* Stands for every library:PATH until the worker loads the object. */
const struct allocator library_allocator = {
	.name = "library",
	.description = "a user allocator in a shared object (library:PATH)",
	.options = library_options,
	.flags = ALLOC_F_SIMULATED,
	.init = unloaded_init,
};

const struct allocator *library_load(const char *path, char *err, size_t errlen)
{
	/* a path without a slash would be looked up in ld.so's search path */
	char rel[4096];
	if (!strchr(path, '/')) {
		snprintf(rel, sizeof rel, "./%s", path);
		path = rel;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "%s", why ? why : "cannot load it");
		return NULL;
	}
	const struct allocator *a = dlsym(h, "heapbench_allocator");
	if (!a) {
		snprintf(err, errlen,
			 "%s does not export heapbench_allocator (see allocators/examples/)", path);
		return NULL;
	}
	const char *missing = !a->name      ? "name"
			      : !a->init    ? "init"
			      : !a->fini    ? "fini"
			      : !a->malloc  ? "malloc"
			      : !a->realloc ? "realloc"
			      : !a->free    ? "free"
					    : NULL;
	if (missing) {
		snprintf(err, errlen, "%s: heapbench_allocator has no %s", path, missing);
		return NULL;
	}
	if (!(a->flags & ALLOC_F_SIMULATED) || (a->flags & (ALLOC_F_LIBC | ALLOC_F_PRELOAD))) {
		snprintf(err, errlen,
			 "%s: heapbench_allocator must draw from the simulated heap "
			 "(flags ALLOC_F_SIMULATED); for a malloc replacement use preload:PATH",
			 path);
		return NULL;
	}
	return a;
}
