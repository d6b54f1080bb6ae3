/*
 * raw.h - the recorder's raw log: what libheapbench-record.so writes while a
 * program runs and `heapbench record` turns into a trace, as it is written
 * and after the program ends.
 *
 * One file per process image (a fork or an exec starts a new one), named
 * PID-K.raw in the directory given by HEAPBENCH_RECORD_DIR.  The file is a
 * shared mapping that the program's threads write records into directly:
 * nothing is buffered in the process, so a program that calls _exit, is
 * killed or crashes still leaves every call it completed.
 *
 * Layout: a RAW_HEADER_BYTES header, then RAW_CHUNK_BYTES chunks.  A thread
 * takes a whole chunk for itself (the only shared write of the log: one
 * atomic add per chunk, on the header's `next`, so that `heapbench record`
 * sees which chunks are taken) and appends its calls to it in program
 * order, so a chunk is one thread's: its header names the thread, and a
 * thread's chunks follow each other in the file in the order it took them.
 * A chunk whose header is zero was never started.
 *
 * A record is 2 to 4 64-bit words: the stamp, then (in RAW_ORDER_SEQ logs
 * only) the time, then raw_payload_words(kind) words.  The stamp is
 * key << 4 | kind, stored last with release order: a zero stamp ends the
 * chunk's records (a call cut short by a kill leaves its payload and no
 * stamp).  The key orders the calls of all threads:
 *   - RAW_ORDER_TICKS: the key is the call's raw_ticks since the log began,
 *     the time-stamp counter, which the kernel keeps in step across CPUs
 *     when it uses it as its clock (clocksource tsc): then a call that
 *     happens after another one on another CPU reads a later count.  No
 *     shared counter at all: the key is the time;
 *   - RAW_ORDER_SEQ (elsewhere): the key is 1 + the call's place in a
 *     process-wide counter (one atomic add per call), and the time is a
 *     word of its own.
 * Either way the key is taken after the call for allocations (so an address
 * is never handed out in the order before it was freed) and before it for
 * frees and reallocs (so a freed address is never reused in the order
 * before its free); after-call counter reads wait for the call's loads
 * (rdtscp).  The converter merges the threads' runs by key.
 *
 * Converting while the program runs (RAW_ORDER_TICKS only): a thread
 * takes its chunk and makes the chunk's header visible (a full fence)
 * before it reads the key of any record it writes there, and a record's
 * stamp is its last word.  So a reader that reads the counter (fenced,
 * raw_ticks_fenced) and then finds a taken chunk's header still zero knows
 * that chunk's records all have later keys; a record it has seen stamped,
 * with a key before that counter read, is safe to put in order once every
 * known thread has a stamped record waiting (convert.c).
 *
 * Times (raw_ticks): the CPU's time-stamp counter on x86-64, read in a few
 * cycles, which the converter turns into ns with the pair (start_mono_ns,
 * start_ticks) read together when the log began and a second pair read at
 * conversion (only where the CPU says the counter is invariant:
 * constant_tsc and nonstop_tsc; else the trace gets no times); elsewhere ns
 * of CLOCK_MONOTONIC itself.
 */
#ifndef HB_RAW_H
#define HB_RAW_H

#include <stdint.h>
#include <sys/stat.h>

#define RAW_MAGIC        "HBRAW\0\4\0"
#define RAW_HEADER_BYTES 4096u
#define RAW_CMDLINE_MAX  3072u
#define RAW_CHUNK_BYTES  (64u << 10)
#define RAW_KEY_MAX      (UINT64_MAX >> 4)

enum raw_kind {                   /* payload words, in order */
		RAW_MALLOC = 1,   /* out, size: out = malloc(size) */
		RAW_CALLOC = 2,   /* out, size, nmemb: out = calloc(nmemb, size) */
		RAW_MEMALIGN = 3, /* out, size, alignment: an aligned allocation */
		RAW_REALLOC = 4,  /* in, out, size: out = realloc(in, size); out is 0 when
				     size 0 freed in */
		RAW_FREE = 5,     /* in: free(in) */
};

enum raw_order {
	RAW_ORDER_SEQ = 1,   /* stamp keys from a counter; a time word follows */
	RAW_ORDER_TICKS = 2, /* stamp keys are the times */
};

struct raw_header {
	char magic[8];
	uint64_t pid, ppid;
	uint64_t start_ns; /* CLOCK_REALTIME when the recorder started */
	uint64_t exec_seq; /* K of PID-K.raw */
	uint32_t cmdline_len;
	uint32_t order;                      /* enum raw_order */
	uint64_t start_mono_ns, start_ticks; /* read together: ticks' rate */
	uint64_t next;                 /* the next chunk's offset: chunks before it are taken */
	uint64_t pidns;                /* raw_pidns() of the recorded process, 0 unknown */
	char cmdline[RAW_CMDLINE_MAX]; /* /proc/self/cmdline: NUL-separated */
};

/* The caller's pid namespace (the inode of /proc/self/ns/pid), or 0.  The
 * pid and tids in a log are the recorded process's, as its namespace
 * numbers them: heapbench can ask /proc about them only from the same
 * namespace. */
static inline uint64_t raw_pidns(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* The head of a chunk: tid 0 = never started. */
struct raw_chunk {
	uint32_t tid;
	uint32_t pad;
	uint64_t reserved;
};

_Static_assert(sizeof(struct raw_header) <= RAW_HEADER_BYTES, "raw header fits");
_Static_assert(RAW_CHUNK_BYTES % 8 == 0 && RAW_HEADER_BYTES % 8 == 0, "records are aligned");

static inline unsigned raw_payload_words(unsigned kind)
{
	return kind == RAW_FREE ? 1 : kind == RAW_MALLOC ? 2 : 3;
}

/* Whether raw_ticks counts CPU cycles (RAW_TICKS_TSC) or ns. */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define RAW_TICKS_TSC 1
static inline uint64_t raw_ticks(void)
{
	return __rdtsc();
}
/* The counter once every earlier instruction (the call's loads) is done. */
static inline uint64_t raw_ticks_after(void)
{
	unsigned aux;
	return __rdtscp(&aux);
}
/* The counter once every earlier store is visible to other CPUs (mfence),
 * and before any later load (lfence): orders a chunk's header against the
 * keys read after it, and a reader's counter against the headers it reads
 * after it. */
static inline uint64_t raw_ticks_fenced(void)
{
	_mm_mfence();
	_mm_lfence();
	uint64_t t = __rdtsc();
	_mm_lfence();
	return t;
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
static inline uint64_t raw_ticks_after(void)
{
	return raw_ticks();
}
static inline uint64_t raw_ticks_fenced(void)
{
	return raw_ticks(); /* RAW_ORDER_TICKS is never used here */
}
#endif

#endif
