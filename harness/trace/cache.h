/*
 * cache.h - the trace cache: text and compressed traces kept, parsed, as
 * plain .hbt files in ${XDG_CACHE_HOME:-~/.cache}/heapbench/, named by a
 * hash of the source file's bytes.  The next run maps the cached file
 * instead of parsing it (a .hbt needs no parsing) and its workers read it
 * directly.  A cache that cannot be written is no cache, not an error.
 */
#ifndef HB_TRACE_CACHE_H
#define HB_TRACE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

/* The trace at path (loaded and verified, as trace_load_verified), through
 * the cache; NULL after reporting.  *cached says it came from the cache, so
 * it has no source lines: trace_cache_line finds them. */
struct trace *trace_cache_load(const char *path, bool *cached);

/* The source line of op i of the trace at path (read again, quietly), or 0. */
uint64_t trace_cache_line(const char *path, uint64_t i);

#endif
