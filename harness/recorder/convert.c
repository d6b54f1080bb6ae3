/*
 * convert.c - one raw log of the recorder (raw.h) into a trace.
 *
 * From pointers to ids: the raw records are placed in their global order
 * (each carries its place, so no sort), and the builder (trace/builder.h)
 * follows every block by its address from its allocation through its
 * reallocs to its free, and gives the blocks dense ids.  What a log cannot
 * explain is counted in struct recorder_info, never silent: a free or
 * realloc of an address the process never allocated while recorded (memory
 * from before the recorder started, or inherited across fork) is left out,
 * a place in the order with no record is a call cut short, and an address
 * handed out again without a free we saw is freed first.
 *
 * Costs: one pass over the log, mapped read-only; memory: the op array plus
 * 4 bytes per record for the order.
 */
#include "recorder/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder/raw.h"
#include "trace/builder.h"

/* ---- One record --------------------------------------------------------- */

/* Feeds one op to the builder; -1 if it refused (reported).  Source ids
 * are the addresses themselves: the builder follows a realloc that moves a
 * block to its new address (to). */
static int emit(struct trace_builder *b, struct recorder_info *info, char kind, uint64_t addr,
		uint64_t size, uint64_t arg, uint32_t tid, uint64_t to)
{
	struct trace_srcop op = {.kind = kind,
				 .id = addr ? (int64_t)addr : -1,
				 .size = size,
				 .arg = arg,
				 .thread = tid,
				 .to = to ? to + 1 : 0,
				 .opno = info->ops};
	info->ops++;
	return trace_builder_add(b, &op);
}

/* A block the program got at addr, which must not be live: if it is, the
 * program freed it in a way we did not see (say, inside the C library),
 * and the trace frees it first. */
static int claim(struct trace_builder *b, struct recorder_info *info, uint64_t addr, uint32_t tid)
{
	if (!trace_builder_live(b, (int64_t)addr))
		return 0;
	info->unseen_frees++;
	return emit(b, info, 'f', addr, 0, 0, tid, 0);
}

static uint64_t pow2_at_least(uint64_t a)
{
	uint64_t p = 1;
	while (p < a && p < TRACE_ALIGN_MAX)
		p <<= 1;
	return p;
}

/* One raw record, in order: 0, or -1 if the builder refused it. */
static int convert_one(struct trace_builder *b, struct recorder_info *info,
		       const struct raw_record *r)
{
	bool known = r->in && trace_builder_live(b, (int64_t)r->in);
	int rc = 0;
	switch (r->kind) {
	case RAW_MALLOC:
	case RAW_CALLOC:
	case RAW_MEMALIGN: {
		char kind = r->kind == RAW_MALLOC ? 'a' : r->kind == RAW_CALLOC ? 'c' : 'm';
		uint64_t arg = r->kind == RAW_MEMALIGN ? pow2_at_least(r->arg) : r->arg;
		info->allocs++;
		return claim(b, info, r->out, r->tid) ||
		       emit(b, info, kind, r->out, r->size, arg, r->tid, 0);
	}
	case RAW_REALLOC:
		if (!r->in) { /* realloc(NULL, n): a dead id, which the builder spells */
			info->allocs++;
			return claim(b, info, r->out, r->tid) ||
			       emit(b, info, 'r', r->out, r->size, 0, r->tid, 0);
		}
		if (!known) { /* a block from before the recording: now a new one */
			info->unknown_reallocs++;
			if (!r->out)
				return 0;
			info->allocs++;
			return claim(b, info, r->out, r->tid) ||
			       emit(b, info, 'a', r->out, r->size, 0, r->tid, 0);
		}
		if (r->size == 0) { /* realloc(p, 0) freed p ... */
			info->frees++;
			rc = emit(b, info, 'r', r->in, 0, 0, r->tid, 0);
			if (rc == 0 && r->out) { /* ... and returned a new block */
				info->allocs++;
				rc = claim(b, info, r->out, r->tid) ||
				     emit(b, info, 'a', r->out, 0, 0, r->tid, 0);
			}
			return rc;
		}
		if (r->out != r->in && claim(b, info, r->out, r->tid))
			return -1;
		return emit(b, info, 'r', r->in, r->size, 0, r->tid, r->out);
	case RAW_FREE:
		if (!r->in)
			return emit(b, info, 'f', 0, 0, 0, r->tid, 0);
		if (!known) {
			info->unknown_frees++;
			return 0;
		}
		info->frees++;
		return emit(b, info, 'f', r->in, 0, 0, r->tid, 0);
	default: return 0; /* RAW_NONE: a failed call */
	}
}

/* ---- The log in order --------------------------------------------------- */

/* A raw log, mapped. */
struct raw_log {
	const char *map;
	size_t len;
	const struct raw_record *rec;
	size_t nrec;
};

/* Maps the log at path; -1 if it cannot be read or has no header (reported). */
static int raw_map(const char *path, struct raw_log *log)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		hb_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = (size_t)st.st_size;
	const char *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED || len < RAW_HEADER_BYTES) {
		hb_error("%s: not a recorder log", path);
		if (map != MAP_FAILED)
			munmap((void *)map, len);
		return -1;
	}
	madvise((void *)map, len, MADV_SEQUENTIAL);
	log->map = map;
	log->len = len;
	log->rec = (const void *)(map + RAW_HEADER_BYTES);
	log->nrec = (len - RAW_HEADER_BYTES) / sizeof *log->rec;
	return 0;
}

/* The index of the record at each place 1..*maxseq, UINT32_MAX where none
 * is: seqs are dense from 1, so placing each record is the whole sort. */
static uint32_t *raw_order(const struct raw_log *log, uint64_t *maxseq)
{
	const struct raw_record *rec = log->rec;
	uint64_t max = 0;
	for (size_t i = 0; i < log->nrec; i++)
		if (rec[i].seq > max && rec[i].seq <= log->nrec)
			max = rec[i].seq;
	uint32_t *at = xmalloc((max + 1) * sizeof *at);
	memset(at, 0xff, (max + 1) * sizeof *at);
	for (size_t i = 0; i < log->nrec; i++)
		if (rec[i].seq && rec[i].seq <= max)
			at[rec[i].seq] = (uint32_t)i;
	*maxseq = max;
	return at;
}

int recorder_convert(const char *path, struct trace *t, struct recorder_info *info)
{
	struct raw_log log;
	if (raw_map(path, &log) < 0)
		return -1;
	uint64_t maxseq;
	uint32_t *at = raw_order(&log, &maxseq);

	struct diag d;
	diag_init(&d, path, false);
	struct trace_builder *b = trace_builder_new(t, &d);
	int rc = 0;
	enum { AHEAD = 16 }; /* the map's cache misses overlap */
	for (uint64_t s = 1; s <= maxseq && rc == 0; s++) {
		if (s + AHEAD <= maxseq && at[s + AHEAD] != UINT32_MAX) {
			const struct raw_record *f = &log.rec[at[s + AHEAD]];
			trace_builder_prefetch(b, (int64_t)(f->in ? f->in : f->out));
		}
		if (at[s] == UINT32_MAX)
			info->lost++;
		else
			rc = convert_one(b, info, &log.rec[at[s]]);
	}
	info->peak_live = trace_builder_peak_live(b);
	trace_builder_finish(b);
	diag_finish(&d);
	info->threads = t->nthreads;
	free(at);
	munmap((void *)log.map, log.len);
	return rc;
}
