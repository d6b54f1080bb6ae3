#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
static void *worker(void *arg)
{
	(void)arg;
	void *a = malloc(1000);
	void *b = calloc(4, 250);
	a = realloc(a, 3000);
	free(b);
	free(a);
	return NULL;
}
int main(void)
{
	void *p = malloc(100);
	void *q = calloc(10, 20);
	void *r = realloc(NULL, 50);
	p = realloc(p, 1000);
	free(q);
	void *m = NULL;
	if (posix_memalign(&m, 64, 200)) return 1;
	void *m2 = memalign(32, 96);
	void *m3 = aligned_alloc(128, 256);
	void *v = valloc(100);
	free(NULL);
	void *huge = malloc((size_t)1 << 62);
	printf("huge=%p\n", huge);
	r = realloc(r, 300);
	void *z = realloc(m2, 0);
	printf("z=%p\n", z);
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	void *z0 = malloc(0);
	free(z0);
	free(p); free(m); free(m3); free(v); free(r);
	return 0;
}
