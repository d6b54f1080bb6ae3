/*
 * lab.h - the malloc-lab presets (lab.c).
 */
#ifndef HB_REPLAY_LAB_H
#define HB_REPLAY_LAB_H

#include <stdbool.h>
#include <stdint.h>

#include "replay/mmbuild.h"
#include "replay/replay.h"
#include "trace/trace.h"

struct replay_lab {
	const char *name;          /* as --lab takes it */
	unsigned lab;              /* enum mm_lab */
	unsigned alignment;        /* of every payload (ALIGNMENT) */
	uint64_t heap_limit;       /* MAX_HEAP */
	const char *const *traces; /* its default list (DEFAULT_TRACEFILES) */
};

/* Every preset, ending with a NULL name. */
extern const struct replay_lab replay_labs[];

/* The preset called name, or of enum mm_lab lab; NULL if none. */
const struct replay_lab *replay_lab_find(const char *name);
const struct replay_lab *replay_lab_of(unsigned lab);
/* The weight t's .rep header gives it under lab (cmu2016: line 1, 0 to
 * 3), or -1: another lab, or a trace with no such header. */
int replay_lab_weight(const struct trace *t, unsigned lab);
/* Sets the preset's lab, alignment (strict) and heap limit in cfg: false
 * if there is no preset of that name. */
bool replay_lab_set(struct replay_config *cfg, const char *name);
/* The paths with each directory replaced, under a lab, by the lab's
 * default traces in it (a handout's traces/): NULL-terminated, *count of
 * them, each and the array malloc'd. */
char **replay_lab_paths(unsigned lab, char *const *paths, int n, int *count);

#endif
