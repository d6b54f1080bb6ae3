/*
 * verify.c - the O(n) semantic pass over a trace that was not checked op
 * by op while it was read (.hbt).  Each op goes through trace_op_check
 * (internal.h), the check the builder applies to every op it makes.
 *
 * Memory: one live bit and one size per dense id (O(max live blocks)).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "trace/internal.h"

const char *trace_say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

/* ---- The semantic pass -------------------------------------------------- */

int trace_verify(const struct trace *t, struct diag *d)
{
	/* from mmap: a replay's worker verifies with the allocator under
	 * test in place (xmap) */
	size_t live_len = ((size_t)t->nids / 64 + 1) * sizeof(uint64_t);
	size_t bytes_len = ((size_t)t->nids + 1) * sizeof(uint64_t);
	uint64_t *live = xmap(live_len), *bytes = xmap(bytes_len);
	uint64_t live_bytes = 0, ids_used = 0;
	uint32_t threads_used = 0;
	int rc = 0;
	char why[160];
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		uint64_t line = trace_line(t, i);
		const char *err = trace_op_check(op, why, sizeof why);
		if (!err && op->thread >= t->nthreads)
			err = trace_say(why, sizeof why, "thread %u out of range (%u threads)",
					op->thread, t->nthreads);
		if (!err && op->id != TRACE_ID_NULL && op->id >= t->nids)
			err = trace_say(why, sizeof why, "id %u out of range (%u ids)", op->id,
					t->nids);
		if (!err && op->id == TRACE_ID_NULL && op->kind != TRACE_FREE)
			err = "NULL id on an op that is not a free";
		if (err) {
			if ((rc = diag_error(d, line, i, "%s", err)) < 0)
				break;
			continue;
		}
		if (op->thread >= threads_used)
			threads_used = op->thread + 1u;
		if (op->id == TRACE_ID_NULL)
			continue;
		if (op->id >= ids_used)
			ids_used = op->id + 1ull;
		uint64_t bit = 1ull << (op->id % 64), *w = &live[op->id / 64];
		bool is_live = *w & bit;
		if (trace_op_allocates(op) && is_live) {
			rc = diag_error(d, line, i, "allocation of id %u which is already live",
					op->id);
		} else if (!trace_op_allocates(op) && !is_live) {
			rc = diag_error(d, line, i, "%s of id %u which is not live",
					op->kind == TRACE_FREE ? "free" : "realloc", op->id);
		} else {
			uint64_t nb = trace_op_bytes(op);
			live_bytes -= bytes[op->id];
			if (__builtin_add_overflow(live_bytes, nb, &live_bytes) ||
			    live_bytes > TRACE_SIZE_MAX) {
				rc = diag_error(d, line, i, "live bytes exceed 2^63-1");
				live_bytes -= nb;
			}
			bytes[op->id] = nb;
			if (op->kind == TRACE_FREE) {
				*w &= ~bit;
				bytes[op->id] = 0;
			} else {
				*w |= bit;
			}
		}
		if (rc < 0)
			break;
	}
	/* ids and threads are dense: the header's counts must be exact */
	if (rc == 0 && ids_used != t->nids)
		rc = diag_error(d, DIAG_NO_LINE, DIAG_NO_OP,
				"the trace declares %u ids but its ops use %" PRIu64, t->nids,
				ids_used);
	if (rc == 0 && t->nops && threads_used != t->nthreads)
		rc = diag_error(d, DIAG_NO_LINE, DIAG_NO_OP,
				"the trace declares %u threads but its ops use %u", t->nthreads,
				threads_used);
	xunmap(live, live_len);
	xunmap(bytes, bytes_len);
	return rc < 0 || (d->lint && d->errors) ? -1 : 0;
}
