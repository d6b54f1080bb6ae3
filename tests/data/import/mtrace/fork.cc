#include <mcheck.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <string>
#include <vector>
int main(){ mtrace(); std::vector<std::string> v; for(int i=0;i<3;i++) v.push_back(std::string(40+i,'x'));
 void *a=malloc(11); pid_t c=fork(); if(c==0){ void *p=malloc(77); free(p); exit(0);} waitpid(c,0,0); void *q=malloc(88); free(q); free(a); return 0;}
