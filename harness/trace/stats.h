/*
 * stats.h - what a trace asks of an allocator, computed in one pass.
 *
 * Definitions (also in traces/README.md):
 *   - live bytes: the sum of the requested sizes of the live blocks; calloc
 *     counts nmemb*size, realloc replaces the block's size;
 *   - sizes: one sample per request that creates or resizes a block
 *     (alloc, calloc as nmemb*size, memalign, realloc's new size);
 *   - percentiles are nearest-rank: the p-quantile of n sorted samples is
 *     sample number ceil(p*n) (1-based), so the median of 4 samples is the
 *     2nd;
 *   - histogram bucket 0 counts size 0, bucket k >= 1 counts sizes in
 *     [2^(k-1), 2^k).
 */
#ifndef HB_TRACE_STATS_H
#define HB_TRACE_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "trace/trace.h"

#define TRACE_STATS_BUCKETS 65

struct trace_stats {
	uint64_t ops;
	uint64_t kinds[TRACE_NKINDS]; /* allocs, callocs, memaligns, reallocs, frees */
	uint64_t free_nulls;          /* frees of NULL (counted in frees) */
	uint64_t realloc_nulls;       /* realloc(NULL, n) (counted in allocs) */
	uint64_t realloc_zeros;       /* realloc(p, 0) (counted in frees) */
	uint32_t ids, threads;
	uint64_t peak_live_bytes, peak_live_op;
	uint64_t final_live_bytes, final_live_blocks;
	uint64_t max_live_blocks;
	uint64_t requested_bytes; /* sum of all size samples */
	uint64_t nsizes, size_min, size_median, size_p99, size_max;
	uint64_t hist[TRACE_STATS_BUCKETS];
};

/* Requires a verified trace. */
void trace_compute_stats(const struct trace *t, struct trace_stats *st);

/* Nearest-rank quantile num/den (in (0, 1]) of n sorted values. */
uint64_t stats_nearest_rank(const uint64_t *sorted, uint64_t n, unsigned num, unsigned den);

/* Histogram bucket of a size. */
unsigned stats_bucket(uint64_t size);

/* `trace stats --json`: one object (fields in a fixed order, then the
 * trace's metadata).  The caller owns the result. */
json_t *trace_stats_json(const struct trace *t, const struct trace_stats *st);
/* `trace stats`: the table on stdout. */
void trace_stats_print(const struct trace *t, const struct trace_stats *st);

#endif
