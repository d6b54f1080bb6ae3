/*
 * prog.c - a program with known allocations, for `heapbench record`'s tests
 * (tests/cli_record.sh).  Built without optimisation or builtins, so that
 * every call in the source is a call in the trace.
 *
 *   record_prog single      every allocation function, failed calls, id reuse
 *   record_prog threads N   N threads, each with its own sequence, and blocks
 *                           handed from thread to thread to be freed
 *   record_prog fork        a parent and a forked child, each its own trace
 *   record_prog exec        allocates, then executes itself with `single`
 *   record_prog exit        allocates, then _exit(7) with blocks live
 *   record_prog kill        allocates, then SIGKILLs itself
 *   record_prog big         blocks of 4 GiB and more (never touched), among
 *                           small ones
 *
 * Output goes through write(2): stdio would allocate a buffer.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		_exit(99);
}

static void single(void)
{
	void *a = malloc(100);       /* a 0 100 */
	void *b = calloc(10, 20);    /* c 1 10 20 */
	void *c = realloc(NULL, 50); /* realloc(NULL): a 2 50 */
	a = realloc(a, 1000);        /* r 0 1000 */
	free(b);                     /* f 1 */
	void *d = NULL;
	if (posix_memalign(&d, 64, 200)) /* m 1 64 200 */
		_exit(98);
	void *e = aligned_alloc(32, 96); /* m 3 32 96 */
	void *f = memalign(128, 10);     /* m 4 128 10 */
	void *g = valloc(100);           /* m 5 4096 100 */
	void *h = pvalloc(100);          /* m 6 4096 4096 */
	volatile size_t huge = (size_t)1 << 62;
	if (malloc(huge) || calloc(huge, 8)) /* fail: not recorded */
		_exit(97);
	void *z = NULL;
	if (posix_memalign(&z, 3, 10) == 0) /* fails (EINVAL): not recorded */
		_exit(96);
	free(NULL);                  /* f -1 */
	c = reallocarray(c, 10, 30); /* r 2 300 */
	if (realloc(d, 0))           /* realloc(p, 0) frees: f 1 */
		_exit(95);
	free(a);             /* f 0 */
	free(c);             /* f 2 */
	free(e);             /* f 3 */
	free(f);             /* f 4 */
	free(g);             /* f 5 */
	free(h);             /* f 6 */
	void *x = malloc(7); /* a 0 7: the lowest free id again */
	free(x);             /* f 0 */
	say(1, "hello from record_prog\n");
	say(2, "a line on stderr\n");
}

/* ---- threads ----------------------------------------------------------------- */

#define PER_THREAD 2000
static int nthreads;
static void *volatile handoff[64][PER_THREAD];
static pthread_barrier_t barrier;

/* Thread i allocates PER_THREAD blocks of sizes 1000*i + k, frees the odd
 * ones itself, then (after all have allocated) frees the even ones of
 * thread i+1: frees racing with allocations in other threads. */
static void *worker(void *arg)
{
	int i = (int)(intptr_t)arg;
	for (int k = 0; k < PER_THREAD; k++)
		handoff[i][k] = malloc((size_t)(1000 * (i + 1) + k));
	for (int k = 1; k < PER_THREAD; k += 2) {
		free(handoff[i][k]);
		handoff[i][k] = NULL;
	}
	pthread_barrier_wait(&barrier);
	int j = (i + 1) % nthreads;
	for (int k = 0; k < PER_THREAD; k += 2) {
		void *p = realloc(handoff[j][k], 64); /* a realloc chain across threads */
		free(p);
	}
	return NULL;
}

static void threads(int n)
{
	pthread_t t[64];
	nthreads = n;
	pthread_barrier_init(&barrier, NULL, (unsigned)n);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* RECORD_PROG_EARLY=1: a block allocated and freed before main, while
 * the C library and the recorder are still starting up */
__attribute__((constructor)) static void early(void)
{
	if (getenv("RECORD_PROG_EARLY")) {
		void *p = malloc(4242);
		free(p);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "single";
	if (!strcmp(mode, "single")) {
		single();
	} else if (!strcmp(mode, "threads")) {
		threads(argc > 2 ? atoi(argv[2]) : 4);
	} else if (!strcmp(mode, "fork")) {
		void *a = malloc(111);
		pid_t pid = fork();
		if (pid == 0) {
			void *b = malloc(222);
			free(a); /* allocated before the fork: the parent's */
			free(b);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		void *c = malloc(333);
		free(c);
		free(a);
	} else if (!strcmp(mode, "exec")) {
		void *a = malloc(444);
		(void)a;
		char *args[] = {argv[0], "single", NULL};
		execv("/proc/self/exe", args);
		_exit(94);
	} else if (!strcmp(mode, "exit")) {
		void *a = malloc(555), *b = malloc(556), *c = malloc(557);
		free(b);
		(void)a, (void)c;
		_exit(7);
	} else if (!strcmp(mode, "big")) {
		void *a = malloc(100), *b = malloc((size_t)5 << 30);
		void *c = realloc(b, (size_t)6 << 30), *d = malloc(200);
		c = realloc(c, 300); /* big, then small again */
		free(a);
		free(c);
		free(d);
	} else if (!strcmp(mode, "kill")) {
		void *a = malloc(666);
		(void)a;
		kill(getpid(), SIGKILL);
	}
	return 0;
}
