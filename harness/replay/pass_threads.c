/*
 * pass_threads.c - the threaded passes (--threads recorded, DESIGN §5):
 * each thread of the trace on an OS thread of its own, started when its
 * first op is due and ended after its last, keeping causal order and no
 * more (plan.c says what each op waits for).
 *
 * With --copies N, N copies of the trace run at once, each with its own
 * id table, block records and counters (struct tcopy), each started by a
 * launcher thread of its own; without --threads recorded a copy is one
 * thread replaying every op in order (plan.c's serial plan).
 *
 * After the serial checked pass, whose exact figures stay the job's:
 *   1. a checked threaded pass: every block gets a tag in its first and
 *      last 8 bytes, verified before realloc and free, so an allocator that
 *      hands one block to two threads (or loses a write across threads) is
 *      caught; alignment and NULL results are checked; every page of every
 *      block is written, as a program that fills its blocks does, while a
 *      sampling thread reads the resident set every millisecond: the
 *      footprint under threads (threaded_peak_footprint_bytes), and the
 *      backend's own accounting read at the same moments
 *      (threaded_stats_peak_footprint_bytes);
 *   2. `repeat` timed threaded passes with nothing in the threads' loops
 *      but the waits, the call, the id table and the posts: the wall time
 *      from the launch of the first thread to the end of the last.
 *
 * Waiting: a waiting op spins briefly on its id's counter, then sleeps on
 * it (a futex), so many more threads than cores wait without burning the
 * cores their producers need.  The time spent waiting is measured only
 * when an op has to wait (a clock read on each side of the wait).
 *
 * Backends that draw from the simulated heap share one heap, which is not
 * thread-safe: their calls run behind one lock (serialized: true in the
 * result), so that the threads' interleaving and the causal waits are
 * still real while the figures say the calls were serial.
 *
 * The footprint under threads is the checked serial pass's, physically
 * (docs/metrics.md): the anonymous resident set over that pass's baseline,
 * with the baseline's pages that now hold a live byte added back, less
 * the harness's own pages of the threaded pass.  Those are all in
 * mappings of its own, counted with mincore at each reading: its tables,
 * the plan, and the threads' stacks (each with the thread's descriptor
 * and TLS at its top), which therefore come from one mapping of the
 * harness rather than from the C library's stack cache.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libc_calls.h"
#include "replay/internal.h"

#define TP_SPINS     200 /* polls of a counter before sleeping on it */
#define TP_STACK     (256 << 10)
#define TP_SAMPLE_NS 1000000 /* the sampling thread's period, at least */
#define TP_VEC       65536   /* the sampler's mincore scratch, bytes */
#define TP_TAG_BYTES 8

/* One copy's tables: copy 0 has the job's own. */
struct tcopy {
	void **ptrs;
	struct slot *slots;
	struct tp_sync *sync; /* by id */
};

struct tctx;
struct launcher;

/* What the passes of a job share besides the job: the plan, the copies'
 * tables, the threads' and launchers' contexts (all in mem), their stacks,
 * the sampler's scratch. */
struct tjob {
	struct tplan plan;
	struct tcopy *copies;
	unsigned ncopies;
	struct tctx *cx;
	struct launcher *ls;
	struct id_table *tables; /* the copies' id tables, for resident_held */
	unsigned char *vec;      /* TP_VEC bytes */
	char *mem, *stacks;      /* all the above; the threads' stacks */
	size_t bytes, stack_bytes;
};

/* One threaded pass. */
struct tpass {
	struct replay_job *j;
	struct tjob *tj; /* the plan, the copies' tables, the contexts */
	const struct replay_calls *k;
	bool check;
	atomic_bool abort; /* a thread failed: everyone stops */
	atomic_flag failed;
	char error[REPLAY_ERRLEN];
	enum replay_status status;
	atomic_uint alive, alive_peak;
	atomic_bool sampling;
	uint64_t start_ns;               /* the pass's start: the origin of --pace's times */
	uint64_t fp_peak, rss_peak;      /* process-wide: the footprint's, the resident set's */
	pthread_mutex_t *heap_lock;      /* paced simulated heap: the sampler reads it */
	bool stats;                      /* the sampler reads the backend's accounting */
	uint64_t stats_base, stats_peak; /* its footprint before the pass, its peak */
};

/* One replay thread. */
struct tctx {
	struct tpass *ps;
	struct tp_thread *th;
	const struct tcopy *cp;
	pthread_t tid;
	bool started;
	uint64_t start_ns, end_ns, wait_ns, tags;
};

/* ---- Waiting ------------------------------------------------------------------ */

static long futex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* Sleeps while *addr is val, 50 ms at most: an abort (tp_fail) wakes the
 * sleepers without changing their counters, so a sleeper that checked the
 * abort flag just before it was set may miss that wake-up, and must look
 * again soon. */
static void futex_wait_a_while(uint32_t *addr, uint32_t val)
{
	struct timespec most = {0, 50000000};
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, &most, NULL, 0);
}

static inline bool reached(uint32_t seq, uint32_t want)
{
	return (int32_t)(seq - want) >= 0;
}

/* Until s's counter reaches want: false if the pass was aborted. */
static bool tp_wait_slow(struct tpass *ps, struct tp_sync *s, uint32_t want)
{
	_Atomic uint32_t *seq = (_Atomic uint32_t *)&s->seq;
	_Atomic uint32_t *waiters = (_Atomic uint32_t *)&s->waiters;
	for (int i = 0; i < TP_SPINS; i++) {
		if (reached(atomic_load_explicit(seq, memory_order_acquire), want))
			return true;
		__builtin_ia32_pause();
	}
	for (;;) {
		atomic_fetch_add(waiters, 1);
		uint32_t v = atomic_load(seq);
		bool done = reached(v, want);
		if (!done && !atomic_load(&ps->abort))
			futex_wait_a_while(&s->seq, v);
		atomic_fetch_sub(waiters, 1);
		if (done || reached(atomic_load_explicit(seq, memory_order_acquire), want))
			return true;
		if (atomic_load(&ps->abort))
			return false;
	}
}

REPLAY_INLINE bool tp_wait(struct tpass *ps, struct tctx *cx, struct tp_sync *s, uint32_t want)
{
	if (reached(atomic_load_explicit((_Atomic uint32_t *)&s->seq, memory_order_acquire), want))
		return true;
	uint64_t t0 = os_now_ns();
	bool ok = tp_wait_slow(ps, s, want);
	cx->wait_ns += os_now_ns() - t0;
	return ok;
}

/* The op before want is done: wakes whoever waits for it.  The store and
 * the waiters' load are sequentially consistent with the waiter's
 * increment and its load, so either the waiter sees the new count or this
 * sees the waiter. */
REPLAY_INLINE void tp_post(struct tp_sync *s, uint32_t seq)
{
	atomic_store((_Atomic uint32_t *)&s->seq, seq);
	if (atomic_load((_Atomic uint32_t *)&s->waiters))
		futex(&s->seq, FUTEX_WAKE_PRIVATE, INT32_MAX);
}

/* Fails the pass (the first failure wins) and wakes every waiter. */
static void tp_fail(struct tpass *ps, enum replay_status st, const char *fmt, ...) HB_PRINTF(3, 4);
static void tp_fail(struct tpass *ps, enum replay_status st, const char *fmt, ...)
{
	if (!atomic_flag_test_and_set(&ps->failed)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->error, sizeof ps->error, fmt, ap);
		va_end(ap);
		ps->status = st;
	}
	atomic_store(&ps->abort, true);
	const struct trace *t = ps->j->t;
	for (unsigned c = 0; c < ps->tj->ncopies; c++)
		for (uint32_t id = 0; id <= t->nids; id++) {
			struct tp_sync *s = &ps->tj->copies[c].sync[id];
			if (atomic_load((_Atomic uint32_t *)&s->waiters))
				futex(&s->seq, FUTEX_WAKE_PRIVATE, INT32_MAX);
		}
}

/* ---- The serialized calls of simulated-heap backends ------------------------------ */

struct locked {
	pthread_mutex_t mu;
	struct replay_calls in;
};

static void *locked_malloc(void *st, size_t n)
{
	struct locked *l = st;
	pthread_mutex_lock(&l->mu);
	void *p = l->in.malloc(l->in.st, n);
	pthread_mutex_unlock(&l->mu);
	return p;
}

static void *locked_calloc(void *st, size_t m, size_t n)
{
	struct locked *l = st;
	pthread_mutex_lock(&l->mu);
	void *p = l->in.calloc(l->in.calloc_ctx, m, n);
	pthread_mutex_unlock(&l->mu);
	return p;
}

static void *locked_memalign(void *st, size_t a, size_t n)
{
	struct locked *l = st;
	pthread_mutex_lock(&l->mu);
	void *p = l->in.memalign(l->in.st, a, n);
	pthread_mutex_unlock(&l->mu);
	return p;
}

static void *locked_realloc(void *st, void *q, size_t n)
{
	struct locked *l = st;
	pthread_mutex_lock(&l->mu);
	void *p = l->in.realloc(l->in.st, q, n);
	pthread_mutex_unlock(&l->mu);
	return p;
}

static int locked_free(void *st, void *q, char *why, size_t len)
{
	struct locked *l = st;
	pthread_mutex_lock(&l->mu);
	int rc = l->in.free(l->in.st, q, why, len);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* The calls of the job's fresh state behind l's lock. */
static struct replay_calls locked_calls(struct locked *l, const struct replay_calls *in)
{
	l->in = *in;
	pthread_mutex_init(&l->mu, NULL);
	return (struct replay_calls){.st = l,
				     .malloc = locked_malloc,
				     .calloc = locked_calloc,
				     .calloc_ctx = l,
				     .memalign = in->memalign ? locked_memalign : NULL,
				     .realloc = locked_realloc,
				     .free = locked_free,
				     .own_calloc = true};
}

/* ---- The checked thread ------------------------------------------------------- */

/* The tag of a block: its first and last TP_TAG_BYTES (fewer if smaller). */
static void tag_write(unsigned char *p, uint64_t n, uint64_t tag)
{
	memcpy(p, &tag, n < TP_TAG_BYTES ? n : TP_TAG_BYTES);
	if (n >= 2 * TP_TAG_BYTES) {
		uint64_t tail = ~tag;
		memcpy(p + n - TP_TAG_BYTES, &tail, TP_TAG_BYTES);
	}
}

/* Whether the block still holds its tag: head bytes (the first `head` of
 * them, for a realloc'd block) and, when whole, the tail. */
static bool tag_ok(const unsigned char *p, uint64_t n, uint64_t tag, bool tail)
{
	uint64_t k = n < TP_TAG_BYTES ? n : TP_TAG_BYTES;
	if (memcmp(p, &tag, k))
		return false;
	uint64_t t = ~tag;
	return !tail || n < 2 * TP_TAG_BYTES || !memcmp(p + n - TP_TAG_BYTES, &t, TP_TAG_BYTES);
}

/* Writes a byte of every page of the block (the pages a program filling
 * its blocks makes resident), then its tag. */
static void block_fill(struct tctx *cx, unsigned char *p, uint64_t n, struct slot *s)
{
	for (uint64_t i = 0; i < n; i += 4096)
		((volatile unsigned char *)p)[i] = 0;
	s->size = n;
	s->seed = (uint64_t)cx->th->label << 48 ^ ++cx->tags * 0x9e3779b97f4a7c15ull;
	tag_write(p, n, s->seed);
}

/* Before op o frees or moves its block: its tag intact.  false: failed. */
static bool before_release(struct tctx *cx, const struct tp_op *o, const char *when)
{
	const unsigned char *p = cx->cp->ptrs[o->op.id];
	const struct slot *s = &cx->cp->slots[o->op.id];
	if (!p || tag_ok(p, s->size, s->seed, true))
		return true;
	tp_fail(cx->ps, JOB_ERROR,
		"thread %u, its op %" PRIu64 ": the block of id %" PRIu32 " (%" PRIu64
		" bytes at %p) was overwritten %s: the allocator gave it to another "
		"block too, or lost a write",
		cx->th->label, (uint64_t)(o - cx->th->ops), o->op.id, s->size, (const void *)p,
		when);
	return false;
}

/* After op o allocated or moved its block: not NULL, aligned, a realloc's
 * head kept; then filled and tagged. */
static bool after_alloc(struct tctx *cx, const struct tp_op *o, const struct slot *old)
{
	struct replay_job *j = cx->ps->j;
	unsigned char *p = cx->cp->ptrs[o->op.id];
	uint64_t n = trace_op_bytes(&o->op), al = check_align(j->cfg, n);
	if (o->op.kind == TRACE_MEMALIGN && o->op.arg > al)
		al = o->op.arg;
	const char *bad =
		!p && n                  ? "returned NULL"
		: p && (uintptr_t)p % al ? "returned a misaligned block"
		: p && old && old->size && n &&
				!tag_ok(p, n < old->size ? n : old->size, old->seed, false)
			? "lost the block's first bytes"
			: NULL;
	if (bad) {
		tp_fail(cx->ps, !p ? JOB_OOM : JOB_ERROR,
			"thread %u, its op %" PRIu64 ": %s(%" PRIu64 ") %s (%p)", cx->th->label,
			(uint64_t)(o - cx->th->ops), trace_kind_names[o->op.kind], n, bad,
			(void *)p);
		return false;
	}
	if (p)
		block_fill(cx, p, n, &cx->cp->slots[o->op.id]);
	return true;
}

/* One op, checked. */
static bool checked_op(struct tctx *cx, const struct replay_calls *k, const struct tp_op *o)
{
	struct replay_job *j = cx->ps->j;
	const struct trace_op *op = &o->op;
	char why[256];
	if (op->kind == TRACE_FREE) {
		if (op->id != TRACE_ID_NULL && !before_release(cx, o, "before its free"))
			return false;
		if (replay_op(k, op, cx->cp->ptrs, why, sizeof why) < 0) {
			tp_fail(cx->ps, JOB_ERROR, "thread %u, its op %" PRIu64 ": free: %s",
				cx->th->label, (uint64_t)(o - cx->th->ops), why);
			return false;
		}
		return true;
	}
	if (op->kind == TRACE_MEMALIGN && !k->memalign) {
		tp_fail(cx->ps, JOB_ERROR, "backend %s has no memalign", j->cfg->backend->name);
		return false;
	}
	struct slot old = cx->cp->slots[op->id];
	if (op->kind == TRACE_REALLOC && !before_release(cx, o, "before its realloc"))
		return false;
	replay_op(k, op, cx->cp->ptrs, NULL, 0);
	return after_alloc(cx, o, op->kind == TRACE_REALLOC ? &old : NULL);
}

/* ---- The threads -------------------------------------------------------------- */

/* Until the clock reads at least due (ns): asleep while it is far, then
 * polling; the time counts as waiting (--pace). */
static void pace_until(struct tctx *cx, uint64_t due)
{
	uint64_t now = os_now_ns();
	if (now >= due)
		return;
	uint64_t t0 = now;
	if (due - now > 200000) { /* 200 us: the sleep's own lateness is below */
		uint64_t wake = due - 100000;
		struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	while ((now = os_now_ns()) < due)
		__builtin_ia32_pause();
	cx->wait_ns += now - t0;
}

/* A thread's ops; inlined thrice, so that the timed loop has no check and,
 * unpaced, no clock. */
REPLAY_INLINE void thread_loop(struct tctx *cx, const struct replay_calls *k, bool check,
			       bool paced)
{
	struct tpass *ps = cx->ps;
	struct tp_sync *sync = cx->cp->sync;
	void **ptrs = cx->cp->ptrs;
	const struct tp_op *o = cx->th->ops, *end = o + cx->th->nops;
	const uint64_t *due = paced ? ps->tj->plan.due + (o - ps->tj->plan.ops) : NULL;
	for (; o < end; o++) {
		if (paced)
			pace_until(cx, ps->start_ns + *due++);
		if ((o->flags & TP_WAIT) && !tp_wait(ps, cx, &sync[o->op.id], o->seq))
			return;
		if (check) {
			if (atomic_load_explicit(&ps->abort, memory_order_relaxed) ||
			    !checked_op(cx, k, o))
				return;
		} else {
			replay_op(k, &o->op, ptrs, NULL, 0);
		}
		if (o->flags & TP_POST)
			tp_post(&sync[o->op.id], o->seq + 1);
	}
}

static void *thread_main(void *arg)
{
	struct tctx *cx = arg;
	struct tpass *ps = cx->ps;
	unsigned n = atomic_fetch_add(&ps->alive, 1) + 1, peak = atomic_load(&ps->alive_peak);
	while (n > peak && !atomic_compare_exchange_weak(&ps->alive_peak, &peak, n))
		;
	cx->start_ns = os_now_ns();
	if (ps->check)
		thread_loop(cx, ps->k, true, ps->tj->plan.due != NULL);
	else if (ps->tj->plan.due)
		thread_loop(cx, ps->k, false, true);
	else if (ps->k->libc)
		thread_loop(cx, &replay_libc_calls, false, false);
	else
		thread_loop(cx, ps->k, false, false);
	cx->end_ns = os_now_ns();
	atomic_fetch_sub(&ps->alive, 1);
	return NULL;
}

/* One reading of a paced pass's footprint into the result's timeline in
 * time: the highest reading per window of r->time_stride ns; when the
 * points run out, pairs merge and the window doubles. */
static void time_point(struct replay_result *r, uint64_t ns, uint64_t footprint)
{
	if (!r->time_stride)
		r->time_stride = 1000000; /* the sampler's period, to start */
	for (;;) {
		struct replay_time_point *last = r->ntime ? &r->time_timeline[r->ntime - 1] : NULL;
		if (last && ns < last->ns - last->ns % r->time_stride + r->time_stride) {
			last->footprint = footprint > last->footprint ? footprint : last->footprint;
			return;
		}
		if (r->ntime < REPLAY_TIMELINE_POINTS) {
			r->time_timeline[r->ntime++] = (struct replay_time_point){ns, footprint};
			return;
		}
		unsigned k = 0;
		for (unsigned i = 0; i < r->ntime; i += 2, k++) {
			struct replay_time_point a = r->time_timeline[i];
			if (i + 1 < r->ntime && r->time_timeline[i + 1].footprint > a.footprint)
				a.footprint = r->time_timeline[i + 1].footprint;
			r->time_timeline[k] = a;
		}
		r->ntime = k;
		r->time_stride *= 2;
	}
}

/* The footprint the backend's own accounting gives now. */
static uint64_t stats_footprint(const struct tpass *ps)
{
	struct alloc_stats s = {0};
	ps->j->cfg->backend->stats(ps->j->calls.st, &s);
	return s.footprint;
}

/* The harness's own resident pages of the threaded pass. */
static uint64_t harness_pages(const struct tjob *tj)
{
	const struct tplan *p = &tj->plan;
	unsigned char *v = tj->vec;
	return resident_now(tj->mem, tj->bytes, v, TP_VEC) +
	       resident_now(tj->stacks, tj->stack_bytes, v, TP_VEC) +
	       resident_now(p->ops, p->ops_bytes, v, TP_VEC) +
	       resident_now(p->threads, p->threads_bytes, v, TP_VEC) +
	       (p->due ? resident_now(p->due, p->due_bytes, v, TP_VEC) : 0);
}

/* A process-wide backend's footprint now, as the checked serial pass
 * defines it (header comment): a reading races with the threads by at most
 * the block each is replacing (resident_held). */
static uint64_t process_footprint(struct tpass *ps)
{
	struct replay_job *j = ps->j;
	uint64_t page = os_page_size(), own = harness_pages(ps->tj) * page, rss = measure_rss(j);
	ps->rss_peak = rss > ps->rss_peak ? rss : ps->rss_peak;
	uint64_t held = j->reuse_base ? resident_held(&j->base, ps->tj->tables, ps->tj->ncopies,
						      j->t->nids) *
						page
				      : 0;
	uint64_t theirs = rss > own ? rss - own : 0;
	return (theirs > j->rss_base ? theirs - j->rss_base : 0) + held;
}

/* One reading of the checked pass's footprint: the peaks of the footprint
 * and of the backend's own accounting (mallinfo2, jemalloc's stats, ...:
 * thread-safe, each taking the library's locks for the moment of a
 * reading once a period, which does not serialize the replay), and the
 * timeline of a paced pass.  The footprint read. */
static uint64_t sample(struct tpass *ps)
{
	if (ps->heap_lock) { /* the simulated heap: its footprint, exact */
		struct heap_usage u;
		pthread_mutex_lock(ps->heap_lock);
		heap_usage(ps->j->heap, &u);
		pthread_mutex_unlock(ps->heap_lock);
		time_point(ps->j->r, os_now_ns() - ps->start_ns, u.footprint);
		return u.footprint;
	}
	uint64_t fp = process_footprint(ps), own = ps->stats ? stats_footprint(ps) : 0;
	ps->fp_peak = fp > ps->fp_peak ? fp : ps->fp_peak;
	ps->stats_peak = own > ps->stats_peak ? own : ps->stats_peak;
	if (ps->tj->plan.due)
		time_point(ps->j->r, os_now_ns() - ps->start_ns, fp);
	return fp;
}

/* The sampling thread: a reading every TP_SAMPLE_NS, or every nine times
 * what a reading costs when that is longer (a large id table walked for
 * the baseline's pages), so that it takes at most a tenth of a core. */
static void *sampler_main(void *arg)
{
	struct tpass *ps = arg;
	while (atomic_load(&ps->sampling)) {
		uint64_t t0 = os_now_ns();
		sample(ps);
		uint64_t cost = (os_now_ns() - t0) * 9,
			 ns = cost > TP_SAMPLE_NS ? cost : TP_SAMPLE_NS;
		struct timespec period = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
		nanosleep(&period, NULL);
	}
	return NULL;
}

/* The stacks of the job's mapping, in order: copy c's thread i at
 * c * nstarted + i (its context's index), then the launchers of copies 1
 * and on, then the sampler's, which takes the place copy 0's launcher
 * would have (it runs on the caller's). */
static size_t launcher_stack(const struct tjob *tj, unsigned c)
{
	return (size_t)tj->plan.nstarted * tj->ncopies + c - 1;
}
static size_t sampler_stack(const struct tjob *tj)
{
	return launcher_stack(tj, tj->ncopies);
}

/* The attributes of the pass's thread k: its stack, k of the job's stack
 * mapping, above a guard page. */
static void stack_attr(pthread_attr_t *attr, const struct tjob *tj, size_t k)
{
	size_t page = os_page_size();
	pthread_attr_init(attr);
	pthread_attr_setstack(attr, tj->stacks + k * TP_STACK + page, TP_STACK - page);
}

/* One copy's launcher: starts each of its threads when its first op is
 * due (cx[i] for thread i), then joins them all. */
struct launcher {
	struct tpass *ps;
	struct tctx *cx;
	const struct tcopy *cp;
	pthread_t tid;
	bool started;
};

static void *launch(void *arg)
{
	struct launcher *l = arg;
	struct tpass *ps = l->ps;
	struct tplan *p = &ps->tj->plan;
	struct tctx self = {.ps = ps};
	for (uint32_t i = 0; i < p->nstarted && !atomic_load(&ps->abort); i++) {
		struct tp_thread *th = &p->threads[i];
		struct tctx *cx = &l->cx[i];
		*cx = (struct tctx){.ps = ps, .th = th, .cp = l->cp};
		if (th->start_wait &&
		    !tp_wait(ps, &self, &l->cp->sync[th->start_id], th->start_seq))
			break;
		pthread_attr_t attr;
		stack_attr(&attr, ps->tj, (size_t)(cx - ps->tj->cx));
		int err = pthread_create(&cx->tid, &attr, thread_main, cx);
		pthread_attr_destroy(&attr);
		if (err) {
			tp_fail(ps, JOB_ERROR, "cannot start replay thread %u of %u: %s", i + 1,
				p->nstarted * ps->tj->ncopies, strerror(err));
			break;
		}
		cx->started = true;
	}
	for (uint32_t i = 0; i < p->nstarted; i++)
		if (l->cx[i].started)
			pthread_join(l->cx[i].tid, NULL);
	return NULL;
}

/* Every copy launched at once (one launcher thread each; the caller is the
 * only one's): the wall time from the start to the last thread's end. */
static uint64_t launch_all(struct tpass *ps, struct tctx *cx, struct launcher *ls)
{
	uint32_t n = ps->tj->plan.nstarted;
	uint64_t t0 = os_now_ns(), last = t0;
	ps->start_ns = t0;
	for (unsigned c = 0; c < ps->tj->ncopies; c++) {
		ls[c] = (struct launcher){
			.ps = ps, .cx = cx + (size_t)c * n, .cp = &ps->tj->copies[c]};
		memset(ls[c].cx, 0, n * sizeof *cx);
	}
	for (unsigned c = 1; c < ps->tj->ncopies; c++) {
		pthread_attr_t attr;
		stack_attr(&attr, ps->tj, launcher_stack(ps->tj, c));
		int err = pthread_create(&ls[c].tid, &attr, launch, &ls[c]);
		pthread_attr_destroy(&attr);
		if (err) {
			tp_fail(ps, JOB_ERROR, "cannot start the launcher of copy %u: %s", c + 1,
				strerror(err));
			break;
		}
		ls[c].started = true;
	}
	launch(&ls[0]);
	for (unsigned c = 1; c < ps->tj->ncopies; c++)
		if (ls[c].started)
			pthread_join(ls[c].tid, NULL);
	for (size_t i = 0; i < (size_t)n * ps->tj->ncopies; i++)
		if (cx[i].started && cx[i].end_ns > last)
			last = cx[i].end_ns;
	return last - t0;
}

/* ---- The passes --------------------------------------------------------------- */

/* The footprint of the checked pass: the sampler's peak over the
 * baseline, or the simulated heap's peak. */
static void threaded_footprint(struct replay_job *j, const struct tpass *ps, bool sampled)
{
	struct replay_result *r = j->r;
	if (j->cfg->backend->flags & ALLOC_F_SIMULATED) {
		struct heap_usage u;
		heap_usage(j->heap, &u);
		r->have_threaded_footprint = true;
		r->threaded_peak_footprint_bytes = u.peak_footprint;
	} else if (sampled) {
		r->have_threaded_footprint = true;
		r->threaded_peak_footprint_bytes = ps->fp_peak;
		r->threaded_peak_rss_bytes =
			ps->rss_peak > j->rss_base ? ps->rss_peak - j->rss_base : 0;
		r->have_threaded_stats = ps->stats;
		r->threaded_stats_peak_footprint_bytes =
			ps->stats_peak > ps->stats_base ? ps->stats_peak - ps->stats_base : 0;
	}
}

/* Every byte live at the end of the checked pass was resident at the
 * reading after it, which raced with no thread: a footprint below them is
 * impossible, and fails the pass (as in the paced pass, pass_timed.c). */
static void end_footprint_check(struct tpass *ps, uint64_t fp)
{
	uint64_t live = 0;
	for (unsigned c = 0; c < ps->tj->ncopies; c++)
		for (uint32_t id = 0; id < ps->j->t->nids; id++)
			if (ps->tj->copies[c].ptrs[id])
				live += ps->tj->copies[c].slots[id].size;
	if (fp < live)
		tp_fail(ps, JOB_ERROR,
			"the footprint after the checked pass (%" PRIu64
			" bytes) is below the bytes then live (%" PRIu64
			"): an impossible figure, not reported (docs/metrics.md)",
			fp, live);
}

/* Sums the threads' lifetimes and waits: the fraction spent waiting. */
static double wait_of(const struct tctx *cx, size_t n)
{
	uint64_t lived = 0, waited = 0;
	for (size_t i = 0; i < n; i++)
		if (cx[i].started) {
			lived += cx[i].end_ns - cx[i].start_ns;
			waited += cx[i].wait_ns;
		}
	return lived ? (double)waited / (double)lived : 0;
}

/* One threaded pass on a fresh state: its wall time in *ns and its
 * threads' waiting in *wait (a fraction of their lifetimes).  0, or -1
 * with the result's status and error set. */
static int threaded_pass(struct replay_job *j, struct tjob *tj, bool check, uint64_t *ns,
			 double *wait)
{
	struct replay_result *r = j->r;
	char err[ALLOC_ERRLEN] = "";
	bool libc = j->calls.libc, simulated = j->cfg->backend->flags & ALLOC_F_SIMULATED;
	if (!libc && replay_fresh_state(j, err, sizeof err) < 0) {
		replay_error(r, JOB_ERROR, "cannot start backend for a threaded pass: %s", err);
		return -1;
	}
	struct locked lock;
	struct replay_calls k = simulated ? locked_calls(&lock, &j->calls) : j->calls;
	struct tpass ps = {.j = j, .tj = tj, .k = &k, .check = check, .failed = ATOMIC_FLAG_INIT};
	size_t nids = (size_t)j->t->nids + 1;
	for (unsigned c = 0; c < tj->ncopies; c++)
		memset(tj->copies[c].sync, 0, nids * sizeof *tj->copies[c].sync);
	pthread_t sampler;
	bool paced_heap = check && simulated && tj->plan.due;
	bool sampling = paced_heap || (check && j->statm_fd >= 0 && !simulated);
	ps.heap_lock = paced_heap ? &lock.mu : NULL;
	if (check && tj->plan.due) /* the timeline in time, of this pass */
		j->r->ntime = 0, j->r->time_stride = 0;
	if (sampling) {
		ps.stats = !simulated && j->cfg->backend->stats != NULL;
		ps.stats_base = ps.stats_peak = ps.stats ? stats_footprint(&ps) : 0;
		atomic_store(&ps.sampling, true);
		pthread_attr_t attr;
		stack_attr(&attr, tj, sampler_stack(tj));
		sampling = pthread_create(&sampler, &attr, sampler_main, &ps) == 0;
		pthread_attr_destroy(&attr);
	}
	*ns = launch_all(&ps, tj->cx, tj->ls);
	if (sampling) {
		atomic_store(&ps.sampling, false);
		pthread_join(sampler, NULL);
		/* the end, blocks still live: a pass shorter than the period is
		 * read at least once after it ran */
		uint64_t fp = sample(&ps);
		if (!simulated && !ps.error[0])
			end_footprint_check(&ps, fp);
	}
	if (check) {
		threaded_footprint(j, &ps, sampling);
		r->threads_alive = atomic_load(&ps.alive_peak);
	}
	*wait = wait_of(tj->cx, (size_t)tj->plan.nstarted * tj->ncopies);
	for (unsigned c = 0; c < tj->ncopies; c++) {
		replay_free_live(&k, tj->copies[c].ptrs, j->t->nids);
		memset(tj->copies[c].slots, 0, nids * sizeof *tj->copies[c].slots);
	}
	if (simulated)
		pthread_mutex_destroy(&lock.mu);
	if (!libc)
		j->cfg->backend->fini(j->calls.st);
	if (ps.error[0]) {
		replay_error(r, ps.status, "threaded replay: %s", ps.error);
		return -1;
	}
	return 0;
}

/* Moves v[r] down the max-heap v[0..n). */
static void sift(uint64_t *v, size_t r, size_t n)
{
	for (size_t c; (c = 2 * r + 1) < n; r = c) {
		c += c + 1 < n && v[c + 1] > v[c];
		if (v[r] >= v[c])
			return;
		uint64_t x = v[r];
		v[r] = v[c];
		v[c] = x;
	}
}

/* Heap sort: qsort may call malloc, which the worker avoids. */
static void sort_u64(uint64_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t end = n; end > 1;) {
		uint64_t x = v[0];
		v[0] = v[--end];
		v[end] = x;
		sift(v, 0, end);
	}
}

/* The plan's figures into the result: threads, waits, ops per thread. */
static void plan_summary(const struct tplan *p, struct replay_result *r, uint64_t *scratch)
{
	r->threads = p->nstarted;
	r->cross_waits = p->cross_waits;
	for (uint32_t i = 0; i < p->nstarted; i++)
		scratch[i] = p->threads[i].nops;
	sort_u64(scratch, p->nstarted);
	if (p->nstarted) {
		r->thread_ops_min = scratch[0];
		r->thread_ops_max = scratch[p->nstarted - 1];
		r->thread_ops_median = scratch[p->nstarted / 2];
	}
}

/* The bytes of tj's tables beyond the job's own (copy 0's id table and
 * block records): every copy's counters, the other copies' tables, the
 * contexts and a scratch for plan_summary. */
static size_t tjob_bytes(const struct replay_job *j, const struct tjob *tj)
{
	size_t nids = (size_t)j->t->nids + 1, n = (size_t)tj->plan.nstarted * tj->ncopies;
	return tj->ncopies * (sizeof *tj->copies + nids * sizeof(struct tp_sync)) +
	       (tj->ncopies - 1) * nids * (sizeof(void *) + sizeof(struct slot)) +
	       n * sizeof *tj->cx + tj->ncopies * sizeof *tj->ls +
	       tj->ncopies * sizeof *tj->tables + TP_VEC + tj->plan.nstarted * sizeof(uint64_t);
}

/* Lays tj's tables out in mem (tjob_bytes long). */
static void tjob_layout(struct replay_job *j, struct tjob *tj, char *mem)
{
	size_t nids = (size_t)j->t->nids + 1, n = (size_t)tj->plan.nstarted * tj->ncopies;
	tj->copies = (struct tcopy *)mem;
	mem += tj->ncopies * sizeof *tj->copies;
	tj->cx = (struct tctx *)mem;
	mem += n * sizeof *tj->cx;
	tj->ls = (struct launcher *)mem;
	mem += tj->ncopies * sizeof *tj->ls;
	tj->tables = (struct id_table *)mem;
	mem += tj->ncopies * sizeof *tj->tables;
	tj->vec = (unsigned char *)mem;
	mem += TP_VEC;
	for (unsigned c = 0; c < tj->ncopies; c++) {
		struct tcopy *cp = &tj->copies[c];
		cp->sync = (struct tp_sync *)mem;
		mem += nids * sizeof *cp->sync;
		if (c == 0) {
			cp->ptrs = j->ptrs;
			cp->slots = j->slots;
			continue;
		}
		cp->ptrs = (void **)mem;
		mem += nids * sizeof *cp->ptrs;
		cp->slots = (struct slot *)mem;
		mem += nids * sizeof *cp->slots;
	}
	for (unsigned c = 0; c < tj->ncopies; c++)
		tj->tables[c] = (struct id_table){tj->copies[c].ptrs, tj->copies[c].slots};
}

/* Maps tj's tables (written through, so that every page mincore finds is
 * in the resident set too, none the zero page) and a stack for each
 * thread, launcher and the sampler, each above a guard page: 0, or -1. */
static int tjob_map(struct replay_job *j, struct tjob *tj)
{
	size_t page = os_page_size(), nstacks = sampler_stack(tj) + 1;
	tj->bytes = tjob_bytes(j, tj);
	tj->stack_bytes = nstacks * TP_STACK;
	tj->mem = os_map(tj->bytes);
	tj->stacks = os_map(tj->stack_bytes);
	if (!tj->mem || !tj->stacks)
		return -1;
	memset(tj->mem, 0, tj->bytes);
	for (size_t k = 0; k < nstacks; k++)
		if (mprotect(tj->stacks + k * TP_STACK, page, PROT_NONE) < 0)
			return -1;
	tjob_layout(j, tj, tj->mem);
	return 0;
}

int threaded_passes(struct replay_job *j)
{
	const struct replay_config *cfg = j->cfg;
	struct replay_result *r = j->r;
	char err[256];
	struct tjob tj = {.ncopies = cfg->copies ? cfg->copies : 1};
	r->mode = cfg->threads;
	r->copies = tj.ncopies;
	r->pace = cfg->pace;
	if (cfg->pace > 0 && !j->t->times) {
		replay_error(
			r, JOB_ERROR,
			"--pace needs a trace with the time of every op, and this one has none "
			"(logs with timestamps have them: Android's, ltrace -tt, valgrind "
			"--time-stamp=yes, heaptrack)");
		return -1;
	}
	r->serialized = (cfg->backend->flags & ALLOC_F_SIMULATED) != 0;
	if (tplan_make(&tj.plan, j->t, cfg->threads != THREADS_RECORDED, cfg->pace, err,
		       sizeof err) < 0) {
		replay_error(r, JOB_ERROR, "%s", err);
		return -1;
	}
	int rc = -1;
	if (tjob_map(j, &tj) < 0) {
		replay_error(r, JOB_ERROR, "no memory for %u copies of %u replay threads",
			     tj.ncopies, tj.plan.nstarted);
		goto out;
	}
	plan_summary(&tj.plan, r, (uint64_t *)(tj.mem + tj.bytes) - tj.plan.nstarted);
	r->threads = tj.plan.nstarted * tj.ncopies;
	memset(j->slots, 0, ((size_t)j->t->nids + 1) * sizeof *j->slots);
	uint64_t ns;
	double wait, waits = 0;
	r->pass = REPLAY_PASS_THREADED;
	if (threaded_pass(j, &tj, true, &ns, &wait) < 0)
		goto out;
	r->wait_fraction = wait;
	HB_ASSERT(cfg->repeat <= REPLAY_MAX_REPEAT);
	r->repeat = cfg->repeat;
	for (unsigned k = 0; k < cfg->repeat; k++) {
		r->pass = (int)k + 1;
		if (threaded_pass(j, &tj, false, &ns, &wait) < 0)
			goto out;
		r->seconds[k] = (double)ns * 1e-9;
		waits += wait;
	}
	if (cfg->repeat)
		r->wait_fraction = waits / cfg->repeat;
	timed_summary(j->t, r);
	r->mops *= tj.ncopies; /* over the ops of every copy */
	r->ns_per_op /= tj.ncopies;
	rc = 0;
out:
	os_unmap(tj.mem, tj.bytes);
	os_unmap(tj.stacks, tj.stack_bytes);
	tplan_free(&tj.plan);
	return rc;
}
