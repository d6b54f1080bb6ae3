/*
 * fuzz_trace.c - libFuzzer target for every trace reader: the input is a
 * file (any format, possibly compressed); it is loaded, verified, its stats
 * computed and written back in every format.  Any crash, sanitizer report
 * or leak is a bug: bad input must only ever give a one-line error.
 *
 *   make fuzz                      builds build/fuzz/fuzz_trace (clang)
 *   build/fuzz/fuzz_trace -max_total_time=300 build/fuzz/corpus tests/data
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace/stats.h"
#include "trace/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the readers take a path: serve the input from a memory file */
	int fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	struct diag d;
	diag_init(&d, path, false);
	d.quiet = true;
	struct trace *t = trace_load_verified(path, &d);
	if (t) {
		struct trace_stats st;
		trace_compute_stats(t, &st);
		static const char *const outs[] = {"/tmp/fuzz-out.trace", "/tmp/fuzz-out.rep",
						   "/tmp/fuzz-out.hbt.zst"};
		/* stderr warnings of the .rep writer are expected: silence them */
		FILE *saved = stderr;
		stderr = fopen("/dev/null", "w");
		for (size_t i = 0; i < sizeof outs / sizeof *outs; i++)
			if (trace_write(t, outs[i]) < 0)
				abort(); /* a verified trace must always be writable */
		fclose(stderr);
		stderr = saved;
		trace_free(t);
	}
	/* lint mode walks every error path without stopping */
	diag_init(&d, path, true);
	d.quiet = true;
	t = trace_load(path, &d);
	if (t && t->format == TRACE_FMT_HBT)
		trace_verify(t, &d);
	trace_free(t);
	close(fd);
	return 0;
}
