/*
 * addrmap.c - treap over an index-linked node pool (see addrmap.h).
 * Children are pool indexes (0 = nil), so the pool can move when it grows.
 */
#include "host/addrmap.h"

#include "host/os.h"

struct addrmap_node {
	uintptr_t key;
	uint64_t val;
	uint32_t left, right, prio;
};

#define N(i) (m->nodes[i])

static uint32_t prio_of(uintptr_t key)
{
	uint64_t x = (uint64_t)key * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32) | 1u; /* nil has priority 0 */
}

void addrmap_init(struct addrmap *m)
{
	*m = (struct addrmap){0};
}

void addrmap_destroy(struct addrmap *m)
{
	os_unmap(m->nodes, (size_t)m->cap * sizeof *m->nodes);
	addrmap_init(m);
}

static uint32_t node_new(struct addrmap *m, uintptr_t key, uint64_t val)
{
	uint32_t i = m->free_head;
	if (i) {
		m->free_head = N(i).left;
	} else {
		if (m->next >= m->cap) {
			uint32_t ncap = m->cap ? m->cap * 2 : 4096;
			size_t old = (size_t)m->cap * sizeof *m->nodes,
			       sz = (size_t)ncap * sizeof *m->nodes;
			void *p = m->nodes ? os_remap(m->nodes, old, sz) : os_map(sz);
			if (!p || ncap < m->cap)
				return 0;
			m->nodes = p;
			m->cap = ncap;
			if (m->next == 0)
				m->next = 1;
		}
		i = m->next++;
	}
	N(i) = (struct addrmap_node){key, val, 0, 0, prio_of(key)};
	return i;
}

static uint32_t rotate_right(struct addrmap *m, uint32_t t)
{
	uint32_t l = N(t).left;
	N(t).left = N(l).right;
	N(l).right = t;
	return l;
}

static uint32_t rotate_left(struct addrmap *m, uint32_t t)
{
	uint32_t r = N(t).right;
	N(t).right = N(r).left;
	N(r).left = t;
	return r;
}

static uint32_t insert_at(struct addrmap *m, uint32_t t, uint32_t n)
{
	if (!t)
		return n;
	if (N(n).key < N(t).key) {
		uint32_t l = insert_at(m, N(t).left, n);
		N(t).left = l;
		if (N(l).prio > N(t).prio)
			t = rotate_right(m, t);
	} else {
		uint32_t r = insert_at(m, N(t).right, n);
		N(t).right = r;
		if (N(r).prio > N(t).prio)
			t = rotate_left(m, t);
	}
	return t;
}

int addrmap_insert(struct addrmap *m, uintptr_t key, uint64_t val)
{
	if (addrmap_get(m, key, NULL))
		return -1;
	uint32_t n = node_new(m, key, val);
	if (!n)
		return -1;
	m->root = insert_at(m, m->root, n);
	m->count++;
	return 0;
}

static uint32_t merge(struct addrmap *m, uint32_t a, uint32_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (N(a).prio > N(b).prio) {
		uint32_t r = merge(m, N(a).right, b);
		N(a).right = r;
		return a;
	}
	uint32_t l = merge(m, a, N(b).left);
	N(b).left = l;
	return b;
}

static uint32_t remove_at(struct addrmap *m, uint32_t t, uintptr_t key, uint32_t *found)
{
	if (!t)
		return 0;
	if (key < N(t).key) {
		uint32_t l = remove_at(m, N(t).left, key, found);
		N(t).left = l;
	} else if (key > N(t).key) {
		uint32_t r = remove_at(m, N(t).right, key, found);
		N(t).right = r;
	} else {
		*found = t;
		return merge(m, N(t).left, N(t).right);
	}
	return t;
}

int addrmap_remove(struct addrmap *m, uintptr_t key, uint64_t *val)
{
	uint32_t found = 0;
	m->root = remove_at(m, m->root, key, &found);
	if (!found)
		return -1;
	if (val)
		*val = N(found).val;
	N(found).left = m->free_head;
	m->free_head = found;
	m->count--;
	return 0;
}

size_t addrmap_bytes(const struct addrmap *m)
{
	/* the pool is touched up to the highest node ever used, no further,
	 * and resident in whole pages */
	size_t page = os_page_size(), used = (size_t)m->next * sizeof *m->nodes;
	return (used + page - 1) / page * page;
}

bool addrmap_get(const struct addrmap *m, uintptr_t key, uint64_t *val)
{
	uint32_t t = m->root;
	while (t && N(t).key != key)
		t = key < N(t).key ? N(t).left : N(t).right;
	if (t && val)
		*val = N(t).val;
	return t != 0;
}

bool addrmap_floor(const struct addrmap *m, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	uint32_t t = m->root, best = 0;
	while (t) {
		if (N(t).key <= key) {
			best = t;
			t = N(t).right;
		} else {
			t = N(t).left;
		}
	}
	if (best) {
		*k = N(best).key;
		if (val)
			*val = N(best).val;
	}
	return best != 0;
}

bool addrmap_ceil(const struct addrmap *m, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	uint32_t t = m->root, best = 0;
	while (t) {
		if (N(t).key >= key) {
			best = t;
			t = N(t).left;
		} else {
			t = N(t).right;
		}
	}
	if (best) {
		*k = N(best).key;
		if (val)
			*val = N(best).val;
	}
	return best != 0;
}
