/*
 * trace.c - the trace model: lifecycle, metadata, the source-line map, the
 * names of formats and the one table of trace file endings.  Everything
 * else in trace/ builds on this file; it calls none of it (internal.h).
 */
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "trace/internal.h"

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

static void trace_free_one(struct trace *t)
{
	for (size_t i = 0; i < t->nmeta; i++) {
		free(t->meta[i].key);
		free(t->meta[i].value);
	}
	free(t->meta);
	free(t->marks);
	free(t->owned);
	free(t->owned_times);
	free(t->blob);
	if (t->map)
		munmap(t->map, t->maplen);
	free(t->path);
	free(t);
}

void trace_free(struct trace *t)
{
	while (t) {
		struct trace *next = t->next_process;
		trace_free_one(t);
		t = next;
	}
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

void trace_add_mark(struct trace *t, uint64_t op, uint64_t line)
{
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
	const char *base = t->format == TRACE_FMT_HBT      ? "hbt"
			   : t->format == TRACE_FMT_TEXT   ? "text"
			   : t->format == TRACE_FMT_IMPORT ? t->import_format
							   : dialects[t->rep_dialect];
	const char *comp = t->compression == TRACE_COMP_ZSTD   ? "+zst"
			   : t->compression == TRACE_COMP_GZIP ? "+gz"
			   : t->compression == TRACE_COMP_ZIP  ? "+zip"
							       : "";
	snprintf(buf, len, "%s%s", base, comp);
	return buf;
}

/* ---- File names ---------------------------------------------------------- */

/* Every ending a trace file name may have, once.  The order is the order
 * trace_short_name strips them in, and compressions come first: they are
 * the outer ending (x.trace.zst). */
static const struct {
	const char *ext;
	bool compression;
	int value; /* enum trace_compression if compression, else enum trace_outfmt */
} trace_exts[] = {
	{".zst", true, TRACE_COMP_ZSTD},   {".gz", true, TRACE_COMP_GZIP},
	{".trace", false, TRACE_OUT_TEXT}, {".hbt", false, TRACE_OUT_HBT},
	{".rep", false, TRACE_OUT_REP},
};

/* Whether the first n bytes of name end with ext, with something before it. */
static bool ends_with(const char *name, size_t n, const char *ext)
{
	size_t el = strlen(ext);
	return n > el && !strncmp(name + n - el, ext, el);
}

int trace_outfmt_from_name(const char *name, enum trace_outfmt *fmt, enum trace_compression *comp)
{
	size_t n = strlen(name), i = 0;
	*comp = TRACE_COMP_NONE;
	/* at most one compression ending, then exactly one format ending */
	for (; i < HB_ARRAY_LEN(trace_exts) && trace_exts[i].compression; i++)
		if (ends_with(name, n, trace_exts[i].ext)) {
			*comp = (enum trace_compression)trace_exts[i].value;
			n -= strlen(trace_exts[i].ext);
			break;
		}
	for (i = 0; i < HB_ARRAY_LEN(trace_exts); i++)
		if (!trace_exts[i].compression && ends_with(name, n, trace_exts[i].ext)) {
			*fmt = (enum trace_outfmt)trace_exts[i].value;
			return 0;
		}
	return -1;
}

int trace_check_out_name(const char *name)
{
	enum trace_outfmt fmt;
	enum trace_compression comp;
	if (trace_outfmt_from_name(name, &fmt, &comp) == 0)
		return 0;
	hb_error("%s: unknown output format: name it .trace, .hbt or .rep "
		 "(optionally followed by .zst or .gz)",
		 name);
	return -1;
}

void trace_short_name(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : path);
	for (size_t i = 0; i < HB_ARRAY_LEN(trace_exts); i++) {
		size_t n = strlen(buf);
		if (ends_with(buf, n, trace_exts[i].ext))
			buf[n - strlen(trace_exts[i].ext)] = '\0';
	}
}
