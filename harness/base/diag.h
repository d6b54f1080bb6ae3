/*
 * diag.h - where trace readers report problems.
 *
 * Every problem names the file, and the source line and/or op index when
 * known, in one line on stderr:
 *
 *     heapbench: FILE:LINE: op N: message
 *
 * Op indexes are 0-based (op 0 is the first op), matching `error_op` in
 * result files.  In strict mode (every command except `trace lint`) the
 * first error makes the reader stop and return -1; in lint mode readers
 * skip the bad op and go on, so that every problem is listed.
 */
#ifndef HB_DIAG_H
#define HB_DIAG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/util.h"

#define DIAG_NO_LINE 0 /* line numbers are 1-based; 0 = unknown */
#define DIAG_NO_OP   UINT64_MAX

/* How many warnings of one file are printed before they are only counted. */
#define DIAG_MAX_WARNINGS 5

struct diag {
	const char *file;
	bool lint;  /* keep going after errors */
	bool quiet; /* count, print nothing (tests, probes) */
	unsigned long errors;
	unsigned long warnings;
	char last[512]; /* the last message, for tests and callers */
	/* strict mode holds warnings back until diag_finish, which prints
	 * them only if no error came: bad input is always exactly one line */
	char pending[DIAG_MAX_WARNINGS][512];
	unsigned npending;
};

void diag_init(struct diag *d, const char *file, bool lint);

/* Reports an error.  Returns -1 if the reader must stop (strict mode), 0 if
 * it may skip the op and continue (lint mode). */
int diag_error(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...) HB_PRINTF(4, 5);
/* An error after which no reader can go on (I/O, bad header): always -1. */
int diag_fatal(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...) HB_PRINTF(4, 5);
void diag_warn(struct diag *d, uint64_t line, uint64_t op, const char *fmt, ...) HB_PRINTF(4, 5);
/* Prints the warnings held back (if there was no error) and "N more
 * warnings" if some were suppressed. */
void diag_finish(struct diag *d);

#endif
