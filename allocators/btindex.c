/*
 * btindex.c - the free-block index of first fit, next fit and best fit
 * (btag.h): a B+-tree outside the blocks, in mappings of the simulated heap.
 *
 * Entries are (block, size) pairs in the policy's order: by address, by
 * insertion number (newest first or last) or by (size, address).  A leaf
 * holds up to BX_LEAF entries, sizes and blocks in two arrays; an inner
 * node holds up to BX_INNER children, each with the largest size below it
 * and a key no entry below it is less than (and, from the second child on,
 * that every entry below the children before it is less than).  A fit
 * search descends to the first child whose largest size fits: about
 * log_16 n nodes, each a few adjacent cache lines, where the treap in the
 * free blocks it replaces took a dependent miss in a different block at
 * each of its 2 ln n or so levels.
 *
 * In size order a subtree's largest size is that of its last entry, so the
 * first entry whose size fits is the lower bound of (asize, 0): best fit is
 * the first-fit descent in the size-ordered tree.
 *
 * Sizes are kept compact, as 32-bit counts of 16-byte units (every block
 * size is a multiple of 16) that saturate at BX_CAP (32 GiB): a leaf's sizes
 * and a node's maxima then fill half the bytes, and a scan compares four
 * at a time (SSE2, where the target has it).  The map is monotone, so the
 * compact maxima are the compact sizes' maxima, and for any request below
 * BX_CAP units "compact size >= compact request" is exactly "fits".  Only a
 * request of 32 GiB or more cannot tell a saturated entry that fits from
 * one that does not: it reads the blocks' own headers (fit_huge).  Keys stay
 * exact, so best fit's order is (size, address) whatever the sizes.
 *
 * Memory: nodes of BX_NODE bytes.  The first BT_TREE_INLINE are in the
 * policy's state, at the bottom of the break; the rest come from pages the
 * index maps in the simulated heap (heap_map), one at a time, so that they
 * count in the footprint as an allocator's metadata does, and only as far
 * as its nodes fill them.  A full leaf first passes an entry to a
 * neighbour with room, and one that falls below a third full merges with a
 * neighbour; a leaf that splits at its end (where runs of inserts go: the
 * newest entry of a lifo or fifo list, the top of an address-ordered heap)
 * leaves the full half full.  A node left empty goes to a free list for
 * reuse, and pages stay until the heap is reset: the index holds what its
 * peak needed.  An index that needs a node while the heap is at its limit
 * takes a page past it (heap_map_over): a free cannot fail, and the
 * footprint shows the page.
 *
 * Costs: insert, remove and fit searches O(log n) nodes; a node's work is
 * a scan of at most BX_LEAF or BX_INNER words.  The descent, the fit search
 * and the maximum are inline: a call, with the registers it saves, costs
 * about as much as a node's scan.
 */
#include <stdio.h>
#include <string.h>

#include "btag.h"
#include "heap.h"
#include "host/hb_assert.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BX_NODE   BT_TREE_NODE
#define BX_LEAF   31u               /* entries per leaf */
#define BX_INNER  15u               /* children per inner node */
#define BX_MERGED (BX_LEAF * 3 / 4) /* the most a merge makes a leaf hold */
#define BX_SPARSE (BX_LEAF / 3)     /* a leaf with fewer merges */
#define BX_CHUNK  HEAP_PAGE         /* what the index maps at a time */
#define BX_CAP    0x7fffffffu       /* compact sizes saturate here (signed compares) */

/* An entry's position in the order: (hi, lo), compared as a pair. */
struct bx_key {
	uint64_t hi, lo;
};

/* The compact arrays hold whole vectors of four, zero past the node's
 * entries: a scan reads whole vectors, and a zero neither fits a request
 * nor raises a maximum. */
struct bx_leaf {
	uint32_t size[BX_LEAF + 1]; /* compact sizes */
	char *blk[BX_LEAF];
	uint32_t n;
};

struct bx_inner {
	uint32_t max[BX_INNER + 1]; /* compact: the largest size below each child */
	void *child[BX_INNER];
	struct bx_key key[BX_INNER + 1]; /* key[n]: BX_END, which ends a descent's scan */
	uint32_t n;
};

union bx_node {
	struct bx_leaf leaf;
	struct bx_inner inner;
	union bx_node *next_free;
	char bytes[BX_NODE];
};

_Static_assert(sizeof(union bx_node) == BX_NODE, "nodes fill their size");
_Static_assert(BX_CHUNK % BX_NODE == 0, "chunks hold whole nodes");

/* Above every key: the lowest address, insertion number or size has a
 * key below it. */
static const struct bx_key BX_END = {UINT64_MAX, UINT64_MAX};

#define FAIL(...) return snprintf(why, len, __VA_ARGS__), -1

static struct bt_tree *tree(struct bt *h)
{
	return h->ext;
}

static bool key_lt(struct bx_key a, struct bx_key b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static struct bx_key key_of(const struct bt *h, char *b, uint64_t size)
{
	switch (h->order) {
	case BT_BY_SEQ_ASC: return (struct bx_key){bt_node(b)->seq, 0};
	case BT_BY_SEQ_DESC: return (struct bx_key){~bt_node(b)->seq, 0};
	case BT_BY_SIZE: return (struct bx_key){size, (uintptr_t)b};
	default: return (struct bx_key){(uintptr_t)b, 0};
	}
}

/* A block size as the index keeps it; a request's, rounded up, so that
 * below BX_CAP a compact size is at least it exactly when the block fits. */
static uint32_t compact(uint64_t size)
{
	uint64_t u = size / BT_ALIGN;
	return u < BX_CAP ? (uint32_t)u : BX_CAP;
}

static uint32_t compact_request(uint64_t asize)
{
	return compact(asize + BT_ALIGN - 1);
}

/* The exact size of block b whose compact size is c: a saturated one's is
 * in the block's header. */
static uint64_t exact_size(uint32_t c, const char *b)
{
	return c < BX_CAP ? (uint64_t)c * BT_ALIGN : bt_size(b);
}

static struct bx_key entry_key(const struct bt *h, const struct bx_leaf *lf, unsigned j)
{
	if (h->order != BT_BY_SIZE) /* no size in the key */
		return key_of(h, lf->blk[j], 0);
	return key_of(h, lf->blk[j], exact_size(lf->size[j], lf->blk[j]));
}

/* ---- Scans of compact arrays ------------------------------------------------ */

/* A compact array holds whole vectors of four (16 or 32 entries), zero
 * past the node's n: a scan may read a vector past n, and a zero there
 * neither fits a request nor raises a maximum. */

/* The first of v[from..n) at least c (c > 0), or n if none. */
static unsigned scan_fit(const uint32_t *v, unsigned from, unsigned n, uint32_t c)
{
#ifdef __SSE2__
	__m128i below = _mm_set1_epi32((int)(c - 1)); /* every value < 2^31: signed */
	unsigned skip = ~0u << (from % 4);            /* lanes before from */
	for (unsigned k = from / 4; 4 * k < n; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(v + 4 * k));
		unsigned m = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(x, below)));
		m &= skip, skip = ~0u;
		if (m)
			return 4 * k + (unsigned)__builtin_ctz(m);
	}
	return n;
#else
	unsigned j = from;
	while (j < n && v[j] < c)
		j++;
	return j;
#endif
}

#ifdef __SSE2__
/* v[2i], v[2i + 1] as doubles: SSE2 has no 32-bit integer max, but doubles
 * hold these values exactly and maxpd takes two at a time. */
static __m128d pair_pd(const uint32_t *v, unsigned i)
{
	return _mm_cvtepi32_pd(_mm_loadl_epi64((const __m128i *)(v + 2 * i)));
}

static __m128d max8_pd(const uint32_t *v)
{
	return _mm_max_pd(_mm_max_pd(pair_pd(v, 0), pair_pd(v, 1)),
			  _mm_max_pd(pair_pd(v, 2), pair_pd(v, 3)));
}
#endif

/* The largest of v[0..16 * halves), v as above: all of it, with no
 * branches. */
static inline uint32_t max_of(const uint32_t *v, unsigned halves)
{
#ifdef __SSE2__
	__m128d m = _mm_max_pd(max8_pd(v), max8_pd(v + 8));
	if (halves == 2)
		m = _mm_max_pd(m, _mm_max_pd(max8_pd(v + 16), max8_pd(v + 24)));
	m = _mm_max_sd(m, _mm_unpackhi_pd(m, m));
	return (uint32_t)_mm_cvttsd_si32(m);
#else
	uint32_t m = 0;
	for (unsigned j = 0; j < 16 * halves; j++)
		m = v[j] > m ? v[j] : m;
	return m;
#endif
}

/* ---- Nodes ---------------------------------------------------------------- */

/* One page more for nodes: pages, not larger chunks, so that what the
 * index maps is what its nodes fill, to the page. */
static void chunk_map(struct bt *h)
{
	struct bt_tree *x = tree(h);
	char *c = heap_map(h->heap, BX_CHUNK);
	if (!c) /* at the heap's limit: past it, as the header says */
		c = heap_map_over(h->heap, BX_CHUNK);
	HB_ASSERT(c); /* the system itself refused a page */
	x->mapped += BX_CHUNK;
	x->chunk = c, x->chunk_end = c + BX_CHUNK;
}

/* A node of zeros: a leaf or inner node with no entries (whose compact
 * arrays are zero past them). */
static union bx_node *node_new(struct bt *h)
{
	struct bt_tree *x = tree(h);
	union bx_node *n = x->free_nodes;
	if (n) {
		x->free_nodes = n->next_free;
		return memset(n, 0, sizeof *n);
	}
	if (!x->chunk) { /* first the nodes in the state, after struct bt_tree */
		x->chunk = (char *)h->ext + sizeof *x;
		x->chunk_end = x->chunk + BT_TREE_INLINE * BX_NODE;
	} else if (x->chunk == x->chunk_end) {
		chunk_map(h);
	}
	n = (union bx_node *)x->chunk; /* zero: the state and mappings start so */
	x->chunk += BX_NODE;
	return n;
}

static void node_free(struct bt *h, union bx_node *n)
{
	n->next_free = tree(h)->free_nodes;
	tree(h)->free_nodes = n;
}

static uint32_t leaf_max(const struct bx_leaf *lf)
{
	return max_of(lf->size, 2);
}

static uint32_t inner_max(const struct bx_inner *in)
{
	return max_of(in->max, 1);
}

static uint32_t node_max(union bx_node *t, int level, int height)
{
	return level == height ? leaf_max(&t->leaf) : inner_max(&t->inner);
}

/* Entry (b, compact size) at j of lf, which has room. */
static void leaf_put(struct bx_leaf *lf, unsigned j, char *b, uint32_t size)
{
	memmove(&lf->size[j + 1], &lf->size[j], (lf->n - j) * sizeof lf->size[0]);
	memmove(&lf->blk[j + 1], &lf->blk[j], (lf->n - j) * sizeof lf->blk[0]);
	lf->size[j] = size, lf->blk[j] = b;
	lf->n++;
}

static void leaf_del(struct bx_leaf *lf, unsigned j)
{
	lf->n--;
	memmove(&lf->size[j], &lf->size[j + 1], (lf->n - j) * sizeof lf->size[0]);
	memmove(&lf->blk[j], &lf->blk[j + 1], (lf->n - j) * sizeof lf->blk[0]);
	lf->size[lf->n] = 0;
}

static void inner_put(struct bx_inner *in, unsigned i, void *child, struct bx_key k, uint32_t max)
{
	unsigned m = in->n - i;
	memmove(&in->max[i + 1], &in->max[i], m * sizeof in->max[0]);
	memmove(&in->child[i + 1], &in->child[i], m * sizeof in->child[0]);
	memmove(&in->key[i + 1], &in->key[i], (m + 1) * sizeof in->key[0]);
	in->max[i] = max, in->child[i] = child, in->key[i] = k;
	in->n++;
}

static void inner_del(struct bx_inner *in, unsigned i)
{
	unsigned m = --in->n - i;
	memmove(&in->max[i], &in->max[i + 1], m * sizeof in->max[0]);
	memmove(&in->child[i], &in->child[i + 1], m * sizeof in->child[0]);
	memmove(&in->key[i], &in->key[i + 1], (m + 1) * sizeof in->key[0]);
	in->max[in->n] = 0;
}

/* ---- Paths ---------------------------------------------------------------- */

/* The leaf where key k belongs, its path from the root in p. */
static inline struct bx_leaf *descend_key(struct bt *h, struct bx_key k, struct bt_path *p)
{
	int height = tree(h)->height;
	union bx_node *t = h->root;
	bool by_size = h->order == BT_BY_SIZE; /* else every key's lo is 0 */
	for (int l = 0; l < height; l++) {
		struct bx_inner *in = &t->inner;
		const struct bx_key *q = &in->key[1]; /* key[n] ends the scan at the latest */
		if (by_size)
			while (!key_lt(k, *q))
				q++;
		else
			while (q->hi <= k.hi)
				q++;
		unsigned i = (unsigned)(q - in->key) - 1;
		p->node[l] = t, p->idx[l] = i;
		t = in->child[i];
	}
	p->node[height] = t;
	return &t->leaf;
}

/* Where block b goes in lf in address order: after every block below it. */
static inline unsigned leaf_pos_address(const struct bx_leaf *lf, const char *b)
{
	/* a binary search whose steps are conditional moves, not branches
	 * (a branch here is mispredicted every other step) */
	char *const *base = lf->blk;
	unsigned len = lf->n;
	if (!len)
		return 0;
	while (len > 1) {
		unsigned half = len / 2;
		base += half & -(unsigned)(base[half - 1] < b); /* half or 0 */
		len -= half;
	}
	return (unsigned)(base - lf->blk) + (*base < b);
}

/* Where key k goes in lf in an order with keys of two words or in the
 * blocks: after every entry below it. */
static unsigned leaf_pos_key(const struct bt *h, const struct bx_leaf *lf, struct bx_key k)
{
	unsigned lo = 0, hi = lf->n;
	if (hi && key_lt(entry_key(h, lf, hi - 1), k))
		return hi; /* appending: the newest of a fifo list, the heap's top */
	if (hi && key_lt(k, entry_key(h, lf, 0)))
		return 0; /* the newest of a lifo list */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (key_lt(entry_key(h, lf, mid), k))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Where key k goes in lf: after every entry below it.  Address order's
 * search is inline, the others' a call. */
static inline unsigned leaf_pos(const struct bt *h, const struct bx_leaf *lf, struct bx_key k)
{
	if (h->order == BT_BY_ADDRESS)
		return leaf_pos_address(lf, (const char *)(uintptr_t)k.hi);
	return leaf_pos_key(h, lf, k);
}

static void path_forget(struct bt *h)
{
	if (h->fit)
		h->fit->end = NULL;
}

/* The path to indexed block b by a descent into p; the leaf, with b's
 * entry in idx. */
static struct bx_leaf *path_descend(struct bt *h, char *b, struct bt_path *p)
{
	int height = tree(h)->height;
	path_forget(h);
	struct bx_key k = key_of(h, b, bt_size(b));
	struct bx_leaf *lf = descend_key(h, k, p);
	unsigned j = 0;
	if (h->order == BT_BY_ADDRESS || h->order == BT_BY_SIZE)
		j = leaf_pos(h, lf, k); /* keys that need no block read */
	else
		while (j < lf->n && lf->blk[j] != b)
			j++;
	HB_ASSERT(j < lf->n && lf->blk[j] == b); /* b is indexed */
	p->idx[height] = j;
	return lf;
}

/* The path to indexed block b: the last search's if it ended at b (then
 * consumed: the common case, inline), else a descent into *pp; the leaf,
 * with b's entry in idx. */
static inline struct bx_leaf *path_to(struct bt *h, char *b, struct bt_path **pp)
{
	struct bt_path *fit = h->fit;
	if (fit && fit->end == b) {
		fit->end = NULL;
		*pp = fit;
		return &((union bx_node *)fit->node[tree(h)->height])->leaf;
	}
	return path_descend(h, b, *pp);
}

/* An entry of compact size `size` joined the leaf at the end of p: the
 * maxima on the way up can only rise, and stop rising where one already
 * covers it. */
static void max_raise(struct bt *h, const struct bt_path *p, uint32_t size)
{
	for (int l = tree(h)->height - 1; l >= 0; l--) {
		struct bx_inner *in = &((union bx_node *)p->node[l])->inner;
		if (in->max[p->idx[l]] >= size)
			break;
		in->max[p->idx[l]] = size;
	}
}

/* The record of the node at `level` of p in its parent, for l > 0. */
static uint32_t *max_record(const struct bt_path *p, int l)
{
	return &((union bx_node *)p->node[l - 1])->inner.max[p->idx[l - 1]];
}

/* The node at `level` of p changed: its parent's record of its maximum is
 * recomputed, and so on up while a record changes.  In each node above it
 * only the one record on the path changed, from `old` to m: that node's
 * maximum is then known from its own record without a scan, unless the
 * old record was its maximum and fell. */
static void max_fix(struct bt *h, const struct bt_path *p, int level)
{
	uint32_t m = node_max(p->node[level], level, tree(h)->height);
	for (int l = level; l > 0; l--) {
		uint32_t *rec = max_record(p, l), old = *rec;
		if (old == m)
			break;
		*rec = m;
		if (l == 1)
			break;
		uint32_t above = *max_record(p, l - 1); /* the maximum of node l - 1 */
		if (m > old ? m <= above : old < above)
			break;
		if (m < old)
			m = inner_max(&((union bx_node *)p->node[l - 1])->inner);
	}
}

/* An entry of compact size `gone` left the leaf at the end of p, or shrank
 * from it: only if it was as large as the leaf's record can the maxima
 * fall. */
static void max_drop(struct bt *h, const struct bt_path *p, uint32_t gone)
{
	int height = tree(h)->height;
	if (height > 0 && gone >= *max_record(p, height))
		max_fix(h, p, height);
}

/* The first entry of the leaf at the end of p now has key k, below its old
 * key: each key that bounded it from below follows it down.  Above the
 * first level where the leaf's subtree is not its parent's first child the
 * old bound is some other child's. */
static void keys_lower(struct bt *h, const struct bt_path *p, struct bx_key k)
{
	for (int l = tree(h)->height - 1; l >= 0; l--) {
		struct bx_inner *in = &((union bx_node *)p->node[l])->inner;
		if (key_lt(k, in->key[p->idx[l]]))
			in->key[p->idx[l]] = k;
		if (p->idx[l] != 0)
			break;
	}
}

/* The entry at the end of p now has key k, above its old key (the rest of
 * a split block).  Each key after the path, at every level, must stay
 * above it: one that does not is a bound left over from an entry since
 * removed, and moves to just above k: k + 1, in address order.  The
 * entries after the path all lie beyond the old block, and so at least a
 * minimum block beyond k. */
static void keys_raise(struct bt *h, const struct bt_path *p, struct bx_key k)
{
	for (int l = tree(h)->height - 1; l >= 0; l--) {
		struct bx_inner *in = &((union bx_node *)p->node[l])->inner;
		unsigned next = p->idx[l] + 1;
		if (next < in->n && !key_lt(k, in->key[next]))
			in->key[next] = (struct bx_key){k.hi + 1, 0};
	}
}

/* ---- Insertion ------------------------------------------------------------- */

/* The node at `level` of p split, into itself (largest compact size lmax)
 * and `right` (rmax), whose entries are all at least k: right joins the
 * parent after it, splitting the parent in turn when it is full; a root
 * that splits gets a new root above it. */
static void child_add(struct bt *h, struct bt_path *p, int level, union bx_node *right,
		      struct bx_key k, uint32_t lmax, uint32_t rmax)
{
	struct bt_tree *x = tree(h);
	if (level == 0) {
		HB_ASSERT(x->height + 2 < BT_TREE_DEPTH);
		struct bx_inner *r = &node_new(h)->inner;
		r->n = 2;
		r->child[0] = h->root, r->max[0] = lmax, r->key[0] = (struct bx_key){0, 0};
		r->child[1] = right, r->max[1] = rmax, r->key[1] = k, r->key[2] = BX_END;
		h->root = r;
		x->height++;
		return;
	}
	struct bx_inner *in = &((union bx_node *)p->node[level - 1])->inner;
	unsigned i = p->idx[level - 1] + 1;
	in->max[i - 1] = lmax;
	if (in->n < BX_INNER) {
		inner_put(in, i, right, k, rmax);
		max_fix(h, p, level - 1);
		return;
	}
	union bx_node *split = node_new(h);
	struct bx_inner *rt = &split->inner;
	unsigned half = (BX_INNER + 1) / 2;
	rt->n = in->n - half;
	memcpy(rt->max, &in->max[half], rt->n * sizeof in->max[0]);
	memcpy(rt->child, &in->child[half], rt->n * sizeof in->child[0]);
	memcpy(rt->key, &in->key[half], (rt->n + 1) * sizeof in->key[0]);
	memset(&in->max[half], 0, rt->n * sizeof in->max[0]);
	in->key[half] = BX_END;
	in->n = half;
	if (i <= half)
		inner_put(in, i, right, k, rmax);
	else
		inner_put(rt, i - half, right, k, rmax);
	child_add(h, p, level - 1, split, rt->key[0], inner_max(in), inner_max(rt));
}

/* Entry (b, compact size) at j of the full leaf at the end of p: rather
 * than split, the leaf passes its last entry (or b, going there) to the next
 * leaf under the same parent if that has room, or its first (or b) to the
 * one before: the redistribution of B*-trees, which keeps leaves about two
 * thirds full instead of half.  Whether it could. */
static bool leaf_lend(struct bt *h, struct bt_path *p, unsigned j, char *b, uint32_t size)
{
	int height = tree(h)->height;
	if (height == 0)
		return false;
	struct bx_inner *up = &((union bx_node *)p->node[height - 1])->inner;
	struct bx_leaf *lf = &((union bx_node *)p->node[height])->leaf;
	unsigned i = p->idx[height - 1];
	struct bx_leaf *next = i + 1 < up->n ? &((union bx_node *)up->child[i + 1])->leaf : NULL;
	struct bx_leaf *prev = i > 0 ? &((union bx_node *)up->child[i - 1])->leaf : NULL;
	char *mb = b;
	uint32_t ms = size;
	if (next && next->n < BX_LEAF) {
		if (j < BX_LEAF) {
			mb = lf->blk[BX_LEAF - 1], ms = lf->size[BX_LEAF - 1];
			lf->n--;
			leaf_put(lf, j, b, size);
		}
		leaf_put(next, 0, mb, ms);
		up->key[i + 1] = entry_key(h, next, 0); /* exactly */
		up->max[i + 1] = up->max[i + 1] > ms ? up->max[i + 1] : ms;
	} else if (prev && prev->n < BX_LEAF) {
		if (j > 0) {
			mb = lf->blk[0], ms = lf->size[0];
			leaf_del(lf, 0);
			leaf_put(lf, j - 1, b, size);
		}
		leaf_put(prev, prev->n, mb, ms);
		up->key[i] = entry_key(h, lf, 0);
		up->max[i - 1] = up->max[i - 1] > ms ? up->max[i - 1] : ms;
	} else {
		return false;
	}
	up->max[i] = leaf_max(lf);
	max_fix(h, p, height - 1);
	return true;
}

/* Entry (b, compact size) at j of the full leaf at the end of p: the leaf
 * splits in two halves, or, when b goes at one end, into the full leaf and
 * b alone. */
static void leaf_split(struct bt *h, struct bt_path *p, unsigned j, char *b, uint32_t size)
{
	int height = tree(h)->height;
	struct bx_leaf *lf = &((union bx_node *)p->node[height])->leaf;
	union bx_node *split = node_new(h);
	struct bx_leaf *rt = &split->leaf;
	unsigned half = j == 0 ? 0 : j == BX_LEAF ? BX_LEAF : (BX_LEAF + 1) / 2;
	rt->n = lf->n - half;
	memcpy(rt->size, &lf->size[half], rt->n * sizeof lf->size[0]);
	memcpy(rt->blk, &lf->blk[half], rt->n * sizeof lf->blk[0]);
	memset(&lf->size[half], 0, rt->n * sizeof lf->size[0]);
	lf->n = half;
	if (j <= half && j < BX_LEAF)
		leaf_put(lf, j, b, size);
	else
		leaf_put(rt, j - half, b, size);
	child_add(h, p, height, split, entry_key(h, rt, 0), leaf_max(lf), leaf_max(rt));
}

void bt_tree_insert(struct bt *h, char *b)
{
	path_forget(h);
	h->seq++;
	if (h->order == BT_BY_SEQ_ASC || h->order == BT_BY_SEQ_DESC)
		bt_node(b)->seq = h->seq;
	uint64_t size = bt_size(b);
	uint32_t c = compact(size);
	if (!h->root)
		h->root = node_new(h); /* an empty leaf */
	struct bx_key k = key_of(h, b, size);
	struct bt_path p;
	struct bx_leaf *lf = descend_key(h, k, &p);
	unsigned j = leaf_pos(h, lf, k);
	if (j == 0)
		keys_lower(h, &p, k);
	if (lf->n == BX_LEAF) {
		if (!leaf_lend(h, &p, j, b, c))
			leaf_split(h, &p, j, b, c);
		return;
	}
	leaf_put(lf, j, b, c);
	max_raise(h, &p, c);
}

/* ---- Removal and changes in place ------------------------------------------ */

/* The node at `level` of p is empty: it leaves its parent, which may empty
 * in turn; a root left with one child gives way to it. */
static void node_drop(struct bt *h, struct bt_path *p, int level)
{
	struct bt_tree *x = tree(h);
	for (; level > 0; level--) {
		node_free(h, p->node[level]);
		struct bx_inner *in = &((union bx_node *)p->node[level - 1])->inner;
		inner_del(in, p->idx[level - 1]);
		if (in->n > 0) {
			max_fix(h, p, level - 1);
			break;
		}
	}
	while (x->height > 0 && ((union bx_node *)h->root)->inner.n == 1) {
		union bx_node *old = h->root;
		h->root = old->inner.child[0];
		node_free(h, old);
		x->height--;
	}
}

/* The leaf at the end of p fell below a third full: it takes in the next
 * leaf under the same parent, or goes into the one before, where the two
 * fit with room to spare (so that the next insert does not split them
 * again).  Leaves that only lose entries (the older part of a lifo or
 * fifo list) then do not pile up.  Whether it merged. */
static bool leaf_merge(struct bt *h, struct bt_path *p)
{
	int height = tree(h)->height;
	struct bx_inner *up = &((union bx_node *)p->node[height - 1])->inner;
	struct bx_leaf *lf = &((union bx_node *)p->node[height])->leaf;
	unsigned i = p->idx[height - 1];
	struct bx_leaf *into, *from;
	if (i + 1 < up->n && lf->n + ((union bx_node *)up->child[i + 1])->leaf.n <= BX_MERGED) {
		into = lf, from = up->child[i + 1];
		p->idx[height - 1] = i + 1; /* node_drop takes the next leaf out */
	} else if (i > 0 && lf->n + ((union bx_node *)up->child[i - 1])->leaf.n <= BX_MERGED) {
		into = up->child[i - 1], from = lf;
		i--;
	} else {
		return false;
	}
	memcpy(&into->size[into->n], from->size, from->n * sizeof from->size[0]);
	memcpy(&into->blk[into->n], from->blk, from->n * sizeof from->blk[0]);
	into->n += from->n;
	up->max[i] = leaf_max(into);
	p->node[height] = from;
	node_drop(h, p, height);
	return true;
}

void bt_tree_remove(struct bt *h, char *b)
{
	int height = tree(h)->height;
	struct bt_path local, *p = &local;
	struct bx_leaf *lf = path_to(h, b, &p);
	uint32_t size = lf->size[p->idx[height]];
	leaf_del(lf, p->idx[height]);
	if (height == 0)
		return;
	if (lf->n == 0)
		node_drop(h, p, height);
	else if (lf->n >= BX_SPARSE || !leaf_merge(h, p))
		max_drop(h, p, size);
}

void bt_tree_replace(struct bt *h, char *old, char *b, uint64_t old_size)
{
	int height = tree(h)->height;
	struct bt_path local, *p = &local;
	struct bx_leaf *lf = path_to(h, old, &p);
	unsigned j = p->idx[height];
	uint32_t size = compact(bt_size(b)), was = lf->size[j];
	lf->blk[j] = b, lf->size[j] = size;
	HB_ASSERT(was == compact(old_size));
	if (j == 0 && b < old)
		keys_lower(h, p, key_of(h, b, 0));
	else if (b > old)
		keys_raise(h, p, key_of(h, b, 0));
	if (size > was)
		max_raise(h, p, size);
	else if (size < was)
		max_drop(h, p, was);
}

void bt_tree_grow(struct bt *h, char *b, uint64_t size)
{
	path_forget(h);
	struct bt_path local, *p = &local;
	struct bx_leaf *lf = path_to(h, b, &p);
	lf->size[p->idx[tree(h)->height]] = compact(size);
	max_raise(h, p, compact(size));
}

/* ---- Searches ---------------------------------------------------------------- */

/* The path lent by break_alloc, else (a search outside a malloc caches
 * nothing) the caller's spare. */
static struct bt_path *path_for_search(struct bt *h, struct bt_path *spare)
{
	struct bt_path *fit = h->fit ? h->fit : spare;
	fit->end = NULL;
	return fit;
}

/* The first fitting entry below node t at `level`, whose largest size fits
 * the compact request c (below BX_CAP), its path completing p. */
static inline char *fit_down(struct bt *h, struct bt_path *p, int level, union bx_node *t,
			     uint32_t c)
{
	int height = tree(h)->height;
	for (; level < height; level++) {
		struct bx_inner *in = &t->inner;
		unsigned i = scan_fit(in->max, 0, in->n, c);
		if (i >= in->n) {
			HB_ASSERT(level == 0); /* below the root, the maxima promise a fit */
			return NULL;
		}
		p->node[level] = t, p->idx[level] = i;
		t = in->child[i];
	}
	struct bx_leaf *lf = &t->leaf;
	unsigned j = scan_fit(lf->size, 0, lf->n, c);
	if (j >= lf->n) {
		HB_ASSERT(height == 0);
		return NULL;
	}
	p->node[height] = t, p->idx[height] = j;
	return p->end = lf->blk[j];
}

/* A request of BX_CAP units or more, where a saturated size says only
 * "perhaps": the first entry in tree order at or after `from` whose block's
 * header says it fits, found by visiting the subtrees whose maxima
 * saturate.  Each holds a block of 32 GiB or more, so they are few.  The
 * path is not cached: taking the block out descends to it. */
static char *fit_huge(struct bt *h, union bx_node *t, int level, uintptr_t from, uint64_t asize)
{
	if (level == tree(h)->height) {
		for (unsigned j = 0; j < t->leaf.n; j++) {
			char *b = t->leaf.blk[j];
			if (t->leaf.size[j] == BX_CAP && (uintptr_t)b >= from &&
			    bt_size(b) >= asize)
				return b;
		}
		return NULL;
	}
	for (unsigned i = 0; i < t->inner.n; i++) {
		char *b = NULL;
		if (t->inner.max[i] == BX_CAP &&
		    (b = fit_huge(h, t->inner.child[i], level + 1, from, asize)))
			return b;
	}
	return NULL;
}

char *bt_tree_first_fit(struct bt *h, uint64_t asize)
{
	struct bt_path spare, *p = path_for_search(h, &spare);
	uint32_t c = compact_request(asize);
	if (!h->root)
		return NULL;
	if (c == BX_CAP)
		return fit_huge(h, h->root, 0, 0, asize);
	return fit_down(h, p, 0, h->root, c);
}

char *bt_tree_first_fit_from(struct bt *h, const char *from, uint64_t asize)
{
	struct bt_path spare, *p = path_for_search(h, &spare);
	uint32_t c = compact_request(asize);
	if (!h->root)
		return NULL;
	if (c == BX_CAP)
		return fit_huge(h, h->root, 0, (uintptr_t)from, asize);
	int height = tree(h)->height;
	struct bx_leaf *lf = descend_key(h, (struct bx_key){(uintptr_t)from, 0}, p);
	for (unsigned j = 0; j < lf->n; j++)
		if (lf->blk[j] >= from && lf->size[j] >= c) {
			p->idx[height] = j;
			return p->end = lf->blk[j];
		}
	/* every child after the path's at each level lies after `from` */
	for (int l = height - 1; l >= 0; l--) {
		struct bx_inner *in = &((union bx_node *)p->node[l])->inner;
		unsigned i = scan_fit(in->max, p->idx[l] + 1, in->n, c);
		if (i < in->n) {
			p->idx[l] = i;
			return fit_down(h, p, l + 1, in->child[i], c);
		}
	}
	return NULL;
}

/* ---- Invariants ---------------------------------------------------------------- */

struct bx_walk {
	struct bt *h;
	uint64_t count;
	struct bx_key last;
	bool any; /* an entry was seen: last is its key */
	char *why;
	size_t len;
};

/* A leaf's or node's compact array past its n entries: zeros, which the
 * scans read as nothing. */
static int pad_check(struct bx_walk *w, const void *t, const uint32_t *v, unsigned n, unsigned cap)
{
	char *why = w->why;
	size_t len = w->len;
	for (unsigned j = n; j < cap; j++)
		if (v[j])
			FAIL("index node %p: slot %u past its %u entries holds %u", t, j, n,
			     (unsigned)v[j]);
	return 0;
}

/* Checks leaf lf, every key at least lo; *max its largest compact size,
 * worked out here rather than by the scans that the check checks. */
static int leaf_check(struct bx_walk *w, struct bx_leaf *lf, struct bx_key lo, uint32_t *max)
{
	struct bt *h = w->h;
	char *why = w->why, *end = (char *)heap_hi(h->heap) - BT_WORD;
	size_t len = w->len;
	*max = 0;
	for (unsigned j = 0; j < lf->n; j++) {
		char *b = lf->blk[j];
		if (b < h->first || b >= end || ((uintptr_t)b + BT_WORD) % BT_ALIGN)
			FAIL("index entry %p is not a block of the heap", (void *)b);
		if (bt_is_alloc(b))
			FAIL("index entry %p is an allocated block", (void *)b);
		if (lf->size[j] != compact(bt_size(b)))
			FAIL("index entry %p: size %u (16-byte units), the block says %llu bytes",
			     (void *)b, (unsigned)lf->size[j], (unsigned long long)bt_size(b));
		*max = lf->size[j] > *max ? lf->size[j] : *max;
		struct bx_key k = entry_key(h, lf, j);
		if ((w->any && !key_lt(w->last, k)) || key_lt(k, lo))
			FAIL("index out of order at %p", (void *)b);
		w->last = k, w->any = true;
		if (++w->count > h->free_blocks)
			FAIL("index holds more entries than the %llu free blocks",
			     (unsigned long long)h->free_blocks);
	}
	return pad_check(w, lf, lf->size, lf->n, BX_LEAF + 1);
}

/* Checks the subtree of t at `level`, every key at least lo; *max its
 * largest compact size. */
static int node_check(struct bx_walk *w, union bx_node *t, int level, struct bx_key lo,
		      uint32_t *max)
{
	char *why = w->why;
	size_t len = w->len;
	int height = tree(w->h)->height;
	if (level == height) {
		if (t->leaf.n > BX_LEAF || (t->leaf.n == 0 && height > 0))
			FAIL("index leaf %p holds %u entries", (void *)t, (unsigned)t->leaf.n);
		return leaf_check(w, &t->leaf, lo, max);
	}
	struct bx_inner *in = &t->inner;
	if (in->n == 0 || in->n > BX_INNER || (level == 0 && in->n < 2))
		FAIL("index node %p holds %u children", (void *)t, (unsigned)in->n);
	if (in->key[in->n].hi != BX_END.hi || in->key[in->n].lo != BX_END.lo)
		FAIL("index node %p: no end key after its %u children", (void *)t, (unsigned)in->n);
	*max = 0;
	for (unsigned i = 0; i < in->n; i++) {
		struct bx_key bound = i == 0 ? lo : in->key[i];
		if (i > 0 && ((w->any && !key_lt(w->last, bound)) || key_lt(bound, lo)))
			FAIL("index node %p: key %u out of order", (void *)t, i);
		uint32_t m;
		if (node_check(w, in->child[i], level + 1, bound, &m) < 0)
			return -1;
		if (m != in->max[i])
			FAIL("index node %p: child %u's max %u, its entries' %u (16-byte units)",
			     (void *)t, i, (unsigned)in->max[i], (unsigned)m);
		*max = m > *max ? m : *max;
	}
	return pad_check(w, in, in->max, in->n, BX_INNER + 1);
}

int bt_tree_check(struct bt *h, uint64_t *count, char *why, size_t len)
{
	struct bx_walk w = {.h = h, .why = why, .len = len};
	uint32_t max;
	*count = 0;
	if (h->root && node_check(&w, h->root, 0, (struct bx_key){0, 0}, &max) < 0)
		return -1;
	*count = w.count;
	return 0;
}

uint64_t bt_tree_mapped(struct bt *h)
{
	return tree(h)->mapped;
}
