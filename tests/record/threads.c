/*
 * threads.c - the program the threaded replay tests record
 * (tests/cli_threads.sh): 8 threads that allocate, grow blocks by realloc
 * chains, and hand blocks to each other through one queue, so that
 * another thread reallocs and frees them (cross-thread frees and
 * reallocs).
 *
 * Every request size is unique in a run of up to UNIQUE_SPAN requests
 * (UNIQUE_BASE + a counter shared by the threads; the default run makes
 * about 2,400), so that the test's order-logging backend can tell each
 * call of the replay by its size.  ROUNDS per thread (or the first
 * argument: `make bench-threads` records a long run), deterministic sizes
 * apart from their order across threads.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS    8
#define ROUNDS      300
#define UNIQUE_BASE 3001
#define UNIQUE_SPAN 8192
#define QUEUE_CAP   64

static atomic_uint counter;
static unsigned rounds = ROUNDS;

static size_t unique_size(void)
{
	return UNIQUE_BASE + atomic_fetch_add(&counter, 1) % UNIQUE_SPAN;
}

/* The blocks handed between threads. */
static struct {
	pthread_mutex_t mu;
	void *blocks[QUEUE_CAP];
	unsigned n;
} queue = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static int give(void *p)
{
	pthread_mutex_lock(&queue.mu);
	int ok = queue.n < QUEUE_CAP;
	if (ok)
		queue.blocks[queue.n++] = p;
	pthread_mutex_unlock(&queue.mu);
	return ok;
}

static void *take(void)
{
	pthread_mutex_lock(&queue.mu);
	void *p = queue.n ? queue.blocks[--queue.n] : NULL;
	pthread_mutex_unlock(&queue.mu);
	return p;
}

static void *worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	void *own[8] = {0};
	for (unsigned r = 0; r < rounds; r++) {
		unsigned k = (r + me) % 8;
		if (!own[k]) {
			size_t n = unique_size();
			own[k] = r % 5 == 0   ? calloc(1, n)
				 : r % 7 == 0 ? aligned_alloc(64, n)
					      : malloc(n);
			memset(own[k], (int)me, 16);
		} else if (r % 3 == 0) { /* a realloc chain: the same block grows */
			void *q = realloc(own[k], unique_size());
			if (q)
				own[k] = q;
		} else if (give(own[k])) { /* another thread reallocs and frees it */
			own[k] = NULL;
		}
		void *theirs = take();
		if (theirs) {
			void *q = realloc(theirs, unique_size());
			free(q ? q : theirs);
		}
	}
	for (unsigned k = 0; k < 8; k++)
		free(own[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[NTHREADS];
	if (argc > 1)
		rounds = (unsigned)strtoul(argv[1], NULL, 10);
	for (unsigned i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i)) {
			perror("pthread_create");
			return 1;
		}
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (void *p; (p = take());)
		free(p);
	return 0;
}
