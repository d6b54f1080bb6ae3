/*
 * pass_timed.c - the timed passes (replay.h, step 2): `repeat` runs of the
 * trace, each on a fresh backend state, with nothing in the loop but the
 * op, the call and the id table (replay_op); then their median, minimum
 * and maximum.
 */
#include <stdio.h>
#include <stdlib.h>

#include "libc_calls.h"
#include "replay/internal.h"

/* The C library's functions as a backend's calls, for the backends whose
 * calls are exactly those (ALLOC_F_LIBC: system, and any library preloaded
 * into the worker).  A constant table: once timed_loop is inlined, the
 * compiler calls malloc & co. directly, so that the only difference from a
 * program calling malloc is the op array. */
static const struct replay_calls libc_calls = {
	.malloc = libc_malloc,
	.calloc = libc_calloc,
	.memalign = libc_memalign,
	.realloc = libc_realloc,
	.free = libc_free,
	.own_calloc = true,
	.libc = true,
};

/* The timed loop; seconds.  Leaves the id table empty. */
REPLAY_INLINE double timed_loop(const struct replay_calls *k, const struct trace *t, void **ptrs)
{
	const struct trace_op *op = t->ops, *end = t->ops + t->nops;
	uint64_t t0 = os_now_ns();
	for (; op < end; op++)
		replay_op(k, op, ptrs, NULL, 0);
	uint64_t t1 = os_now_ns();
	replay_free_live(k, ptrs, t->nids);
	return (double)(t1 - t0) * 1e-9;
}

/* Whether the id table holds no block (every pass starts so). */
static __attribute__((unused)) bool table_empty(void *const *ptrs, uint32_t nids)
{
	for (uint32_t id = 0; id < nids; id++)
		if (ptrs[id])
			return false;
	return true;
}

/* One timed pass: seconds, or -1 if the state could not be made. */
static double timed_pass(struct replay_job *j, char *err, size_t errlen)
{
	HB_ASSERT_SLOW(table_empty(j->ptrs, j->t->nids));
	if (j->calls.libc)
		return timed_loop(&libc_calls, j->t, j->ptrs);
	if (replay_fresh_state(j, err, errlen) < 0)
		return -1;
	/* a copy that nothing else can reach: its calls stay in registers */
	const struct replay_calls k = j->calls;
	double s = timed_loop(&k, j->t, j->ptrs);
	j->cfg->backend->fini(k.st);
	return s;
}

/* Insertion sort: qsort may call malloc, which the worker avoids. */
static void sort_doubles(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		double x = v[i];
		unsigned j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* The median, minimum and maximum of the passes, and the rate. */
static void timed_summary(const struct trace *t, struct replay_result *r)
{
	unsigned n = r->repeat;
	double sorted[REPLAY_MAX_REPEAT];
	if (!n)
		return;
	memcpy(sorted, r->seconds, n * sizeof *sorted);
	sort_doubles(sorted, n);
	r->seconds_min = sorted[0];
	r->seconds_max = sorted[n - 1];
	r->seconds_median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	if (r->seconds_median > 0 && t->nops) {
		r->mops = (double)t->nops / r->seconds_median / 1e6;
		r->ns_per_op = r->seconds_median * 1e9 / (double)t->nops;
	}
}

int timed_passes(struct replay_job *j)
{
	const struct replay_config *cfg = j->cfg;
	struct replay_result *r = j->r;
	char err[ALLOC_ERRLEN];
	HB_ASSERT(cfg->repeat <= REPLAY_MAX_REPEAT);
	/* A process-wide allocator carries its state from the checked pass,
	 * which is slow enough for time-based purging (mimalloc's, jemalloc's
	 * decay) to hand memory back that the first timed passes would then
	 * fault in again: one untimed run of the timed loop first, as a
	 * program would have warmed it (direct_loop does the same). */
	if (cfg->repeat && (cfg->backend->flags & ALLOC_F_PROCESS)) {
		r->pass = 1;
		if (timed_pass(j, err, sizeof err) < 0) {
			replay_error(r, JOB_ERROR, "cannot start backend: %s", err);
			return -1;
		}
	}
	r->repeat = cfg->repeat;
	for (unsigned k = 0; k < cfg->repeat; k++) {
		r->pass = (int)k + 1;
		double s = timed_pass(j, err, sizeof err);
		if (s < 0) {
			replay_error(r, JOB_ERROR, "cannot start backend for pass %u: %s", k + 1,
				     err);
			return -1;
		}
		HB_ASSERT(k < REPLAY_MAX_REPEAT);
		r->seconds[k] = s;
	}
	timed_summary(j->t, r);
	return 0;
}
