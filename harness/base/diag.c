/*
 * diag.c - one-line problem reports that name file, line and op.
 */
#include "base/diag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void diag_init(struct diag *d, const char *file, bool lint)
{
	memset(d, 0, sizeof *d);
	d->file = file;
	d->lint = lint;
}

/* Formats the message into d->last and the whole line into out. */
static void diag_format(struct diag *d, const char *severity, uint64_t line, uint64_t op,
			const char *fmt, va_list ap, char *out, size_t outlen)
{
	char where[64] = "";
	int n = 0;
	if (line != DIAG_NO_LINE)
		n += snprintf(where + n, sizeof where - (size_t)n, ":%" PRIu64, line);
	n += snprintf(where + n, sizeof where - (size_t)n, ": ");
	if (op != DIAG_NO_OP)
		snprintf(where + n, sizeof where - (size_t)n, "op %" PRIu64 ": ", op);
	vsnprintf(d->last, sizeof d->last, fmt, ap);
	snprintf(out, outlen, "%s%s%s%s", d->file, where, severity, d->last);
}

static void diag_emit(struct diag *d, const char *severity, uint64_t line, uint64_t op,
		      const char *fmt, va_list ap)
{
	char msg[1024];
	diag_format(d, severity, line, op, fmt, ap, msg, sizeof msg);
	if (!d->quiet)
		hb_error("%s", msg);
}

/* Reports and counts an error; what the reader does next: 0 = go on (only
 * in lint mode, and only when the error is not fatal), -1 = stop. */
static int diag_raise(struct diag *d, bool fatal, uint64_t line, uint64_t op, const char *fmt,
		      va_list ap)
{
	diag_emit(d, "", line, op, fmt, ap);
	d->errors++;
	return d->lint && !fatal ? 0 : -1;
}

int diag_error(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = diag_raise(d, false, line, op, fmt, ap);
	va_end(ap);
	return rc;
}

int diag_fatal(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = diag_raise(d, true, line, op, fmt, ap);
	va_end(ap);
	return rc;
}

void diag_warn(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...)
{
	d->warnings++;
	va_list ap;
	va_start(ap, fmt);
	if (d->lint) {
		diag_emit(d, "warning: ", line, op, fmt, ap);
	} else if (d->npending < DIAG_MAX_WARNINGS) {
		diag_format(d, "warning: ", line, op, fmt, ap, d->pending[d->npending],
			    sizeof d->pending[0]);
		d->npending++;
	}
	va_end(ap);
}

void diag_finish(struct diag *d)
{
	if (d->lint || d->quiet || d->errors)
		return;
	for (unsigned i = 0; i < d->npending; i++)
		hb_error("%s", d->pending[i]);
	if (d->warnings > DIAG_MAX_WARNINGS)
		hb_error("%s: warning: %lu more warnings not shown (see `heapbench trace lint`)",
			 d->file, d->warnings - DIAG_MAX_WARNINGS);
	d->npending = 0;
}
