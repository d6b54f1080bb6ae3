/*
 * pass_latency.c - the latency pass (replay.h, step 3): each op timed on
 * its own into a log-scaled histogram per op kind, less the timer's cost;
 * then p50, p90, p99, p999 and max per kind.
 */
#include <math.h>
#include <stdio.h>

#include "replay/internal.h"

/* Log-linear buckets: exact below 16 ns, then 16 buckets per power of two
 * (relative error under 1/16). */
#define LAT_SUB     16
#define LAT_BUCKETS (LAT_SUB + 60 * LAT_SUB)
#define LAT_BYTES   (sizeof(uint64_t) * TRACE_NKINDS * LAT_BUCKETS)

static unsigned lat_bucket(uint64_t ns)
{
	if (ns < LAT_SUB)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* >= 4 */
	unsigned b = LAT_SUB + (e - 4) * LAT_SUB + (unsigned)((ns >> (e - 4)) & (LAT_SUB - 1));
	return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

/* The midpoint of a bucket's range. */
static double lat_value(unsigned b)
{
	if (b < LAT_SUB)
		return b;
	unsigned e = (b - LAT_SUB) / LAT_SUB + 4, sub = (b - LAT_SUB) % LAT_SUB;
	double lo = (double)((uint64_t)(LAT_SUB + sub) << (e - 4)),
	       width = (double)(1ull << (e - 4));
	return lo + width / 2;
}

static double lat_quantile(const uint64_t *h, uint64_t count, unsigned num, unsigned den)
{
	uint64_t rank = (count * num + den - 1) / den, seen = 0;
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < LAT_BUCKETS; b++) {
		seen += h[b];
		if (seen >= rank)
			return lat_value(b);
	}
	return 0;
}

/* The timer's own cost: the minimum of many back-to-back readings. */
static uint64_t timer_overhead(void)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 100000; i++) {
		uint64_t a = os_now_ns(), b = os_now_ns();
		if (b - a < best)
			best = b - a;
	}
	return best;
}

struct lat_hist {
	uint64_t (*h)[LAT_BUCKETS]; /* by op kind, from mmap */
	uint64_t max[TRACE_NKINDS], count[TRACE_NKINDS];
};

/* Every op, timed; the state is fresh and the id table empty. */
static void timed_ops(struct replay_job *j, struct lat_hist *lh, uint64_t overhead)
{
	const struct trace *t = j->t;
	const struct replay_calls *k = &j->calls;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		j->r->progress = i;
		uint64_t t0 = os_now_ns();
		replay_op(k, op, j->ptrs, NULL, 0);
		uint64_t dt = os_now_ns() - t0;
		dt = dt > overhead ? dt - overhead : 0;
		lh->h[op->kind][lat_bucket(dt)]++;
		lh->count[op->kind]++;
		if (dt > lh->max[op->kind])
			lh->max[op->kind] = dt;
	}
	replay_free_live(k, j->ptrs, t->nids);
}

static void lat_summary(const struct lat_hist *lh, uint64_t overhead, struct replay_result *r)
{
	r->have_latency = true;
	r->timer_overhead_ns = (double)overhead;
	for (int k = 0; k < TRACE_NKINDS; k++) {
		struct replay_latency *l = &r->latency[k];
		uint64_t n = lh->count[k];
		l->count = n;
		if (!n)
			continue;
		/* a bucket's middle can lie above the largest sample in it */
		l->max = (double)lh->max[k];
		l->p50 = fmin(lat_quantile(lh->h[k], n, 1, 2), l->max);
		l->p90 = fmin(lat_quantile(lh->h[k], n, 9, 10), l->max);
		l->p99 = fmin(lat_quantile(lh->h[k], n, 99, 100), l->max);
		l->p999 = fmin(lat_quantile(lh->h[k], n, 999, 1000), l->max);
	}
}

int latency_pass(struct replay_job *j)
{
	struct lat_hist lh = {.h = os_map(LAT_BYTES)};
	char err[ALLOC_ERRLEN];
	int rc = -1;
	if (!lh.h) {
		replay_error(j->r, JOB_ERROR, "latency pass: no memory for latency histograms");
		return -1;
	}
	uint64_t overhead = timer_overhead();
	if (replay_fresh_state(j, err, sizeof err) < 0) {
		replay_error(j->r, JOB_ERROR, "latency pass: %s", err);
		goto out;
	}
	j->r->pass = REPLAY_PASS_LATENCY;
	timed_ops(j, &lh, overhead);
	j->cfg->backend->fini(j->calls.st);
	lat_summary(&lh, overhead, j->r);
	rc = 0;
out:
	os_unmap(lh.h, LAT_BYTES);
	return rc;
}
