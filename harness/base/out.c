/*
 * out.c - atomic, optionally compressed output files (see out.h).
 */
#include "base/out.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/util.h"

#define OUT_CHUNK (1u << 18)
/* zstd level for traces: near the size of level 19 at several times the
 * speed on op records, which compress extremely well anyway. */
static int zstd_level = OUT_ZSTD_LEVEL;

void out_set_zstd_level(int level)
{
	zstd_level = level;
}

struct out {
	char *path, *tmp;
	int fd;
	enum trace_compression comp;
	ZSTD_CCtx *zstd;
	z_stream *zlib;
	unsigned char *cbuf;
	int failed;
	int wrapped; /* out_wrap_fd: no temporary file, no rename, no close */
};

/* The temporary file the signal handler must remove (one at a time). */
static char *volatile pending_tmp;
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGXFSZ};
static struct sigaction old_actions[HB_ARRAY_LEN(cleanup_signals)];

static void on_signal(int sig)
{
	char *tmp = pending_tmp;
	if (tmp)
		unlink(tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard_tmp(char *tmp)
{
	pending_tmp = tmp;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < HB_ARRAY_LEN(cleanup_signals); i++)
		sigaction(cleanup_signals[i], &sa, &old_actions[i]);
}

static void unguard_tmp(void)
{
	for (size_t i = 0; i < HB_ARRAY_LEN(cleanup_signals); i++)
		sigaction(cleanup_signals[i], &old_actions[i], NULL);
	pending_tmp = NULL;
}

struct out *out_open(const char *path, enum trace_compression comp)
{
	struct out *o = xcalloc(1, sizeof *o);
	o->path = xstrdup(path);
	o->comp = comp;
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	/* a short temporary name: the output's own name may be at the limit */
	o->tmp = xmalloc(dirlen + 32);
	sprintf(o->tmp, "%.*s.heapbench-XXXXXX", (int)dirlen, path);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		hb_error("%s: cannot create: %s", path, strerror(errno));
		free(o->tmp);
		free(o->path);
		free(o);
		return NULL;
	}
	guard_tmp(o->tmp);
	/* mkstemp makes 0600; give the file the mode a plain creat() would */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(o->fd, 0666 & ~mask);
	if (comp != TRACE_COMP_NONE)
		o->cbuf = xmalloc(OUT_CHUNK);
	if (comp == TRACE_COMP_ZSTD) {
		o->zstd = ZSTD_createCCtx();
		if (!o->zstd)
			hb_oom();
		ZSTD_CCtx_setParameter(o->zstd, ZSTD_c_compressionLevel, zstd_level);
		ZSTD_CCtx_setParameter(o->zstd, ZSTD_c_checksumFlag, 1);
	} else if (comp == TRACE_COMP_GZIP) {
		o->zlib = xcalloc(1, sizeof *o->zlib);
		if (deflateInit2(o->zlib, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			hb_oom();
	}
	return o;
}

struct out *out_wrap_fd(int fd, const char *name)
{
	struct out *o = xcalloc(1, sizeof *o);
	o->path = xstrdup(name);
	o->tmp = xstrdup("");
	o->fd = fd;
	o->wrapped = 1;
	return o;
}

static int raw_write(struct out *o, const void *data, size_t n)
{
	const char *p = data;
	while (n) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			hb_error("%s: write error: %s", o->path, strerror(errno));
			o->failed = 1;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Runs the compressor over data (or flushes it when end is set). */
static int compress_chunk(struct out *o, const void *data, size_t n, int end)
{
	if (o->zstd) {
		ZSTD_inBuffer in = {data, n, 0};
		size_t left;
		do {
			ZSTD_outBuffer ob = {o->cbuf, OUT_CHUNK, 0};
			left = ZSTD_compressStream2(o->zstd, &ob, &in,
						    end ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left)) {
				hb_error("%s: zstd: %s", o->path, ZSTD_getErrorName(left));
				return -1;
			}
			if (raw_write(o, o->cbuf, ob.pos) < 0)
				return -1;
		} while (end ? left != 0 : in.pos < in.size);
		return 0;
	}
	z_stream *z = o->zlib;
	z->next_in = (unsigned char *)data;
	z->avail_in = (unsigned)n;
	int r;
	do {
		z->next_out = o->cbuf;
		z->avail_out = OUT_CHUNK;
		r = deflate(z, end ? Z_FINISH : Z_NO_FLUSH);
		if (r == Z_STREAM_ERROR) {
			hb_error("%s: gzip: deflate failed", o->path);
			return -1;
		}
		if (raw_write(o, o->cbuf, OUT_CHUNK - z->avail_out) < 0)
			return -1;
	} while (end ? r != Z_STREAM_END : z->avail_in > 0 || z->avail_out == 0);
	return 0;
}

int out_write(struct out *o, const void *data, size_t n)
{
	if (o->failed)
		return -1;
	if (o->comp == TRACE_COMP_NONE)
		return raw_write(o, data, n);
	const char *p = data;
	while (n) {
		/* zlib counts in unsigned int */
		size_t part = n < (1u << 30) ? n : (1u << 30);
		if (compress_chunk(o, p, part, 0) < 0) {
			o->failed = 1;
			return -1;
		}
		p += part;
		n -= part;
	}
	return 0;
}

static void out_release(struct out *o)
{
	if (o->zstd)
		ZSTD_freeCCtx(o->zstd);
	if (o->zlib) {
		deflateEnd(o->zlib);
		free(o->zlib);
	}
	free(o->cbuf);
	free(o->tmp);
	free(o->path);
	free(o);
}

int out_commit(struct out *o)
{
	if (o->wrapped) {
		int failed = o->failed;
		out_release(o);
		return failed ? -1 : 0;
	}
	if (!o->failed && o->comp != TRACE_COMP_NONE && compress_chunk(o, "", 0, 1) < 0)
		o->failed = 1;
	if (!o->failed && close(o->fd) < 0) {
		hb_error("%s: write error: %s", o->path, strerror(errno));
		o->fd = -1;
		o->failed = 1;
	} else if (!o->failed) {
		o->fd = -1;
		if (rename(o->tmp, o->path) < 0) {
			hb_error("%s: cannot rename into place: %s", o->path, strerror(errno));
			o->failed = 1;
		}
	}
	if (o->failed) {
		out_abort(o);
		return -1;
	}
	unguard_tmp();
	out_release(o);
	return 0;
}

void out_abort(struct out *o)
{
	if (o->wrapped) {
		out_release(o);
		return;
	}
	if (o->fd >= 0)
		close(o->fd);
	unlink(o->tmp);
	unguard_tmp();
	out_release(o);
}

int out_file(const char *path, const void *data, size_t n)
{
	struct out *o = out_open(path, TRACE_COMP_NONE);
	if (!o)
		return -1;
	if (out_write(o, data, n) < 0) {
		out_abort(o);
		return -1;
	}
	return out_commit(o);
}

int out_json(const char *path, const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		hb_oom();
	size_t n = strlen(text);
	text[n] = '\n'; /* over the NUL: json_dumps' buffer holds n + 1 */
	int rc = out_file(path, text, n + 1);
	free(text);
	return rc;
}
