/*
 * builder.c - the id-remapping trace builder (builder.h).
 *
 * Structures (all O(max live blocks)):
 *   - a hash map (idmap.h) from live source id + 1 to dense id (val) and
 *     the block's live bytes (data); one from source thread + 1 to dense
 *     thread;
 *   - a binary min-heap of free dense ids below the high-water mark, so an
 *     allocation always takes the lowest id not live (O(log n)).
 * Adding an op is a row of named steps (thread, kind, check, id, live
 * bytes, move, free), each reporting its own problem.
 */
#include "trace/builder.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "trace/idmap.h"
#include "trace/internal.h"

struct trace_builder {
	struct trace *t;
	struct diag *d;
	struct idmap ids;     /* live source id -> dense id */
	struct idmap threads; /* source thread -> dense thread */
	uint64_t last_thread; /* one-entry cache (UINT64_MAX: empty) */
	uint16_t last_dense;
	uint32_t *heap; /* free dense ids, min-heap */
	size_t nheap, capheap;
	uint64_t live_bytes, peak_live_bytes;
	uint32_t hiwater; /* ids 0..hiwater-1 have been used */
	uint64_t allocations;
	uint64_t last_time; /* of the last op, once the trace has times */
	bool sequential, canonical;
};

static void heap_push(struct trace_builder *b, uint32_t v)
{
	if (b->nheap == b->capheap)
		xgrow((void **)&b->heap, &b->capheap, b->nheap + 1, sizeof *b->heap);
	size_t i = b->nheap++;
	while (i > 0 && b->heap[(i - 1) / 2] > v) {
		b->heap[i] = b->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	b->heap[i] = v;
}

static uint32_t heap_pop(struct trace_builder *b)
{
	uint32_t top = b->heap[0], v = b->heap[--b->nheap];
	size_t i = 0, n = b->nheap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && b->heap[c + 1] < b->heap[c])
			c++;
		if (b->heap[c] >= v)
			break;
		b->heap[i] = b->heap[c];
		i = c;
	}
	b->heap[i] = v;
	return top;
}

struct trace_builder *trace_builder_new(struct trace *t, struct diag *d)
{
	struct trace_builder *b = xcalloc(1, sizeof *b);
	b->t = t;
	b->d = d;
	b->sequential = b->canonical = true;
	t->has_lines = true;
	idmap_init(&b->ids);
	idmap_init(&b->threads);
	b->last_thread = UINT64_MAX;
	return b;
}

uint64_t trace_builder_allocations(const struct trace_builder *b)
{
	return b->allocations;
}

uint64_t trace_builder_peak_live(const struct trace_builder *b)
{
	return b->peak_live_bytes;
}

void trace_builder_prefetch(const struct trace_builder *b, int64_t id)
{
	__builtin_prefetch(&b->ids.slots[idmap_hash((uint64_t)id + 1, b->ids.cap)]);
}

bool trace_builder_live(const struct trace_builder *b, int64_t id)
{
	return id >= 0 && idmap_find(&b->ids, (uint64_t)id + 1)->key;
}

/* Builder errors: reported, then BUILDER_SKIP (lint mode: this op is left
 * out and the source goes on) or -1 (stop).  The steps of trace_builder_add
 * return 0 to go on to the next step. */
enum { BUILDER_SKIP = 1 };

static int builder_error(struct trace_builder *b, const struct trace_srcop *s, const char *fmt, ...)
	HB_PRINTF(3, 4);

static int builder_error(struct trace_builder *b, const struct trace_srcop *s, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_error(b->d, s->line, s->opno, "%s", msg) < 0 ? -1 : BUILDER_SKIP;
}

/* Keeps the time of op t->nops: the first timed op starts the times (the
 * ops before it get its time), an untimed op after it takes the last one. */
static void builder_time(struct trace_builder *b, const struct trace_srcop *s)
{
	struct trace *t = b->t;
	uint64_t now = s->timed ? s->time : b->last_time;
	if (t->ncaptimes < t->capops) {
		size_t old = t->ncaptimes;
		t->owned_times = xrealloc(t->owned_times, t->capops * sizeof *t->owned_times);
		t->times = t->owned_times;
		t->ncaptimes = t->capops;
		if (old == 0) /* the first timed op */
			for (uint64_t i = 0; i < t->nops; i++)
				t->owned_times[i] = now;
	}
	t->owned_times[t->nops] = now;
	b->last_time = now;
}

/* Doubles the op array. */
static void builder_grow(struct trace *t)
{
	xgrow((void **)&t->owned, &t->capops, t->nops + 1, sizeof *t->owned);
	t->ops = t->owned;
}

/* Stores the op.  Forced inline into both callers: it is the per-op store
 * of every text reader, and a call here costs parsing a few per cent. */
static inline __attribute__((always_inline)) void
builder_append(struct trace_builder *b, const struct trace_srcop *s, const struct trace_op *op)
{
	struct trace *t = b->t;
	if (t->nops == t->capops)
		builder_grow(t);
	if (s->line)
		trace_mark_line(t, t->nops, s->line);
	if (s->timed || t->times)
		builder_time(b, s);
	t->owned[t->nops++] = *op;
	if (op->thread >= t->nthreads)
		t->nthreads = op->thread + 1u;
}

/* ---- The steps of one op ------------------------------------------------ */

/* The op's dense thread: threads are numbered densely in order of first
 * appearance; a one-entry cache serves the runs of one thread. */
static int builder_thread(struct trace_builder *b, const struct trace_srcop *s, struct trace_op *op)
{
	/* before the cache: UINT64_MAX is also the cache's "empty" */
	if (s->thread == UINT64_MAX) /* the map's key is label + 1 */
		return builder_error(b, s, "thread label %" PRIu64 " is reserved", s->thread);
	if (s->thread != b->last_thread) {
		struct idmap_slot *ts = idmap_find(&b->threads, s->thread + 1);
		if (!ts->key) {
			if (b->threads.used >= TRACE_THREADS_MAX)
				return builder_error(b, s, "more than %d threads",
						     TRACE_THREADS_MAX);
			uint32_t dense = (uint32_t)b->threads.used;
			ts = idmap_insert(&b->threads, ts, s->thread + 1);
			ts->val = dense;
		}
		b->last_thread = s->thread;
		b->last_dense = (uint16_t)ts->val;
	}
	op->thread = b->last_dense;
	return 0;
}

/* The kind the op has in C, given whether its id is live: realloc(NULL, n)
 * is malloc(n), realloc(p, 0) frees p. */
static int builder_kind(struct trace_builder *b, const struct trace_srcop *s, bool live,
			struct trace_op *op)
{
	switch (s->kind) {
	case 'a': op->kind = TRACE_ALLOC; break;
	case 'c': op->kind = TRACE_CALLOC; break;
	case 'm': op->kind = TRACE_MEMALIGN; break;
	case 'f': op->kind = TRACE_FREE; break;
	case 'r':
		if (!live) {
			op->kind = TRACE_ALLOC;
			op->flags = TRACE_F_REALLOC_NULL;
		} else if (s->size == 0) {
			op->kind = TRACE_FREE;
			op->flags = TRACE_F_REALLOC_ZERO;
		} else {
			op->kind = TRACE_REALLOC;
		}
		break;
	default: return builder_error(b, s, "unknown op '%c'", s->kind);
	}
	return 0;
}

/* The op on its own (trace_op_check), then against the live set: only an
 * allocation may name a dead id, and it must. */
static int builder_check(struct trace_builder *b, const struct trace_srcop *s, bool live,
			 const struct trace_op *op)
{
	char why[160];
	const char *err = trace_op_check(op, why, sizeof why);
	if (err)
		return builder_error(b, s, "%s", err);
	bool allocates = trace_op_allocates(op);
	if (allocates && live)
		return builder_error(b, s, "allocation of id %" PRId64 " which is already live",
				     s->id);
	if (!allocates && !live)
		return builder_error(b, s, "free of id %" PRId64 " which is not live", s->id);
	return 0;
}

/* An allocation's dense id: the lowest one not live; *slot becomes the
 * block's entry in the map of live source ids. */
static int builder_new_id(struct trace_builder *b, const struct trace_srcop *s, uint64_t key,
			  struct idmap_slot **slot, uint32_t *id)
{
	if (b->nheap)
		*id = heap_pop(b);
	else if (b->hiwater == TRACE_ID_NULL)
		return builder_error(b, s, "more than 2^32-1 live blocks");
	else
		*id = b->hiwater++;
	if ((uint64_t)s->id != b->allocations)
		b->sequential = false;
	b->allocations++;
	if ((uint64_t)s->id != *id)
		b->canonical = false;
	*slot = idmap_insert(&b->ids, *slot, key);
	(*slot)->val = *id;
	return 0;
}

/* Live bytes after the op (the block's own bytes are in slot->data). */
static int builder_live_bytes(struct trace_builder *b, const struct trace_srcop *s,
			      struct idmap_slot *slot, uint64_t nb)
{
	uint64_t lb = b->live_bytes - slot->data;
	if (__builtin_add_overflow(lb, nb, &lb) || lb > TRACE_SIZE_MAX)
		return builder_error(b, s, "live bytes exceed 2^63-1");
	b->live_bytes = lb;
	if (lb > b->peak_live_bytes)
		b->peak_live_bytes = lb;
	slot->data = nb;
	return 0;
}

/* A realloc that moved the block: the source names it by its new source id
 * (an address) from now on. */
static int builder_move(struct trace_builder *b, const struct trace_srcop *s,
			struct idmap_slot *slot, uint32_t id)
{
	if (idmap_find(&b->ids, s->to)->key)
		return builder_error(b, s, "realloc to id %" PRIu64 " which is already live",
				     s->to - 1);
	uint64_t nb = slot->data;
	idmap_delete(&b->ids, slot);
	struct idmap_slot *moved = idmap_insert(&b->ids, idmap_find(&b->ids, s->to), s->to);
	moved->val = id;
	moved->data = nb;
	return 0;
}

/* ---- Adding an op ------------------------------------------------------- */

/* free(NULL): no id, nothing live changes. */
static void builder_free_null(struct trace_builder *b, const struct trace_srcop *s,
			      struct trace_op *op)
{
	op->kind = TRACE_FREE;
	op->id = TRACE_ID_NULL;
	op->size = 0;
	builder_append(b, s, op);
}

/* Before the op array doubles: whether the doubled array fits in what
 * heapbench may hold (memory_budget); a trace that does not (a small
 * compressed file can inflate to billions of ops) stops here, before the
 * machine runs short.  0, or -1 reported. */
static int builder_room(struct trace_builder *b, const struct trace_srcop *s)
{
	uint64_t next =
		(uint64_t)(b->t->capops ? b->t->capops : 1024) * 2 * sizeof(struct trace_op);
	if (next <= memory_budget())
		return 0;
	return diag_fatal(b->d, s->line, s->opno,
			  "the trace holds more ops than fit in the %s heapbench may use",
			  memory_budget_said());
}

/* The steps in order; each reports its own problem. */
static int builder_op(struct trace_builder *b, const struct trace_srcop *s)
{
	struct trace_op op = {.size = s->size, .arg = s->arg};
	if (__builtin_expect(b->t->nops == b->t->capops, 0) && builder_room(b, s) < 0)
		return -1;
	int rc = builder_thread(b, s, &op);
	if (rc)
		return rc;
	if (s->id < -1 || (s->id == -1 && s->kind != 'f'))
		return builder_error(b, s, "invalid id %" PRId64, s->id);
	if (s->id == -1) {
		builder_free_null(b, s, &op);
		return 0;
	}
	uint64_t key = (uint64_t)s->id + 1; /* the map's keys are ids + 1: 0 is empty */
	struct idmap_slot *slot = idmap_find(&b->ids, key);
	bool live = slot->key != 0;
	if ((rc = builder_kind(b, s, live, &op)) || (rc = builder_check(b, s, live, &op)))
		return rc;
	if (!live && (rc = builder_new_id(b, s, key, &slot, &op.id)))
		return rc;
	if (live)
		op.id = slot->val;
	if ((rc = builder_live_bytes(b, s, slot, trace_op_bytes(&op))))
		return rc;
	if (op.kind == TRACE_REALLOC && s->to && s->to != key &&
	    (rc = builder_move(b, s, slot, op.id)))
		return rc;
	if (op.kind == TRACE_FREE) {
		idmap_delete(&b->ids, slot);
		heap_push(b, op.id);
	}
	builder_append(b, s, &op);
	return 0;
}

int trace_builder_add(struct trace_builder *b, const struct trace_srcop *s)
{
	return builder_op(b, s) < 0 ? -1 : 0;
}

void trace_builder_finish(struct trace_builder *b)
{
	struct trace *t = b->t;
	t->nids = b->hiwater;
	/* A trace whose source numbered allocations 0, 1, 2, ... (the CMU
	 * convention) keeps that numbering on output; see trace_write. */
	if (b->sequential && !b->canonical)
		trace_meta_set(t, "ids", "sequential");
	else
		trace_meta_del(t, "ids");
	idmap_free(&b->ids);
	idmap_free(&b->threads);
	free(b->heap);
	free(b);
}
