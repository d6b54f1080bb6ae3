/*
 * builder.h - building a trace op by op from a source's own ids: what every
 * reader of a text format, every importer, the generator and the recorder's
 * conversion feed their ops through.
 *
 * The builder applies the C semantics, remaps ids densely (the lowest id
 * not live, see trace.h), numbers threads densely in order of appearance,
 * checks each op and records its source line.  Costs: one hash lookup per
 * op, O(log n) per allocation for the free-id heap; memory O(max live
 * blocks).
 */
#ifndef HB_TRACE_BUILDER_H
#define HB_TRACE_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "trace/trace.h"

/* An op as a source spells it: source ids are any 64-bit values; -1 frees
 * NULL.  The builder applies the C semantics (realloc of a dead id is
 * realloc(NULL), realloc to 0 frees), remaps ids densely and rejects what
 * no semantics explains. */
struct trace_srcop {
	char kind;          /* 'a' 'c' 'm' 'r' 'f' */
	int64_t id;         /* -1 = NULL */
	uint64_t size, arg; /* as in struct trace_op */
	uint64_t thread;    /* any label (an OS tid, say); renumbered densely */
	uint64_t to;        /* 'r' that moved the block (a pointer source):
			       its new source id + 1; 0 = it keeps id */
	uint64_t line;      /* 1-based source line, or 0 */
	uint64_t opno;      /* op number for messages (the N-th op of the source) */
	uint64_t time;      /* when the call was made (ns), if timed */
	bool timed;         /* the source has times: the trace keeps them */
};

struct trace_builder;

struct trace_builder *trace_builder_new(struct trace *t, struct diag *d);
/* Appends one op.  0 on success or a lint-mode skip; -1 to stop. */
int trace_builder_add(struct trace_builder *b, const struct trace_srcop *op);
/* Allocations so far, whether a source id is live, peak live bytes. */
uint64_t trace_builder_allocations(const struct trace_builder *b);
bool trace_builder_live(const struct trace_builder *b, int64_t id);
uint64_t trace_builder_peak_live(const struct trace_builder *b);
/* A hint that the op naming source id `id` comes soon: readers parse a
 * batch of lines, prefetch, then add, to overlap the hash table's cache
 * misses (the dominant cost of text parsing). */
void trace_builder_prefetch(const struct trace_builder *b, int64_t id);
/* Finishes the trace and frees the builder.  If the source numbered its
 * allocations 0, 1, 2, ... (the CMU convention) and that differs from the
 * dense ids, the metadata gets `ids: sequential` and writers keep that
 * numbering, so that round trips are byte-stable. */
void trace_builder_finish(struct trace_builder *b);

#endif
