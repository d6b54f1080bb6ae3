/*
 * pass_threads.c - the threaded passes (--threads recorded, DESIGN §5):
 * each thread of the trace on an OS thread of its own, started when its
 * first op is due and ended after its last, keeping causal order and no
 * more (plan.c says what each op waits for).
 *
 * After the serial checked pass, whose exact figures stay the job's:
 *   1. a checked threaded pass: every block gets a tag in its first and
 *      last 8 bytes, verified before realloc and free, so an allocator that
 *      hands one block to two threads (or loses a write across threads) is
 *      caught; alignment and NULL results are checked; every page of every
 *      block is written, as a program that fills its blocks does, while a
 *      sampling thread reads the resident set every millisecond: the
 *      footprint under threads (threaded_peak_footprint_bytes);
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
 * Threads are made with pthread_create, whose stacks (mmap) and thread
 * descriptors come from the C library as in the recorded program; their
 * resident pages are in the threaded footprint (docs/metrics.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libc_calls.h"
#include "replay/internal.h"

#define TP_SPINS     200 /* polls of a counter before sleeping on it */
#define TP_STACK     (256 << 10)
#define TP_SAMPLE_NS 1000000 /* the sampling thread's period */
#define TP_TAG_BYTES 8

/* One threaded pass. */
struct tpass {
	struct replay_job *j;
	struct tplan *plan;
	const struct replay_calls *k;
	bool check;
	atomic_bool abort; /* a thread failed: everyone stops */
	atomic_flag failed;
	char error[REPLAY_ERRLEN];
	enum replay_status status;
	atomic_uint alive, alive_peak;
	atomic_bool sampling;
	uint64_t rss_peak;
};

/* One replay thread. */
struct tctx {
	struct tpass *ps;
	struct tp_thread *th;
	pthread_t tid;
	bool started;
	uint64_t start_ns, end_ns, wait_ns, tags;
};

/* ---- Waiting ------------------------------------------------------------------ */

static long futex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
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
			futex(&s->seq, FUTEX_WAIT_PRIVATE, v);
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
	for (uint32_t id = 0; id <= t->nids; id++)
		if (atomic_load((_Atomic uint32_t *)&ps->plan->sync[id].waiters))
			futex(&ps->plan->sync[id].seq, FUTEX_WAKE_PRIVATE, INT32_MAX);
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
	struct replay_job *j = cx->ps->j;
	const unsigned char *p = j->ptrs[o->op.id];
	const struct slot *s = &j->slots[o->op.id];
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
	unsigned char *p = j->ptrs[o->op.id];
	uint64_t n = trace_op_bytes(&o->op), al = check_align(j->cfg->alignment, n);
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
		block_fill(cx, p, n, &j->slots[o->op.id]);
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
		if (replay_op(k, op, j->ptrs, why, sizeof why) < 0) {
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
	struct slot old = j->slots[op->id];
	if (op->kind == TRACE_REALLOC && !before_release(cx, o, "before its realloc"))
		return false;
	replay_op(k, op, j->ptrs, NULL, 0);
	return after_alloc(cx, o, op->kind == TRACE_REALLOC ? &old : NULL);
}

/* ---- The threads -------------------------------------------------------------- */

/* A thread's ops; inlined twice, so that the timed loop has no check. */
REPLAY_INLINE void thread_loop(struct tctx *cx, const struct replay_calls *k, bool check)
{
	struct tpass *ps = cx->ps;
	struct tp_sync *sync = ps->plan->sync;
	void **ptrs = ps->j->ptrs;
	const struct tp_op *o = cx->th->ops, *end = o + cx->th->nops;
	for (; o < end; o++) {
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
		thread_loop(cx, ps->k, true);
	else if (ps->k->libc)
		thread_loop(cx, &replay_libc_calls, false);
	else
		thread_loop(cx, ps->k, false);
	cx->end_ns = os_now_ns();
	atomic_fetch_sub(&ps->alive, 1);
	return NULL;
}

/* The sampling thread of the checked pass: the resident set's peak. */
static void *sampler_main(void *arg)
{
	struct tpass *ps = arg;
	struct timespec period = {0, TP_SAMPLE_NS};
	while (atomic_load(&ps->sampling)) {
		uint64_t rss = measure_rss(ps->j);
		ps->rss_peak = rss > ps->rss_peak ? rss : ps->rss_peak;
		nanosleep(&period, NULL);
	}
	return NULL;
}

/* Starts each thread when its first op is due, then joins them all: the
 * wall time from the first start to the last end, in ns. */
static uint64_t launch(struct tpass *ps, struct tctx *cx)
{
	struct tplan *p = ps->plan;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, TP_STACK);
	uint64_t t0 = os_now_ns(), last = t0;
	struct tctx launcher = {.ps = ps};
	for (uint32_t i = 0; i < p->nstarted && !atomic_load(&ps->abort); i++) {
		struct tp_thread *th = &p->threads[i];
		cx[i] = (struct tctx){.ps = ps, .th = th};
		if (th->start_wait &&
		    !tp_wait(ps, &launcher, &p->sync[th->start_id], th->start_seq))
			break;
		int err = pthread_create(&cx[i].tid, &attr, thread_main, &cx[i]);
		if (err) {
			tp_fail(ps, JOB_ERROR, "cannot start replay thread %u of %u: %s", i + 1,
				p->nstarted, strerror(err));
			break;
		}
		cx[i].started = true;
	}
	for (uint32_t i = 0; i < p->nstarted; i++)
		if (cx[i].started) {
			pthread_join(cx[i].tid, NULL);
			last = cx[i].end_ns > last ? cx[i].end_ns : last;
		}
	pthread_attr_destroy(&attr);
	return last - t0;
}

/* ---- The passes --------------------------------------------------------------- */

/* One threaded pass on a fresh state: its wall time in *ns and its
 * threads' waiting in *wait (a fraction of their lifetimes).  0, or -1
 * with the result's status and error set. */
static int threaded_pass(struct replay_job *j, struct tplan *plan, struct tctx *cx, bool check,
			 uint64_t *ns, double *wait)
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
	struct tpass ps = {
		.j = j, .plan = plan, .k = &k, .check = check, .failed = ATOMIC_FLAG_INIT};
	tplan_reset(plan);
	pthread_t sampler;
	bool sampling = check && j->statm_fd >= 0 && !simulated;
	uint64_t base = sampling ? measure_rss(j) : 0;
	if (sampling) {
		ps.rss_peak = base;
		atomic_store(&ps.sampling, true);
		sampling = pthread_create(&sampler, NULL, sampler_main, &ps) == 0;
	}
	*ns = launch(&ps, cx);
	if (sampling) {
		atomic_store(&ps.sampling, false);
		pthread_join(sampler, NULL);
		r->have_threaded_footprint = true;
		r->threaded_peak_footprint_bytes = ps.rss_peak > base ? ps.rss_peak - base : 0;
	}
	if (check && simulated) {
		struct heap_usage u;
		heap_usage(j->heap, &u);
		r->have_threaded_footprint = true;
		r->threaded_peak_footprint_bytes = u.peak_footprint;
	}
	uint64_t lived = 0, waited = 0;
	for (uint32_t i = 0; i < plan->nstarted; i++)
		if (cx[i].started) {
			lived += cx[i].end_ns - cx[i].start_ns;
			waited += cx[i].wait_ns;
		}
	*wait = lived ? (double)waited / (double)lived : 0;
	if (check)
		r->threads_alive = atomic_load(&ps.alive_peak);
	replay_free_live(&k, j->ptrs, j->t->nids);
	memset(j->slots, 0, ((size_t)j->t->nids + 1) * sizeof *j->slots);
	if (simulated)
		pthread_mutex_destroy(&lock.mu);
	if (!libc)
		j->cfg->backend->fini(j->calls.st);
	if (ps.status != JOB_OK || ps.error[0]) {
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

int threaded_passes(struct replay_job *j)
{
	const struct replay_config *cfg = j->cfg;
	struct replay_result *r = j->r;
	char err[256];
	struct tplan plan;
	r->mode = THREADS_RECORDED;
	r->serialized = (cfg->backend->flags & ALLOC_F_SIMULATED) != 0;
	if (tplan_make(&plan, j->t, err, sizeof err) < 0) {
		replay_error(r, JOB_ERROR, "%s", err);
		return -1;
	}
	size_t cxbytes = (size_t)plan.nstarted * (sizeof(struct tctx) + sizeof(uint64_t)) + 1;
	struct tctx *cx = os_map(cxbytes);
	int rc = -1;
	if (!cx) {
		replay_error(r, JOB_ERROR, "no memory for %u replay threads", plan.nstarted);
		goto out;
	}
	plan_summary(&plan, r, (uint64_t *)(cx + plan.nstarted));
	memset(j->slots, 0, ((size_t)j->t->nids + 1) * sizeof *j->slots);
	uint64_t ns;
	double wait, waits = 0;
	r->pass = REPLAY_PASS_THREADED;
	if (threaded_pass(j, &plan, cx, true, &ns, &wait) < 0)
		goto out;
	r->wait_fraction = wait;
	HB_ASSERT(cfg->repeat <= REPLAY_MAX_REPEAT);
	r->repeat = cfg->repeat;
	for (unsigned k = 0; k < cfg->repeat; k++) {
		r->pass = (int)k + 1;
		if (threaded_pass(j, &plan, cx, false, &ns, &wait) < 0)
			goto out;
		r->seconds[k] = (double)ns * 1e-9;
		waits += wait;
	}
	if (cfg->repeat)
		r->wait_fraction = waits / cfg->repeat;
	timed_summary(j->t, r);
	rc = 0;
out:
	os_unmap(cx, cxbytes);
	tplan_free(&plan);
	return rc;
}
