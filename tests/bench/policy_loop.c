/*
 * policy_loop.c - a built-in backend's timed loop in one process, for
 * profilers that cannot follow heapbench's worker (valgrind has no
 * pidfd_open): the trace's ops called on the backend's table directly, on
 * a fresh state of one simulated heap per pass, as the timed passes do.
 *
 *   policy_loop BACKEND TRACE [N]   prints "<seconds> <Mops/s>": the median
 *                                   of N passes (default 5)
 *
 * e.g. valgrind --tool=cachegrind --branch-sim=yes \
 *          build/tests/policy_loop first-fit traces/synthetic/random-exponential.trace 5
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allocator.h"
#include "heap.h"
#include "trace/trace.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *call(const struct allocator *a, void *st, const struct trace_op *op, void *old)
{
	switch (op->kind) {
	case TRACE_ALLOC: return a->malloc(st, op->size);
	case TRACE_CALLOC: return a->calloc(st, op->arg, op->size);
	case TRACE_MEMALIGN: return a->memalign(st, op->arg, op->size);
	case TRACE_REALLOC: return a->realloc(st, old, op->size);
	default: a->free(st, old, NULL, 0); return NULL;
	}
}

/* One pass on a fresh state; the seconds of its op loop, or -1. */
static double pass(const struct allocator *a, struct heap *heap, const struct trace *t, void **ptrs)
{
	void *st;
	char err[256];
	heap_reset(heap);
	if (a->init(&st, heap, &(struct backend_opts){0}, err, sizeof err) < 0) {
		fprintf(stderr, "policy_loop: %s: %s\n", a->name, err);
		return -1;
	}
	double t0 = now();
	for (const struct trace_op *op = t->ops; op < t->ops + t->nops; op++) {
		void **slot = op->id == TRACE_ID_NULL ? NULL : &ptrs[op->id];
		void *p = call(a, st, op, slot ? *slot : NULL);
		if (slot)
			*slot = op->kind == TRACE_FREE ? NULL : p;
	}
	double dt = now() - t0;
	memset(ptrs, 0, ((size_t)t->nids + 1) * sizeof *ptrs);
	a->fini(st);
	return dt;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
	int n = argc == 4 ? atoi(argv[3]) : 5;
	const struct allocator *a = argc >= 3 ? allocator_find(argv[1]) : NULL;
	if (argc < 3 || argc > 4 || n < 1 || n > 1000 || !a || !(a->flags & ALLOC_F_SIMULATED)) {
		fprintf(stderr, "usage: policy_loop BUILT-IN-BACKEND TRACE [PASSES]\n");
		return 2;
	}
	struct diag d;
	diag_init(&d, argv[2], 0);
	struct trace *t = trace_load_verified(argv[2], &d);
	struct heap *heap = heap_create(0);
	void **ptrs = t ? calloc((size_t)t->nids + 1, sizeof *ptrs) : NULL;
	double *s = calloc((size_t)n, sizeof *s);
	if (!t || !heap || !ptrs || !s)
		return 2;
	for (int i = 0; i < n; i++)
		if ((s[i] = pass(a, heap, t, ptrs)) < 0)
			return 1;
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	printf("%.6f %.2f\n", med, med > 0 ? (double)t->nops / med / 1e6 : 0.0);
	heap_destroy(heap);
	trace_free(t);
	free(ptrs);
	free(s);
	return 0;
}
