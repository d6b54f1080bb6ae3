/*
 * src.c - buffered, transparently decompressing input (see src.h).
 *
 * Compression is detected from the first bytes of the file (zstd frame
 * magic 28 B5 2F FD, gzip 1F 8B), never from its name.  Concatenated zstd
 * frames and gzip members are read as one stream; a stream that ends
 * inside a frame is reported as truncated.
 *
 * The two buffers come from mmap, not malloc (xmap: a replay's worker
 * reads its trace with the allocator under test in place).
 */
#include "trace/src.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>
#include <zstd.h>

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
static const unsigned char gzip_magic[2] = {0x1f, 0x8b};
static const unsigned char zip_magic[4] = {'P', 'K', 3, 4};

static int src_fail(struct src *s, const char *fmt, const char *arg)
{
	return diag_fatal(s->d, DIAG_NO_LINE, DIAG_NO_OP, fmt, arg);
}

/* Grows the decompressed buffer to hold need bytes, doubling (xgrow's rule). */
static void buf_grow(struct src *s, size_t need)
{
	if (need <= s->cap)
		return;
	size_t ncap = s->cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			hb_oom();
		ncap *= 2;
	}
	s->buf = xremap(s->buf, s->cap, ncap);
	s->cap = ncap;
}

/* read() that retries on EINTR; -1 reported. */
static long raw_read(struct src *s, void *dst, size_t n)
{
	for (;;) {
		ssize_t r = read(s->fd, dst, n);
		if (r >= 0)
			return (long)r;
		if (errno != EINTR)
			return src_fail(s, "read error: %s", strerror(errno));
	}
}

/* Refills the compressed input buffer when it is empty. */
static int in_fill(struct src *s)
{
	if (s->in_pos < s->in_len || s->in_eof)
		return 0;
	long r = raw_read(s, s->in, SRC_CHUNK);
	if (r < 0)
		return -1;
	s->in_pos = 0;
	s->in_len = (size_t)r;
	s->in_eof = r == 0;
	return 0;
}

/* Decompresses into buf[len, cap); returns bytes produced, 0 at the end. */
static long fill_zstd(struct src *s)
{
	ZSTD_outBuffer out = {s->buf + s->len, s->cap - s->len, 0};
	while (out.pos == 0) {
		if (in_fill(s) < 0)
			return -1;
		if (s->in_pos == s->in_len) {
			if (s->zret != 0)
				return src_fail(s, "truncated zstd data%s", "");
			return 0;
		}
		ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
		size_t r = ZSTD_decompressStream(s->zstd, &out, &in);
		s->in_pos = in.pos;
		if (ZSTD_isError(r))
			return src_fail(s, "corrupt zstd data: %s", ZSTD_getErrorName(r));
		s->zret = r;
	}
	return (long)out.pos;
}

static long fill_gzip(struct src *s)
{
	z_stream *z = s->zlib;
	z->next_out = (unsigned char *)s->buf + s->len;
	z->avail_out = (unsigned)(s->cap - s->len);
	while (z->avail_out == s->cap - s->len) {
		if (in_fill(s) < 0)
			return -1;
		if (s->in_pos == s->in_len) {
			if (!s->zlib_end)
				return src_fail(s, "truncated gzip data%s", "");
			return 0;
		}
		if (s->zlib_end) {
			/* zero padding after the last member is ignored, as gzip(1)
			 * does; anything else is another gzip member */
			while (s->in_pos < s->in_len && s->in[s->in_pos] == 0)
				s->in_pos++;
			if (s->in_pos == s->in_len)
				continue;
			inflateReset(z);
			s->zlib_end = false;
		}
		z->next_in = s->in + s->in_pos;
		z->avail_in = (unsigned)(s->in_len - s->in_pos);
		int r = inflate(z, Z_NO_FLUSH);
		s->in_pos = s->in_len - z->avail_in;
		if (r == Z_STREAM_END)
			s->zlib_end = true;
		else if (r != Z_OK && r != Z_BUF_ERROR)
			return src_fail(s, "corrupt gzip data: %s",
					z->msg ? z->msg : "inflate failed");
	}
	return (long)(s->cap - s->len - z->avail_out);
}

static long fill_zip(struct src *s)
{
	zip_int64_t r = zip_fread(s->zipfile, s->buf + s->len, s->cap - s->len);
	if (r < 0)
		return src_fail(s, "corrupt zip data: %s",
				zip_error_strerror(zip_file_get_error(s->zipfile)));
	return (long)r;
}

/* Opens the one file of the zip archive at s->fd (libzip reads it through
 * its own descriptor: a zip is read from its central directory, at the
 * end).  An archive of several files is refused: which one is the trace
 * is the user's choice. */
static int open_zip(struct src *s)
{
	int err = 0, fd = dup(s->fd);
	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return src_fail(s, "cannot read the zip archive: %s", strerror(errno));
	zip_t *z = zip_fdopen(fd, ZIP_RDONLY, &err);
	if (!z) {
		close(fd);
		zip_error_t ze;
		zip_error_init_with_code(&ze, err);
		src_fail(s, "corrupt zip archive: %s", zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	s->zip = z;
	zip_int64_t n = zip_get_num_entries(z, 0), file = -1, nfiles = 0;
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
		size_t len = name ? strlen(name) : 0;
		if (len && name[len - 1] != '/') {
			nfiles++;
			file = i;
		}
	}
	if (nfiles != 1) {
		char why[64];
		snprintf(why, sizeof why, "%lld files", (long long)nfiles);
		return src_fail(s, "zip archive with %s: extract the trace and pass it", why);
	}
	if (!(s->zipfile = zip_fopen_index(z, (zip_uint64_t)file, 0)))
		return src_fail(s, "cannot read the zip archive: %s",
				zip_error_strerror(zip_get_error(z)));
	return 0;
}

/* Appends more decompressed bytes to buf; 0 at end of stream. */
static long fill(struct src *s)
{
	if (s->eof)
		return 0;
	if (s->pos > 0) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->len -= s->pos;
		s->pos = 0;
	}
	if (s->cap - s->len < SRC_CHUNK / 2)
		buf_grow(s, s->len + SRC_CHUNK + 1);
	/* keep one byte for the NUL that src_line may add after a last line */
	s->cap--;
	long r = 0;
	if (s->comp == TRACE_COMP_ZSTD)
		r = fill_zstd(s);
	else if (s->comp == TRACE_COMP_GZIP)
		r = fill_gzip(s);
	else if (s->comp == TRACE_COMP_ZIP)
		r = fill_zip(s);
	else
		r = raw_read(s, s->buf + s->len, s->cap - s->len);
	s->cap++;
	if (r < 0)
		return -1;
	if (r == 0)
		s->eof = true;
	s->len += (size_t)r;
	s->total += (uint64_t)r;
	return r;
}

int src_open(struct src *s, const char *path, struct diag *d)
{
	memset(s, 0, sizeof *s);
	s->path = path;
	s->d = d;
	s->fd = open_regular(path);
	if (s->fd < 0 && errno == EISDIR)
		return src_fail(s, "is a directory, not a trace%s", "");
	if (s->fd < 0)
		return src_fail(s, "cannot open: %s", hb_strerror(errno));
	s->in = xmap(SRC_CHUNK);
	s->cap = SRC_CHUNK + 1;
	s->buf = xmap(s->cap);

	/* Sniff the raw magic; the bytes read stay in `in` for the decoder. */
	long r = 0;
	while (s->in_len < 4 && (r = raw_read(s, s->in + s->in_len, 4 - s->in_len)) > 0)
		s->in_len += (size_t)r;
	if (r < 0)
		goto fail;
	if (s->in_len == 0) {
		src_fail(s, "empty file%s", "");
		goto fail;
	}
	/* a zstd stream starts with a frame or a skippable frame (pzstd) */
	bool skippable = s->in_len >= 4 && (s->in[0] & 0xf0) == 0x50 && s->in[1] == 0x2a &&
			 s->in[2] == 0x4d && s->in[3] == 0x18;
	if (s->in_len >= 4 && (!memcmp(s->in, zstd_magic, 4) || skippable)) {
		s->comp = TRACE_COMP_ZSTD;
		s->zstd = ZSTD_createDStream();
		if (!s->zstd)
			hb_oom();
		ZSTD_initDStream(s->zstd);
		s->zret = 1;
	} else if (s->in_len >= 2 && !memcmp(s->in, gzip_magic, 2)) {
		s->comp = TRACE_COMP_GZIP;
		z_stream *z = xcalloc(1, sizeof *z);
		if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK)
			hb_oom();
		s->zlib = z;
	} else if (s->in_len >= 4 && !memcmp(s->in, zip_magic, 4)) {
		s->comp = TRACE_COMP_ZIP;
		s->in_len = 0;
		if (open_zip(s) < 0)
			goto fail;
	} else {
		memcpy(s->buf, s->in, s->in_len);
		s->len = s->total = s->in_len;
		s->in_len = 0;
	}
	return 0;
fail:
	src_close(s);
	return -1;
}

void src_close(struct src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->zstd)
		ZSTD_freeDStream(s->zstd);
	if (s->zlib) {
		inflateEnd(s->zlib);
		free(s->zlib);
	}
	if (s->zipfile)
		zip_fclose(s->zipfile);
	if (s->zip)
		zip_discard(s->zip);
	s->zip = s->zipfile = NULL;
	xunmap(s->in, SRC_CHUNK);
	xunmap(s->buf, s->cap);
	s->zstd = s->zlib = s->in = NULL;
	s->buf = NULL;
}

long src_peek(struct src *s, size_t n)
{
	while (s->len - s->pos < n && !s->eof)
		if (fill(s) < 0)
			return -1;
	size_t have = s->len - s->pos;
	return (long)(have < n ? have : n);
}

int src_line(struct src *s, char **line, size_t *len)
{
	size_t scanned = 0;
	for (;;) {
		char *start = s->buf + s->pos;
		size_t avail = s->len - s->pos;
		char *nl = memchr(start + scanned, '\n', avail - scanned);
		if (nl || (s->eof && avail > 0)) {
			size_t n = nl ? (size_t)(nl - start) : avail;
			s->pos += nl ? n + 1 : n;
			s->unterminated = !nl;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			start[n] = '\0';
			*line = start;
			*len = n;
			s->line++;
			if (memchr(start, '\0', n))
				return diag_fatal(
					s->d, s->line, DIAG_NO_OP,
					"NUL byte in the line: binary data, not a text trace");
			return 1;
		}
		if (s->eof)
			return 0;
		if (avail > SRC_MAX_LINE)
			return diag_fatal(s->d, s->line + 1, DIAG_NO_OP,
					  "line longer than %u bytes: not a trace", SRC_MAX_LINE);
		scanned = avail;
		if (fill(s) < 0)
			return -1;
	}
}

int src_slurp(struct src *s, uint64_t max, void **data, size_t *len)
{
	while (!s->eof) {
		if (s->len - s->pos > max)
			return diag_fatal(s->d, DIAG_NO_LINE, DIAG_NO_OP,
					  "decompresses to more than %" PRIu64
					  " KiB, more than it may hold: decompress it to a "
					  "file, which is read without holding it",
					  max >> 10);
		/* fill() grows the buffer only when it runs short; ask for room */
		buf_grow(s, s->len + SRC_CHUNK + 1);
		if (fill(s) < 0)
			return -1;
	}
	size_t n = s->len - s->pos;
	void *p = xmalloc(n);
	memcpy(p, s->buf + s->pos, n);
	s->pos = s->len;
	*data = p;
	*len = n;
	return 0;
}
