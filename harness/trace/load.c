/*
 * load.c - the one loader: opens a trace file, decompressed by magic
 * (src.h), and hands it to the first reader whose probe recognises its
 * first bytes.  Formats are chosen by content, never by name (DESIGN §3).
 *
 * The readers' table is the one place that lists the formats; a new
 * reader or importer is one row (see internal.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trace/hbt.h"
#include "trace/internal.h"

/* A .hbt file is mapped, a compressed one inflated into memory (hbt.c
 * reads the image; it needs no stream, for the 32-bit worker's sake). */
/* The bytes a .hbt header declares (its metadata's end or its records'
 * and times' end, the further), saturating: what inflating it will take. */
static uint64_t hbt_declared(const struct hbt_header *h)
{
	uint64_t rec = (uint64_t)h->record_size + (h->flags & HBT_F_TIMES ? 8 : 0), ops, end;
	if (__builtin_mul_overflow(h->op_count, rec, &ops) ||
	    __builtin_add_overflow(ops, h->ops_offset, &end))
		return UINT64_MAX;
	uint64_t meta;
	if (__builtin_add_overflow(h->meta_offset, h->meta_size, &meta))
		return UINT64_MAX;
	return end > meta ? end : meta;
}

int trace_read_hbt(struct trace *t, struct src *s, struct diag *d)
{
	t->format = TRACE_FMT_HBT;
	struct stat st;
	if (s->comp == TRACE_COMP_NONE && fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode))
		return trace_map_hbt(t, s->fd, (size_t)st.st_size, d);
	/* a compressed image is inflated whole: refused before, when its
	 * header asks for more than the machine can spare */
	struct hbt_header h;
	uint64_t budget = memory_budget();
	if (src_peek(s, sizeof h) >= (long)sizeof h) {
		memcpy(&h, s->buf + s->pos, sizeof h);
		uint64_t need = hbt_declared(&h);
		if (need > budget)
			return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP,
					  "its header declares %" PRIu64 " %s of .hbt, more than "
					  "the %s heapbench may hold: decompress it (zstd -d), a "
					  "plain .hbt is mapped, not held",
					  need >= (1u << 20) ? need >> 20 : need >> 10,
					  need >= (1u << 20) ? "MiB" : "KiB", memory_budget_said());
	}
	size_t len;
	if (src_slurp(s, budget, &t->blob, &len) < 0)
		return -1;
	return trace_open_hbt_image(t, t->blob, len, d);
}

/* In probing order: the specific formats first, the text catch-all last. */
static const struct trace_reader readers[] = {
	{"hbt", trace_probe_hbt, trace_read_hbt},
	/* other recorders' logs (import.h), the most specific first: ltrace's
	 * and valgrind's lines are also call logs */
	{"malloc-bench", trace_probe_mallocbench, trace_read_mallocbench},
	{"heaptrack", trace_probe_heaptrack, trace_read_heaptrack},
	{"android", trace_probe_android, trace_read_android},
	{"mtrace", trace_probe_mtrace, trace_read_mtrace},
	{"valgrind", trace_probe_valgrind, trace_read_valgrind},
	{"logalloc", trace_probe_logalloc, trace_read_logalloc},
	{"ltrace", trace_probe_ltrace, trace_read_ltrace},
	{"calllog", trace_probe_calllog, trace_read_calllog},
	{"text", trace_probe_text, trace_read_text},
};

/* The reader for the opened stream s, by its first bytes, or NULL
 * (reported). */
static const struct trace_reader *reader_of(struct src *s, struct diag *d)
{
	long n = src_peek(s, TRACE_PROBE_BYTES);
	if (n < 0)
		return NULL;
	if (n == 0) { /* src_open refuses empty files: an empty compressed stream */
		diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "empty trace");
		return NULL;
	}
	const unsigned char *head = (const unsigned char *)s->buf + s->pos;
	for (size_t i = 0; i < HB_ARRAY_LEN(readers); i++)
		if (readers[i].probe(head, (size_t)n))
			return &readers[i];
	/* one layer is undone (src.c); a second is named, not guessed at */
	static const char *const layer[] = {
		[TRACE_COMP_ZSTD] = "zstd", [TRACE_COMP_GZIP] = "gzip", [TRACE_COMP_ZIP] = "zip"};
	const char *inner = n >= 4 && !memcmp(head, "\x28\xb5\x2f\xfd", 4) ? "zstd"
			    : n >= 2 && head[0] == 0x1f && head[1] == 0x8b ? "gzip"
			    : n >= 4 && !memcmp(head, "PK\x03\x04", 4)     ? "zip"
									   : NULL;
	if (inner && s->comp != TRACE_COMP_NONE && s->comp < HB_ARRAY_LEN(layer) && layer[s->comp])
		diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP,
			   "compressed twice (%s inside %s): heapbench undoes one layer; "
			   "decompress the outer one first",
			   inner, layer[s->comp]);
	else
		diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP,
			   "not a trace: binary data that is neither .hbt, zstd nor gzip");
	return NULL;
}

/* Reads the opened stream s into t with the reader its content names. */
static int load_by_content(struct trace *t, struct src *s, struct diag *d)
{
	const struct trace_reader *r = reader_of(s, d);
	return r ? r->read(t, s, d) : -1;
}

const char *trace_recognise(const char *path)
{
	struct diag d;
	diag_init(&d, path, false);
	struct src s;
	if (src_open(&s, path, &d) < 0)
		return NULL;
	const struct trace_reader *r = reader_of(&s, &d);
	src_close(&s);
	return r ? r->name : NULL;
}

static struct trace *load(const char *path, struct diag *d, bool split)
{
	struct trace *t = trace_new(path);
	t->split_processes = split;
	struct src s;
	if (src_open(&s, path, d) < 0) {
		trace_free(t);
		return NULL;
	}
	t->compression = s.comp;
	int rc = load_by_content(t, &s, d);
	src_close(&s);
	if (rc < 0) {
		trace_free(t);
		return NULL;
	}
	return t;
}

struct trace *trace_load(const char *path, struct diag *d)
{
	return load(path, d, false);
}

/* t, unless it is a .hbt that trace_verify refuses (then freed). */
static struct trace *verified(struct trace *t, struct diag *d)
{
	if (t && t->format == TRACE_FMT_HBT && trace_verify(t, d) < 0) {
		trace_free(t);
		return NULL;
	}
	return t;
}

struct trace *trace_load_processes(const char *path, struct diag *d)
{
	return verified(load(path, d, true), d);
}

struct trace *trace_load_verified(const char *path, struct diag *d)
{
	return verified(trace_load(path, d), d);
}

struct trace *trace_load_file(const char *path, bool quiet)
{
	struct diag d;
	diag_init(&d, path, false);
	d.quiet = quiet;
	struct trace *t = trace_load_verified(path, &d);
	diag_finish(&d);
	return t;
}
