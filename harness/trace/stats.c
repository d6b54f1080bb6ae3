/*
 * stats.c - one pass over a verified trace (see stats.h), and the two ways
 * `trace stats` shows the result: a table for people, JSON for scripts.
 * Memory: one size per id (O(max live blocks)) plus one 8-byte sample per
 * sizing request, sorted once for exact percentiles.
 */
#include "trace/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonx.h"
#include "trace/import.h"

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

/* ---- Showing ------------------------------------------------------------ */

json_t *trace_stats_json(const struct trace *t, const struct trace_stats *st)
{
	char fmt[32];
	json_t *o = json_object();
	json_object_set_new(o, "trace", jx_str(t->path));
	json_object_set_new(o, "format", json_string(trace_format_name(t, fmt, sizeof fmt)));
	json_object_set_new(o, "ops", jx_u64(st->ops));
	for (int k = 0; k < TRACE_NKINDS; k++)
		json_object_set_new(o, trace_kind_plurals[k], jx_u64(st->kinds[k]));
	json_object_set_new(o, "ids", json_integer(st->ids));
	json_object_set_new(o, "threads", json_integer(st->threads));
	json_object_set_new(o, "peak_live_bytes", jx_u64(st->peak_live_bytes));
	json_object_set_new(o, "final_live_bytes", jx_u64(st->final_live_bytes));
	json_object_set_new(o, "max_live_blocks", jx_u64(st->max_live_blocks));
	json_t *sz = json_object();
	json_object_set_new(sz, "count", jx_u64(st->nsizes));
	json_object_set_new(sz, "min", jx_u64(st->size_min));
	json_object_set_new(sz, "median", jx_u64(st->size_median));
	json_object_set_new(sz, "p99", jx_u64(st->size_p99));
	json_object_set_new(sz, "max", jx_u64(st->size_max));
	json_t *hist = json_array();
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++) {
		if (!st->hist[k])
			continue;
		uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0, hi = k ? lo * 2 - 1 : 0;
		json_array_append_new(hist,
				      json_pack("{sIsIsI}", "lo", (json_int_t)lo, "hi",
						(json_int_t)hi, "count", (json_int_t)st->hist[k]));
	}
	json_object_set_new(sz, "histogram", hist);
	json_object_set_new(o, "sizes", sz);
	/* beyond the fixed fields */
	json_object_set_new(o, "free_nulls", jx_u64(st->free_nulls));
	json_object_set_new(o, "realloc_nulls", jx_u64(st->realloc_nulls));
	json_object_set_new(o, "realloc_zeros", jx_u64(st->realloc_zeros));
	json_object_set_new(o, "peak_live_op", jx_u64(st->peak_live_op));
	json_object_set_new(o, "final_live_blocks", jx_u64(st->final_live_blocks));
	json_object_set_new(o, "requested_bytes", jx_u64(st->requested_bytes));
	json_t *meta = json_object();
	for (size_t i = 0; i < t->nmeta; i++)
		json_object_set_new(meta, t->meta[i].key, jx_str(t->meta[i].value));
	json_object_set_new(o, "metadata", meta);
	return o;
}

/* 1234567 -> "1,234,567" */
static const char *group(uint64_t v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), j = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
	return buf;
}

/* What an import could not see and what it did about it (import.h), from
 * the metadata, so that a cached or converted import says it too. */
static void print_import(const struct trace *t)
{
	const char *from = trace_meta_get(t, "imported-from");
	if (!from)
		return;
	const char *pid = trace_meta_get(t, "pid"), *np = trace_meta_get(t, "processes");
	printf("  imported from    %s log", from);
	if (pid)
		printf(", process %s (%s in the log)", pid, np ? np : "1");
	printf("\n");
	const char *lifetimes = trace_meta_get(t, "lifetimes");
	if (lifetimes && !strcmp(lifetimes, "approximate"))
		printf("  lifetimes        approximate: the log does not say which block a "
		       "free releases\n");
	for (int k = 0; k < IMPORT_NCOUNTS; k++) {
		char key[64];
		snprintf(key, sizeof key, "import-%s", import_count_keys[k]);
		const char *v = trace_meta_get(t, key);
		if (v && strcmp(v, "0"))
			printf("    %-14s %s %s\n", "", v, import_count_what[k]);
	}
}

void trace_stats_print(const struct trace *t, const struct trace_stats *st)
{
	char f[32], a[32], b[32], c[32], e[32];
	printf("%s (%s)\n", t->path, trace_format_name(t, f, sizeof f));
	printf("  ops              %s: %" PRIu64 " alloc, %" PRIu64 " calloc, %" PRIu64
	       " memalign, %" PRIu64 " realloc, %" PRIu64 " free\n",
	       group(st->ops, a), st->kinds[TRACE_ALLOC], st->kinds[TRACE_CALLOC],
	       st->kinds[TRACE_MEMALIGN], st->kinds[TRACE_REALLOC], st->kinds[TRACE_FREE]);
	if (st->free_nulls || st->realloc_nulls || st->realloc_zeros)
		printf("  spelled as       %" PRIu64 " free(NULL), %" PRIu64
		       " realloc(NULL, n), %" PRIu64 " realloc(p, 0)\n",
		       st->free_nulls, st->realloc_nulls, st->realloc_zeros);
	print_import(t);
	printf("  ids, threads     %s ids, %u thread%s\n", group(st->ids, a), st->threads,
	       st->threads == 1 ? "" : "s");
	printf("  live bytes       peak %s (at op %" PRIu64 "), final %s\n",
	       group(st->peak_live_bytes, a), st->peak_live_op, group(st->final_live_bytes, b));
	printf("  live blocks      max %s, final %s\n", group(st->max_live_blocks, a),
	       group(st->final_live_blocks, b));
	if (!st->nsizes) {
		printf("  sizes            none\n");
		return;
	}
	printf("  sizes            %s requests: min %s, median %s, p99 %s, max %s bytes\n",
	       group(st->nsizes, a), group(st->size_min, b), group(st->size_median, c),
	       group(st->size_p99, f), group(st->size_max, e));
	uint64_t top = 0;
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++)
		if (st->hist[k] > top)
			top = st->hist[k];
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++) {
		if (!st->hist[k])
			continue;
		uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0, hi = k ? lo * 2 - 1 : 0;
		char range[64];
		snprintf(range, sizeof range, "%s..%s", group(lo, a), group(hi, b));
		int bar = (int)((st->hist[k] * 40 + top - 1) / top);
		printf("    %-32s %12s  %.*s\n", range, group(st->hist[k], c), bar,
		       "########################################");
	}
}
