/*
 * resident.c - the pages that were resident before a checked pass began,
 * and how many of them the trace's live blocks now cover (internal.h).
 *
 * A process-wide allocator enters the pass holding memory it has already
 * touched: its first arena page, a slab of each size class the warm-up or
 * the worker's start used, free chunks.  The baseline resident set counts
 * those pages, so a trace that reuses them would be undercounted by the
 * growth of the resident set alone (a 100 kB block on a fresh glibc arena
 * grew it by 96 kB).  The footprint adds them back: growth + the pages
 * resident at the baseline that now hold a live byte.  Pages that others
 * hold in use (the harness's tables, the allocator's metadata) hold no
 * live block, and stay subtracted.
 *
 * The snapshot is a bitmap over every private writable anonymous mapping
 * of /proc/self/maps, from mincore(2), with a running count per 64-bit
 * word so that counting the set pages of a range costs two lookups.  It is
 * taken once, before the baseline is read; its own memory comes straight
 * from mmap, after the scan, so it holds no block and is in the baseline.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "replay/internal.h"

struct resident_region {
	uintptr_t start, end; /* page-aligned */
	uint64_t bit;         /* bit of the first page */
};

/* Reads the whole of /proc/self/maps into a mapping; its length, or 0. */
static size_t read_maps(char **out, size_t *cap)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t len = 0, size = 1 << 20;
	char *buf = xmap(size);
	for (;;) {
		if (len + 4096 > size) {
			buf = xremap(buf, size, size * 2);
			size *= 2;
		}
		ssize_t n = read(fd, buf + len, size - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*cap = size;
	return len;
}

static uint64_t hex(const char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char ch = **p;
		unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
			     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
						      : 16;
		if (d == 16)
			return v;
		v = v * 16 + d;
	}
}

/* Mappings larger than this are reservations, not heaps (the sanitizers'
 * shadow memory: terabytes), and are left out of the snapshot: a bit per
 * page of them would cost gigabytes and a mincore scan of seconds. */
#define RESIDENT_MAX_REGION (UINT64_C(16) << 30)

/* The private writable anonymous mappings of one maps line: "start-end
 * perms offset dev inode [path]" with inode 0 and perms rw-p, at most
 * RESIDENT_MAX_REGION long. */
static bool anonymous_rw(const char *line, uintptr_t *start, uintptr_t *end)
{
	const char *p = line;
	*start = (uintptr_t)hex(&p);
	if (*p++ != '-')
		return false;
	*end = (uintptr_t)hex(&p);
	if (p[0] != ' ' || p[1] != 'r' || p[2] != 'w' || p[4] != 'p' ||
	    *end - *start > RESIDENT_MAX_REGION)
		return false;
	p += 6;
	for (int field = 0; field < 2; field++) { /* offset, dev */
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	return *p == '0' && (p[1] == ' ' || p[1] == '\n' || p[1] == '\0');
}

/* mincore over [start, end) into bits from bit on, in bounded chunks. */
static void snapshot_region(struct resident_base *rb, uintptr_t start, uintptr_t end, uint64_t bit,
			    unsigned char *vec, size_t veclen)
{
	size_t page = os_page_size();
	for (uintptr_t at = start; at < end;) {
		size_t n = (end - at) / page;
		n = n < veclen ? n : veclen;
		if (mincore((void *)at, n * page, vec) == 0) {
			for (size_t k = 0; k < n; k++)
				if (vec[k] & 1)
					rb->words[(bit + k) / 64] |= UINT64_C(1)
								     << ((bit + k) % 64);
		}
		bit += n;
		at += n * page;
	}
}

/* Clears the bits of [start, +len), a mapping of the snapshot's own. */
static void forget(struct resident_base *rb, uintptr_t start, size_t len)
{
	size_t page = os_page_size();
	for (size_t i = 0; i < rb->nregions; i++) {
		const struct resident_region *g = &rb->regions[i];
		for (uintptr_t at = start; at < start + len; at += page)
			if (at >= g->start && at < g->end) {
				uint64_t bit = g->bit + (at - g->start) / page;
				rb->words[bit / 64] &= ~(UINT64_C(1) << (bit % 64));
			}
	}
}

void resident_snapshot(struct resident_base *rb)
{
	*rb = (struct resident_base){0};
	char *maps;
	size_t mapscap, len = read_maps(&maps, &mapscap);
	if (!len)
		return;
	/* first count, then map the tables, then scan: the tables' own pages
	 * are mapped after the scan saw the list, so they are never in it */
	size_t nregions = 0;
	uint64_t pages = 0, page = os_page_size();
	for (const char *l = maps; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		uintptr_t s, e;
		if (anonymous_rw(l, &s, &e) && e > s) {
			nregions++;
			pages += (e - s) / page;
		}
	}
	rb->nregions = nregions;
	rb->regions_size = (nregions ? nregions : 1) * sizeof *rb->regions;
	rb->regions = xmap(rb->regions_size);
	rb->nwords = pages / 64 + 1;
	rb->words_size = rb->nwords * sizeof *rb->words;
	rb->words = xmap(rb->words_size);
	rb->ranks_size = (rb->nwords + 1) * sizeof *rb->ranks;
	rb->ranks = xmap(rb->ranks_size);
	rb->marks = xmap(rb->words_size);
	memset(rb->marks, 0, rb->words_size); /* resident before the baseline */
	size_t veclen = 65536;
	unsigned char *vec = xmap(veclen);
	size_t i = 0;
	uint64_t bit = 0;
	for (const char *l = maps; *l && i < nregions;
	     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		uintptr_t s, e;
		if (!anonymous_rw(l, &s, &e) || e <= s)
			continue;
		rb->regions[i++] = (struct resident_region){s, e, bit};
		snapshot_region(rb, s, e, bit, vec, veclen);
		bit += (e - s) / page;
	}
	rb->nregions = i;
	/* the scan's own buffers are in the list; once unmapped, their
	 * addresses may serve the allocator, and must not read as resident */
	forget(rb, (uintptr_t)vec, veclen);
	forget(rb, (uintptr_t)maps, mapscap);
	xunmap(vec, veclen);
	xunmap(maps, mapscap);
	for (uint64_t w = 0; w < rb->nwords; w++)
		rb->ranks[w + 1] = rb->ranks[w] + (uint64_t)__builtin_popcountll(rb->words[w]);
}

void resident_release(struct resident_base *rb)
{
	xunmap(rb->regions, rb->regions_size);
	xunmap(rb->words, rb->words_size);
	xunmap(rb->ranks, rb->ranks_size);
	xunmap(rb->marks, rb->words_size);
	*rb = (struct resident_base){0};
}

/* Set bits before bit b. */
static uint64_t rank(const struct resident_base *rb, uint64_t b)
{
	uint64_t w = b / 64, r = b % 64;
	return rb->ranks[w] + (r ? (uint64_t)__builtin_popcountll(rb->words[w] << (64 - r)) : 0);
}

/* The first region that ends after lo (nregions if none). */
static size_t first_region(const struct resident_base *rb, uintptr_t lo)
{
	size_t a = 0, b = rb->nregions;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (rb->regions[m].end <= lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

uint64_t resident_pages(const struct resident_base *rb, uintptr_t lo, uintptr_t hi)
{
	size_t page = os_page_size();
	uint64_t n = 0;
	for (size_t i = first_region(rb, lo); i < rb->nregions && rb->regions[i].start <= hi; i++) {
		const struct resident_region *g = &rb->regions[i];
		uintptr_t s = lo > g->start ? lo : g->start,
			  e = hi < g->end - page ? hi : g->end - page;
		if (s <= e)
			n += rank(rb, g->bit + (e - g->start) / page + 1) -
			     rank(rb, g->bit + (s - g->start) / page);
	}
	return n;
}

/* Marks the snapshot's resident pages of [lo, hi] (page addresses, both
 * included) in rb->marks. */
static void mark(struct resident_base *rb, uintptr_t lo, uintptr_t hi)
{
	size_t page = os_page_size();
	for (size_t i = first_region(rb, lo); i < rb->nregions && rb->regions[i].start <= hi; i++) {
		const struct resident_region *g = &rb->regions[i];
		uintptr_t s = lo > g->start ? lo : g->start,
			  e = hi < g->end - page ? hi : g->end - page;
		for (uintptr_t at = s; at <= e; at += page) {
			uint64_t bit = g->bit + (at - g->start) / page, w = bit / 64;
			rb->marks[w] |= rb->words[w] & (UINT64_C(1) << (bit % 64));
		}
	}
}

uint64_t resident_held(struct resident_base *rb, const struct id_table *tables, unsigned n,
		       uint32_t nids)
{
	if (!rb->marks)
		return 0;
	memset(rb->marks, 0, rb->words_size);
	uintptr_t mask = ~(uintptr_t)(os_page_size() - 1);
	for (unsigned t = 0; t < n; t++)
		for (uint32_t id = 0; id < nids; id++) {
			uintptr_t p =
				(uintptr_t)__atomic_load_n(&tables[t].ptrs[id], __ATOMIC_RELAXED);
			uint64_t size =
				__atomic_load_n(&tables[t].slots[id].size, __ATOMIC_RELAXED);
			if (p && size)
				mark(rb, p & mask, (p + size - 1) & mask);
		}
	uint64_t count = 0;
	for (uint64_t w = 0; w < rb->nwords; w++)
		count += (uint64_t)__builtin_popcountll(rb->marks[w]);
	return count;
}

uint64_t resident_now(const void *p, size_t len, unsigned char *vec, size_t veclen)
{
	size_t page = os_page_size();
	uint64_t count = 0;
	for (uintptr_t at = (uintptr_t)p, end = at + len; at < end;) {
		size_t n = (end - at + page - 1) / page;
		n = n < veclen ? n : veclen;
		if (mincore((void *)at, n * page, vec) == 0)
			for (size_t k = 0; k < n; k++)
				count += vec[k] & 1;
		at += n * page;
	}
	return count;
}
