/*
 * measure.c - what the checked pass measures (internal.h): live bytes and
 * footprint after every op, their peaks, the allocator's own figures at
 * the footprint's peak, the resident set, a downsampled timeline; then,
 * once, utilization and fragmentation.
 *
 * Footprint: a built-in backend's is its simulated heap's, exact at every
 * op.  A process-wide backend's is physical: the growth of the worker's
 * anonymous resident set over its value when the pass began, plus the
 * pages resident then that now hold a live byte (resident.c), less the
 * growth of the checker's own index (the harness's only memory that grows
 * in a pass: its tables are resident before the baseline, and file and
 * shared pages - code, the trace, the result page - are not anonymous).
 * The libraries' purge timers are stopped for the pass (libc_calls.h).
 * Every page of such a backend's blocks is written (checker.c), so every
 * live byte is resident.  It is read at the top of every live peak, when live bytes rise
 * a step, every --sample-every ops and at the end (maybe_sample); the
 * allocator's own accounting is read beside it and reported as such.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "libc_calls.h"
#include "replay/internal.h"

/* The share of the pass that periodic readings of the allocator's own
 * accounting may take (1/STATS_SHARE) before their interval doubles:
 * glibc's mallinfo2 walks every free list, and at a quarter it was a fifth
 * of system's checked pass on a 2M-op trace.  At a sixteenth the figures
 * of glibc, jemalloc and tcmalloc are the same on every bundled trace, and
 * on that one but for tcmalloc's peak, 0.02% lower. */
#define STATS_SHARE 16

uint64_t measure_rss(const struct replay_job *j)
{
	return os_anon_resident(j->statm_fd);
}

static uint64_t maxrss_bytes(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss * 1024;
}

void measure_touch(const void *p, size_t n)
{
	volatile const char *c = p;
	for (size_t i = 0; i < n; i += 4096)
		(void)c[i];
}

/* Anonymous resident bytes now, less what the checker's own index has
 * grown by since the baseline. */
static uint64_t process_rss(const struct checker *c)
{
	uint64_t rss = measure_rss(c->j), extra = check_harness_bytes(c) - c->m.harness_base;
	return rss > extra ? rss - extra : 0;
}

/* Keeps the allocator's own figures of this moment with the result. */
static void keep_stats(struct replay_result *r, const struct alloc_stats *s)
{
	r->nstats = s->nextra < ALLOC_STATS_EXTRA ? s->nextra : ALLOC_STATS_EXTRA;
	for (unsigned i = 0; i < r->nstats; i++) {
		snprintf(r->stats[i].name, sizeof r->stats[i].name, "%s", s->extra[i].name);
		r->stats[i].value = s->extra[i].value;
	}
}

/* Reads the resident set and, for a process-wide backend, its physical
 * footprint: the growth of the anonymous resident set over the baseline.
 * Whether the footprint set a new peak. */
static bool read_footprint(struct checker *c)
{
	struct measure *m = &c->m;
	uint64_t rss = process_rss(c);
	if (rss > m->rss_peak)
		m->rss_peak = rss;
	if (c->j->heap)
		return false;
	/* growth, and the baseline's pages that hold live bytes (resident.c) */
	uint64_t held = rss + m->reused_pages * os_page_size();
	m->footprint = held > m->rss_base ? held - m->rss_base : 0;
	if (m->footprint <= m->peak_footprint)
		return false;
	m->peak_footprint = m->footprint;
	return true;
}

/* A process-wide backend's own accounting now: the peak of its footprint
 * (less what it held in use before the pass), and its figures, kept with the result
 * at the first reading, whenever the physical footprint has risen 1/64
 * above where they were kept, and at the end if it is higher there: "at
 * the peak" within that step. */
static void read_stats(struct checker *c, bool last)
{
	struct measure *m = &c->m;
	struct alloc_stats s = {0};
	c->a->stats(c->j->calls.st, &s);
	uint64_t own = s.footprint > m->stats_base ? s.footprint - m->stats_base : 0;
	if (own > m->stats_peak)
		m->stats_peak = own;
	snprintf(m->stats_source, sizeof m->stats_source, "%s", s.source ? s.source : "none");
	if (!c->j->r->nstats || m->footprint >= m->stats_next ||
	    (last && m->footprint > m->stats_kept)) {
		keep_stats(c->j->r, &s);
		m->stats_kept = m->footprint;
		m->stats_next = m->footprint + m->footprint / 64 + 1;
	}
}

/* The simulated heap's footprint now and at its peak. */
static void heap_footprint(struct checker *c)
{
	struct heap_usage u;
	heap_usage(c->j->heap, &u);
	c->m.footprint = u.footprint;
	c->m.peak_footprint = u.peak_footprint;
}

/* A C library allocator (system, jemalloc, mimalloc, tcmalloc, preload:)
 * sets up its first arena, thread cache or segment on its first call of
 * each kind.  That memory is the allocator's
 * whatever the trace, so it belongs in the baseline: one call of every
 * entry point a trace can make, each block freed at once, before the
 * baseline is read (docs/metrics.md, "Baseline"). */
static void warm_up(struct replay_calls *k)
{
	char why[ALLOC_ERRLEN];
	void *p = k->malloc(k->st, 1);
	if (p) {
		void *q = k->realloc(k->st, p, 2);
		k->free(k->st, q ? q : p, why, sizeof why);
	}
	if ((p = k->calloc(k->calloc_ctx, 1, 1)))
		k->free(k->st, p, why, sizeof why);
	if (k->memalign && (p = k->memalign(k->st, 64, 1)))
		k->free(k->st, p, why, sizeof why);
}

void measure_start(struct checker *c)
{
	struct measure *m = &c->m;
	if (c->a->flags & ALLOC_F_LIBC) {
		libc_timers_stop(); /* restored after the pass (pass_checked.c) */
		warm_up(&c->j->calls);
	}
	m->stride = c->t->nops / REPLAY_TIMELINE_POINTS + 1;
	/* the empty state already has a footprint (built-ins: the backend's
	 * own records in the heap) */
	if (c->j->heap)
		heap_footprint(c);
	m->sample_every = m->stats_every = c->j->cfg->sample_every;
	m->pass_start_ns = os_now_ns();
	if (!c->j->heap)
		resident_snapshot(&c->j->base);
	m->harness_base = check_harness_bytes(c);
	m->rss_base = m->rss_peak = measure_rss(c->j);
	if (!c->j->heap && c->a->stats) {
		struct alloc_stats s = {0};
		c->a->stats(c->j->calls.st, &s);
		/* what it held in use then: free memory it held stays in,
		 * since the trace may reuse it */
		m->stats_base = s.in_use;
	}
	m->maxrss_base = maxrss_bytes();
}

/* The rise of live bytes above their low since the last reading that
 * makes a reading: 1/64 of the live peak (at least 64 KiB), doubled for
 * each time rise readings alone took more than a quarter of the pass. */
static uint64_t rise_step(const struct checker *c)
{
	uint64_t step = c->j->r->peak_live_bytes / 64;
	step = step < 65536 ? 65536 : step;
	return c->m.rise_shift < 32 ? step << c->m.rise_shift : UINT64_MAX / 2;
}

/* Whether op i may lower live bytes or the footprint (the state after op
 * i - 1 is then the last of its kind). */
static bool may_release(const struct trace *t, uint64_t i)
{
	return i >= t->nops || t->ops[i].kind == TRACE_FREE || t->ops[i].kind == TRACE_REALLOC;
}

/* Reads a process-wide backend's footprint after op i when it is due:
 *   - peak: live bytes set a new peak since the last reading, and op i + 1
 *     may release memory (or there is none): the state now is the peak's,
 *     so the peak footprint is read with every live byte of the peak
 *     resident and utilization cannot pass 1; a ramp costs one reading,
 *     at its top;
 *   - rise: live bytes rose by rise_step above their low since the last
 *     reading, peak or not: a large block allocated and freed between two
 *     regular readings can raise the footprint above its peak while live
 *     bytes stay below theirs (glibc maps it, then unmaps it at once), and
 *     such a spike must not be lost; what goes unseen is bounded by the
 *     step;
 *   - periodic: every sample_every ops, with the allocator's own accounting
 *     (read_stats; glibc's mallinfo2 walks its free lists);
 *   - and at the end.
 * Periodic readings may take a quarter of the pass: beyond it the interval
 * doubles; rise readings have their own quarter and their step doubles;
 * peak readings are never given up.  The accounting's periodic readings
 * have their own share, 1/STATS_SHARE. */
static void maybe_sample(struct checker *c, uint64_t i, bool new_peak)
{
	struct measure *m = &c->m;
	if (c->live_bytes < m->live_low)
		m->live_low = c->live_bytes;
	m->peak_pending |= new_peak;
	bool last = i + 1 == c->t->nops;
	bool peak = m->peak_pending && may_release(c->t, i + 1);
	bool rise = c->live_bytes - m->live_low >= rise_step(c);
	bool periodic = m->sample_every && i % m->sample_every == 0;
	if (!peak && !rise && !periodic && !last)
		return;
	uint64_t t0 = os_now_ns();
	if (read_footprint(c))
		m->peak_op = i;
	m->live_low = c->live_bytes;
	m->peak_pending = false;
	m->readings++;
	uint64_t t1 = os_now_ns(), elapsed = t1 - m->pass_start_ns;
	if (periodic) {
		m->sample_ns += t1 - t0;
		if (m->sample_ns * 4 > elapsed && m->sample_every < (UINT64_C(1) << 40))
			m->sample_every *= 2;
	} else if (rise && !peak) {
		m->rise_ns += t1 - t0;
		if (m->rise_ns * 4 > elapsed && m->rise_shift < 32)
			m->rise_shift++;
	}
	/* the accounting: at its own interval, at a footprint 1/64 above
	 * where it was kept, at the end, and at a peak of live bytes that
	 * stand above its highest reading.  The library holds every live
	 * byte, so that reading lifts its peak to them at least: peak live /
	 * its peak cannot pass 1 for want of a reading (as it did, 1.005,
	 * when load had doubled the interval past the peak).  Such readings
	 * come only as often as the library's footprint has to grow. */
	bool own = m->stats_every && i % m->stats_every == 0;
	bool above = peak && c->live_bytes > m->stats_peak;
	if (c->j->heap || !c->a->stats || !(own || above || last || m->footprint >= m->stats_next))
		return;
	read_stats(c, last);
	uint64_t t2 = os_now_ns();
	m->stats_ns += t2 - t1;
	if (own && m->stats_ns * STATS_SHARE > t2 - m->pass_start_ns &&
	    m->stats_every < (UINT64_C(1) << 40))
		m->stats_every *= 2;
}

void measure_op(struct checker *c, uint64_t i)
{
	struct replay_result *r = c->j->r;
	struct measure *m = &c->m;
	bool new_peak = c->live_bytes > r->peak_live_bytes;
	if (c->j->heap)
		heap_footprint(c);
	maybe_sample(c, i, new_peak);
	if (new_peak) {
		r->peak_live_bytes = c->live_bytes;
		r->peak_live_op = i;
		r->footprint_at_peak_live = m->footprint;
		r->internal_frag_bytes = c->usable_live - c->live_bytes;
		/* below zero only if the footprint is impossible: measure_finish
		 * refuses it then */
		r->external_frag_bytes = m->footprint - c->usable_live;
	}
	if (c->live_bytes) {
		uint64_t waste = m->footprint > c->live_bytes ? m->footprint - c->live_bytes : 0;
		m->frag_sum += (double)waste / (double)c->live_bytes;
		m->frag_ops++;
	}
	if (c->live_bytes > m->win_live)
		m->win_live = c->live_bytes;
	if (m->footprint > m->win_foot)
		m->win_foot = m->footprint;
	if ((i + 1) % m->stride == 0 || i + 1 == c->t->nops) {
		if (r->npoints < REPLAY_TIMELINE_POINTS + 2)
			r->timeline[r->npoints++] =
				(struct replay_point){i, m->win_live, m->win_foot};
		m->win_live = m->win_foot = 0; /* each window holds its own ops only */
	}
}

/* Resident growth over the pass: the anonymous resident set's at its
 * readings, or the kernel's high-water mark's (all pages: code and files
 * too) if it grew more between them. */
static uint64_t rss_growth(const struct checker *c)
{
	const struct measure *m = &c->m;
	uint64_t extra = check_harness_bytes(c) - m->harness_base, maxrss = maxrss_bytes();
	uint64_t hw = maxrss > m->maxrss_base + extra ? maxrss - m->maxrss_base - extra : 0;
	uint64_t read = m->rss_peak > m->rss_base ? m->rss_peak - m->rss_base : 0;
	return read > hw ? read : hw;
}

const char *measure_impossible(const struct replay_result *r, char *why, size_t len)
{
	if (r->peak_live_bytes && r->peak_footprint_bytes < r->peak_live_bytes) {
		snprintf(why, len,
			 "the peak footprint (%" PRIu64
			 " bytes, %s) is below the peak of live bytes (%" PRIu64 ")",
			 r->peak_footprint_bytes, r->footprint_source, r->peak_live_bytes);
		return why;
	}
	uint64_t usable = r->peak_live_bytes + r->internal_frag_bytes;
	if (r->have_usable && r->peak_live_bytes && r->footprint_at_peak_live < usable) {
		snprintf(why, len,
			 "at the peak of live bytes (op %" PRIu64 ") the footprint (%" PRIu64
			 " bytes, %s) is below the usable bytes of the live blocks (%" PRIu64 ")",
			 r->peak_live_op, r->footprint_at_peak_live, r->footprint_source, usable);
		return why;
	}
	return NULL;
}

int measure_finish(struct checker *c)
{
	struct replay_result *r = c->j->r;
	struct measure *m = &c->m;
	if (c->j->heap) {
		heap_footprint(c);
		struct alloc_stats s = {.source = "simulated-heap"};
		if (c->a->stats)
			c->a->stats(c->j->calls.st, &s);
		snprintf(r->footprint_source, sizeof r->footprint_source, "%s", s.source);
	} else {
		snprintf(r->footprint_source, sizeof r->footprint_source, "rss");
		snprintf(r->stats_source, sizeof r->stats_source, "%s", m->stats_source);
	}
	r->have_usable = c->a->usable_size && !c->usable_unknown;
	r->peak_rss_bytes = rss_growth(c);
	r->peak_footprint_bytes = m->peak_footprint;
	double live = (double)r->peak_live_bytes, peak = (double)r->peak_footprint_bytes;
	r->have_utilization = r->peak_footprint_bytes && live > 0;
	if (r->have_utilization) {
		r->utilization = live / peak;
		r->frag_peak = peak / live - 1;
		r->frag_at_peak_live = (double)r->footprint_at_peak_live / live - 1;
	}
	r->stats_peak_footprint_bytes = m->stats_peak;
	r->have_stats_footprint = m->stats_peak && live > 0 && strcmp(m->stats_source, "none");
	if (r->have_stats_footprint)
		r->stats_utilization = live / (double)m->stats_peak;
	r->frag_mean = m->frag_ops ? m->frag_sum / (double)m->frag_ops : 0;
	char why[256];
	if (measure_impossible(r, why, sizeof why)) {
		/* none of the pass's figures is printed then (results.c: an
		 * unmeasured job) */
		r->peak_footprint_bytes = 0;
		r->have_utilization = r->have_stats_footprint = false;
		return check_fail(c, UINT64_MAX, JOB_ERROR,
				  "%s: an impossible figure, not reported (docs/metrics.md)", why);
	}
	return 0;
}
