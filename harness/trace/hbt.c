/*
 * hbt.c - the .hbt reader: opening an image in place (a plain file is
 * mapped with one mmap, a compressed one decompressed into memory); the
 * header and every bound are validated before any record is touched, and
 * records are not parsed.
 */
#include "trace/hbt.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "trace/internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "heapbench maps .hbt records in place and needs a little-endian host"
#endif

bool hbt_is_magic(const void *p)
{
	return !memcmp(p, HBT_MAGIC, HBT_MAGIC_LEN);
}

#define hbt_bad(d, ...) diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, __VA_ARGS__)

/* Parses the "key: value\n" metadata block. */
static int hbt_read_meta(struct trace *t, const char *p, size_t n, struct diag *d)
{
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon = memchr(p, ':', (size_t)((nl ? nl : end) - p));
		if (!nl || !colon || colon[1] != ' ' || memchr(p, '\0', (size_t)(nl - p)))
			return hbt_bad(d, "corrupt metadata block at byte %" PRIu64,
				       (uint64_t)(p - (end - n)));
		char key[TRACE_META_MAX_KEY + 1], value[TRACE_META_MAX_VALUE + 1];
		size_t kl = (size_t)(colon - p), vl = (size_t)(nl - colon - 2);
		if (kl >= sizeof key || vl >= sizeof value)
			return hbt_bad(d, "metadata line too long at byte %" PRIu64,
				       (uint64_t)(p - (end - n)));
		memcpy(key, p, kl);
		key[kl] = '\0';
		memcpy(value, colon + 2, vl);
		value[vl] = '\0';
		if (!utf8_valid(value))
			return hbt_bad(d, "metadata entry '%s' at byte %" PRIu64 " is not UTF-8",
				       key, (uint64_t)(p - (end - n)));
		if (!trace_meta_valid(key, value) || trace_meta_get(t, key))
			return hbt_bad(d, "invalid metadata entry '%s' at byte %" PRIu64, key,
				       (uint64_t)(p - (end - n)));
		/* bare: checked, not kept (and so a duplicate goes unseen) */
		if (!t->bare && trace_meta_set(t, key, value) < 0)
			return hbt_bad(d, "more than %d metadata entries", TRACE_META_MAX);
		p = nl + 1;
	}
	return 0;
}

int trace_open_hbt_image(struct trace *t, const void *image, size_t len, struct diag *d)
{
	struct hbt_header h;
	if (len < sizeof h)
		return hbt_bad(d, "truncated .hbt header (%" PRIu64 " of %" PRIu64 " bytes)",
			       (uint64_t)len, (uint64_t)sizeof h);
	memcpy(&h, image, sizeof h);
	if (!hbt_is_magic(h.magic))
		return hbt_bad(d, "not a .hbt file (bad magic)");
	if (h.version != HBT_VERSION)
		return hbt_bad(d, "unsupported .hbt version %" PRIu32 " (this heapbench reads %d)",
			       h.version, HBT_VERSION);
	if (h.header_size != sizeof h)
		return hbt_bad(d,
			       "bad .hbt header size %" PRIu32 " (version 1 headers are %d bytes)",
			       h.header_size, HBT_HEADER_SIZE);
	if (h.record_size != sizeof(struct trace_op))
		return hbt_bad(d, "unsupported .hbt record size %" PRIu64 " (expected %" PRIu64 ")",
			       (uint64_t)h.record_size, (uint64_t)sizeof(struct trace_op));
	if (h.flags & ~HBT_F_TIMES)
		return hbt_bad(d, "unknown .hbt flags 0x%" PRIx32, h.flags);
	/* bytes per op: the record, and its time when the file has times */
	uint64_t per = sizeof(struct trace_op) + (h.flags & HBT_F_TIMES ? sizeof(uint64_t) : 0);
	if (h.meta_offset < h.header_size || h.meta_offset > len ||
	    h.meta_size > len - h.meta_offset)
		return hbt_bad(
			d, "metadata block out of bounds (offset %" PRIu64 ", size %" PRIu64 ")",
			h.meta_offset, h.meta_size);
	if (h.ops_offset % 8 || h.ops_offset < h.meta_offset + h.meta_size || h.ops_offset > len)
		return hbt_bad(d, "bad op offset %" PRIu64 " (file is %" PRIu64 " bytes)",
			       h.ops_offset, (uint64_t)len);
	uint64_t room = (len - h.ops_offset) / per;
	if (h.op_count > room)
		return hbt_bad(
			d, "truncated: header declares %" PRIu64 " ops, the file holds %" PRIu64,
			h.op_count, room);
	if (h.op_count < room || (len - h.ops_offset) % per)
		return hbt_bad(d, "trailing data after %" PRIu64 " ops (file is %" PRIu64 " bytes)",
			       h.op_count, (uint64_t)len);
	/* every id is allocated at least once, so there are no more ids than ops */
	if (h.id_count > h.op_count)
		return hbt_bad(d, "header declares %" PRIu64 " ids for %" PRIu64 " ops",
			       (uint64_t)h.id_count, h.op_count);
	if (h.thread_count > TRACE_THREADS_MAX || (h.thread_count == 0 && h.op_count))
		return hbt_bad(d, "bad thread count %" PRIu32, h.thread_count);

	if (hbt_read_meta(t, (const char *)image + h.meta_offset, h.meta_size, d) < 0)
		return -1;
	t->format = TRACE_FMT_HBT;
	t->ops = (const struct trace_op *)((const char *)image + h.ops_offset);
	t->nops = h.op_count;
	if (h.flags & HBT_F_TIMES) /* 8-aligned: ops_offset is, and records are 24 bytes */
		t->times = (const uint64_t *)(const void *)(t->ops + h.op_count);
	t->nids = h.id_count;
	t->nthreads = h.thread_count ? h.thread_count : 1;
	return 0;
}

/* a file that starts like the .hbt magic is a (perhaps truncated) .hbt */
bool trace_probe_hbt(const unsigned char *head, size_t n)
{
	size_t k = n < HBT_MAGIC_LEN ? n : HBT_MAGIC_LEN;
	return k >= 4 && !memcmp(head, HBT_MAGIC, k);
}

/* Maps an uncompressed .hbt file; only the header is read now. */
int trace_map_hbt(struct trace *t, int fd, size_t size, struct diag *d)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "cannot map: %s", strerror(errno));
	t->map = p;
	t->maplen = size;
	return trace_open_hbt_image(t, p, size, d);
}

int trace_map_hbt_fd(struct trace *t, int fd, const char *path, struct diag *d)
{
	t->path = (char *)path;
	t->nthreads = 1;
	t->bare = true;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "not a regular .hbt file");
	if (trace_map_hbt(t, fd, (size_t)st.st_size, d) < 0)
		return -1;
	return trace_verify(t, d);
}
