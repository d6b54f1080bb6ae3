/*
 * trace.c - the trace object: loading by content, the id-remapping
 * builder, the semantic verifier, metadata and the source-line map.
 *
 * Builder structures (all O(max live blocks)):
 *   - a hash map (idmap.h)
 *     from live source id to dense id;
 *   - a binary min-heap of free dense ids below the high-water mark, so an
 *     allocation always takes the lowest id not live (O(log n)).
 */
#include "trace/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/hbt.h"
#include "trace/idmap.h"
#include "trace/src.h"

#define TRACE_KIND_CALL(e, v, call, plural)   [e] = call,
#define TRACE_KIND_PLURAL(e, v, call, plural) [e] = plural,
const char *const trace_kind_names[TRACE_NKINDS] = {TRACE_KIND_LIST(TRACE_KIND_CALL)};
const char *const trace_kind_plurals[TRACE_NKINDS] = {TRACE_KIND_LIST(TRACE_KIND_PLURAL)};
#undef TRACE_KIND_CALL
#undef TRACE_KIND_PLURAL

/* ---- Lifecycle ---------------------------------------------------------- */

struct trace *trace_new(const char *path)
{
	struct trace *t = xcalloc(1, sizeof *t);
	t->path = xstrdup(path ? path : "");
	t->nthreads = 1;
	return t;
}

void trace_free(struct trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nmeta; i++) {
		free(t->meta[i].key);
		free(t->meta[i].value);
	}
	free(t->meta);
	free(t->marks);
	free(t->owned);
	free(t->blob);
	if (t->map)
		munmap(t->map, t->maplen);
	free(t->path);
	free(t);
}

/* ---- Metadata and lines ------------------------------------------------- */

const char *trace_meta_get(const struct trace *t, const char *key)
{
	for (size_t i = 0; i < t->nmeta; i++)
		if (!strcmp(t->meta[i].key, key))
			return t->meta[i].value;
	return NULL;
}

bool trace_meta_valid(const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	if (kl == 0 || kl > TRACE_META_MAX_KEY || vl > TRACE_META_MAX_VALUE ||
	    key[strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] ||
	    !strcmp(key, "heapbench-trace") || strchr(value, '\n'))
		return false;
	/* values carry no surrounding blanks (the text reader trims them) */
	return vl == 0 || (value[0] != ' ' && value[0] != '\t' && value[vl - 1] != ' ' &&
			   value[vl - 1] != '\t' && value[vl - 1] != '\r');
}

int trace_meta_set(struct trace *t, const char *key, const char *value)
{
	for (size_t i = 0; i < t->nmeta; i++)
		if (!strcmp(t->meta[i].key, key)) {
			free(t->meta[i].value);
			t->meta[i].value = xstrdup(value);
			return 0;
		}
	if (t->nmeta >= TRACE_META_MAX)
		return -1;
	xgrow((void **)&t->meta, &t->capmeta, t->nmeta + 1, sizeof *t->meta);
	t->meta[t->nmeta].key = xstrdup(key);
	t->meta[t->nmeta].value = xstrdup(value);
	t->nmeta++;
	return 0;
}

void trace_meta_del(struct trace *t, const char *key)
{
	for (size_t i = 0; i < t->nmeta; i++)
		if (!strcmp(t->meta[i].key, key)) {
			free(t->meta[i].key);
			free(t->meta[i].value);
			memmove(&t->meta[i], &t->meta[i + 1], (t->nmeta - i - 1) * sizeof *t->meta);
			t->nmeta--;
			return;
		}
}

uint64_t trace_line(const struct trace *t, uint64_t i)
{
	if (!t->has_lines || t->nmarks == 0)
		return 0;
	/* the last mark at or before op i */
	size_t lo = 0, hi = t->nmarks;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->marks[mid].op <= i)
			lo = mid;
		else
			hi = mid;
	}
	return t->marks[lo].line + (i - t->marks[lo].op);
}

static void trace_mark_line(struct trace *t, uint64_t op, uint64_t line)
{
	if (t->nmarks) {
		const struct trace_linemark *m = &t->marks[t->nmarks - 1];
		if (m->line + (op - m->op) == line)
			return;
	}
	xgrow((void **)&t->marks, &t->capmarks, t->nmarks + 1, sizeof *t->marks);
	t->marks[t->nmarks++] = (struct trace_linemark){op, line};
}

const char *trace_format_name(const struct trace *t, char *buf, size_t len)
{
	static const char *const dialects[] = {
		[REP_NONE] = "rep",
		[REP_CSAPP2002] = "rep-csapp2002",
		[REP_CMU2010] = "rep-cmu2010",
		[REP_CMU2016] = "rep-cmu2016",
	};
	const char *base = t->format == TRACE_FMT_HBT    ? "hbt"
			   : t->format == TRACE_FMT_TEXT ? "text"
							 : dialects[t->rep_dialect];
	const char *comp = t->compression == TRACE_COMP_ZSTD   ? "+zst"
			   : t->compression == TRACE_COMP_GZIP ? "+gz"
							       : "";
	snprintf(buf, len, "%s%s", base, comp);
	return buf;
}

/* ---- Loading ------------------------------------------------------------ */

/* Maps an uncompressed .hbt file; only the header is read now. */
static int trace_map_hbt(struct trace *t, int fd, size_t size, struct diag *d)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "cannot map: %s", strerror(errno));
	t->map = p;
	t->maplen = size;
	return trace_open_hbt_image(t, p, size, d);
}

struct trace *trace_load(const char *path, struct diag *d)
{
	struct trace *t = trace_new(path);
	struct src s;
	if (src_open(&s, path, d) < 0)
		goto fail;
	t->compression = s.comp;

	long n = src_peek(&s, HBT_MAGIC_LEN);
	if (n < 0)
		goto fail_src;
	/* a file that starts like the .hbt magic is a (perhaps truncated) .hbt */
	if (n >= 4 && !memcmp(s.buf + s.pos, HBT_MAGIC, (size_t)n)) {
		t->format = TRACE_FMT_HBT;
		struct stat st;
		if (s.comp == TRACE_COMP_NONE && fstat(s.fd, &st) == 0 && S_ISREG(st.st_mode)) {
			if (trace_map_hbt(t, s.fd, (size_t)st.st_size, d) < 0)
				goto fail_src;
		} else {
			size_t len;
			if (src_slurp(&s, &t->blob, &len) < 0 ||
			    trace_open_hbt_image(t, t->blob, len, d) < 0)
				goto fail_src;
		}
	} else if (trace_read_text(t, &s, d) < 0) {
		goto fail_src;
	}
	src_close(&s);
	return t;
fail_src:
	src_close(&s);
fail:
	trace_free(t);
	return NULL;
}

struct trace *trace_load_verified(const char *path, struct diag *d)
{
	struct trace *t = trace_load(path, d);
	if (t && t->format == TRACE_FMT_HBT && trace_verify(t, d) < 0) {
		trace_free(t);
		return NULL;
	}
	return t;
}

/* ---- Verification ------------------------------------------------------- */

/* Checks what one op says about itself, independent of the others.
 * Returns NULL if fine, else what is wrong (in buf). */
static const char *say(char *buf, size_t len, const char *fmt, ...) HB_PRINTF(3, 4);

static const char *say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

static const char *op_check_static(const struct trace_op *op, char *buf, size_t len)
{
	if (op->kind >= TRACE_NKINDS)
		return say(buf, len, "unknown op kind %u", op->kind);
	if (op->flags & ~TRACE_F_ALL)
		return say(buf, len, "unknown flags 0x%x", op->flags);
	if ((op->flags & TRACE_F_REALLOC_NULL) && op->kind != TRACE_ALLOC)
		return say(buf, len, "realloc-of-NULL flag on a non-alloc op");
	if ((op->flags & TRACE_F_REALLOC_ZERO) &&
	    (op->kind != TRACE_FREE || op->id == TRACE_ID_NULL))
		return say(buf, len, "realloc-to-zero flag on a non-free op");
	if (op->size > TRACE_SIZE_MAX)
		return say(buf, len, "size %" PRIu64 " exceeds the largest request (%" PRIu64 ")",
			   op->size, TRACE_SIZE_MAX);
	switch (op->kind) {
	case TRACE_CALLOC: {
		uint64_t total;
		if (__builtin_mul_overflow(op->arg, op->size, &total) || total > TRACE_SIZE_MAX)
			return say(buf, len, "calloc(%" PRIu64 ", %" PRIu64 ") overflows", op->arg,
				   op->size);
		break;
	}
	case TRACE_MEMALIGN:
		if (op->arg == 0 || (op->arg & (op->arg - 1)) || op->arg > TRACE_ALIGN_MAX)
			return say(buf, len,
				   "alignment %" PRIu64 " is not a power of two from 1 to 2^40",
				   op->arg);
		break;
	case TRACE_REALLOC:
		if (op->size == 0)
			return say(buf, len, "realloc to size 0 must be stored as a free");
		/* fall through */
	default:
		if (op->arg != 0)
			return say(buf, len, "unexpected argument %" PRIu64, op->arg);
	}
	if (op->kind == TRACE_FREE && op->size != 0)
		return say(buf, len, "free with a size");
	return NULL;
}

int trace_verify(const struct trace *t, struct diag *d)
{
	uint64_t *live = xcalloc((size_t)t->nids / 64 + 1, sizeof *live);
	uint64_t *bytes = xcalloc((size_t)t->nids + 1, sizeof *bytes);
	uint64_t live_bytes = 0, ids_used = 0;
	uint32_t threads_used = 0;
	int rc = 0;
	char why[160];
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		uint64_t line = trace_line(t, i);
		const char *err = op_check_static(op, why, sizeof why);
		if (!err && op->thread >= t->nthreads)
			err = say(why, sizeof why, "thread %u out of range (%u threads)",
				  op->thread, t->nthreads);
		if (!err && op->id != TRACE_ID_NULL && op->id >= t->nids)
			err = say(why, sizeof why, "id %u out of range (%u ids)", op->id, t->nids);
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
	free(live);
	free(bytes);
	return rc < 0 || (d->lint && d->errors) ? -1 : 0;
}

/* ---- Builder ------------------------------------------------------------ */

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
	bool sequential, canonical;
};

static void heap_push(struct trace_builder *b, uint32_t v)
{
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

static int builder_error(struct trace_builder *b, const struct trace_srcop *s, const char *fmt, ...)
	HB_PRINTF(3, 4);

static int builder_error(struct trace_builder *b, const struct trace_srcop *s, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_error(b->d, s->line, s->opno, "%s", msg);
}

static void builder_append(struct trace_builder *b, const struct trace_srcop *s,
			   const struct trace_op *op)
{
	struct trace *t = b->t;
	if (t->nops == t->capops) {
		xgrow((void **)&t->owned, &t->capops, t->nops + 1, sizeof *t->owned);
		t->ops = t->owned;
	}
	if (s->line)
		trace_mark_line(t, t->nops, s->line);
	t->owned[t->nops++] = *op;
	if (op->thread >= t->nthreads)
		t->nthreads = op->thread + 1u;
}

int trace_builder_add(struct trace_builder *b, const struct trace_srcop *s)
{
	struct trace_op op = {.size = s->size, .arg = s->arg};
	char why[160];

	if (s->thread == UINT64_MAX) /* the map's key is label + 1 */
		return builder_error(b, s, "thread label %" PRIu64 " is reserved", s->thread);
	if (s->thread != b->last_thread) {
		/* threads are numbered densely in order of first appearance */
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
	op.thread = b->last_dense;
	if (s->id < -1 || (s->id == -1 && s->kind != 'f'))
		return builder_error(b, s, "invalid id %" PRId64, s->id);
	if (s->id == -1) {
		op.kind = TRACE_FREE;
		op.id = TRACE_ID_NULL;
		op.size = 0;
		builder_append(b, s, &op);
		return 0;
	}
	uint64_t key = (uint64_t)s->id + 1;
	if (key == 0)
		return builder_error(b, s, "id %" PRId64 " out of range", s->id);
	struct idmap_slot *slot = idmap_find(&b->ids, key);
	bool live = slot->key != 0;

	switch (s->kind) {
	case 'a': op.kind = TRACE_ALLOC; break;
	case 'c': op.kind = TRACE_CALLOC; break;
	case 'm': op.kind = TRACE_MEMALIGN; break;
	case 'f': op.kind = TRACE_FREE; break;
	case 'r':
		if (!live) { /* realloc(NULL, n) is malloc(n) */
			op.kind = TRACE_ALLOC;
			op.flags = TRACE_F_REALLOC_NULL;
		} else if (s->size == 0) { /* realloc(p, 0) frees p */
			op.kind = TRACE_FREE;
			op.flags = TRACE_F_REALLOC_ZERO;
		} else {
			op.kind = TRACE_REALLOC;
		}
		break;
	default: return builder_error(b, s, "unknown op '%c'", s->kind);
	}
	bool allocates = trace_op_allocates(&op);

	const char *err = op_check_static(&op, why, sizeof why);
	if (err)
		return builder_error(b, s, "%s", err);
	if (allocates && live)
		return builder_error(b, s, "allocation of id %" PRId64 " which is already live",
				     s->id);
	if (!allocates && !live)
		return builder_error(b, s, "free of id %" PRId64 " which is not live", s->id);

	uint32_t id;
	if (allocates) {
		if (b->nheap)
			id = heap_pop(b);
		else if (b->hiwater == TRACE_ID_NULL)
			return builder_error(b, s, "more than 2^32-1 live blocks");
		else
			id = b->hiwater++;
		if ((uint64_t)s->id != b->allocations)
			b->sequential = false;
		b->allocations++;
		if ((uint64_t)s->id != id)
			b->canonical = false;
		slot = idmap_insert(&b->ids, slot, key);
		slot->val = id;
	} else {
		id = slot->val;
	}
	op.id = id;

	uint64_t nb = trace_op_bytes(&op), lb = b->live_bytes - slot->data;
	if (__builtin_add_overflow(lb, nb, &lb) || lb > TRACE_SIZE_MAX)
		return builder_error(b, s, "live bytes exceed 2^63-1");
	b->live_bytes = lb;
	if (lb > b->peak_live_bytes)
		b->peak_live_bytes = lb;
	slot->data = nb; /* the block's live bytes */
	if (op.kind == TRACE_REALLOC && s->to && s->to != key) {
		/* the source names the block by its new address from now on */
		if (idmap_find(&b->ids, s->to)->key)
			return builder_error(
				b, s, "realloc to id %" PRIu64 " which is already live", s->to - 1);
		idmap_delete(&b->ids, slot);
		struct idmap_slot *moved = idmap_insert(&b->ids, idmap_find(&b->ids, s->to), s->to);
		moved->val = id;
		moved->data = nb;
	}
	if (op.kind == TRACE_FREE) {
		idmap_delete(&b->ids, slot);
		heap_push(b, id);
	}
	builder_append(b, s, &op);
	return 0;
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
