/*
 * write.c - writers for the three formats, each through struct out
 * (atomic, optionally compressed).
 *
 * Text and .rep output spell ops the way the source did (realloc(NULL, n)
 * as `r`, realloc(p, 0) as `r id 0`, free(NULL) as `f -1`) and keep a
 * source's sequential id numbering (metadata `ids: sequential`), so that
 * text -> .hbt -> text and .rep -> .hbt -> .rep reproduce the input byte
 * for byte whenever the input was already in canonical spelling.
 *
 * The .rep header written for traces that did not come from a .rep file is
 * the CMU 2016+ dialect: 1 (weight) / num_ids / num_ops / max_alloc (peak
 * live bytes).  The CS:APP 2002 driver ignores lines 1 and 4; the CMU
 * 2010-2015 driver reads line 4 as ignore_ranges and skips its overlap
 * check when it is nonzero.  A trace read from a .rep file keeps its own
 * header lines 1 and 4 (metadata `rep-header`).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/out.h"
#include "trace/hbt.h"
#include "trace/trace.h"

#define FLUSH_AT (1u << 20)

/* ---- Id numbering on output --------------------------------------------- */

/* Maps dense ids to the numbers written: the dense id itself, or for a
 * trace with sequential source ids, the allocation counter. */
struct idnames {
	bool sequential;
	uint64_t *name; /* per dense id, when sequential */
	uint64_t next;
};

/* Whether the source numbered its allocations 0, 1, 2, ... (builder.h). */
static bool ids_sequential(const struct trace *t)
{
	const char *ids = trace_meta_get(t, "ids");
	return ids && !strcmp(ids, "sequential");
}

static void idnames_init(struct idnames *n, const struct trace *t)
{
	n->sequential = ids_sequential(t);
	n->name = n->sequential ? xcalloc((size_t)t->nids + 1, sizeof *n->name) : NULL;
	n->next = 0;
}

static uint64_t idnames_of(struct idnames *n, const struct trace_op *op)
{
	if (!n->sequential || op->id == TRACE_ID_NULL)
		return op->id;
	if (trace_op_allocates(op))
		n->name[op->id] = n->next++;
	return n->name[op->id];
}

/* ---- Shared ------------------------------------------------------------- */

static int flush_buf(struct out *o, struct buf *b, bool force)
{
	if (!force && b->len < FLUSH_AT)
		return 0;
	int rc = out_write(o, b->data, b->len);
	b->len = 0;
	return rc;
}

/* Appends the op-line body shared by text and rep output; `cmu` spells
 * calloc and memalign as plain `a` (rep has no such ops). */
static void op_line(struct buf *b, const struct trace_op *op, uint64_t name, bool cmu)
{
	char kind;
	switch (op->kind) {
	case TRACE_ALLOC: kind = op->flags & TRACE_F_REALLOC_NULL ? 'r' : 'a'; break;
	case TRACE_CALLOC: kind = cmu ? 'a' : 'c'; break;
	case TRACE_MEMALIGN: kind = cmu ? 'a' : 'm'; break;
	case TRACE_REALLOC: kind = 'r'; break;
	default: kind = op->flags & TRACE_F_REALLOC_ZERO ? 'r' : 'f'; break;
	}
	char head[3] = {kind, ' ', 0};
	buf_append(b, head, 2);
	if (op->id == TRACE_ID_NULL) {
		buf_append(b, "-1\n", 3);
		return;
	}
	buf_u64(b, name);
	if (op->kind == TRACE_FREE) {
		buf_append(b, op->flags & TRACE_F_REALLOC_ZERO ? " 0\n" : "\n",
			   op->flags & TRACE_F_REALLOC_ZERO ? 3 : 1);
		return;
	}
	if (!cmu && (op->kind == TRACE_CALLOC || op->kind == TRACE_MEMALIGN)) {
		buf_append(b, " ", 1);
		buf_u64(b, op->arg);
	}
	buf_append(b, " ", 1);
	buf_u64(b, cmu ? trace_op_bytes(op) : op->size);
	buf_append(b, "\n", 1);
}

/* Appends every op line to b (which holds the header), writing as it
 * goes, and frees b.  `cmu`: .rep spelling, and no thread prefixes. */
static int write_ops(const struct trace *t, struct out *o, struct buf *b, bool cmu)
{
	struct idnames names;
	idnames_init(&names, t);
	bool threads = !cmu && t->nthreads > 1;
	int rc = 0;
	for (uint64_t i = 0; i < t->nops && rc == 0; i++) {
		const struct trace_op *op = &t->ops[i];
		if (threads) {
			buf_u64(b, op->thread);
			buf_append(b, ": ", 2);
		}
		op_line(b, op, idnames_of(&names, op), cmu);
		if (t->times && !cmu) { /* ` @NS` before the newline */
			b->len--;
			buf_append(b, " @", 2);
			buf_u64(b, t->times[i]);
			buf_append(b, "\n", 1);
		}
		rc = flush_buf(o, b, false);
	}
	if (rc == 0)
		rc = flush_buf(o, b, true);
	free(names.name);
	buf_free(b);
	return rc;
}

/* ---- Native text -------------------------------------------------------- */

static int write_text(const struct trace *t, struct out *o)
{
	struct buf b = {0};
	buf_printf(&b, "# heapbench-trace: %d\n", t->times ? 2 : 1);
	for (size_t i = 0; i < t->nmeta; i++)
		buf_printf(&b, "# %s: %s\n", t->meta[i].key, t->meta[i].value);
	return write_ops(t, o, &b, false);
}

/* ---- CMU .rep ----------------------------------------------------------- */

static uint64_t trace_peak_live(const struct trace *t)
{
	uint64_t *bytes = xcalloc((size_t)t->nids + 1, sizeof *bytes);
	uint64_t live = 0, peak = 0;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		if (op->id == TRACE_ID_NULL)
			continue;
		live -= bytes[op->id];
		bytes[op->id] = trace_op_bytes(op);
		live += bytes[op->id];
		if (live > peak)
			peak = live;
	}
	free(bytes);
	return peak;
}

static int write_rep(const struct trace *t, struct out *o)
{
	uint64_t allocations = 0, lossy_calloc = 0, lossy_align = 0, big = 0;
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		allocations += trace_op_allocates(op);
		lossy_calloc += op->kind == TRACE_CALLOC;
		lossy_align += op->kind == TRACE_MEMALIGN;
		big += trace_op_bytes(op) > INT32_MAX;
	}
	if (lossy_calloc)
		hb_error("%s: warning: .rep has no calloc: %" PRIu64 " calloc ops written as `a`",
			 t->path, lossy_calloc);
	if (lossy_align)
		hb_error("%s: warning: .rep has no aligned allocation: %" PRIu64
			 " memalign ops written as `a` (alignment dropped)",
			 t->path, lossy_align);
	if (t->nthreads > 1)
		hb_error("%s: warning: .rep has no threads: thread ids of %u threads dropped",
			 t->path, t->nthreads);
	if (big)
		hb_error("%s: warning: %" PRIu64 " sizes exceed 2^31-1, which the CMU drivers "
			 "read as int",
			 t->path, big);

	uint64_t h[4] = {1, ids_sequential(t) ? allocations : t->nids, t->nops, 0};
	uint64_t old[4];
	const char *hdr = trace_meta_get(t, "rep-header");
	if (hdr && sscanf(hdr, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &old[0], &old[1],
			  &old[2], &old[3]) == 4) {
		h[0] = old[0];
		h[3] = old[3];
		if (old[1] >= h[1]) /* a header may declare more ids than used */
			h[1] = old[1];
	} else {
		h[3] = trace_peak_live(t);
	}

	struct buf b = {0};
	buf_printf(&b, "%" PRIu64 "\n%" PRIu64 "\n%" PRIu64 "\n%" PRIu64 "\n", h[0], h[1], h[2],
		   h[3]);
	return write_ops(t, o, &b, true);
}

/* ---- Binary ------------------------------------------------------------- */

void hbt_head(const struct trace *t, struct buf *b)
{
	size_t start = b->len;
	struct hbt_header h = {0};
	buf_append(b, (const char *)&h, sizeof h); /* filled below */
	for (size_t i = 0; i < t->nmeta; i++) {
		buf_printf(b, "%s: ", t->meta[i].key);
		buf_append_utf8(b, t->meta[i].value);
		buf_append(b, "\n", 1);
	}
	memcpy(h.magic, HBT_MAGIC, HBT_MAGIC_LEN);
	h.version = HBT_VERSION;
	h.header_size = sizeof h;
	h.record_size = sizeof(struct trace_op);
	h.op_count = t->nops;
	h.id_count = t->nids;
	h.thread_count = t->nthreads;
	h.meta_offset = sizeof h;
	h.meta_size = b->len - start - sizeof h;
	h.ops_offset = (h.meta_offset + h.meta_size + 7) & ~(uint64_t)7;
	h.flags = t->times ? HBT_F_TIMES : 0;
	static const char zeros[8];
	buf_append(b, zeros, (size_t)(start + h.ops_offset - b->len));
	memcpy(b->data + start, &h, sizeof h);
}

static int write_hbt(const struct trace *t, struct out *o)
{
	struct buf head = {0};
	hbt_head(t, &head);
	int rc = out_write(o, head.data, head.len);
	/* in slices, so that compression streams through bounded buffers */
	for (uint64_t i = 0; i < t->nops && rc == 0; i += 1u << 16) {
		uint64_t n = t->nops - i < (1u << 16) ? t->nops - i : (1u << 16);
		rc = out_write(o, t->ops + i, (size_t)n * sizeof *t->ops);
	}
	for (uint64_t i = 0; t->times && i < t->nops && rc == 0; i += 1u << 16) {
		uint64_t n = t->nops - i < (1u << 16) ? t->nops - i : (1u << 16);
		rc = out_write(o, t->times + i, (size_t)n * sizeof *t->times);
	}
	buf_free(&head);
	return rc;
}

int trace_write_hbt_fd(const struct trace *t, int fd)
{
	struct out *o = out_wrap_fd(fd, t->path);
	if (write_hbt(t, o) < 0) {
		out_abort(o);
		return -1;
	}
	return out_commit(o);
}

int trace_write(const struct trace *t, const char *path)
{
	enum trace_outfmt fmt;
	enum trace_compression comp;
	if (trace_check_out_name(path) < 0)
		return -1;
	trace_outfmt_from_name(path, &fmt, &comp);
	struct out *o = out_open(path, comp);
	if (!o)
		return -1;
	int rc = fmt == TRACE_OUT_TEXT  ? write_text(t, o)
		 : fmt == TRACE_OUT_REP ? write_rep(t, o)
					: write_hbt(t, o);
	if (rc < 0) {
		out_abort(o);
		return -1;
	}
	return out_commit(o);
}
