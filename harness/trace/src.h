/*
 * src.h - an input file as a stream of bytes, transparently decompressed
 * (zstd or gzip, detected by magic, or the one file of a zip archive), read through one buffer that
 * serves both line-by-line parsing and whole-stream reads.
 *
 * The buffer holds at most SRC_CHUNK bytes plus one line, so reading a
 * trace of any size costs bounded memory beyond the op array.
 */
#ifndef HB_SRC_H
#define HB_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compress.h"
#include "base/diag.h"

#define SRC_CHUNK    (1u << 20)
#define SRC_MAX_LINE (1u << 20)

struct src {
	const char *path;
	struct diag *d;
	int fd;
	enum trace_compression comp;
	void *zstd;        /* ZSTD_DStream */
	void *zlib;        /* z_stream */
	void *zip;         /* zip_t, and the one file read from it: */
	void *zipfile;     /* zip_file_t */
	size_t zret;       /* last ZSTD_decompressStream hint: 0 = frame done */
	bool zlib_end;     /* gzip member complete */
	unsigned char *in; /* compressed input buffer */
	size_t in_pos, in_len;
	bool in_eof;

	char *buf; /* decompressed bytes [pos, len) not yet consumed */
	size_t pos, len, cap;
	bool eof;          /* no more bytes after buf[len) */
	uint64_t line;     /* number of the last line returned */
	bool unterminated; /* it was the last and had no newline (cut off?) */
	uint64_t total;    /* decompressed bytes delivered so far */
};

/* Opens path (a regular file).  Reports and returns -1 on a missing file,
 * a directory, an empty file or a read error. */
int src_open(struct src *s, const char *path, struct diag *d);
void src_close(struct src *s);

/* Makes at least n bytes available in s->buf + s->pos (fewer at the end of
 * the stream).  Returns the number available or -1 on an I/O or
 * decompression error (reported). */
long src_peek(struct src *s, size_t n);

/* The next line without its terminator (LF or CRLF), NUL-terminated in
 * place.  1 = got a line, 0 = end of stream, -1 = error (reported). */
int src_line(struct src *s, char **line, size_t *len);

/* For a reader that scans whole lines itself (text.c's fast path): the
 * bytes not yet consumed, n of them, followed by a NUL the call writes
 * (the buffer always has that byte of room).  Nothing is read. */
static inline char *src_window(struct src *s, size_t *n)
{
	s->buf[s->len] = '\0';
	*n = s->len - s->pos;
	return s->buf + s->pos;
}

/* Consumes the first n bytes of the window: `lines` whole lines, the last
 * one ended by its LF, as if src_line had returned each of them. */
static inline void src_consume_lines(struct src *s, size_t n, uint64_t lines)
{
	s->pos += n;
	s->line += lines;
	s->unterminated = false;
}

/* Reads everything not yet consumed into one malloc'd buffer (8-byte
 * aligned), refusing more than max bytes.  -1 on error (reported). */
int src_slurp(struct src *s, uint64_t max, void **data, size_t *len);

#endif
