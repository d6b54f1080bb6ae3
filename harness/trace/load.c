/*
 * load.c - the one loader: opens a trace file, decompressed by magic
 * (src.h), and hands it to the first reader whose probe recognises its
 * first bytes.  Formats are chosen by content, never by name (DESIGN §3).
 *
 * The readers' table is the one place that lists the formats; a new
 * reader or importer is one row (see internal.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trace/internal.h"

/* A .hbt file is mapped, a compressed one inflated into memory (hbt.c
 * reads the image; it needs no stream, for the 32-bit worker's sake). */
int trace_read_hbt(struct trace *t, struct src *s, struct diag *d)
{
	t->format = TRACE_FMT_HBT;
	struct stat st;
	if (s->comp == TRACE_COMP_NONE && fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode))
		return trace_map_hbt(t, s->fd, (size_t)st.st_size, d);
	size_t len;
	if (src_slurp(s, &t->blob, &len) < 0)
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

/* Reads the opened stream s into t with the reader its content names. */
static int load_by_content(struct trace *t, struct src *s, struct diag *d)
{
	long n = src_peek(s, TRACE_PROBE_BYTES);
	if (n < 0)
		return -1;
	if (n == 0) /* src_open refuses empty files: an empty compressed stream */
		return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "empty trace");
	const unsigned char *head = (const unsigned char *)s->buf + s->pos;
	for (size_t i = 0; i < HB_ARRAY_LEN(readers); i++)
		if (readers[i].probe(head, (size_t)n))
			return readers[i].read(t, s, d);
	return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP,
			  "not a trace: binary data that is neither .hbt, zstd nor gzip");
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
