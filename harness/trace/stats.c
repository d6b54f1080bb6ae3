/*
 * trace_stats.c - one pass over a verified trace (see trace_stats.h).
 * Memory: one size per id (O(max live blocks)) plus one 8-byte sample per
 * sizing request, sorted once for exact percentiles.
 */
#include "trace/stats.h"

#include <stdlib.h>
#include <string.h>

unsigned stats_bucket(uint64_t size)
{
	return size ? 64u - (unsigned)__builtin_clzll(size) : 0u;
}

uint64_t stats_nearest_rank(const uint64_t *sorted, uint64_t n, unsigned num, unsigned den)
{
	if (n == 0)
		return 0;
	/* ceil(n*num/den) in integers: exact where floating point is not */
	unsigned __int128 r = ((unsigned __int128)n * num + den - 1) / den;
	uint64_t rank = r < 1 ? 1 : r > n ? n : (uint64_t)r;
	return sorted[rank - 1];
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void trace_compute_stats(const struct trace *t, struct trace_stats *st)
{
	memset(st, 0, sizeof *st);
	st->ops = t->nops;
	st->ids = t->nids;
	st->threads = t->nops ? t->nthreads : 0;

	uint64_t *bytes = xcalloc((size_t)t->nids + 1, sizeof *bytes);
	uint64_t nsamples = 0;
	for (uint64_t i = 0; i < t->nops; i++)
		nsamples += t->ops[i].kind != TRACE_FREE;
	uint64_t *sizes = xmalloc((size_t)nsamples * sizeof *sizes + 1);

	uint64_t live = 0, blocks = 0;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		st->kinds[op->kind]++;
		st->realloc_nulls += (op->flags & TRACE_F_REALLOC_NULL) != 0;
		st->realloc_zeros += (op->flags & TRACE_F_REALLOC_ZERO) != 0;
		if (op->id == TRACE_ID_NULL) {
			st->free_nulls++;
			continue;
		}
		uint64_t nb = trace_op_bytes(op);
		if (op->kind != TRACE_FREE) {
			sizes[st->nsizes++] = nb;
			st->hist[stats_bucket(nb)]++;
			if (__builtin_add_overflow(st->requested_bytes, nb, &st->requested_bytes))
				st->requested_bytes = UINT64_MAX; /* saturates */
		}
		blocks += trace_op_allocates(op);
		blocks -= op->kind == TRACE_FREE;
		live = live - bytes[op->id] + nb;
		bytes[op->id] = nb;
		if (live > st->peak_live_bytes) {
			st->peak_live_bytes = live;
			st->peak_live_op = i;
		}
		if (blocks > st->max_live_blocks)
			st->max_live_blocks = blocks;
	}
	st->final_live_bytes = live;
	st->final_live_blocks = blocks;

	if (st->nsizes) {
		qsort(sizes, (size_t)st->nsizes, sizeof *sizes, cmp_u64);
		st->size_min = sizes[0];
		st->size_max = sizes[st->nsizes - 1];
		st->size_median = stats_nearest_rank(sizes, st->nsizes, 1, 2);
		st->size_p99 = stats_nearest_rank(sizes, st->nsizes, 99, 100);
	}
	free(sizes);
	free(bytes);
}
