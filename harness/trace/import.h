/*
 * import.h - what every importer of another recorder's log shares.
 *
 * An importer (valgrind.c, ltrace.c, ...) parses its log's lines into
 * calls as the log spells them: addresses, results, a thread, perhaps a
 * time.  import_call turns each into trace ops through the builder
 * (builder.h: addresses become dense ids), and handles the realities of
 * recorded logs with one policy each, counted, never silent
 * (traces/README.md, "Importing other recorders' logs"):
 *
 *   unknown-frees      free of an address never seen allocated (memory
 *                      from before tracing began): dropped;
 *   unknown-reallocs   realloc of such an address: the allocation of the
 *                      new block (its old size is unknown);
 *   lost-frees         an allocation returning an address that is still
 *                      live (the log missed its free): the old block is
 *                      freed just before;
 *   failed-calls       NULL results: not replayed (a failed realloc
 *                      leaves its block as it was);
 *   zero-sizes         requests of 0 bytes that returned a block: kept, as
 *                      allocations of size 0;
 *   truncated-lines    a last line cut off (no newline, not parseable):
 *                      dropped;
 *   other-lines        lines that are not calls (banners, the program's
 *                      own output, other functions): skipped;
 *   other-processes    calls of processes other than the first one seen
 *                      (one trace per process, as `record` writes):
 *                      left out; `processes` says how many there were.
 *                      A load that asks for every process
 *                      (trace_load_processes) gets one trace each instead,
 *                      built side by side in one pass.
 *
 * Costs: two hash lookups per call (the builder's and the liveness check
 * here); memory O(live blocks), the log itself is streamed (src.h).
 */
#ifndef HB_TRACE_IMPORT_H
#define HB_TRACE_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "trace/idmap.h"
#include "trace/src.h"
#include "trace/trace.h"

#define IMPORT_COUNT_LIST(X)                                                                       \
	X(IMPORT_UNKNOWN_FREES, "unknown-frees", "frees of addresses never allocated (dropped)")   \
	X(IMPORT_UNKNOWN_REALLOCS, "unknown-reallocs",                                             \
	  "reallocs of addresses never allocated (allocations)")                                   \
	X(IMPORT_LOST_FREES, "lost-frees", "allocations at a live address (old block freed)")      \
	X(IMPORT_FAILED_CALLS, "failed-calls", "failed calls (not replayed)")                      \
	X(IMPORT_ZERO_SIZES, "zero-sizes", "requests of 0 bytes (kept)")                           \
	X(IMPORT_TRUNCATED_LINES, "truncated-lines", "cut-off last line (dropped)")                \
	X(IMPORT_OTHER_LINES, "other-lines", "lines that are not calls (skipped)")                 \
	X(IMPORT_OTHER_PROCESSES, "other-processes", "calls of other processes (left out)")

enum import_count {
#define IMPORT_COUNT_ENUM(e, key, what) e,
	IMPORT_COUNT_LIST(IMPORT_COUNT_ENUM)
#undef IMPORT_COUNT_ENUM
		IMPORT_NCOUNTS
};
/* "unknown-frees", ...: the metadata keys are "import-" and these */
extern const char *const import_count_keys[IMPORT_NCOUNTS];
/* "frees of addresses never allocated (dropped)", ...: for `trace stats` */
extern const char *const import_count_what[IMPORT_NCOUNTS];

/* One call as a log spells it. */
struct import_call {
	char kind;        /* 'a' malloc-like, 'c' calloc, 'm' aligned, 'r' realloc, 'f' free */
	uint64_t ptr;     /* the result (a c m r), or the pointer freed (f); 0 = NULL */
	uint64_t old;     /* realloc: the pointer passed (0 = NULL) */
	uint64_t size;    /* bytes asked for (calloc: per member) */
	uint64_t arg;     /* calloc: nmemb; aligned: the alignment (0 or not a power
			     of two: rounded up to one, as glibc's memalign does) */
	uint64_t thread;  /* the log's label (an OS thread id); 0 if none */
	uint64_t time_ns; /* when the call was made, if has_time */
	bool has_time;
};

/* What is kept of each process while another one is read (split loads). */
struct import_proc {
	uint64_t pid;
	struct trace *t;
	struct trace_builder *b;
	uint64_t counts[IMPORT_NCOUNTS];
	uint64_t calls;
};

struct importer {
	/* the process being read: its trace, builder, counts and calls */
	struct trace *t;
	struct trace_builder *b;
	uint64_t counts[IMPORT_NCOUNTS];
	uint64_t calls; /* calls seen: the op numbers of messages */
	uint64_t pid;   /* once have_pid */
	bool have_pid;

	struct src *s;
	struct diag *d;
	struct idmap pids; /* every process seen (pid + 1), val its index */
	bool approximate;  /* lifetimes are guessed (heaptrack) */
	/* split (t->split_processes): every process its own trace, procs[i]
	 * the i-th process seen (procs[cur] is stale while it is read) */
	bool split;
	struct import_proc *procs;
	size_t nprocs, capprocs, cur;
};

/* Starts importing s into t; format is its name ("valgrind"), static. */
void import_begin(struct importer *im, struct trace *t, struct src *s, struct diag *d,
		  const char *format);
/* Whether calls of process pid belong to this trace (the first process
 * seen); a call of another one is counted by import_skip_call.  In a split
 * load always true: pid's trace becomes the one calls go to. */
bool import_process(struct importer *im, uint64_t pid);
/* Counts a call of another process (after import_process said no). */
void import_skip_call(struct importer *im);
/* Sets c's kind and fields from a call of the C function `fn` with n
 * arguments v, in the order C passes them, and its result (not for free):
 *   'a' malloc(SIZE)            'c' calloc(NMEMB, SIZE)
 *   'm' memalign(ALIGN, SIZE)   'v' valloc(SIZE): page-aligned
 *   'r' realloc(PTR, SIZE)      'f' free(PTR)
 * The thread and time are the caller's.  false if n is not fn's number of
 * arguments. */
bool import_c_call(struct import_call *c, char fn, const uint64_t *v, int n, uint64_t result);
/* Applies one call: 0, or -1 to stop (reported). */
int import_call(struct importer *im, const struct import_call *c);
/* Counts a line that is not a call. */
static inline void import_other_line(struct importer *im)
{
	im->counts[IMPORT_OTHER_LINES]++;
}
/* A line that looks like a call but cannot be read: counted as the cut-off
 * last line if it is one (no newline at the end of the stream), else the
 * usual FILE:LINE error.  0 = go on, -1 = stop. */
int import_bad_line(struct importer *im, const char *fmt, ...) HB_PRINTF(2, 3);
/* Ends the import: the builder finished, the metadata set (imported-from,
 * the counts, pid and processes, lifetimes), one warning summing up what
 * was dropped or guessed; per process in a split load, whose traces follow
 * the first through next_process.  0, or -1 if no trace has an op. */
int import_finish(struct importer *im);
/* Frees what import_begin took, after an error. */
void import_abort(struct importer *im);

/* ---- Parsing helpers for importers -------------------------------------- */

/* Hex digits at *pp (after an optional 0x/0X), advancing *pp: false if none
 * or more than 16 digits. */
bool import_hex(const char **pp, uint64_t *v);
/* Decimal digits at *pp, advancing *pp: false if none or overflow. */
bool import_dec(const char **pp, uint64_t *v);
/* Whether *pp starts with lit; if so, advances *pp past it. */
bool import_lit(const char **pp, const char *lit);
/* A number at *pp: (nil), nil or NULL (0), hex after 0x, else decimal. */
bool import_value(const char **pp, uint64_t *v);

/* A call's arguments as "(A, B, C)": up to three import_values, blanks
 * allowed around them; with labels, valgrind's "al " and "size " before a
 * value are allowed and say which is which. */
struct import_args {
	uint64_t v[3];
	int n;
	int al, size; /* index of the labelled values, or -1 */
};
/* Parses "(...)" at *pp, advancing *pp past the ')': false if it is not one. */
bool import_args(const char **pp, struct import_args *a, bool labels);

static inline const char *import_skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

#endif
