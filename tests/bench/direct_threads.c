/*
 * direct_threads.c - the floor for `make bench-threads`: a trace's thread
 * streams replayed by a minimal pthread program, with the waits heapbench's
 * plan makes (an op on a block waits for the op before it on that block
 * when another thread did it; a thread starts after the op before its
 * first), but nothing else: no backend table, no checks, no result.
 *
 *   direct_threads system|null TRACE [PASSES]
 *       prints "<seconds> <Mops/s>": the median of PASSES (default 5)
 *       timed passes after one untimed one.  system calls malloc & co.
 *       directly; null is a bump pointer behind one mutex (what heapbench
 *       does with its null backend, a simulated-heap backend: serialized).
 *
 * Threads are created before the clock starts and released together (a
 * barrier), so the figure has no thread creation in it, where heapbench
 * starts each thread when its first op is due: the comparison is
 * conservative for heapbench.  Waits spin, then sleep on a futex.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "trace/trace.h"

struct dop {
	struct trace_op op;
	uint32_t seq, wait, post;
};

struct dthread {
	struct dop *ops;
	uint64_t n;
	int start_id; /* -1: none */
	uint32_t start_seq;
	pthread_t tid;
	double end;
};

static struct {
	_Atomic uint32_t seq, waiters;
} * seqs;
static void **ptrs;
static int null_mode;
static pthread_barrier_t barrier;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *bump_base, *bump_next;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Spins, then sleeps on the counter, announcing itself so that post
 * only makes the wake-up call when someone sleeps. */
static void wait_for(uint32_t id, uint32_t want)
{
	for (int i = 0;; i++) {
		uint32_t v = atomic_load_explicit(&seqs[id].seq, memory_order_acquire);
		if ((int32_t)(v - want) >= 0)
			return;
		if (i < 200) {
			__builtin_ia32_pause();
			continue;
		}
		atomic_fetch_add(&seqs[id].waiters, 1);
		v = atomic_load(&seqs[id].seq);
		if ((int32_t)(v - want) < 0)
			syscall(SYS_futex, &seqs[id].seq, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
		atomic_fetch_sub(&seqs[id].waiters, 1);
	}
}

static void post(uint32_t id, uint32_t seq)
{
	atomic_store(&seqs[id].seq, seq);
	if (atomic_load(&seqs[id].waiters))
		syscall(SYS_futex, &seqs[id].seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static void *null_alloc(size_t n, const void *old)
{
	pthread_mutex_lock(&mu);
	char *p = bump_next;
	bump_next += (n + 15) & ~(size_t)15;
	if (old) {
		size_t room = (size_t)(p - (const char *)old);
		memcpy(p, old, n < room ? n : room);
	}
	pthread_mutex_unlock(&mu);
	return p;
}

static void run_op(const struct trace_op *op)
{
	void **slot = &ptrs[op->id];
	if (null_mode) {
		if (op->kind == TRACE_FREE) {
			pthread_mutex_lock(&mu);
			pthread_mutex_unlock(&mu);
			if (op->id != TRACE_ID_NULL)
				*slot = NULL;
		} else {
			*slot = null_alloc(trace_op_bytes(op),
					   op->kind == TRACE_REALLOC ? *slot : NULL);
		}
		return;
	}
	switch (op->kind) {
	case TRACE_ALLOC: *slot = malloc(op->size); break;
	case TRACE_CALLOC: *slot = calloc(op->arg, op->size); break;
	case TRACE_MEMALIGN:
		if (posix_memalign(slot, op->arg < 8 ? 8 : op->arg, op->size))
			*slot = NULL;
		break;
	case TRACE_REALLOC: *slot = realloc(*slot, op->size); break;
	default:
		if (op->id != TRACE_ID_NULL) {
			free(*slot);
			*slot = NULL;
		} else {
			free(NULL);
		}
	}
}

static void *thread_main(void *arg)
{
	struct dthread *th = arg;
	pthread_barrier_wait(&barrier);
	if (th->start_id >= 0)
		wait_for((uint32_t)th->start_id, th->start_seq);
	for (uint64_t i = 0; i < th->n; i++) {
		const struct dop *o = &th->ops[i];
		if (o->wait)
			wait_for(o->op.id, o->seq);
		run_op(&o->op);
		if (o->post)
			post(o->op.id, o->seq + 1);
	}
	th->end = now();
	return NULL;
}

/* The streams and their waits, as heapbench's plan makes them. */
static struct dthread *plan(const struct trace *t, uint32_t *nthreads)
{
	struct dthread *th = calloc(t->nthreads, sizeof *th);
	uint32_t *order = calloc(t->nthreads, sizeof *order), n = 0;
	uint64_t *count = calloc(t->nthreads, sizeof *count);
	uint32_t *idn = calloc((size_t)t->nids + 1, sizeof *idn);
	int *idthread = malloc(((size_t)t->nids + 1) * sizeof *idthread);
	struct dop **idlast = calloc((size_t)t->nids + 1, sizeof *idlast), *prev = NULL;
	for (uint64_t i = 0; i < t->nops; i++)
		count[t->ops[i].thread]++;
	for (uint32_t k = 0; k < t->nthreads; k++) {
		th[k].ops = malloc((count[k] ? count[k] : 1) * sizeof *th[k].ops);
		th[k].start_id = -1;
	}
	for (uint64_t i = 0; i < t->nops; i++) {
		const struct trace_op *op = &t->ops[i];
		struct dthread *h = &th[op->thread];
		if (h->n == 0) {
			order[n++] = op->thread;
			if (prev) {
				prev->post = 1;
				h->start_id = (int)prev->op.id;
				h->start_seq = prev->seq + 1;
			}
		}
		struct dop *o = &h->ops[h->n++];
		*o = (struct dop){.op = *op};
		if (op->id == TRACE_ID_NULL)
			continue;
		o->seq = idn[op->id]++;
		if (idlast[op->id] && idthread[op->id] != op->thread) {
			idlast[op->id]->post = 1;
			o->wait = 1;
		}
		idlast[op->id] = o;
		idthread[op->id] = op->thread;
		prev = o;
	}
	struct dthread *out = calloc(n ? n : 1, sizeof *out);
	for (uint32_t k = 0; k < n; k++)
		out[k] = th[order[k]];
	*nthreads = n;
	free(th), free(order), free(count), free(idn), free(idthread), free(idlast);
	return out;
}

static double pass(const struct trace *t, struct dthread *th, uint32_t n)
{
	memset(seqs, 0, ((size_t)t->nids + 1) * sizeof *seqs);
	bump_next = bump_base;
	pthread_barrier_init(&barrier, NULL, n + 1);
	for (uint32_t k = 0; k < n; k++)
		pthread_create(&th[k].tid, NULL, thread_main, &th[k]);
	pthread_barrier_wait(&barrier);
	double t0 = now(), end = t0;
	for (uint32_t k = 0; k < n; k++) {
		pthread_join(th[k].tid, NULL);
		end = th[k].end > end ? th[k].end : end;
	}
	pthread_barrier_destroy(&barrier);
	for (uint32_t id = 0; id < t->nids && !null_mode; id++)
		free(ptrs[id]);
	memset(ptrs, 0, ((size_t)t->nids + 1) * sizeof *ptrs);
	return end - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int passes = argc == 4 ? atoi(argv[3]) : 5;
	if (argc < 3 || argc > 4 || passes < 1 || passes > 100 ||
	    (strcmp(argv[1], "system") && strcmp(argv[1], "null"))) {
		fprintf(stderr, "usage: direct_threads system|null TRACE [PASSES]\n");
		return 2;
	}
	null_mode = !strcmp(argv[1], "null");
	struct trace *t = trace_load_file(argv[2], false);
	if (!t)
		return 2;
	uint64_t total = 0;
	for (uint64_t i = 0; i < t->nops; i++)
		total += (trace_op_bytes(&t->ops[i]) + 15) & ~(uint64_t)15;
	size_t nslots = (size_t)t->nids + 1;
	seqs = mmap(NULL, nslots * sizeof *seqs, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ptrs = mmap(NULL, nslots * sizeof *ptrs, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bump_base = null_mode ? mmap(NULL, total + 4096, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
			      : NULL;
	if (seqs == MAP_FAILED || ptrs == MAP_FAILED || bump_base == MAP_FAILED)
		return 2;
	uint32_t n;
	struct dthread *th = plan(t, &n);
	pass(t, th, n);
	double secs[100];
	for (int i = 0; i < passes; i++)
		secs[i] = pass(t, th, n);
	qsort(secs, (size_t)passes, sizeof *secs, cmp_double);
	double dt = passes % 2 ? secs[passes / 2] : (secs[passes / 2 - 1] + secs[passes / 2]) / 2;
	printf("%.6f %.3f\n", dt, (double)t->nops / dt / 1e6);
	return 0;
}
