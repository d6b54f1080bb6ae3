/*
 * pass_checked.c - the checked pass (replay.h, step 1): every op replayed
 * as the timed passes do (replay_op), each kind by its own step, which
 * checks what the backend gave (checker.c) and measures the heap after it
 * (measure.c); the backend's own check every K ops; at the end, the
 * patterns of the blocks still live.
 */
#include <inttypes.h>

#include "libc_calls.h"
#include "replay/internal.h"

typedef int checked_step(struct checker *c, uint64_t i, const struct trace_op *op);

/* The new block of malloc, calloc or memalign (ptrs[op->id]): not NULL
 * unless it is empty, aligned, apart from every live block; then adopted. */
static int new_block(struct checker *c, uint64_t i, const struct trace_op *op, uint64_t align)
{
	const unsigned char *p = c->ptrs[op->id];
	uint64_t n = trace_op_bytes(op);
	if (!p && n)
		return check_fail(c, i, JOB_OOM, "%s(%" PRIu64 ") returned NULL",
				  trace_kind_names[op->kind], n);
	if (p && check_block(c, i, p, n, align) < 0)
		return -1;
	if (p && op->kind == TRACE_CALLOC && check_zeroes(c, i, p, n) < 0)
		return -1;
	return check_adopt(c, i, op->id, n);
}

static int checked_malloc(struct checker *c, uint64_t i, const struct trace_op *op)
{
	replay_op(&c->j->calls, op, c->ptrs, NULL, 0);
	return new_block(c, i, op, check_align(c->j->cfg, op->size));
}

static int checked_calloc(struct checker *c, uint64_t i, const struct trace_op *op)
{
	replay_op(&c->j->calls, op, c->ptrs, NULL, 0);
	return new_block(c, i, op, check_align(c->j->cfg, trace_op_bytes(op)));
}

static int checked_memalign(struct checker *c, uint64_t i, const struct trace_op *op)
{
	if (!c->j->calls.memalign)
		return check_fail(c, i, JOB_ERROR, "backend %s has no memalign", c->a->name);
	replay_op(&c->j->calls, op, c->ptrs, NULL, 0);
	uint64_t align = check_align(c->j->cfg, op->size);
	return new_block(c, i, op, op->arg > align ? op->arg : align);
}

/* The old block must hold its pattern, the new one its first min(old, new)
 * bytes; old's address may be NULL where malloc(0) returned NULL, which is
 * realloc(NULL, n) as the program did. */
static int checked_realloc(struct checker *c, uint64_t i, const struct trace_op *op)
{
	uint32_t id = op->id;
	struct slot old = c->slots[id];
	void *old_ptr = c->ptrs[id];
	if (check_pattern(c, i, id, "before realloc") < 0)
		return -1;
	check_drop(c, i, id);
	replay_op(&c->j->calls, op, c->ptrs, NULL, 0);
	const unsigned char *p = c->ptrs[id];
	uint64_t n = op->size;
	if (!p)
		return check_fail(c, i, JOB_OOM, "realloc(%p, %" PRIu64 ") returned NULL", old_ptr,
				  n);
	if (check_block(c, i, p, n, check_align(c->j->cfg, n)) < 0 ||
	    check_moved(c, i, &old, old_ptr, p, n) < 0)
		return -1;
	return check_adopt(c, i, id, n);
}

static int checked_free(struct checker *c, uint64_t i, const struct trace_op *op)
{
	void *p = NULL;
	if (op->id != TRACE_ID_NULL) {
		if (check_pattern(c, i, op->id, "before free") < 0)
			return -1;
		p = c->ptrs[op->id];
		check_drop(c, i, op->id);
	}
	char why[ALLOC_ERRLEN] = "";
	if (replay_op(&c->j->calls, op, c->ptrs, why, sizeof why) == 0)
		return 0;
	if (!p)
		return check_fail(c, i, JOB_ERROR, "free(NULL) failed: %s", why);
	return check_fail(c, i, JOB_ERROR, "free(%p) of a live block was rejected: %s", p, why);
}

static checked_step *const steps[TRACE_NKINDS] = {
	[TRACE_ALLOC] = checked_malloc,      [TRACE_CALLOC] = checked_calloc,
	[TRACE_MEMALIGN] = checked_memalign, [TRACE_REALLOC] = checked_realloc,
	[TRACE_FREE] = checked_free,
};

static int checked_op(struct checker *c, uint64_t i)
{
	const struct trace_op *op = &c->t->ops[i];
	HB_ASSERT(op->kind < TRACE_NKINDS);
	HB_ASSERT(op->id < c->t->nids || (op->kind == TRACE_FREE && op->id == TRACE_ID_NULL));
	return steps[op->kind](c, i, op);
}

/* The backend's own check after op i, every K ops and after the last. */
static int heap_check(struct checker *c, uint64_t i)
{
	uint64_t k = c->j->cfg->heap_check_every;
	char err[ALLOC_ERRLEN];
	if (!k || !c->a->check || ((i + 1) % k != 0 && i + 1 != c->t->nops))
		return 0;
	if (c->a->check(c->j->calls.st, err, sizeof err) < 0)
		return check_fail(c, i, JOB_ERROR, "heap check failed after this op: %s", err);
	return 0;
}

/* ---- Prefetching ------------------------------------------------------------ */

/* How far ahead the pass fetches what an op will read.  The checks of an
 * op read memory the backend's timed loop never does (the block's last
 * bytes, its record, the pattern a free verifies), each a cache miss on a
 * live set larger than the cache; the trace says which block an op will
 * touch, so they are fetched while earlier ops run.  Twice this far ahead
 * the id's table entry and record, this far ahead the block they name.
 * (Of 4, 8 and 16 ops, 16 ran the 2M-op plateau trace fastest.)  The
 * helpers are always inlined: GCC deletes a call of a static function that
 * does nothing but read and prefetch, as having no effect. */
#define PREFETCH_OPS 16

/* The records of op i's id (the id table entry, the slot). */
REPLAY_INLINE void prefetch_records(const struct checker *c, uint64_t i)
{
	uint32_t id = c->t->ops[i].id;
	if (id >= c->t->nids)
		return;
	__builtin_prefetch(&c->ptrs[id], 1);
	__builtin_prefetch(&c->slots[id], 1);
}

/* The bytes the pattern check of op i reads, if it frees or moves a live
 * block, and the descent of the live index to the block (then fetching its
 * leaf) that removes it: what the block holds now (a block allocated
 * between now and op i makes this a useless fetch, never a wrong one: a
 * prefetch cannot fault, and the removal follows the descent only if it is
 * still the path to the block's address, addrmap.h).
 * At --check fast that is every line of the first REPLAY_FAST_BYTES and of
 * the last ones from the word boundary below them (checker.c's ranges_of):
 * a block is rarely line-aligned, so each range may span two lines. */
REPLAY_INLINE void prefetch_block(struct checker *c, uint64_t i)
{
	const struct trace_op *op = &c->t->ops[i];
	if ((op->kind != TRACE_FREE && op->kind != TRACE_REALLOC) || op->id >= c->t->nids)
		return;
	const unsigned char *p = c->ptrs[op->id];
	uint64_t n = c->slots[op->id].size;
	if (!p)
		return;
	__builtin_prefetch(p, 0);
	addrmap_seek(&c->live, (uintptr_t)p, &c->seeks[i % CHECK_SEEKS]);
	if (n > REPLAY_FAST_BYTES) {
		__builtin_prefetch(p + REPLAY_FAST_BYTES - 1, 0);
		__builtin_prefetch(p + ((n - REPLAY_FAST_BYTES) & ~(uint64_t)7), 0);
		__builtin_prefetch(p + n - 1, 0);
	}
}

_Static_assert(PREFETCH_OPS < CHECK_SEEKS, "a descent made ahead is kept until its op");

REPLAY_INLINE void prefetch_ahead(struct checker *c, uint64_t i)
{
	if (i + 2 * PREFETCH_OPS < c->t->nops)
		prefetch_records(c, i + 2 * PREFETCH_OPS);
	if (i + PREFETCH_OPS < c->t->nops)
		prefetch_block(c, i + PREFETCH_OPS);
}

static int replay_checked(struct checker *c)
{
	const struct trace *t = c->t;
	for (uint64_t i = 0; i < t->nops; i++) {
		c->j->r->progress = i;
		prefetch_ahead(c, i);
		if (checked_op(c, i) < 0)
			return -1;
		measure_op(c, i);
		if (heap_check(c, i) < 0)
			return -1;
	}
	/* blocks still live at the end must still hold their pattern; a
	 * failure is reported at the last op */
	for (uint32_t id = 0; id < t->nids && t->nops; id++)
		if (c->ptrs[id] && check_pattern(c, t->nops - 1, id, "at the end of the trace") < 0)
			return -1;
	return measure_finish(c);
}

int checked_pass(struct replay_job *j)
{
	struct checker c = {.j = j,
			    .t = j->t,
			    .a = j->cfg->backend,
			    .check = j->cfg->check,
			    .slots = j->slots,
			    .ptrs = j->ptrs,
			    .slack_pattern = j->cfg->check == CHECK_FULL &&
					     strcmp(j->cfg->backend->name, "mm") != 0};
	char err[ALLOC_ERRLEN];
	uint64_t t0 = os_now_ns();
	addrmap_init(&c.live);
	if (replay_fresh_state(j, err, sizeof err) < 0)
		return check_fail(&c, UINT64_MAX, JOB_ERROR, "cannot start backend %s: %s",
				  c.a->name, err);
	measure_start(&c);
	int rc = replay_checked(&c);
	j->r->checked_seconds = (double)(os_now_ns() - t0) * 1e-9;
	/* give everything back so that the next pass starts clean; after a
	 * failure the backend may be corrupt and is not called again */
	j->r->pass = REPLAY_PASS_CLEANUP;
	if (rc == 0)
		replay_free_live(&j->calls, j->ptrs, j->t->nids);
	memset(j->ptrs, 0, (size_t)j->t->nids * sizeof *j->ptrs);
	memset(j->slots, 0, (size_t)j->t->nids * sizeof *j->slots);
	if (rc == 0)
		c.a->fini(j->calls.st);
	/* the harness's pages the baseline held that go now, for the
	 * footprint at full speed (pass_timed.c): the live index as it was
	 * then; read around its release, with no call of the backend between
	 * (the snapshot stays, for that pass) */
	uint64_t before = measure_rss(j), grown = check_harness_bytes(&c) - c.m.harness_base;
	addrmap_destroy(&c.live);
	uint64_t after = measure_rss(j), gone = before > after + grown ? before - after - grown : 0;
	j->rss_base = c.m.rss_base > gone ? c.m.rss_base - gone : 0;
	j->peak_footprint_op = c.m.peak_op;
	if (rc == 0 && (c.a->flags & ALLOC_F_LIBC))
		libc_timers_restore();
	/* the library may have given back baseline pages it held free: the
	 * pass at full speed then counts them as growth when they come back,
	 * from the lower base, and adds no snapshot pages */
	uint64_t now = measure_rss(j);
	j->reuse_base = now >= j->rss_base;
	if (!j->reuse_base)
		j->rss_base = now;
	return rc;
}
