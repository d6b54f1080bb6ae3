/*
 * os.h - everything host-specific in one place: memory from the kernel
 * (never from malloc, so the allocator under test never sees the harness's
 * own memory), page size, clocks and the cycle counter.
 */
#ifndef HB_OS_H
#define HB_OS_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed read-write memory straight from mmap; NULL on failure. */
void *os_map(size_t size);
/* Address space only: pages are committed when first touched. */
void *os_reserve(size_t size);
void os_unmap(void *p, size_t size);
/* Grows a mapping made by os_map, possibly moving it (mremap); NULL on
 * failure (the old mapping is then still valid). */
void *os_remap(void *p, size_t old_size, size_t new_size);
/* Gives the pages of [p, p+size) back; they read as zero afterwards. */
void os_discard(void *p, size_t size);

size_t os_page_size(void);

/* A process's anonymous resident bytes, from a descriptor open on its
 * /proc/PID/statm: resident less shared pages (file and shared-memory
 * pages: code, mapped files, memory files).  One pread, no allocation; 0
 * if it cannot be read. */
uint64_t os_anon_resident(int statm_fd);

/* Monotonic wall-clock time in nanoseconds. */
uint64_t os_now_ns(void);

#endif
