/*
 * replay.c - the checked, timed and latency passes of one job (replay.h).
 *
 * Memory: every structure of the harness comes from mmap (os.h), never from
 * the allocator under test, so a backend's footprint measures the trace and
 * nothing else, and a backend that scribbles over its neighbours cannot
 * reach the checker's data through malloc's heap.
 *
 * Checked pass, per op: O(log n) overlap check in an address-ordered map of
 * the live blocks, plus the payload pattern (O(block size) with --check full,
 * O(1) with fast).  Timed pass, per op: one load of the op, one indirect
 * call, one store into the id table.
 */
#include "replay/replay.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "heap.h"
#include "host/addrmap.h"
#include "host/os.h"

#define REPLAY_NAME_(e, name) [e] = name,
const char *const replay_check_names[CHECK_NLEVELS + 1] = {REPLAY_CHECK_LIST(REPLAY_NAME_)};
const char *const replay_status_names[JOB_NSTATUS + 1] = {REPLAY_STATUS_LIST(REPLAY_NAME_)};
#undef REPLAY_NAME_

int replay_name_find(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

void replay_config_init(struct replay_config *cfg)
{
	*cfg = (struct replay_config){
		.check = CHECK_FULL, .repeat = 5, .alignment = 16, .sample_every = 128};
}

/* ---- Payload pattern ------------------------------------------------------ */

/* Byte i of a block with seed s is byte i%8 of pattern_word(s, i/8): a
 * block's content depends on its allocation, so a new block that aliases
 * an old one, or data copied from the wrong place, does not match. */
static inline uint64_t pattern_word(uint64_t seed, uint64_t k)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + k * 0xd6e8feb86659fd93ull;
	return x ^ (x >> 29);
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t i)
{
	return (uint8_t)(pattern_word(seed, i / 8) >> (8 * (i % 8)));
}

static void pattern_write(unsigned char *p, uint64_t seed, uint64_t lo, uint64_t hi)
{
	uint64_t i = lo;
	for (; i < hi && i % 8; i++)
		p[i] = pattern_byte(seed, i);
	for (; i + 8 <= hi; i += 8) {
		uint64_t w = pattern_word(seed, i / 8);
		memcpy(p + i, &w, 8);
	}
	for (; i < hi; i++)
		p[i] = pattern_byte(seed, i);
}

/* First offset in [lo, hi) that breaks the pattern, or UINT64_MAX. */
static uint64_t pattern_find_bad(const unsigned char *p, uint64_t seed, uint64_t lo, uint64_t hi)
{
	uint64_t i = lo;
	for (; i < hi && i % 8; i++)
		if (p[i] != pattern_byte(seed, i))
			return i;
	for (; i + 8 <= hi; i += 8) {
		uint64_t w = pattern_word(seed, i / 8), got;
		memcpy(&got, p + i, 8);
		if (got != w)
			break;
	}
	for (; i < hi; i++)
		if (p[i] != pattern_byte(seed, i))
			return i;
	return UINT64_MAX;
}

/* The byte ranges a check level covers in a block of n bytes: all of it,
 * or the first and last REPLAY_FAST_BYTES. */
struct ranges {
	uint64_t lo[2], hi[2];
	int n;
};

static struct ranges ranges_of(enum replay_check check, uint64_t n)
{
	struct ranges r = {.n = 0};
	if (check == CHECK_OFF || n == 0)
		return r;
	if (check == CHECK_FULL || n <= 2 * REPLAY_FAST_BYTES) {
		r.lo[0] = 0, r.hi[0] = n, r.n = 1;
		return r;
	}
	r.lo[0] = 0, r.hi[0] = REPLAY_FAST_BYTES;
	r.lo[1] = n - REPLAY_FAST_BYTES, r.hi[1] = n;
	r.n = 2;
	return r;
}

/* ---- Process measurements ------------------------------------------------- */

/* Resident bytes from /proc/self/statm, without malloc (stdio would). */
static uint64_t rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
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

/* Reads every page of [p, p+n) so that it is resident before a baseline. */
static void touch(const void *p, size_t n)
{
	volatile const char *c = p;
	for (size_t i = 0; i < n; i += 4096)
		(void)c[i];
}

/* ---- The checked pass ------------------------------------------------------ */

struct slot {
	unsigned char *ptr;
	uint64_t size; /* requested */
	uint64_t usable;
	uint64_t seed;
	uint64_t alloc_op; /* op that allocated (or last moved) it */
};

struct checker {
	const struct trace *t;
	const struct replay_config *cfg;
	struct replay_result *r;
	const struct allocator *a;
	void *st;
	struct heap *heap;
	struct slot *slots;
	size_t slots_len;
	struct addrmap live;
	uint64_t live_bytes, usable_live, seeds;
	uint64_t footprint, peak_footprint;
	double frag_sum;
	uint64_t frag_ops;
	uint64_t rss_base, rss_peak, harness_base;
	uint64_t stats_base;       /* process-wide backends: footprint before the pass */
	bool usable_unknown;       /* usable_size could not tell for some block */
	uint64_t next_peak_sample; /* live bytes of the next new peak to sample */
	uint64_t sample_every;     /* --sample-every, doubled while sampling is slow */
	uint64_t sample_ns, pass_start_ns;
	/* timeline window */
	uint64_t stride, win_live, win_foot;
};

static int fail(struct checker *c, uint64_t i, enum replay_status st, const char *fmt, ...)
	HB_PRINTF(4, 5);

static int fail(struct checker *c, uint64_t i, enum replay_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->r->error, sizeof c->r->error, fmt, ap);
	va_end(ap);
	c->r->status = st;
	c->r->error_op = i;
	c->r->error_line = trace_line(c->t, i);
	return -1;
}

static uint64_t harness_bytes(const struct checker *c)
{
	return addrmap_bytes(&c->live);
}

/* Resident bytes now, less what the checker's own map has grown by. */
static uint64_t process_rss(const struct checker *c)
{
	uint64_t rss = rss_bytes(), extra = harness_bytes(c) - c->harness_base;
	return rss > extra ? rss - extra : 0;
}

/* A process-wide backend's footprint by its own accounting, or by the
 * resident set when it keeps none; its other figures into *s. */
static uint64_t process_footprint(const struct checker *c, uint64_t rss, struct alloc_stats *s)
{
	if (!c->a->stats)
		return rss;
	c->a->stats(c->st, s);
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
	uint64_t rss = process_rss(c);
	if (rss > c->rss_peak)
		c->rss_peak = rss;
	if (c->a->flags & ALLOC_F_SIMULATED)
		return;
	struct alloc_stats s = {0};
	uint64_t now = process_footprint(c, rss, &s);
	c->footprint = now > c->stats_base ? now - c->stats_base : 0;
	if (c->footprint > c->peak_footprint || (!c->r->nstats && s.nextra)) {
		c->peak_footprint = c->footprint;
		keep_stats(c->r, &s);
	}
}

/* Checks a block the backend just returned for op i. */
static int check_block(struct checker *c, uint64_t i, uint32_t id, unsigned char *p, uint64_t n,
		       uint64_t align)
{
	uint64_t extent = n ? n : 1;
	uintptr_t a = (uintptr_t)p;
	if (a % align)
		return fail(c, i, JOB_ERROR,
			    "%s returned %p, which is not aligned to %" PRIu64 " bytes",
			    trace_kind_names[c->t->ops[i].kind], (void *)p, align);
	if (c->heap && !heap_contains(c->heap, p, extent))
		return fail(c, i, JOB_ERROR,
			    "%s returned [%p, +%" PRIu64 "), which is outside the simulated heap",
			    trace_kind_names[c->t->ops[i].kind], (void *)p, n);
	uintptr_t k;
	uint64_t other;
	if (addrmap_floor(&c->live, a, &k, &other)) {
		const struct slot *o = &c->slots[other];
		if (k + (o->size ? o->size : 1) > a)
			return fail(c, i, JOB_ERROR,
				    "%s returned [%p, +%" PRIu64
				    "), which overlaps live block %" PRIu64 " [%p, +%" PRIu64
				    ") allocated at op %" PRIu64,
				    trace_kind_names[c->t->ops[i].kind], (void *)p, n, other,
				    (void *)o->ptr, o->size, o->alloc_op);
	}
	if (addrmap_ceil(&c->live, a, &k, &other) && k < a + extent) {
		const struct slot *o = &c->slots[other];
		return fail(c, i, JOB_ERROR,
			    "%s returned [%p, +%" PRIu64 "), which contains live block %" PRIu64
			    " [%p, +%" PRIu64 ") allocated at op %" PRIu64,
			    trace_kind_names[c->t->ops[i].kind], (void *)p, n, other,
			    (void *)o->ptr, o->size, o->alloc_op);
	}
	(void)id;
	return 0;
}

/* Verifies the pattern of a live block before realloc or free. */
static int verify_block(struct checker *c, uint64_t i, uint32_t id, const char *when)
{
	const struct slot *s = &c->slots[id];
	struct ranges rg = ranges_of(c->cfg->check, s->size);
	for (int k = 0; k < rg.n; k++) {
		uint64_t bad = pattern_find_bad(s->ptr, s->seed, rg.lo[k], rg.hi[k]);
		if (bad != UINT64_MAX)
			return fail(c, i, JOB_ERROR,
				    "%s: block %" PRIu32 " [%p, +%" PRIu64
				    ") allocated at op %" PRIu64 " was overwritten: byte %" PRIu64
				    " is 0x%02x, expected 0x%02x",
				    when, id, (void *)s->ptr, s->size, s->alloc_op, bad,
				    s->ptr[bad], pattern_byte(s->seed, bad));
	}
	return 0;
}

static void *call_calloc(const struct checker *c, uint64_t nmemb, uint64_t size)
{
	if (c->a->calloc)
		return c->a->calloc(c->st, (size_t)nmemb, (size_t)size);
	void *p = c->a->malloc(c->st, (size_t)(nmemb * size));
	if (p)
		memset(p, 0, (size_t)(nmemb * size));
	return p;
}

/* Records a new block for id after all checks passed. */
static int adopt_block(struct checker *c, uint64_t i, uint32_t id, unsigned char *p, uint64_t n,
		       uint64_t seed)
{
	struct slot *s = &c->slots[id];
	s->ptr = p;
	s->size = n;
	s->seed = seed;
	s->alloc_op = i;
	s->usable = n;
	if (!p)
		return 0;
	if (c->a->usable_size) {
		s->usable = c->a->usable_size(c->st, p);
		if (s->usable == 0 && n) { /* the backend cannot tell */
			c->usable_unknown = true;
			s->usable = n;
		}
		if (s->usable < n)
			return fail(c, i, JOB_ERROR,
				    "usable_size(%p) is %" PRIu64 ", less than the %" PRIu64
				    " bytes requested",
				    (void *)p, s->usable, n);
	}
	c->usable_live += s->usable;
	if (addrmap_insert(&c->live, (uintptr_t)p, id) < 0)
		return fail(c, i, JOB_ERROR, "the checker ran out of memory");
	return 0;
}

static void drop_block(struct checker *c, uint32_t id)
{
	struct slot *s = &c->slots[id];
	if (s->ptr) {
		addrmap_remove(&c->live, (uintptr_t)s->ptr, NULL);
		c->usable_live -= s->usable;
	}
	c->live_bytes -= s->size;
	memset(s, 0, sizeof *s);
}

/* The alignment a block of n bytes needs: the configured one, or less when
 * n is not a multiple of it, since a C object's alignment divides its size
 * (jemalloc, mimalloc and tcmalloc give malloc(8) 8 bytes' alignment). */
static uint64_t need_align(uint64_t align, uint64_t n)
{
	uint64_t low = n ? n & (~n + 1) : 1;
	return low < align ? low : align;
}

static int checked_op(struct checker *c, uint64_t i)
{
	const struct trace_op *op = &c->t->ops[i];
	const struct allocator *a = c->a;
	enum replay_check check = c->cfg->check;
	uint64_t n = trace_op_bytes(op), align = need_align(c->cfg->alignment, n);
	unsigned char *p;
	char why[ALLOC_ERRLEN] = "";

	switch (op->kind) {
	case TRACE_ALLOC:
	case TRACE_CALLOC:
	case TRACE_MEMALIGN:
		if (op->kind == TRACE_ALLOC) {
			p = a->malloc(c->st, (size_t)n);
		} else if (op->kind == TRACE_CALLOC) {
			p = call_calloc(c, op->arg, op->size);
		} else {
			if (!a->memalign)
				return fail(c, i, JOB_ERROR, "backend %s has no memalign", a->name);
			p = a->memalign(c->st, (size_t)op->arg, (size_t)n);
			if (op->arg > align)
				align = op->arg;
		}
		if (!p && n)
			return fail(c, i, JOB_OOM, "%s(%" PRIu64 ") returned NULL",
				    trace_kind_names[op->kind], n);
		if (p && check_block(c, i, op->id, p, n, align) < 0)
			return -1;
		if (p && op->kind == TRACE_CALLOC && check != CHECK_OFF) {
			struct ranges rg = ranges_of(check, n);
			for (int k = 0; k < rg.n; k++)
				for (uint64_t b = rg.lo[k]; b < rg.hi[k]; b++)
					if (p[b])
						return fail(
							c, i, JOB_ERROR,
							"calloc memory is not zero: byte %" PRIu64
							" of %" PRIu64 " is 0x%02x",
							b, n, p[b]);
		}
		if (adopt_block(c, i, op->id, p, n, ++c->seeds) < 0)
			return -1;
		if (p) {
			struct ranges rg = ranges_of(check, n);
			for (int k = 0; k < rg.n; k++)
				pattern_write(p, c->seeds, rg.lo[k], rg.hi[k]);
		}
		c->live_bytes += n;
		break;

	case TRACE_REALLOC: {
		struct slot old = c->slots[op->id];
		if (verify_block(c, i, op->id, "before realloc") < 0)
			return -1;
		drop_block(c, op->id);
		/* old.ptr is NULL if malloc(0) returned NULL: realloc(NULL, n),
		 * as the program did */
		p = a->realloc(c->st, old.ptr, (size_t)n);
		if (!p)
			return fail(c, i, JOB_OOM, "realloc(%p, %" PRIu64 ") returned NULL",
				    (void *)old.ptr, n);
		if (check_block(c, i, op->id, p, n, align) < 0)
			return -1;
		/* the first min(old, new) bytes must have moved with the block */
		uint64_t keep = old.size < n ? old.size : n;
		struct ranges rg = ranges_of(check, old.size);
		for (int k = 0; k < rg.n; k++) {
			uint64_t hi = rg.hi[k] < keep ? rg.hi[k] : keep;
			uint64_t bad = rg.lo[k] < hi ? pattern_find_bad(p, old.seed, rg.lo[k], hi)
						     : UINT64_MAX;
			if (bad != UINT64_MAX)
				return fail(c, i, JOB_ERROR,
					    "realloc(%p, %" PRIu64
					    ") to %p lost data: byte %" PRIu64
					    " is 0x%02x, expected 0x%02x (of the %" PRIu64
					    " bytes it must keep)",
					    (void *)old.ptr, n, (void *)p, bad, p[bad],
					    pattern_byte(old.seed, bad), keep);
		}
		/* a new seed: a stale copy of the old contents must not pass later */
		if (adopt_block(c, i, op->id, p, n, ++c->seeds) < 0)
			return -1;
		rg = ranges_of(check, n);
		for (int k = 0; k < rg.n; k++)
			pattern_write(p, c->seeds, rg.lo[k], rg.hi[k]);
		c->live_bytes += n;
		break;
	}

	case TRACE_FREE:
		if (op->id == TRACE_ID_NULL) {
			if (a->free(c->st, NULL, why, sizeof why) < 0)
				return fail(c, i, JOB_ERROR, "free(NULL) failed: %s", why);
			break;
		}
		if (verify_block(c, i, op->id, "before free") < 0)
			return -1;
		p = c->slots[op->id].ptr;
		drop_block(c, op->id);
		if (p && a->free(c->st, p, why, sizeof why) < 0)
			return fail(c, i, JOB_ERROR, "free(%p) of a live block was rejected: %s",
				    (void *)p, why);
		break;
	}
	return 0;
}

/* Measures after op i: footprint, peaks, fragmentation, the timeline. */
static void measure_op(struct checker *c, uint64_t i)
{
	struct replay_result *r = c->r;
	bool new_peak = c->live_bytes > r->peak_live_bytes;
	if (c->heap) {
		struct heap_usage u;
		heap_usage(c->heap, &u);
		c->footprint = u.footprint;
		c->peak_footprint = u.peak_footprint;
	}
	bool last = i + 1 == c->t->nops;
	/* a new peak is sampled when it is 1/64 above the last one sampled:
	 * a program's ramp sets a new peak at nearly every op, and some
	 * allocators' accounting walks their free lists (glibc's mallinfo2) */
	bool peak_sample = new_peak && c->live_bytes >= c->next_peak_sample;
	if (peak_sample)
		c->next_peak_sample = c->live_bytes + c->live_bytes / 64;
	if (peak_sample || last || (c->sample_every && i % c->sample_every == 0)) {
		uint64_t t0 = os_now_ns();
		sample_process(c);
		/* sampling may take a quarter of the pass at most: where the
		 * accounting is slow the interval doubles */
		uint64_t t1 = os_now_ns();
		c->sample_ns += t1 - t0;
		if (c->sample_every && c->sample_ns * 4 > t1 - c->pass_start_ns &&
		    c->sample_every < (UINT64_C(1) << 40))
			c->sample_every *= 2;
	}
	if (new_peak) {
		r->peak_live_bytes = c->live_bytes;
		r->peak_live_op = i;
		r->footprint_at_peak_live = c->footprint;
		r->internal_frag_bytes = c->usable_live - c->live_bytes;
		r->external_frag_bytes =
			c->footprint > c->usable_live ? c->footprint - c->usable_live : 0;
	}
	if (c->live_bytes) {
		uint64_t waste = c->footprint > c->live_bytes ? c->footprint - c->live_bytes : 0;
		c->frag_sum += (double)waste / (double)c->live_bytes;
		c->frag_ops++;
	}
	if (c->live_bytes > c->win_live)
		c->win_live = c->live_bytes;
	if (c->footprint > c->win_foot)
		c->win_foot = c->footprint;
	if ((i + 1) % c->stride == 0 || last) {
		if (r->npoints < REPLAY_TIMELINE_POINTS + 2)
			r->timeline[r->npoints++] =
				(struct replay_point){i, c->win_live, c->win_foot};
		c->win_live = c->win_foot = 0; /* each window holds its own ops only */
	}
}

/* A fresh backend state.  Built-in backends get the job's simulated heap,
 * created on first use and emptied (heap_reset) before every later pass, so
 * that every pass starts from an empty heap on warm pages. */
static int fresh_state(const struct replay_config *cfg, struct heap **heap, void **st, char *err,
		       size_t len)
{
	const struct allocator *a = cfg->backend;
	if (a->flags & ALLOC_F_SIMULATED) {
		if (*heap) {
			heap_reset(*heap);
		} else if (!(*heap = heap_create(cfg->heap_limit))) {
			snprintf(err, len, "cannot reserve the simulated heap");
			return -1;
		}
	}
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	return a->init(st, *heap, &opts, err, len);
}

static int checked_pass(const struct trace *t, const struct replay_config *cfg,
			struct replay_result *r, struct slot *slots, struct heap **heap)
{
	struct checker c = {.t = t, .cfg = cfg, .r = r, .a = cfg->backend, .slots = slots};
	char err[ALLOC_ERRLEN];
	addrmap_init(&c.live);
	c.stride = t->nops / REPLAY_TIMELINE_POINTS + 1;
	if (fresh_state(cfg, heap, &c.st, err, sizeof err) < 0)
		return fail(&c, UINT64_MAX, JOB_ERROR, "cannot start backend %s: %s",
			    cfg->backend->name, err);
	c.heap = *heap;
	/* the empty state already has a footprint (built-ins: the backend's
	 * own records in the heap) */
	if (c.heap) {
		struct heap_usage u;
		heap_usage(c.heap, &u);
		c.footprint = u.footprint;
		c.peak_footprint = u.peak_footprint;
	}
	c.sample_every = cfg->sample_every;
	c.pass_start_ns = os_now_ns();
	c.rss_base = c.rss_peak = rss_bytes();
	c.harness_base = harness_bytes(&c);
	if (!c.heap) {
		struct alloc_stats s = {0};
		c.stats_base = process_footprint(&c, c.rss_base, &s);
	}
	uint64_t maxrss_before = maxrss_bytes();

	int rc = 0;
	for (uint64_t i = 0; i < t->nops && rc == 0; i++) {
		r->progress = i;
		rc = checked_op(&c, i);
		if (rc == 0)
			measure_op(&c, i);
		uint64_t k = cfg->heap_check_every;
		if (rc == 0 && k && c.a->check && ((i + 1) % k == 0 || i + 1 == t->nops) &&
		    c.a->check(c.st, err, sizeof err) < 0)
			rc = fail(&c, i, JOB_ERROR, "heap check failed after this op: %s", err);
	}
	/* blocks still live at the end must still hold their pattern; a
	 * failure is reported at the last op */
	for (uint32_t id = 0; id < t->nids && rc == 0 && t->nops; id++)
		if (slots[id].ptr)
			rc = verify_block(&c, t->nops - 1, id, "at the end of the trace");
	if (rc == 0) {
		if (c.heap) {
			struct heap_usage u;
			heap_usage(c.heap, &u);
			c.peak_footprint = u.peak_footprint;
		}
		sample_process(&c);
		struct alloc_stats s = {.source = c.heap ? "none" : "rss"};
		if (c.a->stats)
			c.a->stats(c.st, &s);
		snprintf(r->footprint_source, sizeof r->footprint_source, "%s", s.source);
		r->peak_footprint_bytes = c.peak_footprint;
		r->have_usable = c.a->usable_size && !c.usable_unknown;
		double live = (double)r->peak_live_bytes;
		r->have_utilization = r->peak_footprint_bytes && live > 0;
		if (r->have_utilization) {
			r->utilization = live / (double)r->peak_footprint_bytes;
			r->frag_peak = (double)r->peak_footprint_bytes / live - 1;
			r->frag_at_peak_live = (double)r->footprint_at_peak_live / live - 1;
		}
		r->frag_mean = c.frag_ops ? c.frag_sum / (double)c.frag_ops : 0;
		/* resident growth: the sampled peak, or the kernel's high-water
		 * mark if it saw a higher one between samples */
		uint64_t extra = harness_bytes(&c) - c.harness_base, maxrss = maxrss_bytes();
		uint64_t hw = maxrss > maxrss_before && maxrss > extra ? maxrss - extra : 0;
		uint64_t peak = c.rss_peak > hw ? c.rss_peak : hw;
		r->peak_rss_bytes = peak > c.rss_base ? peak - c.rss_base : 0;
		/* a footprint that is the resident set has the same high-water
		 * mark, also between samples */
		if (!c.heap && !c.a->stats && r->peak_rss_bytes > r->peak_footprint_bytes) {
			r->peak_footprint_bytes = r->peak_rss_bytes;
			r->have_utilization = r->peak_live_bytes > 0;
			r->utilization = live / (double)r->peak_footprint_bytes;
			r->frag_peak = (double)r->peak_footprint_bytes / live - 1;
		}
	}
	/* give everything back so that the next pass starts clean; after a
	 * failure the backend may be corrupt and is not called again */
	r->pass = REPLAY_PASS_CLEANUP;
	for (uint32_t id = 0; id < t->nids && rc == 0; id++)
		if (slots[id].ptr)
			c.a->free(c.st, slots[id].ptr, err, sizeof err);
	memset(slots, 0, (size_t)t->nids * sizeof *slots);
	if (rc == 0)
		c.a->fini(c.st);
	addrmap_destroy(&c.live);
	return rc;
}

/* ---- Timed passes ---------------------------------------------------------- */

static void *fallback_calloc(void *st, size_t nmemb, size_t size);
static const struct allocator *fallback_backend; /* for fallback_calloc */

static void *fallback_calloc(void *st, size_t nmemb, size_t size)
{
	void *p = fallback_backend->malloc(st, nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

/* The timed loop for the C library's malloc (and so for any allocator
 * preloaded into the worker): the same loop as below with direct calls, so
 * that the only difference from a program calling malloc is the op array. */
static double timed_pass_libc(const struct trace *t, void **ptrs)
{
	const struct trace_op *op = t->ops, *end = t->ops + t->nops;
	uint64_t t0 = os_now_ns();
	for (; op < end; op++) {
		switch (op->kind) {
		case TRACE_ALLOC: ptrs[op->id] = malloc(op->size); break;
		case TRACE_CALLOC: ptrs[op->id] = calloc(op->arg, op->size); break;
		case TRACE_MEMALIGN:
			if (posix_memalign(&ptrs[op->id],
					   op->arg < sizeof(void *) ? sizeof(void *) : op->arg,
					   op->size))
				ptrs[op->id] = NULL;
			break;
		case TRACE_REALLOC: ptrs[op->id] = realloc(ptrs[op->id], op->size); break;
		default:
			if (op->id != TRACE_ID_NULL) {
				free(ptrs[op->id]);
				ptrs[op->id] = NULL;
			} else {
				free(NULL);
			}
		}
	}
	uint64_t t1 = os_now_ns();
	for (uint32_t id = 0; id < t->nids; id++) {
		free(ptrs[id]);
		ptrs[id] = NULL;
	}
	return (double)(t1 - t0) * 1e-9;
}

/* The timed loop: nothing but the op, the call and the id table.  Returns
 * seconds, or a negative number if the state could not be made. */
static double timed_pass(const struct trace *t, const struct replay_config *cfg, void **ptrs,
			 struct heap **heap, char *err, size_t errlen)
{
	const struct allocator *a = cfg->backend;
	if (a->flags & ALLOC_F_LIBC)
		return timed_pass_libc(t, ptrs);
	void *st;
	if (fresh_state(cfg, heap, &st, err, errlen) < 0)
		return -1;
	void *(*do_malloc)(void *, size_t) = a->malloc;
	void *(*do_calloc)(void *, size_t, size_t) = a->calloc ? a->calloc : fallback_calloc;
	void *(*do_memalign)(void *, size_t, size_t) = a->memalign;
	void *(*do_realloc)(void *, void *, size_t) = a->realloc;
	int (*do_free)(void *, void *, char *, size_t) = a->free;
	fallback_backend = a;
	const struct trace_op *op = t->ops, *end = t->ops + t->nops;

	uint64_t t0 = os_now_ns();
	for (; op < end; op++) {
		switch (op->kind) {
		case TRACE_ALLOC: ptrs[op->id] = do_malloc(st, op->size); break;
		case TRACE_CALLOC: ptrs[op->id] = do_calloc(st, op->arg, op->size); break;
		case TRACE_MEMALIGN: ptrs[op->id] = do_memalign(st, op->arg, op->size); break;
		case TRACE_REALLOC: ptrs[op->id] = do_realloc(st, ptrs[op->id], op->size); break;
		default:
			do_free(st, op->id == TRACE_ID_NULL ? NULL : ptrs[op->id], NULL, 0);
			if (op->id != TRACE_ID_NULL)
				ptrs[op->id] = NULL;
		}
	}
	uint64_t t1 = os_now_ns();

	for (uint32_t id = 0; id < t->nids; id++)
		if (ptrs[id])
			do_free(st, ptrs[id], NULL, 0);
	memset(ptrs, 0, (size_t)t->nids * sizeof *ptrs);
	a->fini(st);
	return (double)(t1 - t0) * 1e-9;
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

/* ---- Latency pass ------------------------------------------------------------ */

/* Log-linear buckets: exact below 16 ns, then 16 buckets per power of two
 * (relative error under 1/16). */
#define LAT_SUB     16
#define LAT_BUCKETS (LAT_SUB + 60 * LAT_SUB)

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

static int latency_pass(const struct trace *t, const struct replay_config *cfg,
			struct replay_result *r, void **ptrs, struct heap **heap, char *err,
			size_t errlen)
{
	const struct allocator *a = cfg->backend;
	uint64_t(*hist)[LAT_BUCKETS] = os_map(sizeof(uint64_t) * TRACE_NKINDS * LAT_BUCKETS);
	uint64_t maxv[TRACE_NKINDS] = {0}, count[TRACE_NKINDS] = {0};
	if (!hist)
		return snprintf(err, errlen, "no memory for latency histograms"), -1;
	uint64_t overhead = timer_overhead();
	void *st;
	if (fresh_state(cfg, heap, &st, err, errlen) < 0) {
		os_unmap(hist, sizeof(uint64_t) * TRACE_NKINDS * LAT_BUCKETS);
		return -1;
	}
	fallback_backend = a;
	void *(*do_calloc)(void *, size_t, size_t) = a->calloc ? a->calloc : fallback_calloc;
	r->pass = REPLAY_PASS_LATENCY;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		r->progress = i;
		uint64_t t0 = os_now_ns();
		switch (op->kind) {
		case TRACE_ALLOC: ptrs[op->id] = a->malloc(st, op->size); break;
		case TRACE_CALLOC: ptrs[op->id] = do_calloc(st, op->arg, op->size); break;
		case TRACE_MEMALIGN: ptrs[op->id] = a->memalign(st, op->arg, op->size); break;
		case TRACE_REALLOC: ptrs[op->id] = a->realloc(st, ptrs[op->id], op->size); break;
		default: a->free(st, op->id == TRACE_ID_NULL ? NULL : ptrs[op->id], NULL, 0);
		}
		uint64_t dt = os_now_ns() - t0;
		if (op->kind == TRACE_FREE && op->id != TRACE_ID_NULL)
			ptrs[op->id] = NULL;
		dt = dt > overhead ? dt - overhead : 0;
		hist[op->kind][lat_bucket(dt)]++;
		count[op->kind]++;
		if (dt > maxv[op->kind])
			maxv[op->kind] = dt;
	}
	for (uint32_t id = 0; id < t->nids; id++)
		if (ptrs[id])
			a->free(st, ptrs[id], NULL, 0);
	memset(ptrs, 0, (size_t)t->nids * sizeof *ptrs);
	a->fini(st);

	r->have_latency = true;
	r->timer_overhead_ns = (double)overhead;
	for (int k = 0; k < TRACE_NKINDS; k++) {
		struct replay_latency *l = &r->latency[k];
		l->count = count[k];
		if (!count[k])
			continue;
		/* a bucket's middle can lie above the largest sample in it */
		l->max = (double)maxv[k];
		l->p50 = fmin(lat_quantile(hist[k], count[k], 1, 2), l->max);
		l->p90 = fmin(lat_quantile(hist[k], count[k], 9, 10), l->max);
		l->p99 = fmin(lat_quantile(hist[k], count[k], 99, 100), l->max);
		l->p999 = fmin(lat_quantile(hist[k], count[k], 999, 1000), l->max);
	}
	os_unmap(hist, sizeof(uint64_t) * TRACE_NKINDS * LAT_BUCKETS);
	return 0;
}

/* ---- The job ------------------------------------------------------------------ */

int replay_run(const struct trace *t, const struct replay_config *cfg, struct replay_result *r)
{
	char err[ALLOC_ERRLEN];
	r->status = JOB_OK;
	r->error_op = UINT64_MAX;
	r->ops = t->nops;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		r->allocs += trace_op_allocates(op);
		r->reallocs += op->kind == TRACE_REALLOC;
		r->frees += op->kind == TRACE_FREE;
	}

	/* harness tables from mmap, resident before any baseline is taken */
	struct heap *heap = NULL;
	size_t nslots = (size_t)t->nids + 1;
	struct slot *slots = os_map(nslots * sizeof *slots);
	void **ptrs = os_map(nslots * sizeof *ptrs);
	if (!slots || !ptrs) {
		snprintf(r->error, sizeof r->error, "no memory for the id tables");
		r->status = JOB_ERROR;
		goto out;
	}
	memset(slots, 0, nslots * sizeof *slots);
	memset(ptrs, 0, nslots * sizeof *ptrs);
	touch(t->ops, (size_t)t->nops * sizeof *t->ops);

	r->pass = REPLAY_PASS_CHECKED;
	if (checked_pass(t, cfg, r, slots, &heap) < 0)
		goto out;

	/* A process-wide allocator carries its state from the checked pass,
	 * which is slow enough for time-based purging (mimalloc's, jemalloc's
	 * decay) to hand memory back that the first timed passes would then
	 * fault in again: one untimed run of the timed loop first, as a
	 * program would have warmed it (direct_loop does the same). */
	if (cfg->repeat && (cfg->backend->flags & ALLOC_F_PROCESS)) {
		r->pass = 1;
		if (timed_pass(t, cfg, ptrs, &heap, err, sizeof err) < 0) {
			snprintf(r->error, sizeof r->error, "cannot start backend: %s", err);
			r->status = JOB_ERROR;
			goto out;
		}
	}
	r->repeat = cfg->repeat;
	double sorted[REPLAY_MAX_REPEAT];
	for (unsigned k = 0; k < cfg->repeat; k++) {
		r->pass = (int)k + 1;
		double s = timed_pass(t, cfg, ptrs, &heap, err, sizeof err);
		if (s < 0) {
			snprintf(r->error, sizeof r->error, "cannot start backend for pass %u: %s",
				 k + 1, err);
			r->status = JOB_ERROR;
			goto out;
		}
		r->seconds[k] = sorted[k] = s;
	}
	if (cfg->repeat) {
		sort_doubles(sorted, cfg->repeat);
		unsigned n = cfg->repeat;
		r->seconds_min = sorted[0];
		r->seconds_max = sorted[n - 1];
		r->seconds_median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
		if (r->seconds_median > 0 && t->nops) {
			r->mops = (double)t->nops / r->seconds_median / 1e6;
			r->ns_per_op = r->seconds_median * 1e9 / (double)(t->nops ? t->nops : 1);
		}
	}
	if (cfg->latency && latency_pass(t, cfg, r, ptrs, &heap, err, sizeof err) < 0) {
		snprintf(r->error, sizeof r->error, "latency pass: %s", err);
		r->status = JOB_ERROR;
	}
out:
	heap_destroy(heap);
	os_unmap(slots, nslots * sizeof *slots);
	os_unmap(ptrs, nslots * sizeof *ptrs);
	r->finished = true;
	return r->status == JOB_OK ? 0 : -1;
}
