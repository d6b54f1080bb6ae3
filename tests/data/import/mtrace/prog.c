#include <mcheck.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static void *worker(void *arg)
{
	(void)arg;
	void *p = malloc(200);
	void *q = calloc(3, 40);
	p = realloc(p, 400);
	free(q);
	free(p);
	return NULL;
}

int main(void)
{
	mtrace();
	void *a = malloc(100);
	void *b = calloc(10, 20);
	void *c = realloc(NULL, 50);
	a = realloc(a, 1000);
	free(b);
	void *m = NULL;
	if (posix_memalign(&m, 64, 200)) return 1;
	void *al = aligned_alloc(4096, 4096);
	free(NULL);
	void *huge = malloc((size_t)1 << 62);
	if (huge) return 2;
	void *r0 = realloc(c, 0);
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	void *hr = realloc(a, (size_t)1 << 62); /* fails: a stays */
	if (hr) return 3;
	free(r0);
	free(a);
	free(m);
	free(al);
	void *z = malloc(0);
	free(z);
	printf("done\n");
	muntrace();
	return 0;
}
