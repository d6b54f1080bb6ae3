#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
static void *w(void *a){ (void)a; for (int i=0;i<30;i++){ void *p=malloc(16+i); free(p);} return NULL; }
int main(void){
	pthread_t t[3];
	for (int i=0;i<3;i++) pthread_create(&t[i],NULL,w,NULL);
	for (int i=0;i<3;i++) pthread_join(t[i],NULL);
	pid_t c=fork();
	if(c==0){ void *p=malloc(77); free(p); _exit(0);}
	waitpid(c,NULL,0);
	void *q=malloc(88); free(q);
	return 0;
}
