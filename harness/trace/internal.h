/*
 * internal.h - what the readers of trace/ share, and nothing the rest of
 * the harness needs (that is trace.h).
 *
 * Data flows one way:
 *
 *   load.c     opens the file (src.h: decompressed by magic), shows the
 *              first bytes to each reader's probe, in the order of its
 *              table, and hands the stream to the first that says yes;
 *   readers    text.c (native text and CMU .rep), hbt.c (binary), and
 *              the importers of other recorders' logs: each turns its
 *              source into ops through the builder (builder.h), or, for
 *              .hbt, maps the records in place;
 *   builder.c  remaps ids densely and checks each op (verify.c);
 *   trace.c    the model the result lands in (metadata, line map).
 *
 * Adding a format is ONE new file next to the readers (say valgrind.c)
 * defining its probe and read below, plus one row in load.c's table.  A
 * reader never calls the loader or another reader.
 */
#ifndef HB_TRACE_INTERNAL_H
#define HB_TRACE_INTERNAL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "trace/src.h"
#include "trace/trace.h"

/* ---- Readers ------------------------------------------------------------ */

/* How many decompressed bytes a probe sees (fewer if the stream is shorter,
 * never 0: the loader reports an empty stream itself). */
#define TRACE_PROBE_BYTES 512

/* One format the loader can read.  probe: whether the stream's first n
 * bytes look like this format (cheap, no side effects).  read: the whole
 * stream into t (t->compression is already set; read sets t->format and
 * whatever else the format has); 0, or -1 after reporting through d. */
struct trace_reader {
	const char *name;
	bool (*probe)(const unsigned char *head, size_t n);
	int (*read)(struct trace *t, struct src *s, struct diag *d);
};

/* .hbt (hbt.c): the magic, even truncated to 4 bytes or more. */
bool trace_probe_hbt(const unsigned char *head, size_t n);
int trace_read_hbt(struct trace *t, struct src *s, struct diag *d);
/* Opens a .hbt image in memory in place: the header and every bound are
 * validated, the records are not (trace_verify does that). */
int trace_open_hbt_image(struct trace *t, const void *image, size_t len, struct diag *d);
/* The .hbt file fd of size bytes mapped into t, read as an image. */
int trace_map_hbt(struct trace *t, int fd, size_t size, struct diag *d);

/* Importers of other recorders' logs (import.h), one file each. */
/* malloc-bench protobuf Tracefile (gzip-compressed protobuf) (mallocbench.c) */
bool trace_probe_mallocbench(const unsigned char *head, size_t n);
int trace_read_mallocbench(struct trace *t, struct src *s, struct diag *d);
/* heaptrack data file (the interpreted text of heaptrack.PROG.PID.zst/.gz) (heaptrack.c) */
bool trace_probe_heaptrack(const unsigned char *head, size_t n);
int trace_read_heaptrack(struct trace *t, struct src *s, struct diag *d);
/* Android malloc_debug record_allocs text (TID: malloc PTR SIZE ...) (android.c) */
bool trace_probe_android(const unsigned char *head, size_t n);
int trace_read_android(struct trace *t, struct src *s, struct diag *d);
/* glibc mtrace (MALLOC_TRACE) log (mtrace.c) */
bool trace_probe_mtrace(const unsigned char *head, size_t n);
int trace_read_mtrace(struct trace *t, struct src *s, struct diag *d);
/* valgrind --trace-malloc=yes log (valgrind.c) */
bool trace_probe_valgrind(const unsigned char *head, size_t n);
int trace_read_valgrind(struct trace *t, struct src *s, struct diag *d);
/* Mozilla logalloc (PID TID malloc(42)=#1) (logalloc.c) */
bool trace_probe_logalloc(const unsigned char *head, size_t n);
int trace_read_logalloc(struct trace *t, struct src *s, struct diag *d);
/* ltrace log of the allocation calls (ltrace.c) */
bool trace_probe_ltrace(const unsigned char *head, size_t n);
int trace_read_ltrace(struct trace *t, struct src *s, struct diag *d);
/* NAME(ARGS) = RESULT call logs (jemalloc utrace via kdump and similar) (calllog.c) */
bool trace_probe_calllog(const unsigned char *head, size_t n);
int trace_read_calllog(struct trace *t, struct src *s, struct diag *d);

/* Native text and .rep (text.c): anything that is not binary.  The
 * catch-all: it stays the last row of the loader's table. */
bool trace_probe_text(const unsigned char *head, size_t n);
int trace_read_text(struct trace *t, struct src *s, struct diag *d);

/* ---- Shared by the builder and the verifier ----------------------------- */

/* Formats a problem into buf and returns buf (verify.c). */
const char *trace_say(char *buf, size_t len, const char *fmt, ...) HB_PRINTF(3, 4);

/* What one op says about itself, independent of the others (kind, flags,
 * size, calloc overflow, alignment): NULL if fine, else the problem, in buf.
 * Inline: the builder and the verifier run it on every op, and only a
 * problem costs a call. */
static inline const char *trace_op_check(const struct trace_op *op, char *buf, size_t len)
{
	if (op->kind >= TRACE_NKINDS)
		return trace_say(buf, len, "unknown op kind %u", op->kind);
	if (op->flags & ~TRACE_F_ALL)
		return trace_say(buf, len, "unknown flags 0x%x", op->flags);
	if ((op->flags & TRACE_F_REALLOC_NULL) && op->kind != TRACE_ALLOC)
		return trace_say(buf, len, "realloc-of-NULL flag on a non-alloc op");
	if ((op->flags & TRACE_F_REALLOC_ZERO) &&
	    (op->kind != TRACE_FREE || op->id == TRACE_ID_NULL))
		return trace_say(buf, len, "realloc-to-zero flag on a non-free op");
	if (op->size > TRACE_SIZE_MAX)
		return trace_say(buf, len,
				 "size %" PRIu64 " exceeds the largest request (%" PRIu64 ")",
				 op->size, TRACE_SIZE_MAX);
	switch (op->kind) {
	case TRACE_CALLOC: {
		uint64_t total;
		if (__builtin_mul_overflow(op->arg, op->size, &total) || total > TRACE_SIZE_MAX)
			return trace_say(buf, len, "calloc(%" PRIu64 ", %" PRIu64 ") overflows",
					 op->arg, op->size);
		break;
	}
	case TRACE_MEMALIGN:
		if (op->arg == 0 || (op->arg & (op->arg - 1)) || op->arg > TRACE_ALIGN_MAX)
			return trace_say(buf, len,
					 "alignment %" PRIu64
					 " is not a power of two from 1 to 2^40",
					 op->arg);
		break;
	case TRACE_REALLOC:
		if (op->size == 0)
			return trace_say(buf, len, "realloc to size 0 must be stored as a free");
		/* fall through */
	default:
		if (op->arg != 0)
			return trace_say(buf, len, "unexpected argument %" PRIu64, op->arg);
	}
	if (op->kind == TRACE_FREE && op->size != 0)
		return trace_say(buf, len, "free with a size");
	return NULL;
}

/* Records that op `op` comes from source line `line` (line map of
 * trace.h).  Inline: a text reader calls it for every op, and nearly every
 * op continues the last mark, which costs only the comparison. */
void trace_add_mark(struct trace *t, uint64_t op, uint64_t line);
static inline void trace_mark_line(struct trace *t, uint64_t op, uint64_t line)
{
	if (t->nmarks) {
		const struct trace_linemark *m = &t->marks[t->nmarks - 1];
		if (m->line + (op - m->op) == line)
			return;
	}
	trace_add_mark(t, op, line);
}

#endif
