/*
 * jobcheck.c - the parent's check of a result a worker left in the page
 * (jobpage.h).  The worker runs the backend, and the backend can write
 * anywhere in its process, the page included: nothing read from it is
 * used before it is checked here, so that a scribbled page is the job's
 * error, never a crash of heapbench or a number that cannot be.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "replay/jobpage.h"

/* A bool read as its byte: any other value than 0 or 1 is no bool, and
 * loading it as one is undefined. */
static bool bool_byte_ok(const struct replay_result *r, size_t off)
{
	unsigned char b;
	memcpy(&b, (const char *)r + off, 1);
	return b <= 1;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* Finite and not negative. */
static bool measure_ok(double v)
{
	return isfinite(v) && v >= 0;
}

#define BOOLS(X)                                                                                   \
	X(finished)                                                                                \
	X(have_utilization)                                                                        \
	X(have_usable)                                                                             \
	X(have_stats_footprint)                                                                    \
	X(have_timed_footprint)                                                                    \
	X(serialized) X(have_threaded_footprint) X(have_threaded_stats) X(have_latency)

/* The first field of r found broken, or NULL: its structure (enums,
 * bools, counts within their arrays, strings within their buffers). */
static const char *broken_shape(const struct replay_result *r)
{
#define BOOL_CHECK(f)                                                                              \
	if (!bool_byte_ok(r, offsetof(struct replay_result, f)))                                   \
		return #f;
	BOOLS(BOOL_CHECK)
#undef BOOL_CHECK
	if ((unsigned)r->status >= JOB_NSTATUS)
		return "status";
	if (!terminated(r->error, sizeof r->error))
		return "error";
	if (r->pass < REPLAY_PASS_THREADED || r->pass > REPLAY_MAX_REPEAT)
		return "pass";
	if (r->nstats > ALLOC_STATS_EXTRA)
		return "nstats";
	for (unsigned i = 0; i < r->nstats; i++)
		if (!terminated(r->stats[i].name, sizeof r->stats[i].name))
			return "stats";
	if (!terminated(r->footprint_source, sizeof r->footprint_source))
		return "footprint_source";
	if (!terminated(r->stats_source, sizeof r->stats_source))
		return "stats_source";
	if ((unsigned)r->mode >= THREADS_NMODES)
		return "mode";
	if (r->repeat > REPLAY_MAX_REPEAT)
		return "repeat";
	if (r->copies > REPLAY_MAX_COPIES)
		return "copies";
	if (r->npoints > REPLAY_TIMELINE_POINTS + 2)
		return "npoints";
	if (r->ntime > REPLAY_TIMELINE_POINTS)
		return "ntime";
	return NULL;
}

/* The first number of r that cannot be, or NULL: counts against the
 * trace's nops, measures finite and not negative, and the invariants of
 * docs/metrics.md that hold whenever they were measured. */
static const char *broken_numbers(const struct replay_result *r, uint64_t nops)
{
	if (r->ops != nops)
		return "ops";
	if (r->allocs > nops || r->frees > nops || r->reallocs > nops)
		return "allocs, frees or reallocs";
	if (r->error_op != UINT64_MAX && r->error_op > nops)
		return "error_op";
	if (r->peak_live_op > nops)
		return "peak_live_op";
	if (r->have_utilization &&
	    (!(r->utilization > 0 && r->utilization <= 1) || r->peak_live_bytes == 0 ||
	     r->footprint_at_peak_live < r->peak_live_bytes ||
	     r->peak_footprint_bytes < r->footprint_at_peak_live))
		return "utilization";
	double v[] = {r->frag_peak,      r->frag_at_peak_live,
		      r->frag_mean,      r->stats_utilization,
		      r->wait_fraction,  r->pace,
		      r->seconds_median, r->seconds_min,
		      r->seconds_max,    r->mops,
		      r->ns_per_op,      r->timer_overhead_ns,
		      r->checked_seconds};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (!measure_ok(v[i]))
			return "a measure (fragmentation, seconds, Mops/s)";
	for (unsigned i = 0; i < r->repeat; i++)
		if (!measure_ok(r->seconds[i]))
			return "seconds";
	for (int k = 0; k < TRACE_NKINDS; k++) {
		const struct replay_latency *l = &r->latency[k];
		if (!measure_ok(l->p50) || !measure_ok(l->p90) || !measure_ok(l->p99) ||
		    !measure_ok(l->p999) || !measure_ok(l->max) || l->count > nops)
			return "latency";
	}
	for (unsigned i = 0; i < r->npoints; i++)
		if (r->timeline[i].op > nops)
			return "timeline";
	return NULL;
}

int job_result_check(const struct replay_result *r, uint64_t nops, bool finished, char *why,
		     size_t len)
{
	const char *bad = broken_shape(r);
	/* the numbers are the worker's to have finished: a job cut short
	 * (crash, timeout) leaves some half-made, and none is reported */
	if (!bad && finished && r->status == JOB_OK)
		bad = broken_numbers(r, nops);
	if (!bad)
		return 0;
	snprintf(why, len, "the backend corrupted the harness's result page (its %s field)", bad);
	return -1;
}
