/*
 * diag.c - one-line problem reports that name file, line and op.
 */
#include "diag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void diag_init(struct diag *d, const char *file, bool lint)
{
	memset(d, 0, sizeof *d);
	d->file = file;
	d->lint = lint;
}

static void diag_emit(struct diag *d, const char *severity, uint64_t line, uint64_t op,
		      const char *fmt, va_list ap)
{
	char where[64] = "";
	int n = 0;
	if (line != DIAG_NO_LINE)
		n += snprintf(where + n, sizeof where - (size_t)n, ":%" PRIu64, line);
	n += snprintf(where + n, sizeof where - (size_t)n, ": ");
	if (op != DIAG_NO_OP)
		snprintf(where + n, sizeof where - (size_t)n, "op %" PRIu64 ": ", op);
	vsnprintf(d->last, sizeof d->last, fmt, ap);
	if (!d->quiet)
		hb_error("%s%s%s%s", d->file, where, severity, d->last);
}

int diag_error(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_emit(d, "", line, op, fmt, ap);
	va_end(ap);
	d->errors++;
	return d->lint ? 0 : -1;
}

int diag_fatal(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_emit(d, "", line, op, fmt, ap);
	va_end(ap);
	d->errors++;
	return -1;
}

void diag_warn(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...)
{
	d->warnings++;
	if (d->warnings > DIAG_MAX_WARNINGS && !d->lint)
		return;
	va_list ap;
	va_start(ap, fmt);
	diag_emit(d, "warning: ", line, op, fmt, ap);
	va_end(ap);
}

void diag_finish(struct diag *d)
{
	if (!d->lint && !d->quiet && d->warnings > DIAG_MAX_WARNINGS)
		hb_error("%s: warning: %lu more warnings not shown (see `heapbench trace lint`)",
			 d->file, d->warnings - DIAG_MAX_WARNINGS);
}
