/*
 * record.c - libheapbench-record.so, the allocation recorder that
 * `heapbench record` preloads into a program (and, through the environment,
 * into every program it executes).
 *
 * It interposes malloc, calloc, realloc, reallocarray, free, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc, calls the next definition
 * (glibc's, or whatever allocator the program runs on) and writes one
 * record of 2 to 4 words per successful call into the raw log (raw.h): a shared
 * file mapping, so the records are in the page cache the moment they are
 * written and survive _exit, a crash or SIGKILL.  Failed calls are not
 * recorded.  Pointers stay pointers here; `heapbench record` turns them into
 * dense ids (convert.c), while the program runs and after.
 *
 * The hard cases:
 *   - start-up: dlsym itself may call calloc before the real functions are
 *     known; such calls are served from a static bootstrap buffer, never
 *     recorded, and freeing them does nothing;
 *   - threads: each thread fills its own chunks of the log, in program
 *     order; the order across threads is a key taken after an allocation
 *     returns and before a free or realloc starts, so that in the order an
 *     address is always freed before it is handed out again and allocated
 *     before it is freed.  The key is the time-stamp counter where the
 *     kernel keeps it in step across CPUs (no shared write per call), else
 *     a process-wide counter;
 *   - fork: the child closes the parent's log (pthread_atfork) and starts
 *     its own; exec starts a new log because the library is loaded afresh;
 *   - recursion: a call made while recording (by the next allocator, say)
 *     is passed through unrecorded (a thread-local depth);
 *   - thread-local storage uses the initial-exec model: the general one may
 *     call malloc on first use.
 * The cost per call is the call itself, a counter read and a store of 16
 * to 32 bytes into memory the thread alone writes, its pages made a chunk
 * at a time (make bench-record measures it).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "raw.h"

#define EXPORT __attribute__((visibility("default")))
#define TLS    __attribute__((tls_model("initial-exec"))) _Thread_local

#define MAP_RESERVE (UINT64_C(1) << 36) /* 64 GiB of address space for the log */
#define GROW_MIN    (UINT64_C(16) << 20)

/* ---- The next allocator ------------------------------------------------------ */

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);
static void *(*next_valloc)(size_t);
static void *(*next_pvalloc)(size_t);

/* Calls made while dlsym runs come from here. */
static _Alignas(16) char boot[1 << 16];
static atomic_size_t boot_used;
static atomic_int resolving;

static bool in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

/* 16 bytes of header (the size, for realloc) and zeroed memory */
static void *boot_alloc(size_t n)
{
	size_t need = (n + 16 + 15) & ~(size_t)15;
	size_t at = atomic_fetch_add(&boot_used, need);
	if (need < n || at + need > sizeof boot)
		return NULL;
	*(size_t *)(boot + at) = n;
	return boot + at + 16;
}

static void resolve(void)
{
	if (next_free)
		return;
	atomic_store(&resolving, 1);
	*(void **)&next_malloc = dlsym(RTLD_NEXT, "malloc");
	*(void **)&next_calloc = dlsym(RTLD_NEXT, "calloc");
	*(void **)&next_realloc = dlsym(RTLD_NEXT, "realloc");
	*(void **)&next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	*(void **)&next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	*(void **)&next_memalign = dlsym(RTLD_NEXT, "memalign");
	*(void **)&next_valloc = dlsym(RTLD_NEXT, "valloc");
	*(void **)&next_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	*(void **)&next_free = dlsym(RTLD_NEXT, "free"); /* last: the "resolved" flag */
	atomic_store(&resolving, 0);
	if (!next_malloc || !next_free) {
		static const char msg[] = "heapbench record: cannot find the C library's malloc\n";
		if (write(2, msg, sizeof msg - 1) < 0)
			_exit(127);
		_exit(127);
	}
}

/* ---- The log ------------------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_state; /* 0 not started, 1 logging, -1 off */
static char *log_map;
static int log_fd = -1;
static atomic_uint_fast64_t log_size; /* bytes of the file */
static _Atomic uint64_t *log_next;    /* the header's next: the next chunk's offset */
static atomic_uint_fast64_t log_seq;  /* RAW_ORDER_SEQ only */
static atomic_uint log_gen;           /* a forked child's chunks are its own */
static bool log_ticks;                /* RAW_ORDER_TICKS: the key is the time */
static uint64_t log_base;             /* raw_ticks when the log began */

static TLS struct {
	uint64_t *cur, *end; /* this thread's chunk: the next record, the end */
	unsigned gen;
	uint32_t tid;
	int depth; /* > 0 inside a hook */
} self;

static uint32_t my_tid(void)
{
	if (!self.tid)
		self.tid = (uint32_t)syscall(SYS_gettid);
	return self.tid;
}

/* The header of a new log: who, when, and how its records are ordered;
 * its magic last, so that a reader who sees it sees the rest. */
static void log_header(struct raw_header *h, uint64_t k)
{
	h->pid = (uint64_t)getpid();
	h->ppid = (uint64_t)getppid();
	h->exec_seq = k;
	h->pidns = raw_pidns();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	/* `heapbench record` says whether the counter is one clock for all CPUs */
	const char *order = getenv("HEAPBENCH_RECORD_ORDER");
	log_ticks = RAW_TICKS_TSC && order && !strcmp(order, "ticks");
	h->order = log_ticks ? RAW_ORDER_TICKS : RAW_ORDER_SEQ;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	log_base = raw_ticks();
	h->start_ticks = log_base;
	h->start_mono_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	int cfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		ssize_t n = read(cfd, h->cmdline, sizeof h->cmdline);
		h->cmdline_len = n > 0 ? (uint32_t)n : 0;
		close(cfd);
	}
	h->next = RAW_HEADER_BYTES;
	atomic_thread_fence(memory_order_release);
	memcpy(h->magic, RAW_MAGIC, sizeof h->magic);
}

/* Opens PID-K.raw in $HEAPBENCH_RECORD_DIR; under log_lock. */
static void log_start_locked(void)
{
	const char *dir = getenv("HEAPBENCH_RECORD_DIR");
	if (!dir || !*dir || strlen(dir) > 3500) {
		atomic_store(&log_state, -1);
		return;
	}
	char path[4096];
	int fd = -1;
	uint64_t k = 0;
	for (; k < 100000 && fd < 0; k++) {
		snprintf(path, sizeof path, "%s/%ld-%llu.raw", dir, (long)getpid(),
			 (unsigned long long)k);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	void *m = MAP_FAILED;
	if (fd >= 0 && ftruncate(fd, (off_t)GROW_MIN) == 0)
		m = mmap(NULL, MAP_RESERVE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
			 0);
	if (m == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		atomic_store(&log_state, -1);
		return;
	}
	/* no readahead: a fault past what is written would read in (and
	 * zero) a window of the file's holes, and then the unlink after
	 * conversion frees it again; a process that makes few calls would pay
	 * more for that than for its calls */
	madvise(m, MAP_RESERVE, MADV_RANDOM);
	log_header(m, k - 1);
	log_fd = fd;
	log_map = m;
	log_next = (_Atomic uint64_t *)&((struct raw_header *)m)->next;
	atomic_store(&log_size, GROW_MIN);
	atomic_store(&log_seq, 0);
	atomic_store(&log_state, 1);
}

static bool log_on(void)
{
	int s = atomic_load_explicit(&log_state, memory_order_acquire);
	if (s == 0) {
		pthread_mutex_lock(&log_lock);
		if (atomic_load(&log_state) == 0)
			log_start_locked();
		pthread_mutex_unlock(&log_lock);
		s = atomic_load(&log_state);
	}
	return s > 0;
}

/* Makes the file at least end bytes long; false when the log is full. */
static bool log_grow(uint64_t end)
{
	bool ok = true;
	pthread_mutex_lock(&log_lock);
	uint64_t size = atomic_load(&log_size);
	while (size < end && ok) {
		uint64_t grow = size / 4 > GROW_MIN ? size / 4 : GROW_MIN;
		ok = size + grow <= MAP_RESERVE && ftruncate(log_fd, (off_t)(size + grow)) == 0;
		size += ok ? grow : 0;
	}
	atomic_store(&log_size, size);
	pthread_mutex_unlock(&log_lock);
	return ok;
}

/* A fresh chunk for this thread; false when the log is full (recording
 * stops).  Its pages are made in one call rather than a fault each.  Its
 * header is visible to other CPUs before any key of its records is read
 * (raw.h: what lets `record` convert while the program runs). */
static bool log_chunk(unsigned gen)
{
	uint64_t off = atomic_fetch_add(log_next, RAW_CHUNK_BYTES);
	if (off + RAW_CHUNK_BYTES > atomic_load(&log_size) && !log_grow(off + RAW_CHUNK_BYTES)) {
		atomic_store(&log_state, -1);
		return false;
	}
	char *c = log_map + off;
	madvise(c, RAW_CHUNK_BYTES, MADV_POPULATE_WRITE); /* a hint: faults do it otherwise */
	struct raw_chunk *head = (struct raw_chunk *)c;
	atomic_store_explicit((_Atomic uint32_t *)&head->tid, my_tid(), memory_order_release);
	raw_ticks_fenced();
	self.cur = (uint64_t *)(c + sizeof *head);
	self.end = (uint64_t *)(c + RAW_CHUNK_BYTES);
	self.gen = gen;
	return true;
}

/* Room for a record of `words` words (stamp included) in this thread's
 * chunk, or NULL when the log is full. */
static inline uint64_t *log_room(unsigned words)
{
	unsigned gen = atomic_load_explicit(&log_gen, memory_order_relaxed);
	if (__builtin_expect(self.gen != gen || self.end - self.cur < (ptrdiff_t)words, 0) &&
	    !log_chunk(gen))
		return NULL;
	uint64_t *r = self.cur;
	self.cur += words;
	return r;
}

/* The order key of a call: its time (ticks since the log began) or its
 * place in the process's counter; *ticks gets the time.  Read after the
 * record's room is taken (log_room), so after its chunk is visible. */
static inline uint64_t log_key(bool after, uint64_t *ticks)
{
	if (log_ticks) {
		uint64_t t = after ? raw_ticks_after() : raw_ticks();
		*ticks = t;
		return t > log_base ? (t - log_base) & RAW_KEY_MAX : 0;
	}
	*ticks = raw_ticks();
	return (atomic_fetch_add_explicit(&log_seq, 1, memory_order_relaxed) + 1) & RAW_KEY_MAX;
}

static inline unsigned log_words(int kind)
{
	return 1 + !log_ticks + raw_payload_words((unsigned)kind);
}

/* Writes one record into its room r: the payload, then the stamp that
 * completes it. */
static inline void log_put(uint64_t *r, uint64_t key, uint64_t ticks, int kind, uint64_t a,
			   uint64_t b, uint64_t c)
{
	unsigned n = raw_payload_words((unsigned)kind);
	uint64_t *p = r + 1;
	if (!log_ticks)
		*p++ = ticks;
	p[0] = a;
	if (n > 1)
		p[1] = b;
	if (n > 2)
		p[2] = c;
	atomic_store_explicit((_Atomic uint64_t *)r, key << 4 | (unsigned)kind,
			      memory_order_release);
}

/* An allocation that returned out: its place in the order comes after it. */
static void log_alloc(int kind, const void *out, uint64_t size, uint64_t arg)
{
	uint64_t *r;
	if (!out || !log_on() || !(r = log_room(log_words(kind))))
		return;
	uint64_t ticks, key = log_key(true, &ticks);
	log_put(r, key, ticks, kind, (uintptr_t)out, size, arg);
}

/* ---- fork ------------------------------------------------------------------------- */

static void fork_prepare(void)
{
	pthread_mutex_lock(&log_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&log_lock);
}

/* The child writes its own log: the parent's mapping is not ours now. */
static void fork_child(void)
{
	pthread_mutex_unlock(&log_lock);
	if (atomic_load(&log_state) > 0) {
		munmap(log_map, MAP_RESERVE);
		close(log_fd);
		log_map = NULL;
		log_fd = -1;
		atomic_store(&log_state, 0);
	}
	atomic_fetch_add(&log_gen, 1);
	self.tid = 0;
	log_on();
}

__attribute__((constructor)) static void recorder_init(void)
{
	resolve();
	self.depth++; /* the recorder's own allocations are not the program's */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	log_on(); /* a process that never allocates still has a (empty) log */
	self.depth--;
}

/* ---- The interposed functions ---------------------------------------------------------- */

/* Pass-through when not resolved yet (dlsym's own calls), nested, or off. */
#define ENTER()                                                                                    \
	do {                                                                                       \
		if (!next_free && !atomic_load(&resolving))                                        \
			resolve();                                                                 \
	} while (0)
#define RECORDING() (self.depth == 0 && atomic_load_explicit(&log_state, memory_order_relaxed) >= 0)

EXPORT void *malloc(size_t n)
{
	if (!next_free) {
		if (atomic_load(&resolving))
			return boot_alloc(n);
		resolve();
	}
	if (!RECORDING())
		return next_malloc(n);
	self.depth++;
	void *p = next_malloc(n);
	log_alloc(RAW_MALLOC, p, n, 0);
	self.depth--;
	return p;
}

EXPORT void *calloc(size_t k, size_t n)
{
	if (!next_free) {
		if (atomic_load(&resolving))
			return n && k > SIZE_MAX / n ? NULL : boot_alloc(k * n);
		resolve();
	}
	if (!RECORDING())
		return next_calloc(k, n);
	self.depth++;
	void *p = next_calloc(k, n);
	log_alloc(RAW_CALLOC, p, n, k);
	self.depth--;
	return p;
}

EXPORT void free(void *p)
{
	if (in_boot(p))
		return;
	ENTER();
	if (!RECORDING() || !log_on()) {
		next_free(p);
		return;
	}
	self.depth++;
	uint64_t *r = log_room(log_words(RAW_FREE));
	if (r) {
		uint64_t ticks, key = log_key(false, &ticks);
		log_put(r, key, ticks, RAW_FREE, (uintptr_t)p, 0, 0);
	}
	next_free(p);
	self.depth--;
}

/* realloc and reallocarray: the room and the order are taken before the
 * call, the record written after it (a failed call gives its room back) */
static void *do_realloc(void *p, size_t n)
{
	if (in_boot(p)) { /* out of the bootstrap buffer: a fresh block */
		void *q = malloc(n);
		size_t old = ((size_t *)p)[-2];
		if (q)
			memcpy(q, p, old < n ? old : n);
		return q;
	}
	ENTER();
	if (!RECORDING() || !log_on())
		return next_realloc(p, n);
	self.depth++;
	uint64_t ticks = 0, key = 0, *r = log_room(log_words(RAW_REALLOC));
	if (r)
		key = log_key(false, &ticks);
	void *q = next_realloc(p, n);
	/* realloc(p, 0) frees p and may return NULL: that is not a failure */
	if (r && (q || (n == 0 && p)))
		log_put(r, key, ticks, RAW_REALLOC, (uintptr_t)p, (uintptr_t)q, n);
	else if (r)
		self.cur = r; /* the room is free again: nothing was written in it */
	self.depth--;
	return q;
}

EXPORT void *realloc(void *p, size_t n)
{
	return do_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t k, size_t n)
{
	if (n && k > SIZE_MAX / n) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(p, k * n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	ENTER();
	if (!RECORDING())
		return next_posix_memalign(out, align, n);
	self.depth++;
	int rc = next_posix_memalign(out, align, n);
	if (rc == 0)
		log_alloc(RAW_MEMALIGN, *out, n, align);
	self.depth--;
	return rc;
}

static void *aligned_call(void *(*fn)(size_t, size_t), size_t align, size_t n)
{
	ENTER();
	if (!RECORDING())
		return fn(align, n);
	self.depth++;
	void *p = fn(align, n);
	log_alloc(RAW_MEMALIGN, p, n, align);
	self.depth--;
	return p;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	ENTER();
	return aligned_call(next_aligned_alloc, align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
	ENTER();
	return aligned_call(next_memalign, align, n);
}

EXPORT void *valloc(size_t n)
{
	ENTER();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (!RECORDING())
		return next_valloc(n);
	self.depth++;
	void *p = next_valloc(n);
	log_alloc(RAW_MEMALIGN, p, n, page);
	self.depth--;
	return p;
}

/* pvalloc(n) is valloc of n rounded up to whole pages (one page for 0) */
EXPORT void *pvalloc(size_t n)
{
	ENTER();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if (!RECORDING())
		return next_pvalloc(n);
	self.depth++;
	void *p = next_pvalloc(n);
	size_t rounded = n ? (n + page - 1) / page * page : page;
	log_alloc(RAW_MEMALIGN, p, rounded < n ? n : rounded, page);
	self.depth--;
	return p;
}
