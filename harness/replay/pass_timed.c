/*
 * pass_timed.c - the timed passes (replay.h, step 2): `repeat` runs of the
 * trace, each on a fresh backend state, with nothing in the loop but the
 * op, the call and the id table (replay_op); then their median, minimum
 * and maximum.  A process-wide backend first runs one untimed pass at the
 * same speed that measures its footprint there (paced_pass).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "libc_calls.h"
#include "replay/internal.h"

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
		return timed_loop(&replay_libc_calls, j->t, j->ptrs);
	if (replay_fresh_state(j, err, errlen) < 0)
		return -1;
	/* a copy that nothing else can reach: its calls stay in registers */
	const struct replay_calls k = j->calls;
	double s = timed_loop(&k, j->t, j->ptrs);
	j->cfg->backend->fini(k.st);
	return s;
}

/* Writes a byte in every page of [p, p + n): the pages a program that
 * fills its blocks makes resident, as the checked pass does. */
REPLAY_INLINE void touch_pages(unsigned char *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += 4096)
		((volatile unsigned char *)p)[i] = 0;
	if (n)
		((volatile unsigned char *)p)[n - 1] = 0;
}

/* The resident set after the op where the checked pass saw live bytes or
 * its footprint peak, with the baseline's pages that hold a live byte
 * added back, as the checked pass does (resident.c): a walk of the id
 * table, twice a pass. */
static uint64_t held_at_peak(struct replay_job *j)
{
	uint64_t held = j->reuse_base
				? resident_held(&j->base, &(struct id_table){j->ptrs, j->slots}, 1,
						j->t->nids)
				: 0;
	return measure_rss(j) + held * os_page_size();
}

/* The paced loop: the timed loop, a store to every page of every block it
 * gets (its size kept in the slots), and a reading of the resident set
 * every --sample-every ops (one pread, about a microsecond) and at the
 * checked pass's peaks (held_at_peak; the other readings leave the reused
 * baseline pages out, which can only lower them).  The highest reading;
 * leaves the id table and the slots empty. */
REPLAY_INLINE uint64_t paced_loop(const struct replay_calls *k, struct replay_job *j)
{
	const struct trace *t = j->t;
	uint64_t peak = measure_rss(j), every = j->cfg->sample_every ? j->cfg->sample_every : 1;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		replay_op(k, op, j->ptrs, NULL, 0);
		if (op->kind != TRACE_FREE && j->ptrs[op->id]) {
			j->slots[op->id].size = trace_op_bytes(op);
			touch_pages(j->ptrs[op->id], j->slots[op->id].size);
		}
		uint64_t rss = 0;
		if (i == j->r->peak_live_op || i == j->peak_footprint_op)
			rss = held_at_peak(j);
		else if (i % every == every - 1)
			rss = measure_rss(j);
		peak = rss > peak ? rss : peak;
	}
	uint64_t rss = measure_rss(j);
	replay_free_live(k, j->ptrs, t->nids);
	memset(j->slots, 0, (size_t)t->nids * sizeof *j->slots);
	return rss > peak ? rss : peak;
}

/* The untimed pass before the timed ones of a process-wide backend.  It
 * warms the allocator as a program would have (the checked pass is slow
 * enough for time-based purging - mimalloc's, jemalloc's decay - to have
 * handed back memory that the first timed pass would fault in again), and
 * it measures the footprint at the timed loop's speed, where such purging
 * has less time to act: the growth of the resident set over the checked
 * pass's baseline, its pages touched as in that pass.  The timed passes
 * themselves touch nothing and read nothing.  0, or -1 with err. */
static int paced_pass(struct replay_job *j, char *err, size_t errlen)
{
	uint64_t peak;
	HB_ASSERT_SLOW(table_empty(j->ptrs, j->t->nids));
	if (j->calls.libc) {
		peak = paced_loop(&replay_libc_calls, j);
	} else {
		if (replay_fresh_state(j, err, errlen) < 0)
			return -1;
		const struct replay_calls k = j->calls;
		peak = paced_loop(&k, j);
		j->cfg->backend->fini(k.st);
	}
	if (j->statm_fd < 0)
		return 0; /* nothing was read */
	struct replay_result *r = j->r;
	uint64_t fp = peak > j->rss_base ? peak - j->rss_base : 0;
	/* every live byte of the peak was resident at a reading */
	if (fp < r->peak_live_bytes) {
		replay_error(r, JOB_ERROR,
			     "the peak footprint at full speed (%" PRIu64
			     " bytes, rss) is below the peak of live bytes (%" PRIu64
			     "): an impossible figure, not reported (docs/metrics.md)",
			     fp, r->peak_live_bytes);
		return -1;
	}
	r->have_timed_footprint = true;
	r->timed_peak_footprint_bytes = fp;
	return 0;
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

void timed_summary(const struct trace *t, struct replay_result *r)
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
	/* a process-wide allocator carries its state from the checked pass:
	 * warmed and measured at speed first (direct_loop warms it too) */
	if (cfg->repeat && (cfg->backend->flags & ALLOC_F_PROCESS)) {
		r->pass = 1;
		err[0] = '\0';
		if (paced_pass(j, err, sizeof err) < 0) {
			if (err[0])
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
