/*
 * mallocbench.c - importer of the malloc-bench protobuf Tracefile (gzip-compressed protobuf).  Not written yet.
 */
#include "trace/import.h"
#include "trace/internal.h"

bool trace_probe_mallocbench(const unsigned char *head, size_t n)
{
	(void)head;
	(void)n;
	return false;
}

int trace_read_mallocbench(struct trace *t, struct src *s, struct diag *d)
{
	(void)t;
	(void)s;
	return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "mallocbench logs are not read yet");
}
