/*
 * gen.h - deterministic synthetic traces.
 *
 * Patterns (after the heap profiles of Wilson, Johnstone et al.):
 *   ramp       live memory grows steadily over the whole trace;
 *   peak       repeated phases that build up to a peak and free most of it;
 *   plateau    a quick rise to a level that then holds with steady churn;
 *   random-uniform      random allocs/frees around a fixed level, sizes
 *                       uniform in [1, 2048];
 *   random-exponential  the same with exponentially distributed sizes
 *                       (mean 256).
 * The first three draw sizes from a program-like mix (mostly small, a tail
 * of large), free mostly recent blocks (short lifetimes) and some old ones,
 * and include calloc, memalign and realloc ops.  Exactly `ops` ops; the
 * same (pattern, ops, seed) gives the same trace on every run.
 */
#ifndef HB_TRACE_GEN_H
#define HB_TRACE_GEN_H

#include <stdint.h>

#include "trace/trace.h"

/* NULL-terminated list of pattern names. */
extern const char *const trace_gen_patterns[];

/* Builds the trace; NULL (with a message) if the pattern is unknown.  The
 * live set peaks near ops/16 blocks, or near `live` blocks when given (so
 * that traces of different lengths can share one profile). */
struct trace *trace_generate(const char *pattern, uint64_t ops, uint64_t seed);
struct trace *trace_generate_live(const char *pattern, uint64_t ops, uint64_t seed, uint64_t live);

#endif
