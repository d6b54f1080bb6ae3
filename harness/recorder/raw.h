/*
 * raw.h - the recorder's raw log: what libheapbench-record.so writes while a
 * program runs and `heapbench record` turns into a trace afterwards.
 *
 * One file per process image (a fork or an exec starts a new one), named
 * PID-K.raw in the directory given by HEAPBENCH_RECORD_DIR.  The file is a
 * shared mapping that the program's threads write records into directly:
 * nothing is buffered in the process, so a program that calls _exit, is
 * killed or crashes still leaves every call it completed.
 *
 * Layout: a RAW_HEADER_BYTES header, then 56-byte records in chunks that
 * threads reserve for themselves.  A record is complete when its `seq` is
 * non-zero (stored last, with release order); unused slots are zero.  seq
 * is 1 + the call's place in the process's global order: taken after the
 * call for allocations (so an address is never handed out in the order
 * before it was freed) and before it for frees and reallocs (so a freed
 * address is never reused in the order before its free).  Seqs are dense, so
 * the reader orders records by placing each at its seq: no sort.
 *
 * Every record has the time of its call in ticks (raw_ticks): the CPU's
 * time-stamp counter on x86-64, read in a few cycles, which the converter
 * turns into ns by measuring the counter's rate against CLOCK_MONOTONIC
 * (only where the CPU says the counter is invariant: constant_tsc and
 * nonstop_tsc; else the trace gets no times); elsewhere ns of
 * CLOCK_MONOTONIC itself.
 */
#ifndef HB_RAW_H
#define HB_RAW_H

#include <stdint.h>

#define RAW_MAGIC        "HBRAW\0\2\0"
#define RAW_HEADER_BYTES 4096u
#define RAW_CMDLINE_MAX  3072u

enum raw_kind {
	RAW_NONE = 0,     /* a seq taken for a call that failed: skip */
	RAW_MALLOC = 1,   /* out = malloc(size) */
	RAW_CALLOC = 2,   /* out = calloc(arg, size) */
	RAW_MEMALIGN = 3, /* out = aligned allocation of size bytes, arg = alignment */
	RAW_REALLOC = 4,  /* out = realloc(in, size); out is 0 when size 0 freed in */
	RAW_FREE = 5,     /* free(in) */
};

struct raw_header {
	char magic[8];
	uint64_t pid, ppid;
	uint64_t start_ns; /* CLOCK_REALTIME when the recorder started */
	uint64_t exec_seq; /* K of PID-K.raw */
	uint32_t cmdline_len;
	uint32_t pad;
	char cmdline[RAW_CMDLINE_MAX]; /* /proc/self/cmdline: NUL-separated */
};

struct raw_record {
	uint64_t seq; /* 0: empty slot; else 1 + the place in the order */
	uint64_t in;  /* pointer passed (free, realloc) */
	uint64_t out; /* pointer returned */
	uint64_t size;
	uint64_t arg; /* calloc: nmemb; aligned allocations: alignment */
	uint32_t tid;
	uint8_t kind; /* enum raw_kind */
	uint8_t pad[3];
	uint64_t ticks; /* when the call was made (raw_ticks) */
};

_Static_assert(sizeof(struct raw_header) <= RAW_HEADER_BYTES, "raw header fits");
_Static_assert(sizeof(struct raw_record) == 56, "raw record is 56 bytes");

/* Whether raw_ticks counts CPU cycles (RAW_TICKS_TSC) or ns. */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define RAW_TICKS_TSC 1
static inline uint64_t raw_ticks(void)
{
	return __rdtsc();
}
#else
#include <time.h>
#define RAW_TICKS_TSC 0
static inline uint64_t raw_ticks(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#endif
