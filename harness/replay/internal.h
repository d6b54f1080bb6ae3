/*
 * internal.h - what the files of one job share (replay.h is the public
 * face).  A job is sequenced by replay.c and made of passes, one file each:
 *
 *   pass_checked.c   the checked pass: one step per op kind
 *   pass_timed.c     the timed passes, their median, min and max
 *   pass_latency.c   the latency pass and its histograms
 *   pass_threads.c   the threaded passes (--threads recorded), on the
 *                    plan of plan.c
 *
 * helped by checker.c (the payload pattern, the block checks, the index of
 * live blocks by address) and measure.c (resident set, footprint, the
 * allocator's stats, the timeline, then utilization and fragmentation).
 *
 * Every pass calls the backend through replay_op below, with the calls the
 * job resolved once when it started (struct replay_calls).
 */
#ifndef HB_REPLAY_INTERNAL_H
#define HB_REPLAY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "heap.h"
#include "host/addrmap.h"
#include "host/hb_assert.h"
#include "host/os.h"
#include "replay/replay.h"

#define REPLAY_INLINE static inline __attribute__((always_inline))

/* ---- The backend's calls ---------------------------------------------------- */

/* What a pass calls, resolved once when the job starts (replay_calls_init)
 * and bound to the fresh state of each pass (replay_calls_bind).  calloc is
 * the backend's own, or malloc + memset for a backend without one: that
 * one's first argument is not the state but this struct (calloc_ctx). */
struct replay_calls {
	void *st; /* the backend's state in the current pass */
	void *(*malloc)(void *st, size_t size);
	void *(*calloc)(void *ctx, size_t nmemb, size_t size);
	void *calloc_ctx; /* st, or this struct */
	void *(*memalign)(void *st, size_t align, size_t size);
	void *(*realloc)(void *st, void *p, size_t size);
	int (*free)(void *st, void *p, char *why, size_t len);
	bool own_calloc; /* the backend has a calloc */
	bool libc;       /* the calls are the C library's: timed passes make them directly */
};

void replay_calls_init(struct replay_calls *k, const struct allocator *a);

#ifdef HB_LIBC_CALLS_H
/* The C library's functions as a backend's calls, for the backends whose
 * calls are exactly those (ALLOC_F_LIBC: system, and any library preloaded
 * into the worker).  A constant table: once timed_loop is inlined, the
 * compiler calls malloc & co. directly, so that the only difference from a
 * program calling malloc is the op array.  (In the files that include
 * libc_calls.h before this one.) */
__attribute__((unused)) static const struct replay_calls replay_libc_calls = {
	.malloc = libc_malloc,
	.calloc = libc_calloc,
	.memalign = libc_memalign,
	.realloc = libc_realloc,
	.free = libc_free,
	.own_calloc = true,
	.libc = true,
};
#endif

static inline void replay_calls_bind(struct replay_calls *k, void *st)
{
	k->st = st;
	k->calloc_ctx = k->own_calloc ? st : (void *)k;
}

/* Op on the backend, and the id table: the one place a pass calls the
 * backend.  Returns what a free returned (-1: the backend rejected the
 * block, why says why; the timed passes pass no why and ignore it), else 0.
 * Inlined, so that a timed loop is nothing but this. */
REPLAY_INLINE int replay_op(const struct replay_calls *k, const struct trace_op *op, void **ptrs,
			    char *why, size_t len)
{
	switch (op->kind) {
	case TRACE_ALLOC: ptrs[op->id] = k->malloc(k->st, op->size); return 0;
	case TRACE_CALLOC: ptrs[op->id] = k->calloc(k->calloc_ctx, op->arg, op->size); return 0;
	case TRACE_MEMALIGN: ptrs[op->id] = k->memalign(k->st, op->arg, op->size); return 0;
	case TRACE_REALLOC: ptrs[op->id] = k->realloc(k->st, ptrs[op->id], op->size); return 0;
	default:
		if (op->id == TRACE_ID_NULL)
			return k->free(k->st, NULL, why, len);
		int rc = k->free(k->st, ptrs[op->id], why, len);
		ptrs[op->id] = NULL;
		return rc;
	}
}

/* Frees every block still in the id table and empties it. */
REPLAY_INLINE void replay_free_live(const struct replay_calls *k, void **ptrs, uint32_t nids)
{
	for (uint32_t id = 0; id < nids; id++)
		if (ptrs[id]) {
			k->free(k->st, ptrs[id], NULL, 0);
			ptrs[id] = NULL;
		}
}

/* ---- The job ------------------------------------------------------------------ */

/* A live block, by id, as the checked pass knows it; its address is in the
 * job's id table. */
struct slot {
	uint64_t size; /* requested */
	uint64_t usable;
	uint64_t seed;
	uint64_t alloc_op; /* op that allocated (or last moved) it */
};

/* The pages resident when a checked pass began (resident.c). */
struct resident_base {
	struct resident_region *regions; /* anonymous writable mappings, by address */
	size_t nregions, regions_size;
	uint64_t *words; /* a bit per page of the regions: resident */
	uint64_t *ranks; /* set bits before each word */
	uint64_t *marks; /* scratch of the same size as words (resident_held) */
	uint64_t nwords;
	size_t words_size, ranks_size;
};

/* Takes the snapshot (none, if /proc/self/maps cannot be read). */
void resident_snapshot(struct resident_base *rb);
void resident_release(struct resident_base *rb);
/* Pages of [lo, hi] (page addresses, both included) resident in the snapshot. */
uint64_t resident_pages(const struct resident_base *rb, uintptr_t lo, uintptr_t hi);
/* An id table and its block records: the job's, or a copy's (--copies). */
struct id_table {
	void *const *ptrs;
	const struct slot *slots;
};
/* Pages of the snapshot that hold a byte of a live block now (each page
 * once), the blocks being those of n id tables with sizes in their slots;
 * a walk of the tables, for the few readings that need it.  The tables are
 * read with relaxed loads: a threaded pass's sampler reads them while the
 * threads write, and may see a block that is being replaced with the old
 * one's size (pass_threads.c). */
uint64_t resident_held(struct resident_base *rb, const struct id_table *tables, unsigned n,
		       uint32_t nids);
/* Pages of [p, p + len) resident now (mincore), with vec (veclen bytes)
 * as the scratch; p page-aligned. */
uint64_t resident_now(const void *p, size_t len, unsigned char *vec, size_t veclen);

struct replay_job {
	const struct trace *t;
	const struct replay_config *cfg;
	struct replay_result *r;
	struct replay_calls calls;
	struct heap *heap;  /* the simulated heap, made by the first pass */
	void **ptrs;        /* the id table (nids + 1), empty between passes */
	struct slot *slots; /* the checked pass's records of the live blocks */
	int statm_fd;       /* /proc/self/statm, open for the job; -1 if not */
	/* process-wide backends, from the checked pass: its baseline resident
	 * set less the harness's pages it held then and has given back since,
	 * and the op after which its footprint peaked */
	uint64_t rss_base, peak_footprint_op;
	bool reuse_base;           /* ... and whether its snapshot pages count there */
	struct resident_base base; /* process-wide backends: resident at the baseline */
};

/* A fresh backend state, bound to j->calls.  Built-in backends get the
 * job's simulated heap, created on first use and emptied before every
 * later pass.  0, or -1 with the backend's message in err. */
int replay_fresh_state(struct replay_job *j, char *err, size_t len);

/* Sets the result's status and error (at no op). */
void replay_error(struct replay_result *r, enum replay_status st, const char *fmt, ...)
	HB_PRINTF(3, 4);

int checked_pass(struct replay_job *j);
int timed_passes(struct replay_job *j);
/* The median, minimum and maximum of r's timed passes, and the rate. */
void timed_summary(const struct trace *t, struct replay_result *r);
int latency_pass(struct replay_job *j);
/* --threads recorded, --copies N or --pace: a checked threaded pass, then
 * `repeat` timed ones, instead of timed_passes (pass_threads.c). */
int threaded_passes(struct replay_job *j);

/* ---- The plan of a threaded pass (plan.c) ------------------------------------- */

enum { TP_WAIT = 1, TP_POST = 2 };

/* One op of a thread's stream: the op, its rank among the ops on its id,
 * and whether it waits for the op before it (done by another thread) or
 * posts for the op after it (or a thread's start). */
struct tp_op {
	struct trace_op op;
	uint32_t seq;
	uint32_t flags; /* TP_WAIT, TP_POST */
};

/* An id's counter: how many of its ops are done, as far as another
 * thread needs to know; waiters sleep on it (a futex). */
struct tp_sync {
	uint32_t seq;
	uint32_t waiters;
};

struct tp_thread {
	struct tp_op *ops;
	uint64_t nops;
	uint16_t label;  /* the trace's dense thread */
	bool start_wait; /* starts once op start_seq - 1 of start_id is done */
	uint32_t start_id, start_seq;
};

struct tplan {
	struct tp_op *ops;         /* every stream, back to back */
	struct tp_thread *threads; /* in the order of their first ops */
	uint32_t nstarted;         /* threads with ops */
	uint64_t cross_waits;      /* ops that wait for another thread */
	uint64_t *due;             /* --pace: ops[k] is due due[k] ns after the start */
	size_t ops_bytes, threads_bytes, due_bytes;
};

/* The plan of t, one stream per trace thread, or one of every op when
 * serial; with times when pace > 0 (t has times): 0, or -1 with a message
 * in err (no memory). */
int tplan_make(struct tplan *p, const struct trace *t, bool serial, double pace, char *err,
	       size_t len);
void tplan_free(struct tplan *p);

/* ---- The checker (checker.c) ---------------------------------------------------- */

/* The checked pass's measurements (measure.c). */
struct measure {
	uint64_t footprint, peak_footprint;
	uint64_t peak_op; /* the op after which the footprint peaked */
	double frag_sum;
	uint64_t frag_ops;
	uint64_t rss_base, rss_peak, harness_base, maxrss_base;
	uint64_t reused_pages; /* pages of the job's snapshot now holding a live byte */
	bool peak_pending;     /* live bytes set a peak not yet read */
	uint64_t sample_every; /* --sample-every, doubled while readings are slow */
	uint64_t live_low;     /* the least live bytes since the last reading */
	unsigned rise_shift;   /* the rise step's doublings (rise readings too slow) */
	uint64_t readings;     /* footprint readings in the pass */
	uint64_t sample_ns, rise_ns, stats_ns, pass_start_ns;
	/* the allocator's own accounting (process-wide backends with stats) */
	uint64_t stats_base;  /* its bytes in use before the pass */
	uint64_t stats_peak;  /* its footprint's peak, less stats_base */
	uint64_t stats_every; /* read every K ops (sample_every, doubled while slow) */
	uint64_t stats_kept;  /* the physical footprint where its figures were kept */
	uint64_t stats_next;  /* ... and where they are kept again */
	char stats_source[48];
	/* timeline window */
	uint64_t stride, win_live, win_foot;
};

/* The ring of descents made ahead: more than the ops the pass looks ahead. */
#define CHECK_SEEKS 32

struct checker {
	struct replay_job *j;
	const struct trace *t;
	const struct allocator *a;
	enum replay_check check;
	struct slot *slots;
	void **ptrs;
	struct addrmap live; /* live blocks by address: the overlap index */
	/* the live neighbours of the block check_block last passed (at), for
	 * the checks of its usable range and its pages: one lookup per block */
	struct neighbours {
		uintptr_t at;
		struct addrmap_near n;
		bool valid;
	} nb;
	/* the descents of the live index made ahead for the frees and
	 * reallocs to come, op i's at seeks[i % CHECK_SEEKS] (pass_checked.c) */
	struct addrmap_seek seeks[CHECK_SEEKS];
	uint64_t live_bytes, usable_live, seeds;
	bool usable_unknown; /* usable_size could not tell for some block */
	/* the slack past a request carries the pattern (checker.c's
	 * slack_end): --check full, and usable sizes that are the backend's
	 * word, not heapbench's reading of an mm: file's boundary tags */
	bool slack_pattern;
	struct measure m;
};

/* Fails op i (UINT64_MAX: no op) with status st: always -1. */
int check_fail(struct checker *c, uint64_t i, enum replay_status st, const char *fmt, ...)
	HB_PRINTF(4, 5);
/* The alignment a block of n bytes needs, given the configured one. */
uint64_t check_align(const struct replay_config *cfg, uint64_t n);
/* The block the backend just returned for op i, checked against the heap
 * and every live block; 0 or -1 (failed). */
int check_block(struct checker *c, uint64_t i, const unsigned char *p, uint64_t n, uint64_t align);
/* The pattern of live block id, before realloc, free or the end. */
int check_pattern(struct checker *c, uint64_t i, uint32_t id, const char *when);
/* calloc's block of n bytes holds zeroes where the check level looks. */
int check_zeroes(struct checker *c, uint64_t i, const unsigned char *p, uint64_t n);
/* The first min(old, new) bytes of a realloc'd block kept old's pattern. */
int check_moved(struct checker *c, uint64_t i, const struct slot *old, const void *old_ptr,
		const unsigned char *p, uint64_t n);
/* Records the block now at ptrs[id] (n bytes, allocated or moved by op i)
 * and writes its pattern. */
int check_adopt(struct checker *c, uint64_t i, uint32_t id, uint64_t n);
/* Forgets live block id, freed or moved by op i (its address stays in the
 * id table). */
void check_drop(struct checker *c, uint64_t i, uint32_t id);

/* ---- Measurement (measure.c) ------------------------------------------------------ */

/* Bytes the checker's own structures hold (the live index). */
static inline uint64_t check_harness_bytes(const struct checker *c)
{
	return addrmap_bytes(&c->live);
}

/* Resident bytes now, without malloc (stdio would): one pread of the
 * job's /proc/self/statm descriptor; 0 when it cannot be read. */
uint64_t measure_rss(const struct replay_job *j);
/* Reads every page of [p, p+n) so that it is resident before a baseline. */
void measure_touch(const void *p, size_t n);
/* The baselines, once the backend's state is fresh. */
void measure_start(struct checker *c);
/* After op i: footprint, peaks, fragmentation, the timeline. */
void measure_op(struct checker *c, uint64_t i);
/* After the last op: the peaks, utilization and fragmentation into the
 * result; 0, or -1 (status error) if they are impossible. */
int measure_finish(struct checker *c);
/* Why the result's footprint figures cannot be (a footprint below live
 * bytes, or below the live blocks' usable bytes at the peak), in why; NULL
 * if they can. */
const char *measure_impossible(const struct replay_result *r, char *why, size_t len);

#endif
