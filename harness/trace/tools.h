/*
 * tools.h - the work of `heapbench trace stats | convert | lint | gen`, one
 * function per subcommand over a file (cli/cmd_trace.c parses the
 * arguments and calls these).  Messages go to stderr as one line each,
 * results to stdout.
 */
#ifndef HB_TRACE_TOOLS_H
#define HB_TRACE_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

/* Prints the stats of one trace: the table (after a blank line when
 * `separate`, between traces) or one JSON line.  -1 if it cannot be
 * loaded (reported). */
int trace_stats_show(const char *path, bool json, bool separate);

/* Writes the trace at `in` in the format out's name gives, checking the
 * name before reading anything; or, when out is a directory (ends in '/'
 * or is one), one DIR/N-PID.hbt.zst per process of the log, a table of
 * them on stderr.  0 or -1 (reported). */
int trace_convert(const char *in, const char *out);

/* Lists every problem of one trace, then "PATH: ok, N ops" or "PATH: N
 * problems" on stdout.  0 if clean, 1 if problems were found, -1 if there
 * is no file to lint (reported: bad usage rather than a problem). */
int trace_lint(const char *path);

/* Generates a trace (gen.h) and writes it to out.  0 or -1 (reported). */
int trace_gen_write(const char *pattern, uint64_t ops, uint64_t seed, uint64_t live,
		    const char *out);

#endif
