/*
 * worker32.c - heapbench-worker32: the worker of replay/worker.c as a
 * 32-bit program, for a student's mm.c written for the 32-bit handouts
 * (mm:PATH:bits=32).  A 64-bit heapbench starts it (replay/job.c) with
 * the same arguments as its own `heapbench __worker`; it is no command.
 */
#include <stdio.h>
#include <string.h>

#include "replay/job.h"

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "__worker")) {
		fputs("heapbench-worker32: heapbench runs it for mm:PATH:bits=32 jobs; it takes "
		      "no command of its own\n",
		      stderr);
		return 2;
	}
	return job_worker_main(argc - 1, argv + 1);
}
