/*
 * fuzz_config.c - libFuzzer target for the suite config loader: the input
 * is a YAML file; it is loaded and checked as `heapbench run --dry-run`
 * would.  Any crash, sanitizer report or leak is a bug: a bad config must
 * only ever give a one-line error with its position.
 *
 *   make fuzz                      builds build/fuzz/fuzz_config (clang)
 *   build/fuzz/fuzz_config -max_total_time=60 build/fuzz/config tests/fuzz/corpus/config
 *
 * A config naming a preload: or library: backend that exists starts a
 * worker to probe it: this binary, re-executed as `__worker`, so it is one
 * too (LLVMFuzzerInitialize).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "replay/job.h"
#include "suite/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (*argc > 1 && !strcmp((*argv)[1], "__worker"))
		exit(job_worker_main(*argc - 1, *argv + 1));
	/* the loader's one-line errors are expected, not worth the time:
	 * ours go to /dev/null, libFuzzer's (which took stderr when it
	 * started) still show */
	FILE *null = fopen("/dev/null", "w");
	if (!null)
		abort();
	stderr = null;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct config *c = config_load(path);
	if (c)
		config_free(c);
	close(fd);
	return 0;
}
