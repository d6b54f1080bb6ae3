/*
 * allocator.h - the backend contract: one table of functions per backend.
 *
 * A backend is a `struct allocator` plus an opaque state that its init
 * creates.  Built-in backends take all their memory from the simulated heap
 * passed to init (allocators/heap.h), so their footprint is exact;
 * process-wide backends (the system malloc, preloaded libraries) ignore it
 * and report their footprint through `stats`.
 *
 * Error convention: backends never print and never exit.  Allocation
 * functions return NULL when they cannot satisfy a request; init, free and
 * check return 0 on success and -1 on failure with a message in the buffer
 * they were given (why/errlen, at most ALLOC_ERRLEN bytes).
 */
#ifndef HB_ALLOCATOR_H
#define HB_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap;

/* AddressSanitizer builds (make debug) replace malloc themselves. */
#if defined(__SANITIZE_ADDRESS__)
#define HB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HB_SANITIZED 1
#endif
#endif

#define ALLOC_ERRLEN      256
#define ALLOC_STATS_EXTRA 8

/* One `key: value` option from the command line or a config. */
struct backend_opt {
	const char *key, *value;
};

struct backend_opts {
	const struct backend_opt *v;
	size_t n;
};

/* What a backend accepts: its options, for validation and --help. */
struct allocator_option {
	const char *key;
	const char *doc; /* one line: values and default */
};

/* Footprint as the backend knows it, sampled outside timed code. */
struct alloc_stats {
	uint64_t footprint; /* bytes held from the system (or the heap) now */
	uint64_t in_use;    /* bytes handed out incl. rounding; 0 = unknown */
	const char *source; /* how footprint was measured: "simulated-heap", "mallinfo2" */
	/* more of the allocator's own figures, reported with the result as
	 * they were at the footprint's peak: jemalloc's stats.active, ... */
	struct alloc_stat {
		const char *name;
		uint64_t value;
	} extra[ALLOC_STATS_EXTRA];
	unsigned nextra;
};

static inline void alloc_stats_add(struct alloc_stats *s, const char *name, uint64_t value)
{
	if (s->nextra < ALLOC_STATS_EXTRA)
		s->extra[s->nextra++] = (struct alloc_stat){name, value};
}

enum {
	ALLOC_F_SIMULATED = 1, /* draws every byte from the simulated heap */
	ALLOC_F_PROCESS = 2,   /* uses the process's malloc: the harness must not
				  call malloc during a pass, nor free its memory */
	ALLOC_F_LIBC = 4,      /* its functions are exactly the C library's
				  malloc, calloc, posix_memalign, realloc and
				  free: the timed loop calls those directly */
	ALLOC_F_PRELOAD = 8,   /* the worker runs with a library in LD_PRELOAD:
				  `preload`, or the option `path` */
};

struct allocator {
	const char *name;                       /* registry key: "first-fit", "system", ... */
	const char *description;                /* one line for `heapbench list` */
	const struct allocator_option *options; /* {NULL} terminated; NULL = none */
	unsigned flags;                         /* ALLOC_F_* */

	/* Creates a fresh state drawing from heap (NULL for process-wide
	 * backends).  Options were checked against `options` already; init
	 * validates their values. */
	int (*init)(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		    size_t errlen);
	/* Releases the state; the heap itself is destroyed by the caller. */
	void (*fini)(void *state);

	/* The C functions, with the C semantics.  realloc(NULL, n) must act
	 * as malloc(n) (the harness passes NULL where an earlier malloc(0)
	 * returned NULL) and free(NULL) must do nothing; the harness never
	 * calls realloc(p, 0) (the trace model turns that into a free) and
	 * passes memalign a power of two.  NULL members: calloc = malloc + memset; memalign and
	 * usable_size unsupported (a trace needing memalign fails the job). */
	void *(*malloc)(void *state, size_t size);
	void *(*calloc)(void *state, size_t nmemb, size_t size);
	void *(*memalign)(void *state, size_t align, size_t size);
	void *(*realloc)(void *state, void *ptr, size_t size);
	/* 0, or -1 if ptr is not a block this backend handed out and still
	 * owns (the heap is left unchanged, why says what was wrong). */
	int (*free)(void *state, void *ptr, char *why, size_t len);

	/* Bytes usable at ptr (>= the request): internal fragmentation; 0
	 * when the backend cannot tell for this block. */
	size_t (*usable_size)(void *state, void *ptr);
	/* Walks every structure; 0 if every invariant holds, else -1 and
	 * the first broken invariant in words. */
	int (*check)(void *state, char *why, size_t len);
	void (*stats)(void *state, struct alloc_stats *out);

	/* Process-wide backends: the library the worker preloads (a file
	 * name for ld.so's search path, or a path; NULL = none), and the
	 * version the library reports, called after init in the worker. */
	const char *preload;
	const char *preload_env; /* names another library for `preload` */
	int (*version)(char *buf, size_t len);
};

/* ---- Registry ----------------------------------------------------------- */

/* Every backend, NULL-terminated. */
extern const struct allocator *const allocator_registry[];

/* More backends that allocator_find knows but lists nowhere: the test
 * programs' deliberately broken backends.  NULL-terminated; NULL = none. */
extern const struct allocator *const *allocator_extra;

/* Backends that only exist with a path (`preload:PATH`, `library:PATH`):
 * found by name, never listed or run by default. */
extern const struct allocator preload_allocator, library_allocator;

/* The library a backend's worker preloads (ALLOC_F_PRELOAD), or NULL. */
const char *allocator_preload(const struct allocator *a, const struct backend_opts *opts);

/* library:PATH - the user's own backend, from a shared object exporting
 * `const struct allocator heapbench_allocator` (allocators/examples/).
 * Loads it into this process; NULL and a message if it cannot. */
const struct allocator *library_load(const char *path, char *err, size_t errlen);

/* mm:PATH - a student's malloc-lab allocator (malloclab.c): mm_allocator
 * stands for it until the worker loads the built object so with the
 * later handouts' convention (cmu) or the 2002 one. */
extern const struct allocator mm_allocator;
const struct allocator *mm_load(const char *so, bool cmu, char *err, size_t errlen);

/* The backend called name, or NULL. */
const struct allocator *allocator_find(const char *name);
/* "first-fit, system" - the known names, for error messages. */
const char *allocator_names(char *buf, size_t len);
/* Checks every option key against a's list; -1 with a message naming the
 * unknown key and the known ones. */
int allocator_check_options(const struct allocator *a, const struct backend_opts *opts, char *err,
			    size_t errlen);
/* stats for a backend that draws from the simulated heap: footprint from
 * the heap, in_use as the backend counts it. */
void alloc_stats_simulated(const struct heap *heap, uint64_t in_use, struct alloc_stats *out);

/* The value of key in opts, or NULL. */
const char *backend_opt_get(const struct backend_opts *opts, const char *key);
/* Reads option key as a byte count below 2^63 into *out (left alone when
 * the option is absent); -1 with a message for anything else. */
int backend_opt_bytes(const struct backend_opts *opts, const char *key, uint64_t *out, char *err,
		      size_t errlen);

#endif
