/*
 * xprog.c - the program the cross-check records with every tool (heapbench
 * record, valgrind --trace-malloc, ltrace, glibc mtrace): one thread, a
 * known sequence of allocation calls, no stdio (whose buffers would be
 * allocations inside libc, which ltrace cannot see).
 *
 * The sequence: 300 rounds of malloc(16 * (i % 13 + 1)), calloc(i % 7 + 1, 24),
 * realloc of the malloc'd block to twice its size, posix_memalign(64, 100),
 * and frees of every other round's blocks; a huge malloc that fails;
 * free(NULL); then everything still live is freed.  mtrace() is called first
 * (a no-op unless MALLOC_TRACE is set and libc_malloc_debug is preloaded).
 */
#define _POSIX_C_SOURCE 200809L
#include <mcheck.h>
#include <stdint.h>
#include <stdlib.h>

#define ROUNDS 300

int main(void)
{
	mtrace();
	static void *keep[ROUNDS][3];
	for (int i = 0; i < ROUNDS; i++) {
		void *a = malloc(16 * (size_t)(i % 13 + 1));
		void *c = calloc((size_t)(i % 7 + 1), 24);
		void *r = realloc(a, 32 * (size_t)(i % 13 + 1));
		void *m = NULL;
		if (posix_memalign(&m, 64, 100) != 0)
			return 1;
		if (i % 2) {
			free(c);
			free(m);
			c = m = NULL;
		}
		keep[i][0] = r;
		keep[i][1] = c;
		keep[i][2] = m;
	}
	volatile size_t huge = SIZE_MAX / 2;
	if (malloc(huge))
		return 1;
	free(NULL);
	for (int i = 0; i < ROUNDS; i++)
		for (int k = 0; k < 3; k++)
			free(keep[i][k]);
	muntrace();
	return 0;
}
