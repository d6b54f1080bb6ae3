/*
 * rss_reference.c - an independent check of heapbench's physical footprint
 * (issue 14, `make bench-footprint`).
 *
 *   rss_reference [--runs N] TRACE.trace
 *       prints "peak_live_bytes peak_footprint_bytes utilization ops", one
 *       line per run: with --runs N the trace is replayed N times in the
 *       process, everything freed between runs, each run's footprint over
 *       the same baseline, the library asked between runs to give back
 *       what it holds free (malloc_trim, jemalloc's arena purge,
 *       mi_collect, tcmalloc's ReleaseFreeMemory, whichever exists): what
 *       heapbench's timed_peak_footprint_bytes measures, the trace again on
 *       an allocator that has run it once
 *
 * A deliberately small program that shares nothing with heapbench (only
 * libc): it replays a native text trace (traces/README.md) with the
 * process's own malloc, calloc, posix_memalign, realloc and free (run it
 * with LD_PRELOAD=libjemalloc.so.2 etc. to measure another allocator),
 * writes one byte in every page of every allocated byte range, as a program
 * using its memory would, and reads the kernel's resident-set size after
 * every op (anonymous pages only).  footprint = RSS - baseline, where the baseline is the RSS
 * after the trace is loaded, the reference's own memory is touched, and
 * each allocation call has been made once (warm-up).  The reference's own
 * memory (the file buffer, the op array, the id table) comes from mmap, so
 * the allocator under test never holds any of it, and it is all resident
 * before the baseline, so the footprint is the allocator's alone.
 *
 * Errors: one line on stderr, "rss_reference: FILE:LINE: what" (FILE: what
 * for the file as a whole), exit 2.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_ALLOC, OP_CALLOC, OP_MEMALIGN, OP_REALLOC, OP_FREE };
#define ID_NULL UINT32_MAX

struct op {
	uint64_t size, arg; /* arg: calloc's nmemb, memalign's alignment */
	uint32_t id, line;
	uint8_t kind;
};
struct block {
	char *p;
	uint64_t size;
	int live;
};

static const char *path;
static size_t page;
static int statm_fd = -1;

static _Noreturn void fail(unsigned long line, const char *what)
{
	if (line)
		fprintf(stderr, "rss_reference: %s:%lu: %s\n", path, line, what);
	else
		fprintf(stderr, "rss_reference: %s: %s\n", path, what);
	exit(2);
}

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED)
		fail(0, strerror(errno));
	return p;
}

/* Resident anonymous bytes: statm's resident (field 2) less its shared
 * (field 3: file-backed and shared pages), through one open descriptor.
 * Library code that faults in during the replay is file-backed: it is no
 * allocator's footprint (on small traces it was up to 7 points of
 * tcmalloc's). */
static uint64_t rss(void)
{
	char buf[128];
	ssize_t n = pread(statm_fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		fail(0, "cannot read /proc/self/statm");
	buf[n] = '\0';
	char *s = strchr(buf, ' '), *e;
	if (!s)
		fail(0, "bad /proc/self/statm");
	uint64_t resident = strtoull(s + 1, &e, 10), shared = strtoull(e, NULL, 10);
	if (shared > resident)
		fail(0, "bad /proc/self/statm");
	return (resident - shared) * page;
}

/* One write in every page that [p, p+n) overlaps. */
static void touch(char *p, uint64_t n)
{
	if (!n)
		return;
	volatile char *v = p;
	v[0] = 1;
	uintptr_t a = ((uintptr_t)p / page + 1) * page, end = (uintptr_t)p + n;
	for (; a < end; a += page)
		v[a - (uintptr_t)p] = 1;
}

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A decimal field: below 2^63, or -1 when minus_one is allowed. */
static uint64_t field(char **s, unsigned long line, int minus_one, int *is_minus_one)
{
	while (blank(**s))
		(*s)++;
	if (minus_one && (*s)[0] == '-' && (*s)[1] == '1' && ((*s)[2] == '\0' || blank((*s)[2]))) {
		*s += 2;
		*is_minus_one = 1;
		return 0;
	}
	if (**s < '0' || **s > '9')
		fail(line, "expected a number");
	char *end;
	errno = 0;
	uint64_t v = strtoull(*s, &end, 10);
	if (errno || v > INT64_MAX)
		fail(line, "number out of range");
	if (*end != '\0' && !blank(*end))
		fail(line, "bad number");
	*s = end;
	return v;
}

/* Parses one op line (comment and line end already cut off); 0 if blank. */
static int parse(char *s, unsigned long line, struct op *op, uint64_t max_ids)
{
	while (blank(*s))
		s++;
	if (!*s)
		return 0;
	if (*s >= '0' && *s <= '9') { /* thread prefix "T: " (ignored: one thread) */
		while (*s >= '0' && *s <= '9')
			s++;
		if (*s++ != ':')
			fail(line, "bad thread prefix");
		while (blank(*s))
			s++;
	}
	static const char letters[] = "acmrf";
	const char *k = *s ? strchr(letters, *s) : NULL;
	if (!k || (s[1] != '\0' && !blank(s[1])))
		fail(line, "unknown op");
	s++;
	memset(op, 0, sizeof *op);
	op->kind = (uint8_t)(k - letters);
	op->line = (uint32_t)line;
	int null = 0;
	uint64_t id = field(&s, line, op->kind == OP_FREE, &null);
	if (null)
		op->id = ID_NULL;
	else if (id >= max_ids)
		fail(line, "id out of range");
	else
		op->id = (uint32_t)id;
	if (op->kind == OP_CALLOC || op->kind == OP_MEMALIGN)
		op->arg = field(&s, line, 0, &null);
	if (op->kind != OP_FREE)
		op->size = field(&s, line, 0, &null);
	while (blank(*s))
		s++;
	if (*s)
		fail(line, "extra fields");
	if (op->kind == OP_CALLOC && op->arg && op->size > INT64_MAX / op->arg)
		fail(line, "calloc size overflows");
	if (op->kind == OP_MEMALIGN && (op->arg == 0 || (op->arg & (op->arg - 1))))
		fail(line, "alignment is not a power of two");
	return 1;
}

/* One run of the trace from an empty id table, which it leaves empty: its
 * line of output, the footprint over base. */
static void replay(const struct op *ops, uint64_t nops, struct block *ids, uint64_t nids,
		   uint64_t base)
{
	uint64_t live = 0, peak_live = 0, peak_fp = 0;
	for (uint64_t i = 0; i < nops; i++) {
		const struct op *op = &ops[i];
		struct block *b = op->id == ID_NULL ? NULL : &ids[op->id];
		uint64_t size = op->kind == OP_CALLOC ? op->arg * op->size : op->size;
		if (op->kind == OP_REALLOC && b->live && size == 0) { /* r ID 0 frees */
			free(b->p);
			live -= b->size;
			b->live = 0;
		} else if (op->kind == OP_FREE) {
			if (b && !b->live)
				fail(op->line, "free of an id that is not live");
			if (b) {
				free(b->p);
				live -= b->size;
				b->live = 0;
			} else {
				free(NULL);
			}
		} else if (op->kind == OP_REALLOC && b->live) {
			char *p = realloc(b->p, size);
			if (!p)
				fail(op->line, "realloc failed");
			touch(p, size); /* the whole block: a moved block is new memory */
			live = live - b->size + size;
			b->p = p;
			b->size = size;
		} else {
			if (b->live)
				fail(op->line, "allocation of a live id");
			void *p;
			switch (op->kind) {
			case OP_CALLOC: p = calloc(op->arg, op->size); break;
			case OP_MEMALIGN:
				if (posix_memalign(
					    &p, op->arg < sizeof(void *) ? sizeof(void *) : op->arg,
					    size))
					p = NULL;
				break;
			default: p = malloc(size); /* a, and r of an id that is not live */
			}
			if (!p && size)
				fail(op->line, "allocation failed");
			touch(p, size);
			live += size;
			*b = (struct block){p, size, 1};
		}
		if (live > peak_live)
			peak_live = live;
		uint64_t r = rss();
		if (r > base && r - base > peak_fp)
			peak_fp = r - base;
	}
	printf("%llu %llu %.6f %llu\n", (unsigned long long)peak_live, (unsigned long long)peak_fp,
	       peak_fp ? (double)peak_live / (double)peak_fp : 0.0, (unsigned long long)nops);
	for (uint64_t id = 0; id < nids; id++)
		if (ids[id].live) {
			free(ids[id].p);
			ids[id].live = 0;
		}
}

/* The library's free memory back to the system, by whichever call it has. */
static void release(void)
{
	malloc_trim(0);
	int (*ctl)(const char *, void *, size_t *, void *, size_t);
	void (*collect)(bool), (*give)(void);
	*(void **)&ctl = dlsym(RTLD_DEFAULT, "mallctl");
	*(void **)&collect = dlsym(RTLD_DEFAULT, "mi_collect");
	*(void **)&give = dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
	if (ctl)
		ctl("arena.4096.purge", NULL, NULL, NULL, 0);
	if (collect)
		collect(true);
	if (give)
		give();
}

int main(int argc, char **argv)
{
	long runs = 1;
	if (argc == 4 && !strcmp(argv[1], "--runs"))
		runs = strtol(argv[2], NULL, 10);
	if ((argc != 2 && argc != 4) || runs < 1) {
		fprintf(stderr, "usage: rss_reference [--runs N] TRACE.trace\n");
		return 2;
	}
	path = argv[argc - 1];
	/* stdout's buffer is not the allocator's: it would be in the second run */
	static char outbuf[4096];
	setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
	page = (size_t)sysconf(_SC_PAGESIZE);
	statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (statm_fd < 0)
		fail(0, "cannot open /proc/self/statm");

	/* the whole file into an mmap buffer, NUL-terminated */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		fail(0, strerror(errno));
	size_t len = (size_t)st.st_size;
	char *text = map(len + 1);
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, text + got, len - got);
		if (n <= 0)
			fail(0, n ? strerror(errno) : "file shrank while read");
		got += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (memchr(text, '\0', len))
		fail(0, "NUL byte in the file");

	/* ops <= lines, and dense (or sequential) ids < ops */
	uint64_t lines = 1;
	for (char *c = text; (c = strchr(c, '\n')); c++)
		lines++;
	struct op *ops = map(lines * sizeof *ops);
	uint64_t nops = 0, nids = 0;
	unsigned long line = 0;
	for (char *s = text; s; line++) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		char *cut = strchr(s, '#'); /* comments and metadata */
		if (cut)
			*cut = '\0';
		cut = strchr(s, '\r');
		if (cut)
			*cut = '\0';
		if (parse(s, line + 1, &ops[nops], lines)) {
			if (ops[nops].id != ID_NULL && ops[nops].id >= nids)
				nids = ops[nops].id + 1;
			nops++;
		}
		s = nl ? nl + 1 : NULL;
	}
	munmap(text, len + 1);
	struct block *ids = map(nids * sizeof *ids);
	memset(ids, 0, nids * sizeof *ids); /* resident before the baseline */

	/* warm-up: each call once, so that its first use does not count */
	void *w = malloc(1);
	w = realloc(w, 2);
	free(w);
	free(calloc(1, 1));
	if (!posix_memalign(&w, 64, 1))
		free(w);
	const uint64_t base = rss();

	for (long run = 0; run < runs; run++) {
		if (run)
			release();
		replay(ops, nops, ids, nids, base);
	}
	return 0;
}
