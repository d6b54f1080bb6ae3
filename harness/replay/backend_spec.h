/*
 * backend_spec.h - a backend as a user names it, checked before anything
 * runs: "first-fit", "first-fit:order=lifo,min_split=64", "preload:PATH",
 * "library:PATH" (replay -a, a config's backends), or a name with options
 * given apart (a config's mapping form).
 */
#ifndef HB_BACKEND_SPEC_H
#define HB_BACKEND_SPEC_H

#include "replay/replay.h"

struct backend_choice {
	const struct allocator *a;
	char *spec; /* as given: the name in tables and results */
	char *buf;  /* holds the option strings */
	struct backend_opt opt[REPLAY_MAX_OPTS];
	size_t nopt;
	char version[512]; /* as the backend reports it, once it was checked */
	char *fault;       /* why it cannot start here (its jobs' error), or NULL */
};

/* Parses spec into b, checks the options (names and values) and whether
 * the backend can start here (a preloaded library is present, a user's
 * library loads, its init and fini return): one that cannot has the reason
 * in b->fault, said once on stderr, and its jobs fail with it.  0, or -1
 * with one line in err for bad usage; b is to be freed either way. */
int backend_parse(const char *spec, struct backend_choice *b, char *err, size_t len);

/* The same for a backend name with options given one by one (strings are
 * copied); display is the name results carry. */
int backend_with_options(const char *display, const char *name, const struct backend_opt *opt,
			 size_t nopt, struct backend_choice *b, char *err, size_t len);

/* A job's config: base's knobs with b's backend and options. */
struct replay_config backend_choice_config(const struct backend_choice *b,
					   const struct replay_config *base);

/* Says once, on stderr, which of the n backends a heap limit does not
 * hold (it sizes the simulated heap; a process-wide allocator maps what it
 * likes, held only by the job's memory limit).  Nothing when limit is 0. */
void backend_heap_limit_note(const struct backend_choice *b, size_t n, uint64_t limit);

void backend_choice_free(struct backend_choice *b);

#endif
