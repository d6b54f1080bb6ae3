/*
 * bench_addrmap.c - ns per operation of the address map
 * (allocators/host/addrmap.c, a B+-tree) beside the treap it replaced (a
 * copy below, kept only here), on the checker's pattern: `bench_addrmap
 * [LIVE [ROUNDS]]` (62500 and 2000000 by default).
 *
 * Both maps hold LIVE keys, 16-byte aligned in a 1 GiB range.  Each round
 * of the churn is a free and a malloc as the checker does them: remove a
 * live key at random, then floor + ceil of a new key (the overlap check)
 * and its insert.  Then ROUNDS gets of live keys and ROUNDS floors of random
 * keys.  Keys are drawn before the clock starts; both maps are called
 * through the same function pointers, so the call costs the same.  Best of
 * three runs, and each map's resident bytes after the churn.  Timing only:
 * it never fails on a figure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/addrmap.h"
#include "host/os.h"

/* ---- The treap before (issue 19): a copy ------------------------------------------- */

struct tnode {
	uintptr_t key;
	uint64_t val;
	uint32_t left, right, prio;
};

struct treap {
	struct tnode *nodes; /* nodes[0] is the nil sentinel */
	uint32_t cap, next, free_head, root;
	size_t count;
};

#define N(i) (m->nodes[i])

static uint32_t prio_of(uintptr_t key)
{
	uint64_t x = (uint64_t)key * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32) | 1u;
}

static uint32_t tnode_new(struct treap *m, uintptr_t key, uint64_t val)
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
			if (!p)
				return 0;
			m->nodes = p;
			m->cap = ncap;
			if (m->next == 0)
				m->next = 1;
		}
		i = m->next++;
	}
	N(i) = (struct tnode){key, val, 0, 0, prio_of(key)};
	return i;
}

static uint32_t insert_at(struct treap *m, uint32_t t, uint32_t n)
{
	if (!t)
		return n;
	if (N(n).key < N(t).key) {
		uint32_t l = insert_at(m, N(t).left, n);
		N(t).left = l;
		if (N(l).prio > N(t).prio) {
			N(t).left = N(l).right;
			N(l).right = t;
			t = l;
		}
	} else {
		uint32_t r = insert_at(m, N(t).right, n);
		N(t).right = r;
		if (N(r).prio > N(t).prio) {
			N(t).right = N(r).left;
			N(r).left = t;
			t = r;
		}
	}
	return t;
}

static uint32_t merge(struct treap *m, uint32_t a, uint32_t b)
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

static uint32_t remove_at(struct treap *m, uint32_t t, uintptr_t key, uint32_t *found)
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

static bool treap_get(void *map, uintptr_t key, uint64_t *val)
{
	struct treap *m = map;
	uint32_t t = m->root;
	while (t && N(t).key != key)
		t = key < N(t).key ? N(t).left : N(t).right;
	if (t && val)
		*val = N(t).val;
	return t != 0;
}

static int treap_insert(void *map, uintptr_t key, uint64_t val)
{
	struct treap *m = map;
	if (treap_get(m, key, NULL))
		return -1;
	uint32_t n = tnode_new(m, key, val);
	if (!n)
		return -1;
	m->root = insert_at(m, m->root, n);
	m->count++;
	return 0;
}

static int treap_remove(void *map, uintptr_t key, uint64_t *val)
{
	struct treap *m = map;
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

static bool treap_floor(void *map, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	struct treap *m = map;
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

static bool treap_ceil(void *map, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	struct treap *m = map;
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

static size_t treap_bytes(const void *map)
{
	const struct treap *m = map;
	size_t page = os_page_size(), used = (size_t)m->next * sizeof *m->nodes;
	return (used + page - 1) / page * page;
}

static void treap_destroy(void *map)
{
	struct treap *m = map;
	os_unmap(m->nodes, (size_t)m->cap * sizeof *m->nodes);
}

/* ---- The map now, through the same kind of pointers ------------------------------- */

static int map_insert(void *m, uintptr_t key, uint64_t val)
{
	return addrmap_insert(m, key, val);
}

static int map_remove(void *m, uintptr_t key, uint64_t *val)
{
	return addrmap_remove(m, key, val);
}

static bool map_get(void *m, uintptr_t key, uint64_t *val)
{
	return addrmap_get(m, key, val);
}

static bool map_floor(void *m, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	return addrmap_floor(m, key, k, val);
}

static bool map_ceil(void *m, uintptr_t key, uintptr_t *k, uint64_t *val)
{
	return addrmap_ceil(m, key, k, val);
}

static size_t map_bytes(const void *m)
{
	return addrmap_bytes(m);
}

static void map_destroy(void *m)
{
	addrmap_destroy(m);
}

struct impl {
	const char *name;
	int (*insert)(void *, uintptr_t, uint64_t);
	int (*remove)(void *, uintptr_t, uint64_t *);
	bool (*get)(void *, uintptr_t, uint64_t *);
	bool (*floor)(void *, uintptr_t, uintptr_t *, uint64_t *);
	bool (*ceil)(void *, uintptr_t, uintptr_t *, uint64_t *);
	size_t (*bytes)(const void *); /* resident bytes: pages touched */
	void (*destroy)(void *);
};

/* ---- The workload ----------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uintptr_t random_addr(uint64_t *s)
{
	return (uintptr_t)0x7f0000000000ull + 16 * (uintptr_t)(rng_next(s) % (1u << 26));
}

/* The keys of a run, drawn before any clock: the first live set, then per
 * round the live slot freed and the key malloc'd (absent from the map when
 * it is inserted), then the keys floor and get look up. */
struct work {
	size_t live, rounds;
	uintptr_t *first, *fresh, *query;
	uint32_t *slot, *probe;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		fprintf(stderr, "bench_addrmap: out of memory\n");
		exit(2);
	}
	return p;
}

static void work_draw(struct work *w, size_t live, size_t rounds)
{
	uint64_t s = 19;
	struct addrmap seen;
	addrmap_init(&seen);
	w->live = live;
	w->rounds = rounds;
	w->first = xcalloc(live, sizeof *w->first);
	w->fresh = xcalloc(rounds, sizeof *w->fresh);
	w->query = xcalloc(rounds, sizeof *w->query);
	w->slot = xcalloc(rounds, sizeof *w->slot);
	w->probe = xcalloc(rounds, sizeof *w->probe);
	uintptr_t *cur = xcalloc(live, sizeof *cur);
	for (size_t i = 0; i < live; i++) {
		do
			cur[i] = random_addr(&s);
		while (addrmap_insert(&seen, cur[i], 0) < 0);
		w->first[i] = cur[i];
	}
	for (size_t r = 0; r < rounds; r++) {
		w->slot[r] = (uint32_t)(rng_next(&s) % live);
		addrmap_remove(&seen, cur[w->slot[r]], NULL);
		do
			w->fresh[r] = random_addr(&s);
		while (addrmap_insert(&seen, w->fresh[r], 0) < 0);
		cur[w->slot[r]] = w->fresh[r];
		w->query[r] = random_addr(&s);
		w->probe[r] = (uint32_t)(rng_next(&s) % live);
	}
	/* the gets look up the live set as the churn leaves it */
	for (size_t r = 0; r < rounds; r++)
		w->query[r] = r % 2 ? cur[w->probe[r]] : w->query[r];
	free(cur);
	addrmap_destroy(&seen);
}

struct timing {
	double fill, churn, get, floor;
	size_t bytes; /* after the churn */
};

static double ns_per(uint64_t t0, size_t n)
{
	return (double)(os_now_ns() - t0) / (double)n;
}

static void run(const struct impl *im, void *m, const struct work *w, struct timing *t)
{
	uintptr_t *cur = xcalloc(w->live, sizeof *cur), k = 0;
	uint64_t v, sink = 0, t0 = os_now_ns();
	for (size_t i = 0; i < w->live; i++)
		sink += (uint64_t)im->insert(m, cur[i] = w->first[i], i);
	t->fill = ns_per(t0, w->live);
	t0 = os_now_ns();
	for (size_t r = 0; r < w->rounds; r++) {
		sink += (uint64_t)im->remove(m, cur[w->slot[r]], &v);
		uintptr_t a = w->fresh[r];
		sink += im->floor(m, a, &k, &v) + k;
		sink += im->ceil(m, a, &k, &v) + k;
		sink += (uint64_t)im->insert(m, a, r);
		cur[w->slot[r]] = a;
	}
	t->churn = ns_per(t0, w->rounds);
	t->bytes = im->bytes(m);
	t0 = os_now_ns();
	for (size_t r = 0; r < w->rounds; r++)
		sink += im->get(m, w->query[r], &v);
	t->get = ns_per(t0, w->rounds);
	t0 = os_now_ns();
	for (size_t r = 0; r < w->rounds; r++)
		sink += im->floor(m, w->query[r], &k, &v) + k;
	t->floor = ns_per(t0, w->rounds);
	if (sink == 42)
		printf("(sink)\n");
	free(cur);
}

static void best_of(const struct impl *im, const struct work *w, struct timing *best)
{
	for (int rep = 0; rep < 3; rep++) {
		struct addrmap am;
		struct treap tm = {0};
		void *m = im->insert == map_insert ? (void *)&am : (void *)&tm;
		addrmap_init(&am);
		struct timing t = {0};
		run(im, m, w, &t);
		im->destroy(m);
		if (rep == 0 || t.churn < best->churn)
			*best = t;
	}
}

int main(int argc, char **argv)
{
	size_t live = argc > 1 ? strtoul(argv[1], NULL, 10) : 62500;
	size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000000;
	if (live == 0 || rounds == 0) {
		fprintf(stderr, "usage: bench_addrmap [LIVE [ROUNDS]]\n");
		return 2;
	}
	const struct impl impls[] = {
		{"treap (before)", treap_insert, treap_remove, treap_get, treap_floor, treap_ceil,
		 treap_bytes, treap_destroy},
		{"B+-tree (now)", map_insert, map_remove, map_get, map_floor, map_ceil, map_bytes,
		 map_destroy},
	};
	struct work w;
	work_draw(&w, live, rounds);
	printf("%zu live keys, %zu rounds; ns per op (best of 3)\n", live, rounds);
	printf("%-16s %10s %22s %10s %10s %12s\n", "map", "insert", "free+malloc (4 ops)", "get",
	       "floor", "KiB touched");
	for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
		struct timing t = {0};
		best_of(&impls[i], &w, &t);
		printf("%-16s %10.1f %22.1f %10.1f %10.1f %12zu\n", impls[i].name, t.fill, t.churn,
		       t.get, t.floor, t.bytes / 1024);
	}
	free(w.first);
	free(w.fresh);
	free(w.query);
	free(w.slot);
	free(w.probe);
	return 0;
}
