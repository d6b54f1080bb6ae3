/*
 * compress.h - how a file's bytes are compressed: what the reader detects
 * by magic (trace/src.c) and what a writer is asked for (base/out.h).
 *
 * Its own header so that base/ stands alone: output files need the enum,
 * and the trace model (trace.h) records it for each loaded trace.  The
 * names keep their TRACE_ spelling, as the one thing compressed is traces.
 */
#ifndef HB_COMPRESS_H
#define HB_COMPRESS_H

/* ZIP is read only: an archive holding one file (Android ships its traces
 * so); writers never produce it. */
enum trace_compression { TRACE_COMP_NONE, TRACE_COMP_ZSTD, TRACE_COMP_GZIP, TRACE_COMP_ZIP };

#endif
