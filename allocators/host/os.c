/*
 * os.c - mmap, clocks (see os.h), and the report of a failed assertion
 * (hb_assert.h).
 */
#include "host/os.h"
#include "host/hb_assert.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void *os_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *os_reserve(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void os_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void *os_remap(void *p, size_t old_size, size_t new_size)
{
	void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
	return q == MAP_FAILED ? NULL : q;
}

void os_discard(void *p, size_t size)
{
	madvise(p, size, MADV_DONTNEED);
}

uint64_t os_anon_resident(int statm_fd)
{
	char buf[128];
	ssize_t n = statm_fd < 0 ? -1 : pread(statm_fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "size resident shared text lib data dt", in pages */
	uint64_t field[3] = {0};
	const char *p = buf;
	for (int f = 0; f < 3; f++) {
		while (*p == ' ')
			p++;
		for (; *p >= '0' && *p <= '9'; p++)
			field[f] = field[f] * 10 + (uint64_t)(*p - '0');
	}
	uint64_t anon = field[1] > field[2] ? field[1] - field[2] : 0;
	return anon * os_page_size();
}

size_t os_page_size(void)
{
	static size_t page;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

uint64_t os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void write_str(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(2, s, n);
		if (w <= 0)
			return;
		s += w, n -= (size_t)w;
	}
}

void hb_assert_fail(const char *file, int line, const char *cond)
{
	char num[24], *p = num + sizeof num;
	*--p = '\0';
	do
		*--p = (char)('0' + line % 10);
	while ((line /= 10) > 0);
	write_str("heapbench: internal error: ");
	write_str(file);
	write_str(":");
	write_str(p);
	write_str(": ");
	write_str(cond);
	write_str("\n");
	abort();
}
