/*
 * hbtstream.c - a recorded trace written while it is converted (see
 * hbtstream.h): the ops and the times each go through a zstd stream of
 * their own into memory; the header frame is made at the end, and the
 * three frames go to the file in one atomic write (out.h).
 *
 * Costs: zstd level 1 (several times faster than the default while a
 * user waits for a fresh recording, about 25 % bigger), one compression
 * call per HBTS_BATCH ops; memory: the compressed bytes.
 */
#include "recorder/hbtstream.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/out.h"
#include "base/util.h"
#include "trace/hbt.h"

#define HBTS_LEVEL 1
#define HBTS_BATCH (1u << 16) /* ops per compression call: 1.5 MiB of records */

/* Runs n bytes of data through part's stream (ends its frame: end). */
static int part_feed(struct hbts_part *p, const void *data, size_t n, bool end, const char *what)
{
	if (!p->zstd) {
		p->zstd = ZSTD_createCCtx();
		if (!p->zstd)
			hb_oom();
		ZSTD_CCtx_setParameter(p->zstd, ZSTD_c_compressionLevel, HBTS_LEVEL);
		ZSTD_CCtx_setParameter(p->zstd, ZSTD_c_checksumFlag, 1);
	}
	ZSTD_inBuffer in = {data, n, 0};
	size_t left;
	do {
		xgrow((void **)&p->data, &p->cap, p->len + ZSTD_CStreamOutSize(), 1);
		ZSTD_outBuffer ob = {p->data + p->len, p->cap - p->len, 0};
		left = ZSTD_compressStream2(p->zstd, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left)) {
			hb_error("%s: zstd: %s", what, ZSTD_getErrorName(left));
			return -1;
		}
		p->len += ob.pos;
	} while (end ? left != 0 : in.pos < in.size);
	return 0;
}

static void part_free(struct hbts_part *p)
{
	ZSTD_freeCCtx(p->zstd);
	free(p->data);
	*p = (struct hbts_part){0};
}

/* Runs t's ops (and times) since the last call through their streams,
 * ending each frame with them if end. */
static int feed_since(struct hbt_stream *s, const struct trace *t, bool end)
{
	uint64_t n = t->nops - s->done;
	if (part_feed(&s->ops, t->ops + s->done, (size_t)n * sizeof *t->ops, end, t->path) < 0)
		return -1;
	if (t->times && part_feed(&s->times, t->times + s->done, (size_t)n * sizeof *t->times, end,
				  t->path) < 0)
		return -1;
	s->done = t->nops;
	return 0;
}

int hbts_feed(struct hbt_stream *s, const struct trace *t, bool all)
{
	uint64_t n = t->nops - s->done;
	if (!n || (!all && n < HBTS_BATCH))
		return 0;
	return feed_since(s, t, false);
}

/* The header and metadata of t, as trace_write puts them (write.c), into
 * one frame of their own in f. */
static int header_frame(const struct trace *t, struct hbts_part *f)
{
	struct buf b = {0};
	hbt_head(t, &b);
	int rc = part_feed(f, b.data, b.len, true, t->path);
	buf_free(&b);
	return rc;
}

/* The rest of t and the end of each frame.  A stream not yet begun (a
 * trace shorter than a batch: most processes of a build or a script) gets
 * its bytes and its end in one call, so that zstd knows their size and
 * sizes its tables and window to them, not to a stream of unknown length. */
static int hbts_end(struct hbt_stream *s, const struct trace *t, const char *path)
{
	if (!s->ops.zstd && !s->times.zstd)
		return t->nops > s->done ? feed_since(s, t, true) : 0;
	int rc = hbts_feed(s, t, true);
	if (rc == 0 && s->ops.zstd)
		rc = part_feed(&s->ops, NULL, 0, true, path);
	if (rc == 0 && s->times.zstd)
		rc = part_feed(&s->times, NULL, 0, true, path);
	return rc;
}

int hbts_finish(struct hbt_stream *s, const struct trace *t, const char *path)
{
	struct hbts_part head = {0};
	int rc = hbts_end(s, t, path);
	if (rc == 0)
		rc = header_frame(t, &head);
	struct out *o = rc == 0 ? out_open(path, TRACE_COMP_NONE) : NULL;
	if (o) {
		rc = out_write(o, head.data, head.len);
		if (rc == 0)
			rc = out_write(o, s->ops.data, s->ops.len);
		if (rc == 0)
			rc = out_write(o, s->times.data, s->times.len);
		if (rc == 0)
			rc = out_commit(o);
		else
			out_abort(o);
	}
	part_free(&head);
	hbts_free(s);
	return o ? rc : -1;
}

void hbts_free(struct hbt_stream *s)
{
	part_free(&s->ops);
	part_free(&s->times);
	s->done = 0;
}
