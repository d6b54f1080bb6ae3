/*
 * direct_loop.c - the floor for `make bench-overhead`: the same op array
 * replayed by calling malloc, calloc, posix_memalign, realloc and free
 * directly, with no backend table and no harness.
 *
 *   direct_loop TRACE [N]  prints "<seconds> <Mops/s>": the median of N
 *                          timed passes (default 5), after one untimed
 *                          warm-up pass (as heapbench's checked pass warms
 *                          the heap before its timed passes)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "trace/trace.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass; returns the seconds of the op loop (not of the cleanup). */
static double pass(const struct trace *t, void **ptrs)
{
	const struct trace_op *op = t->ops, *end = t->ops + t->nops;
	double t0 = now();
	for (; op < end; op++) {
		switch (op->kind) {
		case TRACE_ALLOC: ptrs[op->id] = malloc(op->size); break;
		case TRACE_CALLOC: ptrs[op->id] = calloc(op->arg, op->size); break;
		case TRACE_MEMALIGN:
			if (posix_memalign(&ptrs[op->id], op->arg < 8 ? 8 : op->arg, op->size))
				ptrs[op->id] = NULL;
			break;
		case TRACE_REALLOC: ptrs[op->id] = realloc(ptrs[op->id], op->size); break;
		default:
			if (op->id != TRACE_ID_NULL) {
				free(ptrs[op->id]);
				ptrs[op->id] = NULL;
			} else {
				free(NULL);
			}
		}
	}
	double dt = now() - t0;
	for (uint32_t id = 0; id < t->nids; id++) {
		free(ptrs[id]);
		ptrs[id] = NULL;
	}
	return dt;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int n = argc == 3 ? atoi(argv[2]) : 5;
	if (argc < 2 || argc > 3 || n < 1 || n > 100) {
		fprintf(stderr, "usage: direct_loop TRACE [PASSES]\n");
		return 2;
	}
	struct diag d;
	diag_init(&d, argv[1], 0);
	struct trace *t = trace_load_verified(argv[1], &d);
	if (!t)
		return 2;
	/* the id table from mmap, like heapbench's */
	size_t len = ((size_t)t->nids + 1) * sizeof(void *);
	void **ptrs = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ptrs == MAP_FAILED)
		return 2;
	pass(t, ptrs);
	double secs[100];
	for (int i = 0; i < n; i++)
		secs[i] = pass(t, ptrs);
	qsort(secs, (size_t)n, sizeof *secs, cmp_double);
	double dt = n % 2 ? secs[n / 2] : (secs[n / 2 - 1] + secs[n / 2]) / 2;
	printf("%.6f %.3f\n", dt, (double)t->nops / dt / 1e6);
	return 0;
}
