/*
 * util.h - small helpers shared by the whole harness: checked allocation,
 * the one error-reporting function, growable byte buffers.
 *
 * Error convention for the harness: functions return 0 on success and -1 on
 * failure after reporting the failure themselves (through hb_error or a
 * struct diag); callers only propagate -1.  Out-of-memory in the harness
 * itself is fatal (hb_oom), since no measurement survives it.
 */
#ifndef HB_UTIL_H
#define HB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HB_NORETURN     __attribute__((noreturn))
#define HB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define HB_VERSION "0.1.0"
#ifndef HB_GIT
#define HB_GIT "unknown"
#endif

/* Exit statuses (DESIGN §2). */
enum { HB_EXIT_OK = 0, HB_EXIT_FAIL = 1, HB_EXIT_USAGE = 2 };

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow *p (holding *cap elements of elem bytes) to hold at least need. */
void xgrow(void **p, size_t *cap, size_t need, size_t elem);
char *xstrdup(const char *s);
HB_NORETURN void hb_oom(void);

/* Zeroed memory straight from mmap, grown (possibly moved) and returned:
 * for the harness's large temporaries.  One that went through malloc would
 * stay with the process's allocator when freed, and in a replay's worker
 * that is the allocator under test: resident before the pass, then reused
 * by the trace unseen by the footprint (docs/metrics.md). */
void *xmap(size_t n);
void *xremap(void *p, size_t old, size_t n);
void xunmap(void *p, size_t n);

/* "heapbench: <message>" on stderr, one line. */
void hb_error(const char *fmt, ...) HB_PRINTF(1, 2);
void hb_verror(const char *fmt, va_list ap) HB_PRINTF(1, 0);

/* A growable byte buffer; text writers build output in one. */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_append(struct buf *b, const void *data, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...) HB_PRINTF(2, 3);
/* Appends the decimal digits of v; faster than printf on hot paths. */
void buf_u64(struct buf *b, uint64_t v);
void buf_free(struct buf *b);

/* A piece of a file name from text: the first n bytes of s (up to a NUL),
 * at most len - 1 of them, each byte other than letters, digits and
 * `. _ -` turned into `_`.  Returns its length. */
size_t file_name_part(char *out, size_t len, const char *s, size_t n);

/* Parses a whole decimal string into *out; 0 on success, -1 otherwise. */
int parse_u64(const char *s, uint64_t *out);
/* A byte count with an optional unit: 4096, 64KiB, 512MiB, 4GiB (also K,
 * M, G, B, TiB); 0 or -1 if malformed or too large. */
int parse_size(const char *s, uint64_t *out);

/* The length of the valid UTF-8 sequence at p (1 to 4 bytes; p is
 * NUL-terminated), or 0 if none starts there. */
size_t utf8_seq(const unsigned char *p);
/* Appends s to b, each byte that starts no valid UTF-8 sequence as U+FFFD. */
void buf_append_utf8(struct buf *b, const char *s);
/* Whether the string s is valid UTF-8. */
bool utf8_valid(const char *s);

/* s for a message: at most 160 of its bytes, control bytes escaped (\n,
 * \xHH), "..." and its length when longer: one short line whatever the
 * value.  Four calls' results live at once (a ring of static buffers). */
const char *hb_quote(const char *s);

/* The memory the kernel says it could give now without swapping
 * (MemAvailable), in bytes. */
uint64_t memory_available(void);

/* What heapbench lets one thing take in memory (a job's worker, by
 * default; a trace inflated or built in the parent): $HEAPBENCH_MEMORY_LIMIT
 * when it is a size, else half of memory_available, read once. */
uint64_t memory_budget(void);

/* memory_budget for a message: "11877 MiB (half the memory available)". */
const char *memory_budget_said(void);

/* mkdir -p: path and the directories above it; 0, or -1 with errno set. */
int mkdirs(const char *path);

/* errno for a path that is there but is no regular file: a FIFO (which
 * would block the reader for good), a socket or a device; hb_strerror
 * says so, and what strerror says of any other errno. */
#define HB_ENOTREG 0x4e524547
const char *hb_strerror(int err);

/* Opens path for reading when it is a regular file (O_CLOEXEC): its
 * descriptor, or -1 with errno set (EISDIR, HB_ENOTREG, or open's).  A
 * FIFO is opened without blocking, to be refused. */
int open_regular(const char *path);

/* The whole of a regular file, NUL-terminated (malloc'd; *len: its bytes
 * without the NUL), or NULL with errno set (open_regular's, or EIO). */
char *read_whole_file(const char *path, size_t *len);

/* FNV-1a over n bytes at p, continuing from h (FNV1A_BASIS to start): the
 * content keys of the trace cache and of mm:PATH's builds. */
#define FNV1A_BASIS UINT64_C(0xcbf29ce484222325)
uint64_t fnv1a(uint64_t h, const void *p, size_t n);

#endif
