/*
 * out.h - an output file that appears whole or not at all.
 *
 * Bytes go (optionally zstd- or gzip-compressed) to a temporary file in the
 * destination's directory; out_commit renames it into place, out_abort
 * removes it.  While an output is open, SIGINT, SIGTERM, SIGHUP, SIGQUIT
 * and SIGXFSZ remove the temporary file before the process dies, so an
 * interrupted command never leaves a partial file behind.
 */
#ifndef HB_OUT_H
#define HB_OUT_H

#include <stddef.h>

#include <jansson.h>

#include "base/compress.h"

struct out;

/* zstd's level for outputs opened from now on (default OUT_ZSTD_LEVEL, 9:
 * near level 19's size; `record` uses 1, several times faster while a user
 * waits for a fresh recording and about 25 % bigger). */
#define OUT_ZSTD_LEVEL 9
void out_set_zstd_level(int level);

/* Opens a temporary file next to path.  NULL on error (reported). */
struct out *out_open(const char *path, enum trace_compression comp);
/* Writes uncompressed to an open descriptor (a memfd, say), which stays
 * open; commit and abort only release o. */
struct out *out_wrap_fd(int fd, const char *name);
/* 0 or -1 (reported); after an error, out_abort is the only valid call. */
int out_write(struct out *o, const void *data, size_t n);
/* Flushes, closes and renames into place.  Frees o.  0 or -1 (reported). */
int out_commit(struct out *o);
/* Removes the temporary file and frees o. */
void out_abort(struct out *o);

/* A whole small file (a report, a summary) written the same way: it
 * appears complete or not at all.  0 or -1 (reported). */
int out_file(const char *path, const void *data, size_t n);
/* The same for a JSON value, indented. */
int out_json(const char *path, const json_t *v);

#endif
