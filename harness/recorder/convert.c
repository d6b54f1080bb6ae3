/*
 * convert.c - one raw log of the recorder (raw.h) into a trace, in steps
 * while the program still writes it, then whole.
 *
 * The records come in their global order from a merge: each thread's
 * chunks are a run already in order, so the order is a merge of the runs by
 * key (a heap of runs, one comparison per record while a run stays first).
 * While the program runs, the merge stops where a record still to be
 * written could come first (struct merge), and goes on at the next step;
 * the order, and so the ops, are the same however the steps fall (the
 * times only by the rate of the counter, taken at the first step).
 * The conversion follows every block by its address from its allocation
 * through its reallocs to its free and gives the blocks dense ids (the
 * lowest id not live, as every reader does: trace.h), writing the op array
 * directly.
 *
 * What a log cannot explain is counted in struct recorder_info, never
 * silent: a free or realloc of an address the process never allocated while
 * recorded (memory from before the recorder started, or inherited across
 * fork) is left out, a record begun and not finished is a call cut short,
 * and an address handed out again without a free we saw is freed first.
 *
 * Structures: a hash map from live address to dense id and live bytes,
 * a bitmap tree of the ids in use (the lowest free id in one word per
 * level), the op and time arrays (grown as the log grows).
 * Costs: O(n log threads) for the merge, then one hash lookup per op
 * (prefetched a few ops ahead: the misses overlap); memory: the op array
 * and O(max live blocks).
 */
#include "recorder/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "recorder/raw.h"
#include "trace/idmap.h"
#include "trace/internal.h"

/* ---- The log, mapped ---------------------------------------------------- */

/* Address space for a log's mapping: the recorder's own limit (record.c),
 * so a log that grows while it is read never needs a new mapping. */
#define RAW_MAP_RESERVE (UINT64_C(1) << 36)

struct raw_log {
	const char *map; /* RAW_MAP_RESERVE bytes, of which len are the file */
	size_t len;
	size_t populated; /* bytes from the start whose pages were read in at once */
	int fd;
	const struct raw_header *h;
	unsigned timeword; /* 1 when records carry a time word (RAW_ORDER_SEQ) */
};

static uint64_t load_acquire(const void *p)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p, memory_order_acquire);
}

/* Maps the log at path (shared: a program still writing it is seen);
 * -1 if it cannot be read or has no header (reported). */
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
	const char *map = len >= RAW_HEADER_BYTES ? mmap(NULL, RAW_MAP_RESERVE, PROT_READ,
							 MAP_SHARED | MAP_NORESERVE, fd, 0)
						  : MAP_FAILED;
	if (map == MAP_FAILED && len >= RAW_HEADER_BYTES) {
		hb_error("%s: cannot map the log: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* the log is in the page cache, written by its process: reading
	 * ahead would only zero the holes past what it has written */
	if (map != MAP_FAILED)
		madvise((void *)map, RAW_MAP_RESERVE, MADV_RANDOM);
	const struct raw_header *h = (const void *)map;
	if (map == MAP_FAILED || memcmp(h->magic, RAW_MAGIC, 8) ||
	    (h->order != RAW_ORDER_SEQ && h->order != RAW_ORDER_TICKS)) {
		hb_error("%s: not a recorder log", path);
		if (map != MAP_FAILED)
			munmap((void *)map, RAW_MAP_RESERVE);
		close(fd);
		return -1;
	}
	*log = (struct raw_log){.map = map, .fd = fd, .h = h};
	log->timeword = h->order == RAW_ORDER_SEQ;
	return 0;
}

/* Takes in what the program has added since: the file's length (only
 * pages inside it may be read), its new pages mapped in one call. */
static void raw_refresh(struct raw_log *log)
{
	struct stat st;
	if (fstat(log->fd, &st) < 0 || (size_t)st.st_size <= log->len)
		return;
	size_t len = (size_t)st.st_size < RAW_MAP_RESERVE ? (size_t)st.st_size : RAW_MAP_RESERVE;
	log->len = len;
	/* a hint, page by page the reads would fault; as far as chunks are
	 * taken: the file grows ahead in large steps, and reading its holes
	 * in would zero pages that nothing reads (16 MiB for a program that
	 * made three calls) */
	uint64_t taken = load_acquire(&log->h->next);
	size_t upto = taken < len ? (size_t)taken : len;
	if (upto > log->populated) {
		madvise((void *)(log->map + log->populated), upto - log->populated,
			MADV_POPULATE_READ);
		log->populated = upto;
	}
}

static void raw_unmap(struct raw_log *log)
{
	munmap((void *)log->map, RAW_MAP_RESERVE);
	close(log->fd);
}

/* ---- Runs: one thread's records in order -------------------------------- */

/* A thread's chunks, in file order, and where its next record is. */
struct run {
	const uint64_t *p, *end; /* the rest of the current chunk */
	uint32_t *chunk;         /* the run's chunk numbers ... */
	size_t nchunks, cap, at; /* ... and the one after the current */
	const uint64_t *rec;     /* the current record, when RUN_READY */
	uint64_t key;            /* its order key, before-call calls first */
	uint16_t thread;         /* dense, in order of first op */
	bool named;              /* thread assigned */
	bool parked;             /* RUN_WAIT, but its thread has ended (merge_park) */
	uint32_t tid;
};

enum run_state {
	RUN_READY, /* r->rec is the next record */
	RUN_WAIT,  /* the next record is not written yet (only while the program runs) */
	RUN_DONE,  /* no records left */
};

/* Moves r to its next record.  A zero stamp ends a chunk's records (or,
 * while the program runs and the thread has taken no later chunk, is where
 * its next record goes); payload words behind it are a call cut short (a
 * kill between writing it and its stamp).  final: the program is done. */
static enum run_state run_next(struct run *r, const struct raw_log *log, uint64_t *lost, bool final)
{
	for (;;) {
		uint64_t stamp = r->p < r->end ? load_acquire(r->p) : 0;
		if (stamp) {
			unsigned kind = stamp & 15;
			size_t words = 1 + log->timeword + raw_payload_words(kind);
			if (kind >= RAW_MALLOC && kind <= RAW_FREE &&
			    (size_t)(r->end - r->p) >= words) {
				r->rec = r->p;
				r->p += words;
				/* ties: a call keyed before it ran goes first */
				r->key = (stamp >> 4) << 1 | (kind < RAW_REALLOC);
				return RUN_READY;
			}
			(*lost)++; /* not a record: the chunk ends here */
			r->p = r->end;
		}
		if (r->at == r->nchunks && !final)
			return RUN_WAIT;
		for (const uint64_t *q = r->p; q < r->end && q < r->p + 5; q++)
			if (*q) {
				(*lost)++;
				break;
			}
		if (r->at == r->nchunks)
			return RUN_DONE;
		const char *c =
			log->map + RAW_HEADER_BYTES + (size_t)r->chunk[r->at++] * RAW_CHUNK_BYTES;
		r->p = (const uint64_t *)(c + sizeof(struct raw_chunk));
		r->end = (const uint64_t *)(c + RAW_CHUNK_BYTES);
	}
}

/* ---- The merge ---------------------------------------------------------- */

/* The runs merged by key, one record at a time; threads are numbered in
 * order of their first record.  While the program runs, a record is put in
 * order only when every thread has one waiting (none is RUN_WAIT) and its
 * key is before `safe` (raw.h): then no record still to be written can
 * come before it.  The merge takes the smallest next record of all runs,
 * so it gives the same order however the reading was cut into steps. */
struct merge {
	struct run **heap; /* the RUN_READY runs, a min-heap by key */
	size_t n;
	struct run **wait; /* the RUN_WAIT runs */
	size_t nwait;
	struct run **all; /* every run, for the chunks' owners */
	size_t nall;
	struct idmap by_tid;    /* tid -> index in all + 1 */
	const struct run *next; /* the second run in the order (NULL: none) */
	unsigned nthreads;
	uint64_t safe;  /* keys below this are safe (while the program runs) */
	size_t scan;    /* chunks before this are known, but for pending ones */
	uint32_t *pend; /* taken chunks whose header was still zero */
	size_t npend;
	bool final;    /* the program is done: every record is written */
	size_t budget; /* records this step may still take, while the program runs */
	const struct raw_log *log;
	uint64_t *lost;
};

static bool run_before(const struct run *a, const struct run *b)
{
	return a->key != b->key ? a->key < b->key : a->tid < b->tid;
}

static void heap_down(struct run **heap, size_t n, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && run_before(heap[c + 1], heap[c]))
			c++;
		if (!run_before(heap[c], heap[i]))
			return;
		struct run *t = heap[c];
		heap[c] = heap[i];
		heap[i] = t;
		i = c;
	}
}

static void heap_up(struct run **heap, size_t i)
{
	while (i && run_before(heap[i], heap[(i - 1) / 2])) {
		struct run *t = heap[i];
		heap[i] = heap[(i - 1) / 2];
		heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* The run after the first: a child of the heap's root. */
static const struct run *merge_second(const struct merge *m)
{
	if (m->n < 2)
		return NULL;
	return m->n == 2 || run_before(m->heap[1], m->heap[2]) ? m->heap[1] : m->heap[2];
}

/* The run of thread tid, made (waiting for its first chunk) if new. */
static struct run *merge_run(struct merge *m, uint32_t tid)
{
	struct idmap_slot *s = idmap_find(&m->by_tid, tid);
	if (s->key) {
		struct run *r = m->all[s->val];
		if (r->parked) /* a new thread with an ended one's tid: its calls are later */
			m->wait[m->nwait++] = r;
		r->parked = false;
		return r;
	}
	s = idmap_insert(&m->by_tid, s, tid);
	s->val = (uint32_t)m->nall;
	struct run *r = xcalloc(1, sizeof *r);
	r->tid = tid;
	m->all = xrealloc(m->all, (m->nall + 1) * sizeof *m->all);
	m->all[m->nall++] = r;
	m->heap = xrealloc(m->heap, m->nall * sizeof *m->heap);
	m->wait = xrealloc(m->wait, m->nall * sizeof *m->wait);
	m->wait[m->nwait++] = r;
	return r;
}

/* Chunk i for its thread's run if it is started; false if not (yet). */
static bool merge_chunk(struct merge *m, size_t i)
{
	const struct raw_chunk *c =
		(const void *)(m->log->map + RAW_HEADER_BYTES + i * RAW_CHUNK_BYTES);
	uint32_t tid =
		atomic_load_explicit((const _Atomic uint32_t *)&c->tid, memory_order_acquire);
	if (!tid)
		return false;
	struct run *r = merge_run(m, tid);
	xgrow((void **)&r->chunk, &r->cap, r->nchunks + 1, sizeof *r->chunk);
	r->chunk[r->nchunks++] = (uint32_t)i;
	return true;
}

/* Takes in the chunks started since the last call, in file order (a
 * thread's chunks are in its run in the order it took them).  While the
 * program runs, `safe` is read first: a chunk taken and not started then
 * is known to hold only later keys, and is looked at again next time. */
static void merge_chunks(struct merge *m)
{
	const struct raw_log *log = m->log;
	size_t end = (log->len - RAW_HEADER_BYTES) / RAW_CHUNK_BYTES;
	if (!m->final)
		m->safe = raw_ticks_fenced() - log->h->start_ticks;
	/* chunks past `next` were never taken (the file grows ahead of them
	 * in large steps: their headers are holes, not worth a page fault) */
	uint64_t next = load_acquire(&log->h->next);
	next = next > RAW_HEADER_BYTES ? (next - RAW_HEADER_BYTES) / RAW_CHUNK_BYTES : 0;
	/* chunks taken past the length read before `safe` (the file grew in
	 * between) may hold keys below it that this step cannot see: nothing
	 * is safe until the next step reads the length */
	if (!m->final && next > end)
		m->safe = 0;
	end = next < end ? next : end;
	size_t k = 0;
	for (size_t j = 0; j < m->npend; j++) /* a chunk pending stays so, or is started */
		if (!merge_chunk(m, m->pend[j]) && !m->final)
			m->pend[k++] = m->pend[j];
	m->npend = k;
	for (; m->scan < end; m->scan++)
		if (!merge_chunk(m, m->scan) && !m->final) {
			m->pend = xrealloc(m->pend, (m->npend + 1) * sizeof *m->pend);
			m->pend[m->npend++] = (uint32_t)m->scan;
		}
}

/* Takes in what the program wrote since the last call: new chunks, and
 * the next record of each run that was waiting for it. */
/* Whether thread tid of process pid has ended: then it writes nothing more
 * and all it wrote is visible (the kernel's exit orders it before this
 * look).  A thread later given the same tid takes a chunk of its own first
 * (raw.h): its calls come after this look, so after `safe`. */
static bool thread_ended(uint64_t pid, uint32_t tid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%" PRIu64 "/task/%" PRIu32, pid, tid);
	return stat(path, &st) < 0 && errno == ENOENT;
}

/* While the program runs: the waiting runs of threads that have ended,
 * with nothing more to read, stop holding the merge back (parked, until a
 * chunk of their tid comes); one look per waiting run per step. */
static void merge_park(struct merge *m)
{
	size_t k = 0;
	for (size_t i = 0; i < m->nwait; i++) {
		struct run *r = m->wait[i];
		if (!thread_ended(m->log->h->pid, r->tid)) {
			m->wait[k++] = r;
			continue;
		}
		if (run_next(r, m->log, m->lost, false) == RUN_READY) {
			m->heap[m->n++] = r;
			heap_up(m->heap, m->n - 1);
		} else {
			r->parked = true;
		}
	}
	m->nwait = k;
}

static void merge_refresh(struct merge *m, bool final)
{
	m->final = final;
	for (size_t i = 0; final && i < m->nall; i++)
		if (m->all[i]->parked) { /* the end of its chunk is looked at as ever */
			m->all[i]->parked = false;
			m->wait[m->nwait++] = m->all[i];
		}
	merge_chunks(m);
	size_t k = 0;
	for (size_t i = 0; i < m->nwait; i++) {
		struct run *r = m->wait[i];
		enum run_state st = run_next(r, m->log, m->lost, m->final);
		if (st == RUN_READY) {
			m->heap[m->n++] = r;
			heap_up(m->heap, m->n - 1);
		} else if (st == RUN_WAIT) {
			m->wait[k++] = r;
		}
	}
	m->nwait = k;
	if (!final && m->nwait)
		merge_park(m);
	m->next = merge_second(m);
}

static void merge_init(struct merge *m, const struct raw_log *log, uint64_t *lost)
{
	*m = (struct merge){.log = log, .lost = lost};
	idmap_init(&m->by_tid);
}

static void merge_free(struct merge *m)
{
	for (size_t i = 0; i < m->nall; i++) {
		free(m->all[i]->chunk);
		free(m->all[i]);
	}
	free(m->all);
	free(m->heap);
	free(m->wait);
	free(m->pend);
	idmap_free(&m->by_tid);
}

/* The next record in order into *rec and *thread: 1, 0 at the end (or
 * when the next one is not known yet), or -1 if there are more threads
 * than a trace holds (reported).  A run goes on while it stays first: one
 * comparison per record. */
static int merge_next(struct merge *m, const uint64_t **rec, uint16_t *thread)
{
	if (!m->n || m->nwait || (!m->final && !m->budget))
		return 0;
	struct run *r = m->heap[0];
	if (!m->final && (r->key >> 1) + 1 >= m->safe)
		return 0;
	m->budget -= !m->final;
	if (!r->named) {
		if (m->nthreads == TRACE_THREADS_MAX) {
			hb_error("more than %d threads", TRACE_THREADS_MAX);
			return -1;
		}
		r->thread = (uint16_t)m->nthreads++;
		r->named = true;
	}
	*rec = r->rec;
	*thread = r->thread;
	enum run_state st = run_next(r, m->log, m->lost, m->final);
	if (st == RUN_READY && (!m->next || run_before(r, m->next)))
		return 1;
	if (st != RUN_READY)
		m->heap[0] = m->heap[--m->n];
	if (st == RUN_WAIT)
		m->wait[m->nwait++] = r;
	heap_down(m->heap, m->n, 0);
	m->next = merge_second(m);
	return 1;
}

/* ---- Dense ids: the lowest one not live --------------------------------- */

/* Level 0 has a bit per id (1 = live); a bit of level k+1 says its word of
 * level k is full.  Words beyond an array's length are zero.  Six levels
 * cover 2^36 ids, more than a trace has. */
enum { IDSET_LEVELS = 6 };
struct idset {
	uint64_t *lv[IDSET_LEVELS];
	size_t words[IDSET_LEVELS];
};

static uint32_t idset_take(struct idset *s)
{
	uint64_t id = 0;
	for (int k = IDSET_LEVELS - 1; k >= 0; k--) {
		uint64_t w = id < s->words[k] ? s->lv[k][id] : 0;
		id = id * 64 + (uint64_t)__builtin_ctzll(~w);
	}
	for (int k = 0; k < IDSET_LEVELS; k++) {
		uint64_t word = id >> (6 * k + 6), bit = (id >> (6 * k)) & 63;
		if (word >= s->words[k]) {
			size_t old = s->words[k];
			xgrow((void **)&s->lv[k], &s->words[k], word + 1, sizeof *s->lv[k]);
			memset(s->lv[k] + old, 0, (s->words[k] - old) * sizeof *s->lv[k]);
		}
		s->lv[k][word] |= (uint64_t)1 << bit;
		if (s->lv[k][word] != UINT64_MAX)
			break;
	}
	return (uint32_t)id;
}

static void idset_put(struct idset *s, uint64_t id)
{
	for (int k = 0; k < IDSET_LEVELS; k++) {
		uint64_t word = id >> (6 * k + 6), bit = (id >> (6 * k)) & 63;
		bool was_full = s->lv[k][word] == UINT64_MAX;
		s->lv[k][word] &= ~((uint64_t)1 << bit);
		if (!was_full)
			break;
	}
}

static void idset_free(struct idset *s)
{
	for (int k = 0; k < IDSET_LEVELS; k++)
		free(s->lv[k]);
}

/* ---- Live blocks: address -> id ------------------------------------------ */

/* Open addressing with linear probing, at most 70 % full, deletion by
 * backward shift, as trace/idmap.h, but inline, in 16-byte slots and in
 * memory made in one call (MADV_POPULATE_WRITE): fresh pages are most of a
 * conversion's kernel time (clearing them), and a page first read, then
 * written, costs two faults.  A block's live bytes sit in its slot when
 * below 2^32 - 1, else in a side map by id (struct conv's big). */
struct lslot {
	uint64_t addr; /* 0 = empty */
	uint32_t id;
	uint32_t bytes; /* the block's live bytes, or LSLOT_BIG */
};
#define LSLOT_BIG UINT32_MAX
_Static_assert(sizeof(struct lslot) == 16, "a slot is 16 bytes");

struct livemap {
	struct lslot *s;
	size_t cap, used;
	unsigned shift; /* 64 - log2(cap) */
};

/* Asks for huge pages under the array at p: a page fault for every 2 MiB
 * of fresh memory rather than every 4 KiB (most of the kernel's share of
 * a conversion), and fewer TLB misses on the live map's random lookups.  A
 * hint; nothing changes where it is not taken. */
static void huge_hint(void *p, size_t bytes)
{
	uintptr_t start = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
	uintptr_t end = ((uintptr_t)p + bytes) & ~(uintptr_t)((2u << 20) - 1);
	if (end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
}

static struct lslot *slots_new(size_t cap)
{
	size_t bytes = cap * sizeof(struct lslot);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		hb_oom();
	huge_hint(p, bytes);
	madvise(p, bytes, MADV_POPULATE_WRITE);
	return p;
}

static inline size_t live_hash(const struct livemap *m, uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> m->shift); /* Fibonacci */
}

/* Small at first: most processes of a build or a script make a few
 * hundred calls, and clearing a map's pages is what a conversion costs
 * the kernel; a large program's map doubles its way up. */
static void live_init(struct livemap *m)
{
	m->cap = 1u << 10;
	m->shift = 64 - 10;
	m->used = 0;
	m->s = slots_new(m->cap);
}

static void live_free(struct livemap *m)
{
	munmap(m->s, m->cap * sizeof *m->s);
}

/* The slot of addr, or the empty slot where it would go. */
static inline struct lslot *live_find(const struct livemap *m, uint64_t addr)
{
	size_t i = live_hash(m, addr);
	while (m->s[i].addr && m->s[i].addr != addr)
		i = (i + 1) & (m->cap - 1);
	return &m->s[i];
}

static void live_grow(struct livemap *m)
{
	struct livemap old = *m;
	m->cap *= 2;
	m->shift--;
	m->s = slots_new(m->cap);
	for (size_t i = 0; i < old.cap; i++)
		if (old.s[i].addr)
			*live_find(m, old.s[i].addr) = old.s[i];
	live_free(&old);
}

/* Claims the empty slot s found for addr. */
static inline struct lslot *live_insert(struct livemap *m, struct lslot *s, uint64_t addr)
{
	if (__builtin_expect(m->used + 1 > m->cap / 10 * 7, 0)) {
		live_grow(m);
		s = live_find(m, addr);
	}
	*s = (struct lslot){.addr = addr};
	m->used++;
	return s;
}

static inline void live_delete(struct livemap *m, struct lslot *s)
{
	size_t mask = m->cap - 1, hole = (size_t)(s - m->s), i = hole;
	for (;;) {
		i = (i + 1) & mask;
		if (!m->s[i].addr)
			break;
		size_t home = live_hash(m, m->s[i].addr);
		/* move i into the hole unless its home lies cyclically in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			m->s[hole] = m->s[i];
			hole = i;
		}
	}
	m->s[hole].addr = 0;
	m->used--;
}

/* ---- Ops ---------------------------------------------------------------- */

/* A conversion: the trace being written, the live blocks, the counts. */
struct conv {
	struct trace *t;
	struct recorder_info *info;
	struct diag *d;
	struct livemap live;
	struct idmap big; /* id + 1 -> live bytes (data) of blocks of 2^32 - 1 or more */
	struct idset ids;
	uint64_t live_bytes;
	uint32_t nids;   /* ids 0..nids-1 have been used */
	uint64_t ns;     /* the time of the record at hand */
	uint16_t thread; /* its dense thread */
};

static int conv_error(struct conv *c, const char *msg)
{
	diag_error(c->d, 0, c->info->ops, "%s", msg);
	return -1;
}

/* Appends op (its thread and time are the record's). */
static int op_push(struct conv *c, struct trace_op op)
{
	struct trace *t = c->t;
	if (__builtin_expect(t->nops == t->capops, 0)) {
		if ((t->capops + 1) * (sizeof op + 8) > memory_budget())
			return diag_fatal(
				c->d, 0, c->info->ops,
				"the trace holds more ops than fit in the %s heapbench may use",
				memory_budget_said());
		size_t cap = t->capops;
		xgrow((void **)&t->owned, &t->capops, t->nops + 1, sizeof *t->owned);
		t->ops = t->owned;
		if (t->owned_times) {
			xgrow((void **)&t->owned_times, &cap, t->nops + 1, sizeof *t->owned_times);
			t->times = t->owned_times;
			t->ncaptimes = cap;
		}
	}
	op.thread = c->thread;
	if (t->owned_times)
		t->owned_times[t->nops] = c->ns;
	t->owned[t->nops++] = op;
	c->info->ops++;
	return 0;
}

/* The live bytes of the block in slot s. */
static uint64_t slot_bytes(const struct conv *c, const struct lslot *s)
{
	if (__builtin_expect(s->bytes != LSLOT_BIG, 1))
		return s->bytes;
	return idmap_find(&c->big, (uint64_t)s->id + 1)->data;
}

/* The block's live bytes, in its slot or its side entry (made or dropped). */
static void slot_set_bytes(struct conv *c, struct lslot *s, uint64_t bytes)
{
	struct idmap_slot *b = NULL;
	if (s->bytes == LSLOT_BIG || bytes >= LSLOT_BIG)
		b = idmap_find(&c->big, (uint64_t)s->id + 1);
	if (bytes < LSLOT_BIG) {
		if (b && b->key)
			idmap_delete(&c->big, b);
		s->bytes = (uint32_t)bytes;
		return;
	}
	if (!b->key)
		b = idmap_insert(&c->big, b, (uint64_t)s->id + 1);
	b->data = bytes;
	s->bytes = LSLOT_BIG;
}

/* Live bytes become live - old + new. */
static int live_set(struct conv *c, struct lslot *s, uint64_t bytes)
{
	uint64_t lb = c->live_bytes - slot_bytes(c, s);
	if (__builtin_add_overflow(lb, bytes, &lb) || lb > TRACE_SIZE_MAX)
		return conv_error(c, "live bytes exceed 2^63-1");
	c->live_bytes = lb;
	if (lb > c->info->peak_live)
		c->info->peak_live = lb;
	slot_set_bytes(c, s, bytes);
	return 0;
}

/* A new block at addr (not live). */
static int op_new(struct conv *c, uint8_t kind, uint8_t flags, uint64_t addr, uint64_t size,
		  uint64_t arg)
{
	struct trace_op op = {.size = size, .arg = arg, .kind = kind, .flags = flags};
	char why[160];
	const char *err = trace_op_check(&op, why, sizeof why);
	if (err)
		return conv_error(c, err);
	op.id = idset_take(&c->ids);
	if (op.id == TRACE_ID_NULL)
		return conv_error(c, "more than 2^32-1 live blocks");
	if (op.id >= c->nids)
		c->nids = op.id + 1;
	struct lslot *s = live_insert(&c->live, live_find(&c->live, addr), addr);
	s->id = op.id;
	if (live_set(c, s, trace_op_bytes(&op)))
		return -1;
	return op_push(c, op);
}

/* The end of the live block in slot s. */
static int op_end(struct conv *c, struct lslot *s, uint8_t flags)
{
	struct trace_op op = {.id = s->id, .kind = TRACE_FREE, .flags = flags};
	c->live_bytes -= slot_bytes(c, s);
	slot_set_bytes(c, s, 0);
	idset_put(&c->ids, s->id);
	live_delete(&c->live, s);
	return op_push(c, op);
}

/* A block the program got at addr, which must not be live: if it is, the
 * program freed it in a way we did not see (say, inside the C library),
 * and the trace frees it first. */
static int claim(struct conv *c, uint64_t addr)
{
	struct lslot *s = live_find(&c->live, addr);
	if (!s->addr)
		return 0;
	c->info->unseen_frees++;
	return op_end(c, s, 0);
}

/* realloc(in, size > 0) of the live block in slot s, now at out. */
static int op_resize(struct conv *c, struct lslot *s, uint64_t out, uint64_t size)
{
	struct trace_op op = {.size = size, .id = s->id, .kind = TRACE_REALLOC};
	if (size > TRACE_SIZE_MAX)
		return conv_error(c, "realloc size exceeds the largest request");
	if (live_set(c, s, size))
		return -1;
	if (out != s->addr) {
		struct lslot moved = *s;
		live_delete(&c->live, s);
		s = live_insert(&c->live, live_find(&c->live, out), out);
		s->id = moved.id;
		s->bytes = moved.bytes;
	}
	return op_push(c, op);
}

static uint64_t pow2_at_least(uint64_t a)
{
	uint64_t p = 1;
	while (p < a && p < TRACE_ALIGN_MAX)
		p <<= 1;
	return p;
}

/* A realloc record (in, out, size) of an address that may be live. */
static int convert_realloc(struct conv *c, const uint64_t *w)
{
	struct recorder_info *info = c->info;
	uint64_t in = w[0], out = w[1], size = w[2];
	struct lslot *s = in ? live_find(&c->live, in) : NULL;
	if (!out && size) /* not a record the recorder writes */
		return 0;
	if (!in) { /* realloc(NULL, n): malloc, as the builder spells it */
		info->allocs++;
		return claim(c, out) < 0
			       ? -1
			       : op_new(c, TRACE_ALLOC, TRACE_F_REALLOC_NULL, out, size, 0);
	}
	if (!s->addr) { /* a block from before the recording: now a new one */
		info->unknown_reallocs++;
		if (!out)
			return 0;
		info->allocs++;
		return claim(c, out) < 0 ? -1 : op_new(c, TRACE_ALLOC, 0, out, size, 0);
	}
	if (size == 0) { /* realloc(p, 0) freed p ... */
		info->frees++;
		if (op_end(c, s, TRACE_F_REALLOC_ZERO) < 0)
			return -1;
		if (!out)
			return 0;
		info->allocs++; /* ... and returned a new block */
		return claim(c, out) < 0 ? -1 : op_new(c, TRACE_ALLOC, 0, out, 0, 0);
	}
	if (out != in && live_find(&c->live, out)->addr) {
		if (claim(c, out) < 0)
			return -1;
		s = live_find(&c->live, in); /* the claim moved the slots */
	}
	return op_resize(c, s, out, size);
}

/* One record in order (w: its payload): 0, or -1 (reported). */
static int convert_one(struct conv *c, unsigned kind, const uint64_t *w)
{
	struct recorder_info *info = c->info;
	switch (kind) {
	case RAW_MALLOC:
	case RAW_CALLOC:
	case RAW_MEMALIGN: {
		uint8_t k = kind == RAW_MALLOC   ? TRACE_ALLOC
			    : kind == RAW_CALLOC ? TRACE_CALLOC
						 : TRACE_MEMALIGN;
		uint64_t arg = kind == RAW_MALLOC   ? 0
			       : kind == RAW_CALLOC ? w[2]
						    : pow2_at_least(w[2]);
		if (!w[0]) /* not a record the recorder writes */
			return 0;
		info->allocs++;
		return claim(c, w[0]) < 0 ? -1 : op_new(c, k, 0, w[0], w[1], arg);
	}
	case RAW_REALLOC: return convert_realloc(c, w);
	default: { /* RAW_FREE */
		if (!w[0]) {
			return op_push(c,
				       (struct trace_op){.id = TRACE_ID_NULL, .kind = TRACE_FREE});
		}
		struct lslot *s = live_find(&c->live, w[0]);
		if (!s->addr) {
			info->unknown_frees++;
			return 0;
		}
		info->frees++;
		return op_end(c, s, 0);
	}
	}
}

/* ---- Time --------------------------------------------------------------- */

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if RAW_TICKS_TSC
/* Whether the CPU says its time-stamp counter runs at one rate, in every
 * power state (/proc/cpuinfo's flags): then it is a clock. */
bool recorder_tsc_invariant(void)
{
	static int yes = -1;
	if (yes >= 0)
		return yes;
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	yes = 0;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5)) {
			yes = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
			break;
		}
	if (f)
		fclose(f);
	return yes;
}
#else
bool recorder_tsc_invariant(void)
{
	return false;
}
#endif

/* ns per tick of raw_ticks for the log with header h (recorded on this
 * machine: heapbench record converts right after the program), or 0 when
 * ticks are not a clock here.  The counter's rate is the ratio of the
 * elapsed ticks and ns since the pair the recorder read when the log began
 * (at least 10 ms apart: relative error about 1e-5). */
static double ns_per_tick(const struct raw_header *h)
{
	if (!RAW_TICKS_TSC)
		return 1;
	if (!recorder_tsc_invariant())
		return 0;
	uint64_t n1 = monotonic_ns();
	if (n1 < h->start_mono_ns + 10000000u && n1 >= h->start_mono_ns) {
		uint64_t wait = h->start_mono_ns + 10000000u - n1;
		struct timespec pause = {0, (long)wait};
		while (nanosleep(&pause, &pause) && errno == EINTR)
			;
		n1 = monotonic_ns();
	}
	uint64_t t1 = raw_ticks();
	if (t1 <= h->start_ticks || n1 <= h->start_mono_ns)
		return 0;
	return (double)(n1 - h->start_mono_ns) / (double)(t1 - h->start_ticks);
}

/* ---- The whole log ------------------------------------------------------ */

/* A log is converted while the program runs only once it is this old:
 * the counter's rate (ns_per_tick) is measured over at least this long,
 * to within a few ns in 50 ms (2e-6, far below the slew NTP may give
 * CLOCK_MONOTONIC itself). */
#define LIVE_AFTER_NS 50000000u
/* Records a step takes at most while the program runs (a few ms): the
 * follower, at a low priority, stops soon when the program ends. */
#define LIVE_STEP_RECORDS (1u << 16)

/* One log being converted, in steps while the program runs, then whole. */
struct recorder_live {
	char *path;
	struct raw_log log;
	struct merge m;
	struct diag d;
	struct conv c;
	double rate;     /* ns per tick; 0: no times */
	uint64_t first;  /* the ticks of the first record in order */
	bool started;    /* rate and arrays are set up */
	bool have_first; /* first is known */
	int failed;      /* a step failed (reported): the rest fail too */
};

/* The op and time arrays, sized for the most ops the log's chunks can hold
 * now (a record is 2 words at least; pages never written cost nothing)
 * within what heapbench may hold; op_push makes room for more. */
static void trace_size(struct trace *t, const struct raw_log *log, bool timed)
{
	uint64_t chunks = (log->len - RAW_HEADER_BYTES) / RAW_CHUNK_BYTES;
	uint64_t most = chunks * (RAW_CHUNK_BYTES / 8 / (2 + log->timeword));
	uint64_t per = sizeof(struct trace_op) + (timed ? 8 : 0);
	if (most > memory_budget() / per)
		most = memory_budget() / per;
	t->capops = most + 64;
	t->owned = xmalloc(t->capops * sizeof *t->owned);
	t->ops = t->owned;
	huge_hint(t->owned, t->capops * sizeof *t->owned);
	if (timed) {
		t->ncaptimes = t->capops;
		t->owned_times = xmalloc(t->ncaptimes * sizeof *t->owned_times);
		t->times = t->owned_times;
		huge_hint(t->owned_times, t->ncaptimes * sizeof *t->owned_times);
	}
}

/* Whether l may be converted now: always once the program is done; while
 * it runs, only logs ordered by the counter (raw.h) and LIVE_AFTER_NS old.
 * The first time, the counter's rate is measured and the arrays made. */
static bool live_start(struct recorder_live *l, bool final)
{
	const struct raw_header *h = l->log.h;
	if (l->started)
		return true;
	if (!final && (h->order != RAW_ORDER_TICKS || monotonic_ns() < h->start_mono_ns ||
		       monotonic_ns() - h->start_mono_ns < LIVE_AFTER_NS))
		return false;
	raw_refresh(&l->log);
	l->rate = ns_per_tick(h);
	trace_size(l->c.t, &l->log, l->rate > 0);
	l->started = true;
	return true;
}

/* The records that can be put in order now into c's trace.  They pass
 * through a ring of AHEAD so that each one's hash slot is fetched before it
 * is needed; the ring is empty again when this returns. */
static int convert_some(struct recorder_live *l)
{
	enum { AHEAD = 64 }; /* the hash map's cache misses overlap */
	struct conv *c = &l->c;
	struct merge *m = &l->m;
	const uint64_t *ring[AHEAD];
	uint16_t thread[AHEAD];
	unsigned tw = l->log.timeword, n = 0, at = 0;
	int rc = 1;
	while (n < AHEAD && (rc = merge_next(m, &ring[n], &thread[n])) == 1)
		n++;
	if (n && !l->have_first) {
		l->first = tw ? ring[0][1] : ring[0][0] >> 4;
		l->have_first = true;
	}
	while (n && rc >= 0) {
		const uint64_t *r = ring[at];
		c->thread = thread[at];
		if (rc == 1 && (rc = merge_next(m, &ring[at], &thread[at])) == 1) {
			const uint64_t *f = ring[at] + 1 + tw;
			__builtin_prefetch(&c->live.s[live_hash(&c->live, f[0] ? f[0] : f[1])]);
		} else if (rc == 0) {
			n--; /* the ring drains: its entries from at on are the last */
		}
		uint64_t ticks = tw ? r[1] : r[0] >> 4;
		/* per thread the ticks grow; across threads (RAW_ORDER_SEQ) a call
		 * may read them just before an earlier one */
		c->ns = ticks > l->first ? (uint64_t)((double)(ticks - l->first) * l->rate) : 0;
		if (convert_one(c, r[0] & 15, r + 1 + tw) < 0)
			return -1;
		at = (at + 1) % AHEAD;
	}
	return rc < 0 ? -1 : 0;
}

struct recorder_live *recorder_live_open(const char *path, struct trace *t,
					 struct recorder_info *info)
{
	struct recorder_live *l = xcalloc(1, sizeof *l);
	if (raw_map(path, &l->log) < 0) {
		free(l);
		return NULL;
	}
	l->path = xstrdup(path);
	merge_init(&l->m, &l->log, &info->lost);
	diag_init(&l->d, l->path, false);
	l->c = (struct conv){.t = t, .info = info, .d = &l->d};
	live_init(&l->c.live);
	idmap_init(&l->c.big);
	t->has_lines = false;
	return l;
}

int recorder_live_step(struct recorder_live *l, bool final)
{
	if (l->failed || !live_start(l, final))
		return l->failed ? -1 : 0;
	raw_refresh(&l->log);
	merge_refresh(&l->m, final);
	l->m.budget = LIVE_STEP_RECORDS;
	if (convert_some(l) < 0) {
		l->failed = 1;
		return -1;
	}
	if (final) {
		struct trace *t = l->c.t;
		t->nids = l->c.nids;
		t->nthreads = l->m.nthreads;
		l->c.info->threads = t->nthreads;
	}
	return 0;
}

void recorder_live_close(struct recorder_live *l)
{
	diag_finish(&l->d);
	live_free(&l->c.live);
	idmap_free(&l->c.big);
	idset_free(&l->c.ids);
	merge_free(&l->m);
	raw_unmap(&l->log);
	free(l->path);
	free(l);
}

int recorder_convert(const char *path, struct trace *t, struct recorder_info *info)
{
	struct recorder_live *l = recorder_live_open(path, t, info);
	if (!l)
		return -1;
	int rc = recorder_live_step(l, true);
	recorder_live_close(l);
	return rc;
}
