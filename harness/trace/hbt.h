/*
 * hbt.h - the binary trace format (.hbt), version 1.
 *
 * Layout, all integers little-endian:
 *
 *   offset  size  field
 *        0     8  magic "\x89HBT\r\n\x1a\n" (catches text-mode mangling)
 *        8     4  version (1)
 *       12     4  header_size (64)
 *       16     4  record_size (24 = sizeof(struct trace_op))
 *       20     4  flags (HBT_F_TIMES or 0; readers reject unknown flags)
 *       24     8  op_count
 *       32     4  id_count     (ids are 0..id_count-1)
 *       36     4  thread_count (threads are 0..thread_count-1)
 *       40     8  meta_offset  (UTF-8 "key: value\n" lines)
 *       48     8  meta_size
 *       56     8  ops_offset   (a multiple of 8)
 *       64        metadata, zero padding, then op_count records,
 *                 then, with HBT_F_TIMES, op_count u64 times (ns) of the ops
 *
 * The file ends exactly after the last record (or time).  Files without
 * times are the version-1 files of every earlier heapbench; an earlier
 * heapbench refuses a file with times by its unknown flag.  Records are struct
 * trace_op; on a little-endian host the mapped file is used in place.
 */
#ifndef HB_HBT_H
#define HB_HBT_H

#include <stdbool.h>
#include <stdint.h>

#define HBT_MAGIC       "\x89HBT\r\n\x1a\n"
#define HBT_MAGIC_LEN   8
#define HBT_VERSION     1
#define HBT_HEADER_SIZE 64
#define HBT_F_TIMES     1u /* per-op times follow the records */

struct hbt_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t record_size;
	uint32_t flags;
	uint64_t op_count;
	uint32_t id_count;
	uint32_t thread_count;
	uint64_t meta_offset;
	uint64_t meta_size;
	uint64_t ops_offset;
};
_Static_assert(sizeof(struct hbt_header) == HBT_HEADER_SIZE, "hbt header layout");

bool hbt_is_magic(const void *p);

struct trace;
struct buf;
/* Appends to b the head of t's .hbt file: the header, the metadata (as
 * UTF-8: a recorded command line may not be) and the zeros up to
 * ops_offset; the records follow it (write.c). */
void hbt_head(const struct trace *t, struct buf *b);

#endif
