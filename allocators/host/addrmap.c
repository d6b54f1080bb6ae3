/*
 * addrmap.c - a B+-tree over an index-linked node pool (see addrmap.h).
 *
 * Every node is NODE_BYTES, a leaf or an inner node.  A leaf holds up to
 * LEAF_MAX entries, keys and values in two sorted arrays, and links to the
 * leaves on either side (floor and ceil step across one).  An inner node
 * holds n separator keys and n + 1 children: every key under child[i] is
 * below key[i], and every key under child[i + 1] is at or above it (a
 * separator is a lower bound, not necessarily a key still present).  Every
 * node but the root is at least half full; the leaves all lie at the same
 * depth, so with 62,500 entries the tree is three levels deep, three or four
 * cache misses per operation where the treap before it took twenty-odd.
 *
 * Costs: O(log n) per operation, a binary search in each node on the path;
 * a split or merge moves at most one node's worth of entries.
 *
 * Memory: node 0 is never used (0 is "no node"); nodes are named by index,
 * so the pool can move when mremap grows it.  A node freed by a merge goes on
 * a free list.  An insert first grows the pool to hold the most nodes any
 * tree of count + 1 entries can use (nodes_worst), so the pool always has
 * room for the largest tree of its count: an insert right after a remove
 * finds the room the count had before and needs no memory (heap_remap
 * relies on it).
 */
#include "host/addrmap.h"

#include "host/hb_assert.h"
#include "host/os.h"

#include <string.h>

/* ---- Knobs ------------------------------------------------------------------------- */

/* Bytes per node, a multiple of the cache line (the pool is page-aligned).
 * Wider nodes mean fewer levels, narrower ones shorter shifts on insert and
 * remove; of 256 to 4096, 1024 ran tests/bench/bench_addrmap.c fastest. */
#define NODE_BYTES 1024
/* Nodes in the first pool; it doubles when full. */
#define POOL_FIRST 64

/* ---- Fixed constants ----------------------------------------------------------------- */

/* (16: a leaf's three counters, padded to the keys' alignment) */
#define LEAF_MAX  ((NODE_BYTES - 16) / (sizeof(uintptr_t) + sizeof(uint64_t)))
#define LEAF_MIN  (LEAF_MAX / 2)
#define INNER_MAX ((NODE_BYTES - 2 * sizeof(uint32_t)) / (sizeof(uintptr_t) + sizeof(uint32_t)))
#define INNER_MIN (INNER_MAX / 2)
/* With every inner node but the root holding INNER_MIN + 1 children or more,
 * 2^32 nodes are far fewer than MAX_DEPTH levels. */
#define MAX_DEPTH ADDRMAP_MAX_DEPTH

struct leaf {
	uint32_t n, prev, next; /* entries; the leaves on either side (0: none) */
	uintptr_t key[LEAF_MAX];
	uint64_t val[LEAF_MAX];
};

struct inner {
	uint32_t n; /* separator keys; n + 1 children */
	uint32_t child[INNER_MAX + 1];
	uintptr_t key[INNER_MAX];
};

union addrmap_node {
	struct leaf leaf;
	struct inner inner;
	char bytes[NODE_BYTES];
};

_Static_assert(sizeof(struct leaf) <= NODE_BYTES, "a leaf fits a node");
_Static_assert(sizeof(struct inner) <= NODE_BYTES, "an inner node fits a node");
_Static_assert(sizeof(union addrmap_node) == NODE_BYTES, "nodes tile the pool");
_Static_assert(LEAF_MIN >= 1 && 2 * LEAF_MIN <= LEAF_MAX, "a leaf below half merges into one");
_Static_assert(INNER_MIN >= 2 && 2 * INNER_MIN <= INNER_MAX, "inner nodes merge into one");

#define LEAF(i)  (&m->nodes[i].leaf)
#define INNER(i) (&m->nodes[i].inner)

/* ---- Searching a node -------------------------------------------------------------- */

/* How many of the n sorted keys are <= key: a binary search whose steps are
 * conditional moves, not branches. */
static unsigned rank_le(const uintptr_t *keys, unsigned n, uintptr_t key)
{
	if (n == 0)
		return 0;
	const uintptr_t *base = keys;
	while (n > 1) {
		unsigned half = n / 2;
		base = base[half] <= key ? base + half : base;
		n -= half;
	}
	return (unsigned)(base - keys) + (*base <= key);
}

/* The leaf whose range holds key, and the path to it (path[0] the root,
 * path[height - 1] the leaf); the map is not empty. */
static uint32_t descend(const struct addrmap *m, uintptr_t key, struct addrmap_step *path)
{
	uint32_t t = m->root;
	for (uint32_t d = 0; d + 1 < m->height; d++) {
		const struct inner *in = INNER(t);
		unsigned slot = rank_le(in->key, in->n, key);
		if (path)
			path[d] = (struct addrmap_step){t, slot};
		t = in->child[slot];
	}
	if (path)
		path[m->height - 1] = (struct addrmap_step){t, 0};
	return t;
}

/* ---- The node pool ------------------------------------------------------------------- */

void addrmap_init(struct addrmap *m)
{
	*m = (struct addrmap){0};
}

void addrmap_destroy(struct addrmap *m)
{
	os_unmap(m->nodes, (size_t)m->cap * sizeof *m->nodes);
	addrmap_init(m);
}

/* The most nodes a tree of count entries can use: every leaf but the root
 * holds LEAF_MIN entries or more, every inner node but the root
 * INNER_MIN + 1 children or more, and each level may round up by one. */
static uint64_t nodes_worst(uint64_t count)
{
	uint64_t leaves = count / LEAF_MIN + 1;
	return leaves + leaves / INNER_MIN + MAX_DEPTH;
}

/* Doubles the pool (0, nothing changed, or -1). */
static int pool_grow(struct addrmap *m)
{
	uint32_t ncap = m->cap ? m->cap * 2 : POOL_FIRST;
	if (ncap < m->cap)
		return -1;
	size_t old = (size_t)m->cap * sizeof *m->nodes, sz = (size_t)ncap * sizeof *m->nodes;
	if (sz / sizeof *m->nodes != ncap)
		return -1;
	void *p = m->nodes ? os_remap(m->nodes, old, sz) : os_map(sz);
	if (!p)
		return -1;
	m->nodes = p;
	m->cap = ncap;
	if (m->next == 0)
		m->next = 1; /* node 0 stands for "none" */
	return 0;
}

/* A zeroed node; the caller has made sure one is spare. */
static uint32_t node_take(struct addrmap *m)
{
	uint32_t i = m->free_head;
	if (i) {
		m->free_head = LEAF(i)->next;
	} else {
		HB_ASSERT(m->next < m->cap);
		i = m->next++;
	}
	memset(&m->nodes[i], 0, sizeof m->nodes[i]);
	return i;
}

static void node_give(struct addrmap *m, uint32_t i)
{
	LEAF(i)->next = m->free_head;
	m->free_head = i;
}

/* ---- Insertion ----------------------------------------------------------------------- */

static void leaf_put(struct leaf *l, unsigned at, uintptr_t key, uint64_t val)
{
	memmove(&l->key[at + 1], &l->key[at], (l->n - at) * sizeof l->key[0]);
	memmove(&l->val[at + 1], &l->val[at], (l->n - at) * sizeof l->val[0]);
	l->key[at] = key;
	l->val[at] = val;
	l->n++;
}

/* Splits the full leaf li while putting the entry at position at: the upper
 * half moves to a new leaf linked after it, whose first key is *sep. */
static uint32_t leaf_split(struct addrmap *m, uint32_t li, unsigned at, uintptr_t key, uint64_t val,
			   uintptr_t *sep)
{
	uint32_t ri = node_take(m);
	struct leaf *l = LEAF(li), *r = LEAF(ri);
	unsigned keep = (LEAF_MAX + 1) / 2, from = at < keep ? keep - 1 : keep;
	r->n = l->n - from;
	memcpy(r->key, &l->key[from], r->n * sizeof r->key[0]);
	memcpy(r->val, &l->val[from], r->n * sizeof r->val[0]);
	l->n = from;
	if (at < keep)
		leaf_put(l, at, key, val);
	else
		leaf_put(r, at - keep, key, val);
	r->prev = li;
	r->next = l->next;
	if (l->next)
		LEAF(l->next)->prev = ri;
	l->next = ri;
	*sep = r->key[0];
	return ri;
}

static void inner_put(struct inner *in, unsigned at, uintptr_t key, uint32_t right)
{
	memmove(&in->key[at + 1], &in->key[at], (in->n - at) * sizeof in->key[0]);
	memmove(&in->child[at + 2], &in->child[at + 1], (in->n - at) * sizeof in->child[0]);
	in->key[at] = key;
	in->child[at + 1] = right;
	in->n++;
}

/* Splits the full inner node ii while putting separator *sep (with child
 * right after it) at position at: the middle key moves up, as the new *sep,
 * and the keys above it to a new node, returned. */
static uint32_t inner_split(struct addrmap *m, uint32_t ii, unsigned at, uintptr_t *sep,
			    uint32_t right)
{
	uintptr_t key[INNER_MAX + 1];
	uint32_t child[INNER_MAX + 2];
	struct inner *in = INNER(ii);
	memcpy(key, in->key, at * sizeof key[0]);
	key[at] = *sep;
	memcpy(&key[at + 1], &in->key[at], (in->n - at) * sizeof key[0]);
	memcpy(child, in->child, (at + 1) * sizeof child[0]);
	child[at + 1] = right;
	memcpy(&child[at + 2], &in->child[at + 1], (in->n - at) * sizeof child[0]);

	uint32_t ri = node_take(m);
	struct inner *r = INNER(ri);
	unsigned total = in->n + 1, mid = total / 2;
	in->n = mid;
	memcpy(in->key, key, mid * sizeof key[0]);
	memcpy(in->child, child, (mid + 1) * sizeof child[0]);
	r->n = total - mid - 1;
	memcpy(r->key, &key[mid + 1], r->n * sizeof key[0]);
	memcpy(r->child, &child[mid + 1], (r->n + 1) * sizeof child[0]);
	*sep = key[mid];
	return ri;
}

/* Puts separator sep and its right child into the parents along path, from
 * depth d up, splitting full nodes and growing a new root if the old one
 * splits. */
static void parents_put(struct addrmap *m, const struct addrmap_step *path, int d, uintptr_t sep,
			uint32_t right)
{
	for (; d >= 0; d--) {
		struct inner *in = INNER(path[d].node);
		if (in->n < INNER_MAX) {
			inner_put(in, path[d].slot, sep, right);
			return;
		}
		right = inner_split(m, path[d].node, path[d].slot, &sep, right);
	}
	uint32_t root = node_take(m);
	struct inner *in = INNER(root);
	in->n = 1;
	in->key[0] = sep;
	in->child[0] = m->root;
	in->child[1] = right;
	m->root = root;
	m->height++;
	HB_ASSERT(m->height <= MAX_DEPTH);
}

/* The insert, along path: the descent to key's leaf (unused when the map
 * is empty). */
static int insert_along(struct addrmap *m, const struct addrmap_step *path, uintptr_t key,
			uint64_t val)
{
	uint32_t li = m->root ? path[m->height - 1].node : 0;
	unsigned at = li ? rank_le(LEAF(li)->key, LEAF(li)->n, key) : 0;
	if (li && at > 0 && LEAF(li)->key[at - 1] == key)
		return -1;
	/* the one place memory is asked for: see the top of the file */
	while ((uint64_t)m->cap < nodes_worst(m->count + 1) + 1)
		if (pool_grow(m) < 0)
			return -1;
	if (!li) {
		m->root = node_take(m);
		m->height = 1;
		leaf_put(LEAF(m->root), 0, key, val);
	} else if (LEAF(li)->n < LEAF_MAX) {
		leaf_put(LEAF(li), at, key, val);
	} else {
		uintptr_t sep;
		uint32_t ri = leaf_split(m, li, at, key, val, &sep);
		parents_put(m, path, (int)m->height - 2, sep, ri);
	}
	m->count++;
	m->gen++;
	return 0;
}

int addrmap_insert(struct addrmap *m, uintptr_t key, uint64_t val)
{
	struct addrmap_step path[MAX_DEPTH];
	if (m->root)
		descend(m, key, path);
	return insert_along(m, path, key, val);
}

int addrmap_insert_near(struct addrmap *m, uintptr_t key, uint64_t val,
			const struct addrmap_near *nb)
{
	if (nb->gen != m->gen || nb->key != key)
		return addrmap_insert(m, key, val);
	return insert_along(m, nb->path, key, val);
}

/* ---- Removal ------------------------------------------------------------------------- */

static void leaf_cut(struct leaf *l, unsigned at)
{
	l->n--;
	memmove(&l->key[at], &l->key[at + 1], (l->n - at) * sizeof l->key[0]);
	memmove(&l->val[at], &l->val[at + 1], (l->n - at) * sizeof l->val[0]);
}

/* Removes separator at and the child after it. */
static void inner_cut(struct inner *in, unsigned at)
{
	in->n--;
	memmove(&in->key[at], &in->key[at + 1], (in->n - at) * sizeof in->key[0]);
	memmove(&in->child[at + 1], &in->child[at + 2], (in->n - at) * sizeof in->child[0]);
}

/* Moves one entry from a sibling leaf with more than half into leaf
 * child[s] of parent p, which has just dropped below half; false if neither
 * sibling can spare one. */
static bool leaf_borrow(struct addrmap *m, struct inner *p, unsigned s)
{
	struct leaf *l = LEAF(p->child[s]);
	if (s > 0 && LEAF(p->child[s - 1])->n > LEAF_MIN) {
		struct leaf *left = LEAF(p->child[s - 1]);
		left->n--;
		leaf_put(l, 0, left->key[left->n], left->val[left->n]);
		p->key[s - 1] = l->key[0];
		return true;
	}
	if (s < p->n && LEAF(p->child[s + 1])->n > LEAF_MIN) {
		struct leaf *right = LEAF(p->child[s + 1]);
		leaf_put(l, l->n, right->key[0], right->val[0]);
		leaf_cut(right, 0);
		p->key[s] = right->key[0];
		return true;
	}
	return false;
}

/* The same for an inner node: the entry passes through the parent's
 * separator. */
static bool inner_borrow(struct addrmap *m, struct inner *p, unsigned s)
{
	struct inner *in = INNER(p->child[s]);
	if (s > 0 && INNER(p->child[s - 1])->n > INNER_MIN) {
		struct inner *left = INNER(p->child[s - 1]);
		memmove(&in->key[1], &in->key[0], in->n * sizeof in->key[0]);
		memmove(&in->child[1], &in->child[0], (in->n + 1) * sizeof in->child[0]);
		in->key[0] = p->key[s - 1];
		in->child[0] = left->child[left->n];
		in->n++;
		p->key[s - 1] = left->key[left->n - 1];
		left->n--;
		return true;
	}
	if (s < p->n && INNER(p->child[s + 1])->n > INNER_MIN) {
		struct inner *right = INNER(p->child[s + 1]);
		in->key[in->n] = p->key[s];
		in->child[in->n + 1] = right->child[0];
		in->n++;
		p->key[s] = right->key[0];
		memmove(&right->key[0], &right->key[1], (right->n - 1) * sizeof right->key[0]);
		memmove(&right->child[0], &right->child[1], right->n * sizeof right->child[0]);
		right->n--;
		return true;
	}
	return false;
}

/* Merges child[s + 1] of parent p into child[s] and frees it; both are
 * leaves if leaves is true.  The parent loses separator s. */
static void children_merge(struct addrmap *m, struct inner *p, unsigned s, bool leaves)
{
	uint32_t li = p->child[s], ri = p->child[s + 1];
	if (leaves) {
		struct leaf *l = LEAF(li), *r = LEAF(ri);
		memcpy(&l->key[l->n], r->key, r->n * sizeof r->key[0]);
		memcpy(&l->val[l->n], r->val, r->n * sizeof r->val[0]);
		l->n += r->n;
		l->next = r->next;
		if (r->next)
			LEAF(r->next)->prev = li;
	} else {
		struct inner *l = INNER(li), *r = INNER(ri);
		l->key[l->n] = p->key[s];
		memcpy(&l->key[l->n + 1], r->key, r->n * sizeof r->key[0]);
		memcpy(&l->child[l->n + 1], r->child, (r->n + 1) * sizeof r->child[0]);
		l->n += r->n + 1;
	}
	inner_cut(p, s);
	node_give(m, ri);
}

/* Restores "at least half full" up the path from depth d, whose node has
 * just dropped below half, by borrowing or merging; a root left with one
 * child gives way to it. */
static void underflow_fix(struct addrmap *m, const struct addrmap_step *path, int d)
{
	for (; d > 0; d--) {
		uint32_t ni = path[d].node;
		bool leaf = d == (int)m->height - 1;
		if (leaf ? LEAF(ni)->n >= LEAF_MIN : INNER(ni)->n >= INNER_MIN)
			return;
		struct inner *p = INNER(path[d - 1].node);
		unsigned s = path[d - 1].slot;
		if (leaf ? leaf_borrow(m, p, s) : inner_borrow(m, p, s))
			return;
		children_merge(m, p, s > 0 ? s - 1 : s, leaf);
	}
	if (m->height > 1 && INNER(m->root)->n == 0) {
		uint32_t old = m->root;
		m->root = INNER(old)->child[0];
		m->height--;
		node_give(m, old);
	} else if (m->height == 1 && LEAF(m->root)->n == 0) {
		node_give(m, m->root);
		m->root = 0;
		m->height = 0;
	}
}

/* The remove, along path: the descent to key's leaf. */
static int remove_along(struct addrmap *m, const struct addrmap_step *path, uintptr_t key,
			uint64_t *val)
{
	struct leaf *l = LEAF(path[m->height - 1].node);
	unsigned at = rank_le(l->key, l->n, key);
	if (at == 0 || l->key[at - 1] != key)
		return -1;
	if (val)
		*val = l->val[at - 1];
	leaf_cut(l, at - 1);
	underflow_fix(m, path, (int)m->height - 1);
	m->count--;
	m->gen++;
	return 0;
}

int addrmap_remove(struct addrmap *m, uintptr_t key, uint64_t *val)
{
	if (!m->root)
		return -1;
	struct addrmap_step path[MAX_DEPTH];
	descend(m, key, path);
	return remove_along(m, path, key, val);
}

/* ---- Seeking ahead ------------------------------------------------------------------- */

void addrmap_seek(const struct addrmap *m, uintptr_t key, struct addrmap_seek *sk)
{
	sk->height = m->height;
	if (!m->root)
		return;
	const char *leaf = m->nodes[descend(m, key, sk->path)].bytes;
	for (unsigned off = 0; off < NODE_BYTES; off += 64)
		__builtin_prefetch(leaf + off, 1);
}

/* Whether sk's path is the one a descent to key would take now: the same
 * root and height, and at every inner node on it the child it names, with
 * key within that child's separators (so rank_le would choose it).  Only
 * nodes reachable from the root are read. */
static bool seek_valid(const struct addrmap *m, uintptr_t key, const struct addrmap_seek *sk)
{
	if (sk->height != m->height || !m->root || sk->path[0].node != m->root)
		return false;
	for (uint32_t d = 0; d + 1 < m->height; d++) {
		const struct inner *in = INNER(sk->path[d].node);
		unsigned s = sk->path[d].slot;
		if (s > in->n || in->child[s] != sk->path[d + 1].node ||
		    (s > 0 && in->key[s - 1] > key) || (s < in->n && in->key[s] <= key))
			return false;
	}
	return true;
}

int addrmap_remove_seek(struct addrmap *m, uintptr_t key, uint64_t *val,
			const struct addrmap_seek *sk)
{
	if (!seek_valid(m, key, sk))
		return addrmap_remove(m, key, val);
	return remove_along(m, sk->path, key, val);
}

/* ---- Queries ------------------------------------------------------------------------- */

size_t addrmap_bytes(const struct addrmap *m)
{
	/* the pool is touched up to the highest node ever used, no further,
	 * and resident in whole pages */
	size_t page = os_page_size(), used = (size_t)m->next * sizeof *m->nodes;
	return (used + page - 1) / page * page;
}

bool addrmap_get(const struct addrmap *m, uintptr_t key, uint64_t *val)
{
	if (!m->root)
		return false;
	const struct leaf *l = LEAF(descend(m, key, NULL));
	unsigned at = rank_le(l->key, l->n, key);
	if (at == 0 || l->key[at - 1] != key)
		return false;
	if (val)
		*val = l->val[at - 1];
	return true;
}

void addrmap_near(const struct addrmap *m, uintptr_t key, struct addrmap_near *nb)
{
	nb->has_floor = nb->has_ceil = false;
	nb->key = key;
	nb->gen = m->gen;
	if (!m->root)
		return;
	const struct leaf *l = LEAF(descend(m, key, nb->path));
	unsigned at = rank_le(l->key, l->n, key); /* the leaf's keys <= key */
	/* the leaf before holds only keys below this leaf's lower bound, the
	 * leaf after only keys at or above the separator that bounds this
	 * leaf, which is above key; neither is empty (only a root can be) */
	const struct leaf *f = l, *g = l;
	unsigned fat = at, gat = at;
	if (at == 0 && l->prev)
		f = LEAF(l->prev), fat = f->n;
	if ((nb->has_floor = fat > 0))
		nb->floor = f->key[fat - 1], nb->floor_val = f->val[fat - 1];
	if (at > 0 && l->key[at - 1] == key)
		gat = at - 1; /* key itself is its ceil */
	else if (at == l->n && l->next)
		g = LEAF(l->next), gat = 0;
	if ((nb->has_ceil = gat < g->n))
		nb->ceil = g->key[gat], nb->ceil_val = g->val[gat];
}

/* floor and ceil are the halves of addrmap_near: one search to test */
bool addrmap_floor(const struct addrmap *m, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	struct addrmap_near nb;
	addrmap_near(m, key, &nb);
	if (!nb.has_floor)
		return false;
	*k = nb.floor;
	if (val)
		*val = nb.floor_val;
	return true;
}

bool addrmap_ceil(const struct addrmap *m, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	struct addrmap_near nb;
	addrmap_near(m, key, &nb);
	if (!nb.has_ceil)
		return false;
	*k = nb.ceil;
	if (val)
		*val = nb.ceil_val;
	return true;
}
