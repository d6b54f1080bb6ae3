/*
 * jobpage.h - the memory a parent and its worker share (job.h): the job
 * going in, the result coming out.
 *
 * The worker is this binary re-executed, or the 32-bit worker
 * (heapbench-worker32, for mm:PATH:bits=32), so the page has one layout on
 * x86-64 and i386: fixed-width fields, every 8-byte one aligned to 8
 * (REPLAY_WIRE), no pointers.  The backend goes by its name, the options as
 * strings, each in a fixed buffer.  A registry name and an option's name
 * are short; the longest value is a path (preload:PATH, library:PATH,
 * made absolute by realpath: at most PATH_MAX with its NUL).
 */
#ifndef HB_REPLAY_JOBPAGE_H
#define HB_REPLAY_JOBPAGE_H

#include <limits.h>
#include <stdint.h>

#include "replay/replay.h"

#define JOB_NAME_MAX  64
#define JOB_KEY_MAX   64
#define JOB_VALUE_MAX 4096 /* PATH_MAX on Linux, spelled out: the same on both */

/* "hbjob" and the page's version: a worker of another heapbench refuses
 * the page instead of misreading it. */
#define JOB_PAGE_MAGIC UINT64_C(0x68626a6f62000002)

/* Every knob of replay_config but the backend and its options, in fixed
 * widths: a new knob goes here and in job_knobs_put/get. */
struct job_knobs {
	REPLAY_WIRE uint64_t heap_check_every, heap_limit, sample_every;
	REPLAY_WIRE double pace;
	uint32_t check, repeat, alignment, threads, copies, lab;
	uint8_t latency, align_strict;
};

struct job_page {
	REPLAY_WIRE uint64_t magic; /* JOB_PAGE_MAGIC */
	uint32_t size;              /* sizeof (struct job_page), as the parent built it */
	struct replay_result result;
	struct job_knobs knobs;
	char backend[JOB_NAME_MAX];
	uint32_t nopt;
	struct {
		char key[JOB_KEY_MAX], value[JOB_VALUE_MAX];
	} opt[REPLAY_MAX_OPTS];
};

/* cfg's knobs into the page (the parent) and back (the worker: the
 * backend and the options are its own to set). */
void job_knobs_put(struct job_knobs *k, const struct replay_config *cfg);
void job_knobs_get(const struct job_knobs *k, struct replay_config *cfg);

/* Whether r, as a worker left it for a trace of nops ops, can be read:
 * its enums, bools, counts and strings within their bounds, and, when
 * the worker finished an ok job, its numbers possible.  0, or -1 and
 * which field is broken in why ("the backend corrupted the harness's
 * result page ..."). */
int job_result_check(const struct replay_result *r, uint64_t nops, bool finished, char *why,
		     size_t len);

#endif
