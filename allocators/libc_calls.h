/*
 * libc_calls.h - the C library's malloc, calloc, aligned allocation,
 * realloc and free in the shape of struct allocator's members (the state
 * is unused): what every process-wide backend is (system.c), and what the
 * timed passes call for them directly (harness/replay/pass_timed.c), so
 * the checked and the timed passes make exactly the same calls.
 *
 * static inline: a table of these in one translation unit lets the
 * compiler call malloc & co. directly once the loop is inlined.
 */
#ifndef HB_LIBC_CALLS_H
#define HB_LIBC_CALLS_H

#include <stddef.h>
#include <stdlib.h>

static inline void *libc_malloc(void *state, size_t size)
{
	(void)state;
	return malloc(size);
}

static inline void *libc_calloc(void *state, size_t nmemb, size_t size)
{
	(void)state;
	return calloc(nmemb, size);
}

/* posix_memalign wants at least a pointer's alignment; a smaller one is
 * met by that anyway */
static inline void *libc_memalign(void *state, size_t align, size_t size)
{
	(void)state;
	void *p;
	if (align < sizeof(void *))
		align = sizeof(void *);
	return posix_memalign(&p, align, size) ? NULL : p;
}

static inline void *libc_realloc(void *state, void *p, size_t size)
{
	(void)state;
	return realloc(p, size);
}

/* Purging on a timer (jemalloc's decay, mimalloc's decommit delays) makes
 * what the library holds depend on how fast the calls come, so the checked
 * pass, which is slower than any program, stops it (system.c): stop before
 * the pass's baseline, restore after it, which also has the library give
 * back what it holds free, as a fresh init would.  Both do nothing for a
 * library without such timers. */
void libc_timers_stop(void);
void libc_timers_restore(void);

/* The library aborts on what it can detect; the worker reports the crash. */
static inline int libc_free(void *state, void *p, char *why, size_t len)
{
	(void)state, (void)why, (void)len;
	free(p);
	return 0;
}

#endif
