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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "recorder/raw.h"
#include "trace/builder.h"

/* ---- One record --------------------------------------------------------- */

/* A conversion: the builder, the counts, the time of the record at hand. */
struct conv {
	struct trace_builder *b;
	struct recorder_info *info;
	uint64_t ns; /* the record's time, since the log's first record */
	bool timed;  /* the log's ticks can be turned into ns */
};

/* Feeds one op to the builder; -1 if it refused (reported).  Source ids
 * are the addresses themselves: the builder follows a realloc that moves a
 * block to its new address (to). */
static int emit(struct conv *c, char kind, uint64_t addr, uint64_t size, uint64_t arg, uint32_t tid,
		uint64_t to)
{
	struct trace_srcop op = {.kind = kind,
				 .id = addr ? (int64_t)addr : -1,
				 .size = size,
				 .arg = arg,
				 .thread = tid,
				 .to = to ? to + 1 : 0,
				 .opno = c->info->ops,
				 .time = c->ns,
				 .timed = c->timed};
	c->info->ops++;
	return trace_builder_add(c->b, &op);
}

/* A block the program got at addr, which must not be live: if it is, the
 * program freed it in a way we did not see (say, inside the C library),
 * and the trace frees it first. */
static int claim(struct conv *c, uint64_t addr, uint32_t tid)
{
	if (!trace_builder_live(c->b, (int64_t)addr))
		return 0;
	c->info->unseen_frees++;
	return emit(c, 'f', addr, 0, 0, tid, 0);
}

static uint64_t pow2_at_least(uint64_t a)
{
	uint64_t p = 1;
	while (p < a && p < TRACE_ALIGN_MAX)
		p <<= 1;
	return p;
}

/* One raw record, in order: 0, or -1 if the builder refused it. */
static int convert_one(struct conv *c, const struct raw_record *r)
{
	struct recorder_info *info = c->info;
	bool known = r->in && trace_builder_live(c->b, (int64_t)r->in);
	int rc = 0;
	switch (r->kind) {
	case RAW_MALLOC:
	case RAW_CALLOC:
	case RAW_MEMALIGN: {
		char kind = r->kind == RAW_MALLOC ? 'a' : r->kind == RAW_CALLOC ? 'c' : 'm';
		uint64_t arg = r->kind == RAW_MEMALIGN ? pow2_at_least(r->arg) : r->arg;
		info->allocs++;
		return claim(c, r->out, r->tid) || emit(c, kind, r->out, r->size, arg, r->tid, 0);
	}
	case RAW_REALLOC:
		if (!r->in) { /* realloc(NULL, n): a dead id, which the builder spells */
			info->allocs++;
			return claim(c, r->out, r->tid) ||
			       emit(c, 'r', r->out, r->size, 0, r->tid, 0);
		}
		if (!known) { /* a block from before the recording: now a new one */
			info->unknown_reallocs++;
			if (!r->out)
				return 0;
			info->allocs++;
			return claim(c, r->out, r->tid) ||
			       emit(c, 'a', r->out, r->size, 0, r->tid, 0);
		}
		if (r->size == 0) { /* realloc(p, 0) freed p ... */
			info->frees++;
			rc = emit(c, 'r', r->in, 0, 0, r->tid, 0);
			if (rc == 0 && r->out) { /* ... and returned a new block */
				info->allocs++;
				rc = claim(c, r->out, r->tid) ||
				     emit(c, 'a', r->out, 0, 0, r->tid, 0);
			}
			return rc;
		}
		if (r->out != r->in && claim(c, r->out, r->tid))
			return -1;
		return emit(c, 'r', r->in, r->size, 0, r->tid, r->out);
	case RAW_FREE:
		if (!r->in)
			return emit(c, 'f', 0, 0, 0, r->tid, 0);
		if (!known) {
			info->unknown_frees++;
			return 0;
		}
		info->frees++;
		return emit(c, 'f', r->in, 0, 0, r->tid, 0);
	default: return 0; /* RAW_NONE: a failed call */
	}
}

/* ---- Time ----------------------------------------------------------------- */

#if RAW_TICKS_TSC
static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the CPU says its time-stamp counter runs at one rate, in every
 * power state (/proc/cpuinfo's flags): then it is a clock. */
static bool tsc_invariant(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	bool yes = false;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5)) {
			yes = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
			break;
		}
	if (f)
		fclose(f);
	return yes;
}
#endif

/* ns per tick of raw_ticks on this machine (the machine that recorded:
 * heapbench record converts right after the program), or 0 when ticks are
 * not a clock here.  The counter's rate is measured once, against
 * CLOCK_MONOTONIC over 20 ms (relative error about 1e-4). */
static double ns_per_tick(void)
{
	static double rate = -1;
	if (rate >= 0)
		return rate;
#if RAW_TICKS_TSC
	rate = 0;
	if (!tsc_invariant())
		return rate;
	uint64_t n0 = monotonic_ns(), t0 = raw_ticks();
	struct timespec pause = {0, 20000000};
	while (nanosleep(&pause, &pause) && errno == EINTR)
		;
	uint64_t n1 = monotonic_ns(), t1 = raw_ticks();
	rate = t1 > t0 ? (double)(n1 - n0) / (double)(t1 - t0) : 0;
#else
	rate = 1;
#endif
	return rate;
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
	double rate = ns_per_tick();
	struct conv c = {b, info, 0, rate > 0};
	uint64_t first = maxseq && at[1] != UINT32_MAX ? log.rec[at[1]].ticks : 0;
	int rc = 0;
	enum { AHEAD = 16 }; /* the map's cache misses overlap */
	for (uint64_t s = 1; s <= maxseq && rc == 0; s++) {
		if (s + AHEAD <= maxseq && at[s + AHEAD] != UINT32_MAX) {
			const struct raw_record *f = &log.rec[at[s + AHEAD]];
			trace_builder_prefetch(b, (int64_t)(f->in ? f->in : f->out));
		}
		if (at[s] == UINT32_MAX)
			info->lost++;
		else {
			const struct raw_record *r = &log.rec[at[s]];
			/* per thread the ticks grow; across threads a call may read
			 * them just before an earlier one: the builder allows it */
			c.ns = r->ticks > first ? (uint64_t)((double)(r->ticks - first) * rate) : 0;
			rc = convert_one(&c, r);
		}
	}
	info->peak_live = trace_builder_peak_live(b);
	trace_builder_finish(b);
	diag_finish(&d);
	info->threads = t->nthreads;
	free(at);
	munmap((void *)log.map, log.len);
	return rc;
}
