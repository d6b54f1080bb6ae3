/*
 * hbtstream.h - a recorded trace written while it is converted: the
 * .hbt.zst that trace_write would make (traces/README.md), but with its
 * ops and times compressed as they come, while the program still runs, so
 * that what is left after it ends is the tail.
 *
 * The file is three zstd frames, which a reader decompresses as one
 * stream: the header and metadata (known only at the end, written first),
 * the op records, the times.  The frames of the ops and the times are
 * kept in memory until then (about a tenth of the op array).
 */
#ifndef HB_RECORDER_HBTSTREAM_H
#define HB_RECORDER_HBTSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/trace.h"

/* One compressed section: a zstd stream and the bytes it made. */
struct hbts_part {
	void *zstd; /* ZSTD_CCtx, made on the first bytes */
	unsigned char *data;
	size_t len, cap;
};

struct hbt_stream {
	struct hbts_part ops, times;
	uint64_t done; /* ops (and times) compressed so far */
};

/* Compresses t's ops (and times) that came since the last call, once
 * there are enough of them to be worth a call (all: every one).  t's
 * arrays may have moved since.  0, or -1 (reported). */
int hbts_feed(struct hbt_stream *s, const struct trace *t, bool all);

/* Writes the whole trace t (every op fed: all) to path, atomically (out.h),
 * and releases s.  0, or -1 (reported). */
int hbts_finish(struct hbt_stream *s, const struct trace *t, const char *path);

/* Releases s without writing anything. */
void hbts_free(struct hbt_stream *s);

#endif
