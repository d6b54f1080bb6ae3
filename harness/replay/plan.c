/*
 * plan.c - the replay plan of a threaded pass (internal.h, struct tplan):
 * the trace's ops split into one stream per trace thread, and what each op
 * waits for, computed once before the passes so that the threads' loops
 * only read it.
 *
 * Causal order, no more (DESIGN §5): the ops on one block id are totally
 * ordered by the trace; an op waits for the one before it on its id only
 * when another thread did that one.  Each op knows its rank among its id's
 * ops (seq); a waiting op waits until its id's counter reaches its rank,
 * and the op before it, which the plan marks to post, sets the counter
 * past its own rank.  Ids are reused after free, so the same counter
 * orders an allocation after the free of the id's previous holder.
 *
 * A thread starts when its first op is due: after the op that precedes it
 * in the trace (the nearest one with a block id), which therefore posts
 * too.  Every wait is for an op earlier in the trace, and each thread runs
 * its ops in trace order, so the waits cannot form a cycle.
 *
 * The trace is one total order that every block's history agrees with (the
 * builder refuses a free before its allocation), so a plan never meets an
 * "inversion" (trace2wl's free seen before the allocation another thread
 * recorded): the importers resolve those when they read a log
 * (import-unknown-frees, import-lost-frees).
 *
 * A serial plan (--copies N without --threads recorded) is one stream of
 * every op in trace order, on one thread: nothing waits.
 *
 * A paced plan (--pace) also says when each op is due: its recorded time
 * less the first op's, divided by the pace factor.
 *
 * Memory, all from mmap: 32 bytes per op (the op and its rank), plus 16
 * bytes per id while planning; the counters (8 bytes per id) belong to each
 * copy of the replay (pass_threads.c).
 */
#include <inttypes.h>
#include <stdio.h>

#include "replay/internal.h"

/* The per-id scratch of planning: who did the id's last op, and where. */
struct plan_last {
	struct tp_op *op; /* the id's last op so far, or NULL */
	uint32_t count;   /* ops on the id so far */
	uint16_t thread;
};

int tplan_make(struct tplan *p, const struct trace *t, bool serial, double pace, char *err,
	       size_t len)
{
	memset(p, 0, sizeof *p);
	p->ops_bytes = (size_t)t->nops * sizeof *p->ops;
	p->due_bytes = pace > 0 && t->times ? (size_t)t->nops * sizeof *p->due : 0;
	p->threads_bytes = (size_t)t->nthreads * sizeof *p->threads;
	size_t scratch = ((size_t)t->nids + 1) * sizeof(struct plan_last) +
			 (size_t)t->nthreads * (sizeof(uint64_t) + sizeof(uint32_t));
	p->ops = os_map(p->ops_bytes ? p->ops_bytes : 1);
	p->threads = os_map(p->threads_bytes ? p->threads_bytes : 1);
	void *mem = os_map(scratch);
	p->due = p->due_bytes ? os_map(p->due_bytes) : NULL;
	if (!p->ops || !p->threads || !mem || (p->due_bytes && !p->due)) {
		os_unmap(mem, scratch);
		tplan_free(p);
		snprintf(err, len, "no memory for the plan of %" PRIu64 " ops", t->nops);
		return -1;
	}
	struct plan_last *last = mem;
	uint64_t *counts = (uint64_t *)(last + t->nids + 1);
	uint32_t *slot = (uint32_t *)(counts + t->nthreads); /* thread -> stream + 1 */
	memset(mem, 0, scratch);
	for (uint64_t i = 0; i < t->nops; i++)
		counts[serial ? 0 : t->ops[i].thread]++;

	/* streams in the order of the threads' first ops, laid out back to back */
	struct tp_op *next = p->ops;
	struct tp_op *prev_with_id = NULL; /* the trace's last op with a block id */
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		uint16_t label = serial ? 0 : op->thread;
		if (!slot[label]) {
			struct tp_thread *th = &p->threads[p->nstarted];
			th->label = label;
			th->ops = next;
			next += counts[label];
			if (prev_with_id) {
				prev_with_id->flags |= TP_POST;
				th->start_id = prev_with_id->op.id;
				th->start_seq = prev_with_id->seq + 1;
				th->start_wait = true;
			}
			slot[label] = ++p->nstarted;
		}
		struct tp_thread *th = &p->threads[slot[label] - 1];
		struct tp_op *o = &th->ops[th->nops++];
		o->op = *op;
		if (p->due) /* the recorded gap since the first op, compressed */
			p->due[o - p->ops] =
				t->times[i] > t->times[0]
					? (uint64_t)((double)(t->times[i] - t->times[0]) / pace)
					: 0;
		o->flags = 0;
		o->seq = 0;
		if (op->id == TRACE_ID_NULL)
			continue;
		struct plan_last *l = &last[op->id];
		o->seq = l->count++;
		if (l->op && l->thread != label) {
			l->op->flags |= TP_POST;
			o->flags |= TP_WAIT;
			p->cross_waits++;
		}
		l->op = o;
		l->thread = label;
		prev_with_id = o;
	}
	os_unmap(mem, scratch);
	return 0;
}

void tplan_free(struct tplan *p)
{
	os_unmap(p->ops, p->ops_bytes ? p->ops_bytes : 1);
	os_unmap(p->due, p->due_bytes);
	os_unmap(p->threads, p->threads_bytes ? p->threads_bytes : 1);
	memset(p, 0, sizeof *p);
}
