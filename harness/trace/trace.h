/*
 * trace.h - the trace model: one flat array of fixed-size op records over
 * dense block ids, and everything that reads, checks and writes it.
 *
 * A trace is a sequence of ops (DESIGN §3).  Block ids are dense: 0..nids-1,
 * where every reader remaps the ids of its source (CMU ids, pointers, ...) so
 * that an id is always the lowest one not live at the moment of allocation.
 * Hence nids == the maximum number of simultaneously live blocks, and the
 * replay's id table is O(max live blocks), never O(total allocations).
 * (The remap is idempotent: a trace written by heapbench reads back with the
 * same ids, which makes round trips byte-stable.)
 *
 * Where things are: this header is the model and what tools call (trace.c
 * the model and file names, load.c the loader, verify.c the semantic pass,
 * write.c the writers); builder.h is for whatever makes ops (readers,
 * importers, the generator, the recorder); internal.h is what readers share.
 *
 * Costs: text readers parse at memory speed with one hash lookup per op;
 * .hbt files are mapped with one mmap and only their header is validated at
 * open (trace_verify is the O(n) semantic pass, run by the tools).  Memory
 * is the op array plus O(max live blocks).
 */
#ifndef HB_TRACE_H
#define HB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compress.h"
#include "base/diag.h"

/* ---- Records ------------------------------------------------------------ */

/* The op kinds, once: (enum name, value, the C call it replays, the plural
 * that counts it in `trace stats`).  Expanded below into the enum and the
 * name tables that results, charts, stats and messages use. */
#define TRACE_KIND_LIST(X)                                                                         \
	X(TRACE_ALLOC, 0, "malloc", "allocs")         /* malloc(size) */                           \
	X(TRACE_CALLOC, 1, "calloc", "callocs")       /* calloc(arg = nmemb, size) */              \
	X(TRACE_MEMALIGN, 2, "memalign", "memaligns") /* arg = alignment (power of two) */         \
	X(TRACE_REALLOC, 3, "realloc", "reallocs")    /* realloc(live block, size), size > 0 */    \
	X(TRACE_FREE, 4, "free", "frees") /* free(block), or free(NULL): TRACE_ID_NULL */

enum trace_kind {
#define TRACE_KIND_ENUM(e, v, call, plural) e = v,
	TRACE_KIND_LIST(TRACE_KIND_ENUM)
#undef TRACE_KIND_ENUM
		TRACE_NKINDS
};
/* "malloc", "calloc", ...: the call an op replays (latency_ns keys, messages) */
extern const char *const trace_kind_names[TRACE_NKINDS];
/* "allocs", "callocs", ...: the counts of `trace stats` */
extern const char *const trace_kind_plurals[TRACE_NKINDS];

/* Flags record how the program spelled an op whose effect is plain. */
enum {
	TRACE_F_REALLOC_NULL = 1, /* an ALLOC that was realloc(NULL, size) */
	TRACE_F_REALLOC_ZERO = 2, /* a FREE that was realloc(ptr, 0) */
	TRACE_F_ALL = 3
};

#define TRACE_ID_NULL     UINT32_MAX
#define TRACE_THREADS_MAX 65536
/* Largest request a C library can satisfy (PTRDIFF_MAX on LP64). */
#define TRACE_SIZE_MAX ((uint64_t)INT64_MAX)
/* Largest alignment accepted by memalign ops. */
#define TRACE_ALIGN_MAX ((uint64_t)1 << 40)

/* One op: 24 bytes, little-endian in .hbt files, identical in memory. */
struct trace_op {
	uint64_t size;   /* bytes requested; calloc: bytes per member; free: 0 */
	uint64_t arg;    /* calloc: nmemb; memalign: alignment; otherwise 0 */
	uint32_t id;     /* dense block id, or TRACE_ID_NULL (free(NULL) only) */
	uint16_t thread; /* dense thread id, 0 when the trace has no threads */
	uint8_t kind;    /* enum trace_kind */
	uint8_t flags;   /* TRACE_F_* */
};
_Static_assert(sizeof(struct trace_op) == 24, "trace_op is the .hbt record");

/* Bytes an op asks for (calloc: nmemb*size, never overflowing in a verified
 * trace); 0 for frees. */
static inline uint64_t trace_op_bytes(const struct trace_op *op)
{
	return op->kind == TRACE_CALLOC ? op->arg * op->size : op->size;
}

static inline bool trace_op_allocates(const struct trace_op *op)
{
	return op->kind <= TRACE_MEMALIGN;
}

/* ---- The trace ---------------------------------------------------------- */

enum trace_format { TRACE_FMT_TEXT, TRACE_FMT_REP, TRACE_FMT_HBT, TRACE_FMT_IMPORT };
enum rep_dialect { REP_NONE, REP_CSAPP2002, REP_CMU2010, REP_CMU2016 };

struct trace_meta {
	char *key, *value;
};

/* Where ops come from in the source text: op `op` is on line `line`, and
 * each later op is on the next line until the next mark. */
struct trace_linemark {
	uint64_t op, line;
};

struct trace {
	char *path;
	enum trace_format format;
	enum trace_compression compression;
	enum rep_dialect rep_dialect;
	const char *import_format; /* TRACE_FMT_IMPORT: "valgrind", ... (static) */
	bool has_lines;            /* ops map to source lines (text formats) */

	const struct trace_op *ops;
	uint64_t nops;
	uint32_t nids;     /* ids are 0..nids-1 */
	uint32_t nthreads; /* threads are 0..nthreads-1; >= 1 if nops */
	/* when op i was called, in ns (times[i]), or NULL: the source has no
	 * times.  Monotonic per thread, not across threads (logs interleave). */
	const uint64_t *times;

	struct trace_meta *meta; /* `# key: value` lines, in order */
	size_t nmeta, capmeta;

	struct trace_linemark *marks;
	size_t nmarks, capmarks;

	/* storage: exactly one of these holds the ops */
	struct trace_op *owned; /* malloc'd array (text readers, builders) */
	size_t capops;
	uint64_t *owned_times; /* malloc'd times, capacity ncaptimes */
	size_t ncaptimes;
	void *map; /* mmap of a whole .hbt file */
	size_t maplen;
	void *blob; /* decompressed .hbt image */
	bool bare;  /* trace_map_hbt_fd's: metadata checked, not kept */

	/* a log of several processes read whole (trace_load_processes): asked
	 * before reading; then the next process's trace, owned (freed with t) */
	bool split_processes;
	struct trace *next_process;
};

/* Loads any supported trace, chosen by content.  Validates what the format
 * needs (text: every op; .hbt: the header and bounds).  On error reports
 * through d and returns NULL.  d->lint keeps text readers going after an
 * op-level error, so that lint lists them all. */
struct trace *trace_load(const char *path, struct diag *d);
/* trace_load, but a log of several processes (an import: valgrind
 * --trace-children, logalloc, ...) gives one trace per process, in the
 * order of their first calls, linked by next_process; any other trace is
 * one. */
struct trace *trace_load_processes(const char *path, struct diag *d);
/* trace_load, then trace_verify for formats that were not checked op by op:
 * what every tool uses. */
struct trace *trace_load_verified(const char *path, struct diag *d);
/* trace_load_verified in strict mode with a diag of its own: the one-line
 * error, or the warnings once the trace is loaded (none when quiet).
 * NULL (reported unless quiet) if it cannot be loaded. */
struct trace *trace_load_file(const char *path, bool quiet);
void trace_free(struct trace *t);
/* Whether path opens (a regular file), decompresses and starts as some
 * format heapbench reads, without reading it whole: the reader's name
 * ("text", "valgrind", ...), or NULL (reported). */
const char *trace_recognise(const char *path);
/* Opens the uncompressed .hbt file at fd into *t (the caller's, zeroed;
 * path is borrowed) without malloc: the ops mapped in place, the metadata
 * checked but not kept, then verified (trace_verify).  A replay's worker
 * opens its trace so, with the allocator under test already in place: what
 * the harness allocated and freed there before the pass would be memory the
 * trace then reuses, unseen by the footprint (docs/metrics.md).  The
 * worker exits without freeing it.  0, or -1 reported through d. */
int trace_map_hbt_fd(struct trace *t, int fd, const char *path, struct diag *d);

/* The O(n) semantic pass: ids in range and live when used, kinds and flags
 * valid, sizes and alignments sane, calloc products not overflowing, live
 * bytes fitting in 64 bits.  0 if clean, -1 (strict) after the first error. */
int trace_verify(const struct trace *t, struct diag *d);

/* Source line of op i, or 0 when the format has no lines. */
uint64_t trace_line(const struct trace *t, uint64_t i);

/* "text", "rep-cmu2016", "hbt+zst", ... */
const char *trace_format_name(const struct trace *t, char *buf, size_t len);

/* Metadata is for provenance: at most TRACE_META_MAX entries, keys of
 * letters, digits and `_ . -` (at most 64), values of at most 4095 bytes
 * without newlines or surrounding blanks; `heapbench-trace` is reserved. */
#define TRACE_META_MAX       1024
#define TRACE_META_MAX_KEY   64
#define TRACE_META_MAX_VALUE 4095
bool trace_meta_valid(const char *key, const char *value);
const char *trace_meta_get(const struct trace *t, const char *key);
/* Sets or replaces a key; -1 if the trace already has TRACE_META_MAX keys.
 * The caller checks validity (trace_meta_valid). */
int trace_meta_set(struct trace *t, const char *key, const char *value);
void trace_meta_del(struct trace *t, const char *key);

/* An empty trace for builders and generators. */
struct trace *trace_new(const char *path);

/* ---- File names ---------------------------------------------------------- */

/* Formats are read by content; names matter only for writing and for the
 * short names of results.  Both come from one table of endings (trace.c):
 * .trace, .hbt, .rep, each optionally followed by .zst or .gz. */
enum trace_outfmt { TRACE_OUT_TEXT, TRACE_OUT_REP, TRACE_OUT_HBT };

/* Picks format and compression from a file name.  -1 if the name says
 * neither. */
int trace_outfmt_from_name(const char *name, enum trace_outfmt *fmt, enum trace_compression *comp);
/* trace_outfmt_from_name, reporting a name that says no format: 0 or -1. */
int trace_check_out_name(const char *name);
/* The file name without directory and trace endings: "dir/x.trace.zst" -> "x". */
void trace_short_name(const char *path, char *buf, size_t len);

/* ---- Writers ------------------------------------------------------------ */

/* Writes t to path atomically (a temporary file renamed into place; nothing
 * is left behind on failure or on SIGINT/SIGTERM).  0 or -1 (reported). */
int trace_write(const struct trace *t, const char *path);
/* Writes t as an uncompressed .hbt image to an open descriptor. */
int trace_write_hbt_fd(const struct trace *t, int fd);

#endif
