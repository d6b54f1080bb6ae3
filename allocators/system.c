/*
 * system.c - the process's own malloc, whichever library provides it.
 *
 * `system` is glibc.  `jemalloc`, `mimalloc` and `tcmalloc` are the same
 * backend with that library preloaded into the worker process (job.c sets
 * LD_PRELOAD before it executes the worker), and `preload:PATH` with any
 * library the user names.  The timed loop calls malloc & co. directly
 * (ALLOC_F_LIBC), so it is the same code for all of them.
 *
 * init runs in the worker and proves that the library really provides
 * malloc there: ld.so ignores a preload it cannot load, and a silent
 * fallback to glibc would report glibc's numbers under another name.
 *
 * The footprint is physical, measured by the harness (the resident set,
 * docs/metrics.md); each library's own accounting is reported beside it:
 *   glibc     mallinfo2: arena + hblkhd (in use: uordblks + hblkhd)
 *   jemalloc  stats.resident after an epoch refresh (in use: stats.allocated)
 *   mimalloc  none that moves (the note above mi_version_string)
 *   tcmalloc  generic.heap_size - tcmalloc.pageheap_unmapped_bytes
 *             (in use: generic.current_allocated_bytes)
 *   preload:  none.
 * init first has the library give back the free memory it can (malloc_trim,
 * an arena purge, mi_collect, ReleaseFreeMemory), so that what the worker
 * freed before the pass does not serve the trace's first requests unseen.
 * The checked pass stops the libraries' purge timers (libc_timers_stop).
 * The library's functions are found with dlsym, so heapbench links against
 * none of them and runs where they are missing.
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "libc_calls.h"

#if __has_include(<mimalloc.h>)
#include <mimalloc.h> /* its option numbers, for the version it declares */
#endif

/* ---- The C functions ------------------------------------------------------- */

static void sys_fini(void *state)
{
	(void)state;
}

static size_t sys_usable_size(void *state, void *p)
{
	(void)state;
	return malloc_usable_size(p);
}

/* The members every process-wide backend shares: they call the C
 * functions, whichever library ld.so bound them to. */
#define LIBC_CALLS                                                                                 \
	.fini = sys_fini, .malloc = libc_malloc, .calloc = libc_calloc, .memalign = libc_memalign, \
	.realloc = libc_realloc, .free = libc_free

/* The members of a named library preloaded into the worker: file is what
 * LD_PRELOAD gets unless the environment variable env names another. */
#define PRELOADED(file, env)                                                                       \
	.flags = ALLOC_F_PROCESS | ALLOC_F_LIBC | ALLOC_F_PRELOAD, LIBC_CALLS,                     \
	.usable_size = sys_usable_size, .preload = file, .preload_env = env

/* ---- Which library provides malloc ------------------------------------------ */

#ifndef HB_SANITIZED
/* Does the object loaded as h define malloc itself (not a dependency)? */
static bool defines_malloc(void *h)
{
	struct link_map *lm;
	Dl_info di;
	void *m = dlsym(h, "malloc");
	return m && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && dladdr(m, &di) && di.dli_fname &&
	       !strcmp(di.dli_fname, lm->l_name);
}
#endif

/* 0 if malloc in this process comes from lib (a file name or a path);
 * else -1 and why, naming the Debian package that provides it if known. */
static int provides_malloc(const char *lib, const char *package, char *err, size_t errlen)
{
#ifdef HB_SANITIZED
	(void)package;
	snprintf(err, errlen,
		 "%s cannot be preloaded into a sanitizer build (AddressSanitizer replaces "
		 "malloc); use the normal build, build/heapbench",
		 lib);
	return -1;
#else
	Dl_info di;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	const char *slash = NULL;
	const char *from = m && dladdr(m, &di) && di.dli_fname ? di.dli_fname : "?";
	if (strchr(lib, '/')) {
		char a[PATH_MAX], b[PATH_MAX];
		if (realpath(lib, a) && realpath(from, b) && !strcmp(a, b))
			return 0;
	} else if (!strcmp((slash = strrchr(from, '/')) ? slash + 1 : from, lib)) {
		return 0;
	}
	/* ld.so said why on stderr; dlopen says it again, for the message */
	void *h = dlopen(lib, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "%s is not available: %s%s%s%s", lib, why ? why : "not found",
			 package ? " (Debian package " : "", package ? package : "",
			 package ? ")" : "");
	} else if (!defines_malloc(h)) {
		snprintf(err, errlen, "%s does not define malloc: it is not a malloc replacement",
			 lib);
	} else {
		snprintf(err, errlen, "%s was not preloaded: malloc comes from %s", lib, from);
	}
	return -1;
#endif
}

/* init's first step for a preloaded library: the one the worker was given
 * (allocator_preload: the backend's file, or the file its environment
 * variable names) must provide malloc. */
static int check_preloaded(const struct allocator *a, const char *package, char *err, size_t errlen)
{
	return provides_malloc(allocator_preload(a, NULL), package, err, errlen);
}

extern const struct allocator jemalloc_allocator, mimalloc_allocator, tcmalloc_allocator;

/* ---- glibc ----------------------------------------------------------------------- */

static int glibc_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		      size_t errlen)
{
	(void)heap;
	(void)opts;
	(void)err;
	(void)errlen;
	*state = NULL;
	malloc_trim(0); /* give back free memory: the note at the top */
	return 0;
}

static void glibc_stats(void *state, struct alloc_stats *out)
{
	(void)state;
	struct mallinfo2 mi = mallinfo2();
	alloc_stats_add(out, "arena", mi.arena);
	alloc_stats_add(out, "hblkhd", mi.hblkhd);
	alloc_stats_add(out, "uordblks", mi.uordblks);
	alloc_stats_add(out, "fordblks", mi.fordblks);
	alloc_stats_add(out, "keepcost", mi.keepcost);
	out->footprint = mi.arena + mi.hblkhd;
	out->in_use = mi.uordblks + mi.hblkhd;
	out->source = "mallinfo2";
}

static int glibc_version(char *buf, size_t len)
{
	snprintf(buf, len, "glibc %s", gnu_get_libc_version());
	return 0;
}

const struct allocator system_allocator = {
	.name = "system",
	.description = "the C library's malloc (glibc); resident footprint, mallinfo2 beside it",
	.flags = ALLOC_F_PROCESS | ALLOC_F_LIBC,
	.init = glibc_init,
	LIBC_CALLS,
	.usable_size = sys_usable_size,
	.stats = glibc_stats,
	.version = glibc_version,
};

/* ---- jemalloc --------------------------------------------------------------------- */

#define JEMALLOC_FILE "libjemalloc.so.2"
#define JEMALLOC_ENV  "HEAPBENCH_JEMALLOC_LIB"

typedef int mallctl_fn(const char *, void *, size_t *, void *, size_t);
static mallctl_fn *je_mallctl;

static int je_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	(void)heap;
	(void)opts;
	*state = NULL;
	if (check_preloaded(&jemalloc_allocator, "libjemalloc-dev", err, errlen) < 0)
		return -1;
	*(void **)&je_mallctl = dlsym(RTLD_DEFAULT, "mallctl");
	if (!je_mallctl)
		return snprintf(err, errlen, "jemalloc's mallctl is missing"), -1;
	je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* 4096: every arena */
	return 0;
}

static uint64_t je_read(const char *name)
{
	size_t v = 0, len = sizeof v;
	return je_mallctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

static void je_stats(void *state, struct alloc_stats *out)
{
	(void)state;
	uint64_t epoch = 1;
	size_t len = sizeof epoch;
	/* the statistics are a snapshot taken when the epoch advances */
	if (je_mallctl("epoch", &epoch, &len, &epoch, len) != 0) {
		out->source = "none";
		return;
	}
	static const char *const names[] = {"stats.allocated", "stats.active", "stats.metadata",
					    "stats.resident",  "stats.mapped", "stats.retained"};
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
		alloc_stats_add(out, names[i], je_read(names[i]));
	out->footprint = je_read("stats.resident");
	out->in_use = je_read("stats.allocated");
	out->source = "jemalloc:stats.resident";
}

static int je_version(char *buf, size_t len)
{
	const char *v = NULL;
	size_t vlen = sizeof v;
	if (!je_mallctl || je_mallctl("version", &v, &vlen, NULL, 0) != 0 || !v)
		return snprintf(buf, len, "jemalloc's version mallctl failed"), -1;
	snprintf(buf, len, "jemalloc %s", v);
	return 0;
}

const struct allocator jemalloc_allocator = {
	.name = "jemalloc",
	.description = "jemalloc, preloaded; resident footprint, stats.resident beside it",
	PRELOADED(JEMALLOC_FILE, JEMALLOC_ENV),
	.init = je_init,
	.stats = je_stats,
	.version = je_version,
};

/* ---- mimalloc --------------------------------------------------------------------- */

#define MIMALLOC_FILE "libmimalloc.so.2"
#define MIMALLOC_ENV  "HEAPBENCH_MIMALLOC_LIB"

static int mi_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	(void)heap;
	(void)opts;
	*state = NULL;
	if (check_preloaded(&mimalloc_allocator, "libmimalloc-dev", err, errlen) < 0)
		return -1;
	void (*collect)(bool);
	*(void **)&collect = dlsym(RTLD_DEFAULT, "mi_collect");
	if (collect)
		collect(true);
	return 0;
}

/* No stats: mi_process_info's commit counts whole arenas, which mimalloc
 * commits eagerly where the kernel overcommits (32 MiB at its first
 * malloc, on Debian's build), so it does not move on traces smaller than
 * that; the harness uses the resident-set growth (docs/metrics.md). */

static int mi_version_string(char *buf, size_t len)
{
	int (*v)(void);
	*(void **)&v = dlsym(RTLD_DEFAULT, "mi_version");
	if (!v)
		return snprintf(buf, len, "mimalloc's mi_version is missing"), -1;
	int n = v(); /* 209 is 2.0.9 */
	snprintf(buf, len, "mimalloc %d.%d.%d", n / 100, n / 10 % 10, n % 10);
	return 0;
}

const struct allocator mimalloc_allocator = {
	.name = "mimalloc",
	.description = "mimalloc, preloaded; resident footprint",
	PRELOADED(MIMALLOC_FILE, MIMALLOC_ENV),
	.init = mi_init,
	.version = mi_version_string,
};

/* ---- tcmalloc (gperftools) ---------------------------------------------------------- */

/* the minimal library: the allocator without the heap profiler's hooks */
#define TCMALLOC_FILE "libtcmalloc_minimal.so.4"
#define TCMALLOC_ENV  "HEAPBENCH_TCMALLOC_LIB"

typedef int tc_property_fn(const char *name, size_t *value);
static tc_property_fn *tc_property;

static int tc_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	(void)heap;
	(void)opts;
	*state = NULL;
	if (check_preloaded(&tcmalloc_allocator, "libgoogle-perftools-dev", err, errlen) < 0)
		return -1;
	*(void **)&tc_property = dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
	if (!tc_property)
		return snprintf(err, errlen, "tcmalloc's MallocExtension is missing"), -1;
	void (*release)(void);
	*(void **)&release = dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
	if (release)
		release();
	return 0;
}

static uint64_t tc_read(const char *name)
{
	size_t v = 0;
	return tc_property(name, &v) ? v : 0;
}

static void tc_stats(void *state, struct alloc_stats *out)
{
	(void)state;
	static const char *const names[] = {
		"generic.current_allocated_bytes",   "generic.heap_size",
		"tcmalloc.pageheap_free_bytes",      "tcmalloc.pageheap_unmapped_bytes",
		"tcmalloc.central_cache_free_bytes", "tcmalloc.thread_cache_free_bytes"};
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
		alloc_stats_add(out, names[i], tc_read(names[i]));
	uint64_t heap = tc_read("generic.heap_size");
	uint64_t unmapped = tc_read("tcmalloc.pageheap_unmapped_bytes");
	out->footprint = heap > unmapped ? heap - unmapped : 0;
	out->in_use = tc_read("generic.current_allocated_bytes");
	out->source = "tcmalloc:heap_size-unmapped";
}

static int tc_version_string(char *buf, size_t len)
{
	const char *(*v)(int *, int *, const char **);
	*(void **)&v = dlsym(RTLD_DEFAULT, "tc_version");
	if (!v)
		return snprintf(buf, len, "tcmalloc's tc_version is missing"), -1;
	int major, minor;
	const char *patch;
	const char *s = v(&major, &minor, &patch);
	snprintf(buf, len, "%s", s ? s : "gperftools");
	return 0;
}

const struct allocator tcmalloc_allocator = {
	.name = "tcmalloc",
	.description = "tcmalloc (gperftools, minimal), preloaded; resident footprint, "
		       "MallocExtension beside it",
	PRELOADED(TCMALLOC_FILE, TCMALLOC_ENV),
	.init = tc_init,
	.stats = tc_stats,
	.version = tc_version_string,
};

/* ---- preload:PATH ------------------------------------------------------------------- */

static const struct allocator_option preload_options[] = {
	{"path", "the malloc replacement library to preload"},
	{NULL, NULL},
};

static size_t (*user_usable)(void *);

static int user_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		     size_t errlen)
{
	(void)heap;
	*state = NULL;
	const char *path = backend_opt_get(opts, "path");
	if (!path)
		return snprintf(err, errlen, "preload: needs a library path"), -1;
	if (provides_malloc(path, NULL, err, errlen) < 0)
		return -1;
	/* glibc's malloc_usable_size on another library's block would read
	 * garbage: only the library's own one will do */
	Dl_info m, u;
	void *usable = dlsym(RTLD_DEFAULT, "malloc_usable_size");
	void *mal = dlsym(RTLD_DEFAULT, "malloc");
	*(void **)&user_usable =
		usable && dladdr(usable, &u) && dladdr(mal, &m) && u.dli_fbase == m.dli_fbase
			? usable
			: NULL;
	return 0;
}

static size_t user_usable_size(void *state, void *p)
{
	(void)state;
	return user_usable ? user_usable(p) : 0;
}

/* The file malloc comes from: the only version a foreign library has. */
static int user_version(char *buf, size_t len)
{
	Dl_info di;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	if (!m || !dladdr(m, &di) || !di.dli_fname)
		return snprintf(buf, len, "malloc's library is unknown"), -1;
	snprintf(buf, len, "%s", di.dli_fname);
	return 0;
}

/* no stats: the harness measures the resident-set growth instead */
const struct allocator preload_allocator = {
	.name = "preload",
	.description = "any malloc replacement library, preloaded (preload:PATH)",
	.options = preload_options,
	.flags = ALLOC_F_PROCESS | ALLOC_F_LIBC | ALLOC_F_PRELOAD,
	.init = user_init,
	LIBC_CALLS,
	.usable_size = user_usable_size,
	.version = user_version,
};

/* ---- Purging on a timer (libc_calls.h) ------------------------------------------ */

/* jemalloc: every arena's dirty and muzzy decay times, -1 (never) while
 * stopped; setting a time again purges what has fully decayed by then,
 * which is everything unused.  mimalloc 2.0: the page and segment
 * decommit delays, 10^9 ms while stopped, only when the library is the
 * version whose option numbers this file was built with.  glibc and
 * tcmalloc purge on no timer. */
#define TIMERS_MAX_ARENAS 256
static struct {
	bool stopped;
	unsigned narenas;
	ssize_t decay[TIMERS_MAX_ARENAS][2];
	bool mi;
	long mi_delay[2];
} timers;

static const char *const decay_names[2] = {"dirty_decay_ms", "muzzy_decay_ms"};

static void je_timers(bool stop)
{
	mallctl_fn *ctl;
	*(void **)&ctl = dlsym(RTLD_DEFAULT, "mallctl");
	unsigned n = 0;
	size_t len = sizeof n;
	if (!ctl || ctl("arenas.narenas", &n, &len, NULL, 0) != 0)
		return;
	if (stop)
		timers.narenas = n < TIMERS_MAX_ARENAS ? n : TIMERS_MAX_ARENAS;
	for (unsigned i = 0; i < timers.narenas; i++)
		for (int k = 0; k < 2; k++) {
			char name[64];
			snprintf(name, sizeof name, "arena.%u.%s", i, decay_names[k]);
			ssize_t never = -1, *set = stop ? &never : &timers.decay[i][k];
			size_t vlen = sizeof(ssize_t);
			if (ctl(name, stop ? &timers.decay[i][k] : NULL, stop ? &vlen : NULL, set,
				sizeof *set) != 0 &&
			    stop)
				timers.decay[i][k] = -1; /* not there: leave it */
		}
}

static void mi_timers(bool stop)
{
#if defined(MI_MALLOC_VERSION) && MI_MALLOC_VERSION < 210
	int (*version)(void);
	long (*get)(mi_option_t);
	void (*set)(mi_option_t, long);
	*(void **)&version = dlsym(RTLD_DEFAULT, "mi_version");
	*(void **)&get = dlsym(RTLD_DEFAULT, "mi_option_get");
	*(void **)&set = dlsym(RTLD_DEFAULT, "mi_option_set");
	static const mi_option_t delays[2] = {mi_option_decommit_delay,
					      mi_option_segment_decommit_delay};
	if (stop)
		timers.mi = version && get && set && version() == MI_MALLOC_VERSION;
	if (!timers.mi)
		return;
	for (int k = 0; k < 2; k++) {
		if (stop)
			timers.mi_delay[k] = get(delays[k]);
		set(delays[k], stop ? 1000000000L : timers.mi_delay[k]);
	}
#else
	(void)stop;
#endif
}

void libc_timers_stop(void)
{
	if (timers.stopped)
		return;
	je_timers(true);
	mi_timers(true);
	timers.stopped = true;
}

void libc_timers_restore(void)
{
	if (!timers.stopped)
		return;
	je_timers(false);
	mi_timers(false);
	timers.stopped = false;
	/* what a fresh init gives back */
	malloc_trim(0);
	mallctl_fn *ctl;
	*(void **)&ctl = dlsym(RTLD_DEFAULT, "mallctl");
	if (ctl)
		ctl("arena.4096.purge", NULL, NULL, NULL, 0); /* 4096: every arena */
	void (*collect)(bool);
	*(void **)&collect = dlsym(RTLD_DEFAULT, "mi_collect");
	if (collect)
		collect(true);
	void (*release)(void);
	*(void **)&release = dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
	if (release)
		release();
}
