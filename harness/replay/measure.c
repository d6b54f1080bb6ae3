/*
 * measure.c - what the checked pass measures (internal.h): live bytes and
 * footprint after every op, their peaks, the allocator's own figures at
 * the footprint's peak, the resident set, a downsampled timeline; then,
 * once, utilization and fragmentation.
 *
 * Footprint: a built-in backend's is its simulated heap's, exact at every
 * op.  A process-wide backend's is its own accounting (alloc_stats), or the
 * resident set when it keeps none, less what it held before the pass; it
 * is sampled every --sample-every ops, at new live peaks and when live
 * bytes rise a step above their low since the last sample (maybe_sample).
 */
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "replay/internal.h"

uint64_t measure_rss(const struct replay_job *j)
{
	char buf[128];
	if (j->statm_fd < 0)
		return 0;
	ssize_t n = pread(j->statm_fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strchr(buf, ' ');
	uint64_t pages = 0;
	for (p = p ? p + 1 : buf; *p >= '0' && *p <= '9'; p++)
		pages = pages * 10 + (uint64_t)(*p - '0');
	return pages * os_page_size();
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

/* Resident bytes now, less what the checker's own index has grown by. */
static uint64_t process_rss(const struct checker *c)
{
	uint64_t rss = measure_rss(c->j), extra = check_harness_bytes(c) - c->m.harness_base;
	return rss > extra ? rss - extra : 0;
}

/* A process-wide backend's footprint by its own accounting, or by the
 * resident set when it keeps none; its other figures into *s. */
static uint64_t process_footprint(const struct checker *c, uint64_t rss, struct alloc_stats *s)
{
	if (!c->a->stats)
		return rss;
	c->a->stats(c->j->calls.st, s);
	return s->footprint;
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

/* Reads the resident set and, for a process-wide backend, its footprint
 * less what it held before the pass began. */
static void sample_process(struct checker *c)
{
	struct measure *m = &c->m;
	uint64_t rss = process_rss(c);
	if (rss > m->rss_peak)
		m->rss_peak = rss;
	if (c->a->flags & ALLOC_F_SIMULATED)
		return;
	struct alloc_stats s = {0};
	uint64_t now = process_footprint(c, rss, &s);
	m->footprint = now > m->stats_base ? now - m->stats_base : 0;
	if (m->footprint > m->peak_footprint || (!c->j->r->nstats && s.nextra)) {
		m->peak_footprint = m->footprint;
		keep_stats(c->j->r, &s);
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

void measure_start(struct checker *c)
{
	struct measure *m = &c->m;
	m->stride = c->t->nops / REPLAY_TIMELINE_POINTS + 1;
	/* the empty state already has a footprint (built-ins: the backend's
	 * own records in the heap) */
	if (c->j->heap)
		heap_footprint(c);
	m->sample_every = c->j->cfg->sample_every;
	m->pass_start_ns = os_now_ns();
	m->rss_base = m->rss_peak = measure_rss(c->j);
	m->harness_base = check_harness_bytes(c);
	if (!c->j->heap) {
		struct alloc_stats s = {0};
		m->stats_base = process_footprint(c, m->rss_base, &s);
	}
	m->maxrss_base = maxrss_bytes();
}

/* The rise of live bytes above their low since the last sample that makes
 * a sample: 1/64 of the live peak (at least 64 KiB), doubled for each time
 * rise samples alone took more than a quarter of the pass. */
static uint64_t rise_step(const struct checker *c)
{
	uint64_t step = c->j->r->peak_live_bytes / 64;
	step = step < 65536 ? 65536 : step;
	return c->m.rise_shift < 32 ? step << c->m.rise_shift : UINT64_MAX / 2;
}

/* Samples a process-wide backend at op i when it is time:
 *   - every sample_every ops;
 *   - at a new live peak 1/64 above the last one sampled (a program's ramp
 *     sets a new peak at nearly every op, and some allocators' accounting
 *     walks their free lists: glibc's mallinfo2);
 *   - when live bytes rose by rise_step above their low since the last
 *     sample, peak or not: a large block allocated and freed between two
 *     regular samples can raise the footprint above its peak while live
 *     bytes stay below theirs (glibc maps it, then unmaps it at once), and
 *     such a spike must not be lost; what goes unseen is bounded by the
 *     step;
 *   - and at the end.
 * Periodic sampling may take a quarter of the pass: beyond it the interval
 * doubles; rise samples have their own quarter and their step doubles. */
static void maybe_sample(struct checker *c, uint64_t i, bool new_peak)
{
	struct measure *m = &c->m;
	if (c->live_bytes < m->live_low)
		m->live_low = c->live_bytes;
	bool peak_sample = new_peak && c->live_bytes >= m->next_peak_sample;
	if (peak_sample)
		m->next_peak_sample = c->live_bytes + c->live_bytes / 64;
	bool rise = c->live_bytes - m->live_low >= rise_step(c);
	bool periodic = m->sample_every && i % m->sample_every == 0;
	if (!peak_sample && !rise && !periodic && i + 1 != c->t->nops)
		return;
	uint64_t t0 = os_now_ns();
	sample_process(c);
	m->live_low = c->live_bytes;
	uint64_t t1 = os_now_ns(), elapsed = t1 - m->pass_start_ns;
	if (rise && !peak_sample && !periodic) {
		m->rise_ns += t1 - t0;
		if (m->rise_ns * 4 > elapsed && m->rise_shift < 32)
			m->rise_shift++;
		return;
	}
	m->sample_ns += t1 - t0;
	if (m->sample_every && m->sample_ns * 4 > elapsed && m->sample_every < (UINT64_C(1) << 40))
		m->sample_every *= 2;
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
		r->external_frag_bytes =
			m->footprint > c->usable_live ? m->footprint - c->usable_live : 0;
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

/* Resident growth over the pass: the sampled peak, or the kernel's
 * high-water mark if it saw a higher one between samples. */
static uint64_t rss_growth(const struct checker *c)
{
	const struct measure *m = &c->m;
	uint64_t extra = check_harness_bytes(c) - m->harness_base, maxrss = maxrss_bytes();
	uint64_t hw = maxrss > m->maxrss_base && maxrss > extra ? maxrss - extra : 0;
	uint64_t peak = m->rss_peak > hw ? m->rss_peak : hw;
	return peak > m->rss_base ? peak - m->rss_base : 0;
}

void measure_finish(struct checker *c)
{
	struct replay_result *r = c->j->r;
	struct measure *m = &c->m;
	if (c->j->heap)
		heap_footprint(c);
	sample_process(c);
	struct alloc_stats s = {.source = c->j->heap ? "none" : "rss"};
	if (c->a->stats)
		c->a->stats(c->j->calls.st, &s);
	snprintf(r->footprint_source, sizeof r->footprint_source, "%s", s.source);
	r->have_usable = c->a->usable_size && !c->usable_unknown;
	r->peak_rss_bytes = rss_growth(c);
	/* a footprint that is the resident set has the same high-water mark,
	 * also between samples */
	uint64_t sampled = m->peak_footprint;
	bool is_rss = !c->j->heap && !c->a->stats;
	r->peak_footprint_bytes =
		is_rss && r->peak_rss_bytes > sampled ? r->peak_rss_bytes : sampled;

	double live = (double)r->peak_live_bytes, peak = (double)r->peak_footprint_bytes;
	r->have_utilization = r->peak_footprint_bytes && live > 0;
	if (r->have_utilization) {
		r->utilization = live / peak;
		r->frag_peak = peak / live - 1;
		/* the footprint at the live peak is a sampled one: none when
		 * only the high-water mark saw the footprint grow */
		if (sampled)
			r->frag_at_peak_live = (double)r->footprint_at_peak_live / live - 1;
	}
	r->frag_mean = m->frag_ops ? m->frag_sum / (double)m->frag_ops : 0;
}
