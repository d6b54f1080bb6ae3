/*
 * registry.c - every backend by name, and option checking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "heap.h"

extern const struct allocator first_fit_allocator;
extern const struct allocator next_fit_allocator;
extern const struct allocator best_fit_allocator;
extern const struct allocator segregated_allocator;
extern const struct allocator buddy_allocator;
extern const struct allocator null_allocator;
extern const struct allocator system_allocator;
extern const struct allocator jemalloc_allocator;
extern const struct allocator mimalloc_allocator;
extern const struct allocator tcmalloc_allocator;

/* The built-in policies first, then the real allocators. */
const struct allocator *const allocator_registry[] = {
	&first_fit_allocator,
	&next_fit_allocator,
	&best_fit_allocator,
	&segregated_allocator,
	&buddy_allocator,
	&null_allocator,
	&system_allocator,
	&jemalloc_allocator,
	&mimalloc_allocator,
	&tcmalloc_allocator,
	NULL,
};

static const struct allocator *const by_path[] = {&preload_allocator, &library_allocator,
						  &mm_allocator, NULL};

const struct allocator *const *allocator_extra;

const struct allocator *allocator_find(const char *name)
{
	for (size_t i = 0; allocator_registry[i]; i++)
		if (!strcmp(allocator_registry[i]->name, name))
			return allocator_registry[i];
	for (size_t i = 0; by_path[i]; i++)
		if (!strcmp(by_path[i]->name, name))
			return by_path[i];
	for (size_t i = 0; allocator_extra && allocator_extra[i]; i++)
		if (!strcmp(allocator_extra[i]->name, name))
			return allocator_extra[i];
	return NULL;
}

const char *allocator_preload(const struct allocator *a, const struct backend_opts *opts)
{
	if (!(a->flags & ALLOC_F_PRELOAD))
		return NULL;
	const char *env = a->preload_env ? getenv(a->preload_env) : NULL;
	if (env && *env)
		return env;
	return a->preload ? a->preload : backend_opt_get(opts, "path");
}

const char *allocator_names(char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; allocator_registry[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
				      allocator_registry[i]->name);
	return buf;
}

void alloc_stats_simulated(const struct heap *heap, uint64_t in_use, struct alloc_stats *out)
{
	struct heap_usage u;
	heap_usage(heap, &u);
	out->footprint = u.footprint;
	out->in_use = in_use;
	out->source = "simulated-heap";
}

const char *backend_opt_get(const struct backend_opts *opts, const char *key)
{
	const char *v = NULL;
	for (size_t i = 0; opts && i < opts->n; i++)
		if (!strcmp(opts->v[i].key, key))
			v = opts->v[i].value; /* the last one wins */
	return v;
}

int backend_opt_bytes(const struct backend_opts *opts, const char *key, uint64_t *out, char *err,
		      size_t errlen)
{
	const char *v = backend_opt_get(opts, key);
	if (!v)
		return 0;
	uint64_t x = 0;
	const char *p = v;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX >> 1) / 10) {
			snprintf(err, errlen, "%s: '%s' is too large", key, v);
			return -1;
		}
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (p == v || *p) {
		snprintf(err, errlen, "%s: expected a number of bytes, got '%s'", key, v);
		return -1;
	}
	*out = x;
	return 0;
}

int allocator_check_options(const struct allocator *a, const struct backend_opts *opts, char *err,
			    size_t errlen)
{
	for (size_t i = 0; opts && i < opts->n; i++) {
		bool known = false;
		for (const struct allocator_option *o = a->options; o && o->key; o++)
			known |= !strcmp(o->key, opts->v[i].key);
		if (known)
			continue;
		size_t n = (size_t)snprintf(err, errlen, "backend %s has no option '%s'", a->name,
					    opts->v[i].key);
		if (!a->options || !a->options[0].key) {
			snprintf(err + n, errlen - n, " (it takes none)");
		} else {
			n += (size_t)snprintf(err + n, errlen - n, " (known:");
			for (const struct allocator_option *o = a->options; o->key && n < errlen;
			     o++)
				n += (size_t)snprintf(err + n, errlen - n, " %s", o->key);
			if (n < errlen)
				snprintf(err + n, errlen - n, ")");
		}
		return -1;
	}
	return 0;
}
