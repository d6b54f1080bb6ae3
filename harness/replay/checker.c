/*
 * checker.c - what the checked pass verifies of a block (internal.h): its
 * alignment, its place in the simulated heap, no overlap with a live block
 * (O(log n) in an address-ordered index of the live blocks), and the
 * payload pattern each block carries while it lives (O(block size) with
 * --check full, O(1) with fast).
 *
 * Whatever the check level, every page of every block of a process-wide
 * backend is written when the block is adopted (a byte of its pattern at
 * each page start), as a program writes what it allocates: live bytes are
 * then resident, so a footprint read from the resident set can never fall
 * below them.  The levels differ in what they verify, not in what becomes
 * resident.  A simulated heap's footprint is its own exact accounting:
 * there only what the level verifies is written.
 *
 * Memory: the index comes from mmap (host/addrmap.h), never from the
 * allocator under test, so a backend that scribbles over its neighbours
 * cannot reach the checker's data through malloc's heap.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "replay/internal.h"

int check_fail(struct checker *c, uint64_t i, enum replay_status st, const char *fmt, ...)
{
	struct replay_result *r = c->j->r;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->status = st;
	r->error_op = i;
	r->error_line = trace_line(c->t, i);
	return -1;
}

/* ---- Payload pattern ------------------------------------------------------ */

/* Byte i of a block with seed s is byte i%8 of pattern_word(s, i/8): a
 * block's content depends on its allocation, so a new block that aliases
 * an old one, or data copied from the wrong place, does not match. */
static inline uint64_t pattern_word(uint64_t seed, uint64_t k)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + k * 0xd6e8feb86659fd93ull;
	return x ^ (x >> 29);
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t i)
{
	return (uint8_t)(pattern_word(seed, i / 8) >> (8 * (i % 8)));
}

static void pattern_write(unsigned char *p, uint64_t seed, uint64_t lo, uint64_t hi)
{
	uint64_t i = lo;
	for (; i < hi && i % 8; i++)
		p[i] = pattern_byte(seed, i);
	for (; i + 8 <= hi; i += 8) {
		uint64_t w = pattern_word(seed, i / 8);
		memcpy(p + i, &w, 8);
	}
	for (uint64_t w = pattern_word(seed, i / 8); i < hi; i++) /* the last bytes, of one word */
		p[i] = (uint8_t)(w >> 8 * (i % 8));
}

/* One byte of the pattern in every page that [p, p + n) touches: what
 * makes the block resident, at O(pages). */
static void pattern_touch_pages(unsigned char *p, uint64_t seed, uint64_t n)
{
	uint64_t page = os_page_size();
	if (n)
		p[0] = pattern_byte(seed, 0);
	for (uint64_t k = (page - (uintptr_t)p % page) % page; k < n; k += page)
		p[k] = pattern_byte(seed, k);
}

/* First offset in [lo, hi) that breaks the pattern, or UINT64_MAX. */
static uint64_t pattern_find_bad(const unsigned char *p, uint64_t seed, uint64_t lo, uint64_t hi)
{
	uint64_t i = lo;
	for (; i < hi && i % 8; i++)
		if (p[i] != pattern_byte(seed, i))
			return i;
	for (; i + 8 <= hi; i += 8) {
		uint64_t w = pattern_word(seed, i / 8), got;
		memcpy(&got, p + i, 8);
		if (got != w)
			break;
	}
	if (i < hi && hi - i < 8) { /* the last bytes, as one word (byte k at bits 8k) */
		uint64_t got = 0, mask = (UINT64_C(1) << 8 * (hi - i)) - 1;
		for (uint64_t k = 0; k < hi - i; k++)
			got |= (uint64_t)p[i + k] << 8 * k;
		if (got == (pattern_word(seed, i / 8) & mask))
			return UINT64_MAX;
	}
	for (; i < hi; i++) /* the first bad byte of the word that failed */
		if (p[i] != pattern_byte(seed, i))
			return i;
	return UINT64_MAX;
}

/* The byte ranges a check level covers in a block of n bytes: all of it,
 * or the first and last REPLAY_FAST_BYTES, the last from the 8-byte
 * boundary at or below their start (up to 7 bytes more, so that the
 * pattern is written and verified in whole words). */
struct ranges {
	uint64_t lo[2], hi[2];
	int n;
};

static struct ranges ranges_of(enum replay_check check, uint64_t n)
{
	struct ranges r = {.n = 0};
	if (check == CHECK_OFF || n == 0)
		return r;
	if (check == CHECK_FULL || n <= 2 * REPLAY_FAST_BYTES) {
		r.lo[0] = 0, r.hi[0] = n, r.n = 1;
		return r;
	}
	r.lo[0] = 0, r.hi[0] = REPLAY_FAST_BYTES;
	r.lo[1] = (n - REPLAY_FAST_BYTES) & ~(uint64_t)7, r.hi[1] = n;
	r.n = 2;
	return r;
}

/* ---- The live index --------------------------------------------------------- */

/* An entry's value: the block's id, and above it its reach, the bytes from
 * its start that no other live block may hold: its request (at least 1) or
 * its usable size if more; LIVE_FAR if that does not fit, when its record
 * has it.  The checks of a new block against the live block before it then
 * read that block's reach where its address was found, not its record
 * elsewhere (a cache miss per block on a large live set); only a failure
 * reads the record, for the exact test and the message. */
#define LIVE_FAR UINT32_MAX

static uint64_t slot_reach(const struct slot *s)
{
	return s->usable > s->size ? s->usable : s->size ? s->size : 1;
}

static uint64_t live_value(uint32_t id, const struct slot *s)
{
	uint64_t reach = slot_reach(s);
	return (uint64_t)(reach < LIVE_FAR ? reach : LIVE_FAR) << 32 | id;
}

static uint32_t live_id(uint64_t v)
{
	return (uint32_t)v;
}

static uint64_t live_reach(const struct checker *c, uint64_t v)
{
	return v >> 32 != LIVE_FAR ? v >> 32 : slot_reach(&c->slots[live_id(v)]);
}

/* The live neighbours of a, which is no live block's start, and the
 * descent to it (for the insert): those check_block just found, or a
 * lookup; valid until the next. */
static const struct addrmap_near *neighbours_of(struct checker *c, uintptr_t a)
{
	if (!c->nb.valid || c->nb.at != a || c->nb.n.gen != c->live.gen)
		addrmap_near(&c->live, a, &c->nb.n);
	c->nb.valid = false;
	return &c->nb.n;
}

/* ---- Blocks ------------------------------------------------------------------ */

/* A C object's alignment divides its size, so a block of n bytes needs the
 * configured alignment or the largest power of two dividing n if less
 * (jemalloc, mimalloc and tcmalloc give malloc(8) 8 bytes' alignment);
 * under --align-strict, the malloc lab's rule: every block the configured
 * alignment. */
uint64_t check_align(const struct replay_config *cfg, uint64_t n)
{
	uint64_t low = n ? n & (~n + 1) : 1, align = cfg->alignment;
	return cfg->align_strict || low >= align ? align : low;
}

/* The live block before a new block [p, +n) reaches into it, or its usable
 * range does (check_usable_range tells that one). */
static int overlap_before(struct checker *c, uint64_t i, const unsigned char *p, uint64_t n)
{
	uintptr_t k = c->nb.n.floor;
	uint32_t other = live_id(c->nb.n.floor_val);
	const struct slot *o = &c->slots[other];
	if (k + (o->size ? o->size : 1) <= (uintptr_t)p)
		return 0;
	return check_fail(c, i, JOB_ERROR,
			  "%s returned [%p, +%" PRIu64 "), which overlaps live block %" PRIu32
			  " [%p, +%" PRIu64 ") allocated at op %" PRIu64,
			  trace_kind_names[c->t->ops[i].kind], (void *)p, n, other, c->ptrs[other],
			  o->size, o->alloc_op);
}

/* A live block starts inside the new block [p, +n): it holds the live one
 * whole, or runs into its start. */
static int overlap_after(struct checker *c, uint64_t i, const unsigned char *p, uint64_t n)
{
	uintptr_t k = c->nb.n.ceil, end = (uintptr_t)p + (n ? n : 1);
	uint32_t other = live_id(c->nb.n.ceil_val);
	const struct slot *o = &c->slots[other];
	bool whole = k + (o->size ? o->size : 1) <= end;
	return check_fail(c, i, JOB_ERROR,
			  "%s returned [%p, +%" PRIu64 "), which %s live block %" PRIu32
			  " [%p, +%" PRIu64 ") allocated at op %" PRIu64,
			  trace_kind_names[c->t->ops[i].kind], (void *)p, n,
			  whole ? "contains" : "overlaps", other, c->ptrs[other], o->size,
			  o->alloc_op);
}

int check_block(struct checker *c, uint64_t i, const unsigned char *p, uint64_t n, uint64_t align)
{
	const char *call = trace_kind_names[c->t->ops[i].kind];
	uint64_t extent = n ? n : 1;
	uintptr_t a = (uintptr_t)p;
	if (a % align) {
		/* a lab allocator run without its lab's rules: say which */
		bool lab = !strcmp(c->a->name, "mm") && !c->j->cfg->lab;
		return check_fail(c, i, JOB_ERROR,
				  "%s returned %p, which is not aligned to %" PRIu64 " bytes%s",
				  call, (void *)p, align,
				  lab ? " (a malloc-lab mm.c: give its handout's rules, --lab "
					"csapp2002 or --lab cmu2016)"
				      : "");
	}
	if (c->j->heap && !heap_contains(c->j->heap, p, extent))
		return check_fail(c, i, JOB_ERROR,
				  "%s returned [%p, +%" PRIu64
				  "), which is outside the simulated heap",
				  call, (void *)p, n);
	/* floor(a) and ceil(a), in one descent; a live block starting at a is
	 * both, and overlaps */
	struct addrmap_near *nb = &c->nb.n;
	c->nb.valid = false;
	addrmap_near(&c->live, a, nb);
	if (nb->has_floor && nb->floor + live_reach(c, nb->floor_val) > a &&
	    overlap_before(c, i, p, n) < 0)
		return -1;
	if (nb->has_ceil && nb->ceil < a + extent)
		return overlap_after(c, i, p, n);
	/* no live block starts at a: these are a's neighbours until the map
	 * changes, which check_adopt's insert is the next thing to do */
	c->nb.at = a, c->nb.valid = true;
	return 0;
}

/* The end of the slack of a block that carries the pattern at --check
 * full: its usable bytes beyond the request, as far as the pages the
 * request touches (more would make resident what the trace never wrote);
 * none for mm:, whose usable sizes are heapbench's reading of its
 * boundary tags, not the allocator's word. */
static uint64_t slack_end(const struct checker *c, const unsigned char *p, const struct slot *s)
{
	if (!c->slack_pattern || s->usable <= s->size)
		return s->size;
	uintptr_t page = os_page_size(), a = (uintptr_t)p;
	uint64_t touched = ((a + (s->size ? s->size : 1) + page - 1) & ~(page - 1)) - a;
	return s->usable < touched ? s->usable : touched;
}

int check_pattern(struct checker *c, uint64_t i, uint32_t id, const char *when)
{
	const struct slot *s = &c->slots[id];
	const unsigned char *p = c->ptrs[id];
	uint64_t slack = slack_end(c, p, s);
	if (slack > s->size) {
		uint64_t bad = pattern_find_bad(p, s->seed, s->size, slack);
		if (bad != UINT64_MAX)
			return check_fail(c, i, JOB_ERROR,
					  "%s: the slack of block %" PRIu32 " [%p, +%" PRIu64
					  ") allocated at op %" PRIu64
					  " was overwritten: byte %" PRIu64 " of the %" PRIu64
					  " its usable_size claims is 0x%02x",
					  when, id, (const void *)p, s->size, s->alloc_op, bad,
					  s->usable, p[bad]);
	}
	struct ranges rg = ranges_of(c->check, s->size);
	for (int k = 0; k < rg.n; k++) {
		uint64_t bad = pattern_find_bad(p, s->seed, rg.lo[k], rg.hi[k]);
		if (bad != UINT64_MAX)
			return check_fail(
				c, i, JOB_ERROR,
				"%s: block %" PRIu32 " [%p, +%" PRIu64 ") allocated at op %" PRIu64
				" was overwritten: byte %" PRIu64 " is 0x%02x, expected 0x%02x",
				when, id, (const void *)p, s->size, s->alloc_op, bad, p[bad],
				pattern_byte(s->seed, bad));
	}
	return 0;
}

int check_zeroes(struct checker *c, uint64_t i, const unsigned char *p, uint64_t n)
{
	struct ranges rg = ranges_of(c->check, n);
	for (int k = 0; k < rg.n; k++)
		for (uint64_t b = rg.lo[k]; b < rg.hi[k]; b++)
			if (p[b])
				return check_fail(c, i, JOB_ERROR,
						  "calloc memory is not zero: byte %" PRIu64
						  " of %" PRIu64 " is 0x%02x",
						  b, n, p[b]);
	return 0;
}

int check_moved(struct checker *c, uint64_t i, const struct slot *old, const void *old_ptr,
		const unsigned char *p, uint64_t n)
{
	uint64_t keep = old->size < n ? old->size : n;
	struct ranges rg = ranges_of(c->check, old->size);
	for (int k = 0; k < rg.n; k++) {
		uint64_t hi = rg.hi[k] < keep ? rg.hi[k] : keep;
		uint64_t bad =
			rg.lo[k] < hi ? pattern_find_bad(p, old->seed, rg.lo[k], hi) : UINT64_MAX;
		if (bad != UINT64_MAX)
			return check_fail(c, i, JOB_ERROR,
					  "realloc(%p, %" PRIu64 ") to %p lost data: byte %" PRIu64
					  " is 0x%02x, expected 0x%02x (of the %" PRIu64
					  " bytes it must keep)",
					  old_ptr, n, (const void *)p, bad, p[bad],
					  pattern_byte(old->seed, bad), keep);
	}
	return 0;
}

/* The pages resident at the baseline that live block [a, +extent) alone
 * covers: its pages, less a first or last page it shares with its
 * neighbours n (blocks do not overlap, so a page shared by several blocks is
 * shared by neighbours, and counted once: by the first block to arrive).
 * n are a's live neighbours, a itself not in the index; NULL: looked up. */
static uint64_t reused_pages_of(const struct checker *c, uintptr_t a, uint64_t extent,
				const struct addrmap_near *n)
{
	const struct resident_base *rb = &c->j->base;
	if (!rb->nregions)
		return 0;
	uintptr_t page = os_page_size(), lo = a & ~(page - 1), hi = (a + extent - 1) & ~(page - 1);
	/* most blocks lie in pages the pass brought in: then no neighbour
	 * matters (nor its record, a cache miss, is read) */
	if (!resident_pages(rb, lo, hi))
		return 0;
	struct addrmap_near own;
	if (!n) {
		addrmap_near(&c->live, a, &own);
		n = &own;
	}
	if (n->has_floor) {
		uint64_t size = c->slots[live_id(n->floor_val)].size;
		if (((n->floor + (size ? size : 1) - 1) & ~(page - 1)) == lo)
			lo += page;
	}
	if (n->has_ceil && (n->ceil & ~(page - 1)) == hi)
		hi -= page;
	return lo <= hi ? resident_pages(rb, lo, hi) : 0;
}

/* The usable bytes of block [p, +extent) that count in a physical
 * footprint: those in the pages its request touches.  An allocator's
 * rounding beyond them (jemalloc serves 5 MiB + 1 from a 6 MiB extent)
 * is address space nobody wrote, never resident. */
static uint64_t resident_usable(uintptr_t a, uint64_t extent, uint64_t usable)
{
	uintptr_t page = os_page_size(), end = (a + extent + page - 1) & ~(page - 1);
	return usable < end - a ? usable : end - a;
}

/* The usable bytes of a live block that count in the footprint's
 * internal fragmentation (all of them on the simulated heap). */
static uint64_t counted_usable(const struct checker *c, uintptr_t a, const struct slot *s)
{
	return c->j->heap ? s->usable : resident_usable(a, s->size ? s->size : 1, s->usable);
}

/* A usable_size that claims bytes another live block has: the block's
 * usable range [a, +usable) runs into the next live block, or the usable
 * range of the live block before it runs into a (n: a's neighbours). */
static int check_usable_range(struct checker *c, uint64_t i, uintptr_t a, const struct slot *s,
			      const struct addrmap_near *n)
{
	if (s->usable > s->size && n->has_ceil && n->ceil < a + s->usable) {
		uint32_t other = live_id(n->ceil_val);
		return check_fail(c, i, JOB_ERROR,
				  "usable_size(%p) is %" PRIu64 ", but live block %" PRIu32
				  " [%p, +%" PRIu64 ") allocated at op %" PRIu64 " starts %" PRIu64
				  " bytes in",
				  (void *)a, s->usable, other, c->ptrs[other], c->slots[other].size,
				  c->slots[other].alloc_op, (uint64_t)(n->ceil - a));
	}
	if (!n->has_floor || n->floor + live_reach(c, n->floor_val) <= a)
		return 0;
	uint32_t other = live_id(n->floor_val);
	const struct slot *o = &c->slots[other];
	if (n->floor + o->usable > a)
		return check_fail(c, i, JOB_ERROR,
				  "%s returned %p, inside the %" PRIu64
				  " usable bytes that usable_size claimed for live block %" PRIu32
				  " [%p, +%" PRIu64 ") allocated at op %" PRIu64,
				  trace_kind_names[c->t->ops[i].kind], (void *)a, o->usable, other,
				  c->ptrs[other], o->size, o->alloc_op);
	return 0;
}

/* Every block gets a new seed, a realloc'd one too: a stale copy of the
 * old contents must not pass later. */
int check_adopt(struct checker *c, uint64_t i, uint32_t id, uint64_t n)
{
	unsigned char *p = c->ptrs[id];
	struct slot *s = &c->slots[id];
	*s = (struct slot){.size = n, .usable = n, .seed = ++c->seeds, .alloc_op = i};
	c->live_bytes += n;
	if (!p)
		return 0;
	if (c->a->usable_size) {
		s->usable = c->a->usable_size(c->j->calls.st, p);
		if (s->usable == 0 && n) { /* the backend cannot tell */
			c->usable_unknown = true;
			s->usable = n;
		}
		if (s->usable < n)
			return check_fail(c, i, JOB_ERROR,
					  "usable_size(%p) is %" PRIu64 ", less than the %" PRIu64
					  " bytes requested",
					  (void *)p, s->usable, n);
	}
	uint64_t extent = n ? n : 1;
	const struct addrmap_near *nb = neighbours_of(c, (uintptr_t)p);
	if (c->a->usable_size && check_usable_range(c, i, (uintptr_t)p, s, nb) < 0)
		return -1;
	c->usable_live += counted_usable(c, (uintptr_t)p, s);
	c->m.reused_pages += reused_pages_of(c, (uintptr_t)p, extent, nb);
	if (addrmap_insert_near(&c->live, (uintptr_t)p, live_value(id, s), nb) < 0)
		return check_fail(c, i, JOB_ERROR, "the checker ran out of memory");
	struct ranges rg = ranges_of(c->check, n);
	for (int k = 0; k < rg.n; k++)
		pattern_write(p, s->seed, rg.lo[k], rg.hi[k]);
	uint64_t slack = slack_end(c, p, s);
	if (slack > n)
		pattern_write(p, s->seed, n, slack);
	/* full wrote every byte; a simulated heap's footprint is its own
	 * accounting, which no page touched changes */
	if (c->check != CHECK_FULL && !c->j->heap)
		pattern_touch_pages(p, s->seed, n);
	return 0;
}

void check_drop(struct checker *c, uint64_t i, uint32_t id)
{
	struct slot *s = &c->slots[id];
	if (c->ptrs[id]) {
		uintptr_t a = (uintptr_t)c->ptrs[id];
		/* along the descent made ahead for op i, if it still leads to a */
		addrmap_remove_seek(&c->live, a, NULL, &c->seeks[i % CHECK_SEEKS]);
		c->m.reused_pages -= reused_pages_of(c, a, s->size ? s->size : 1, NULL);
		c->usable_live -= counted_usable(c, a, s);
	}
	c->live_bytes -= s->size;
	memset(s, 0, sizeof *s);
}
