/*
 * addrmap.h - an ordered map from addresses to 64-bit values, for the
 * harness's checker (live blocks by address) and the simulated heap (live
 * mappings).  A B+-tree of 1 KiB nodes: O(log n) per operation, a few
 * cache misses, deterministic.  Nodes live in one mmap'd pool that grows with
 * mremap, so the map never calls malloc and never shares memory with the
 * allocator under test.
 */
#ifndef HB_ADDRMAP_H
#define HB_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

union addrmap_node;

struct addrmap {
	union addrmap_node *nodes; /* the pool; nodes[0] is unused (0: no node) */
	uint32_t cap, next;        /* nodes mapped; nodes ever handed out, + 1 */
	uint32_t free_head;        /* nodes given back by merges */
	uint32_t root, height;     /* height 0: empty; 1: the root is a leaf */
	size_t count;
	uint64_t gen; /* inserts and removes so far: a path found before is stale if it moved */
};

/* A step of a descent: the node, and the child taken from it (inner nodes). */
#define ADDRMAP_MAX_DEPTH 16
struct addrmap_step {
	uint32_t node, slot;
};

void addrmap_init(struct addrmap *m);
void addrmap_destroy(struct addrmap *m);

/* 0, or -1 if key is present (nothing changes) or memory ran out.  An
 * insert right after a successful remove never runs out of memory: the pool
 * always has room for the largest tree of as many entries as the map has
 * held. */
int addrmap_insert(struct addrmap *m, uintptr_t key, uint64_t val);
/* 0 and *val (if val), or -1 if key is absent. */
int addrmap_remove(struct addrmap *m, uintptr_t key, uint64_t *val);
/* Resident bytes of the node pool: the pages it has touched (harness
 * overhead accounting). */
size_t addrmap_bytes(const struct addrmap *m);
bool addrmap_get(const struct addrmap *m, uintptr_t key, uint64_t *val);
/* The entry with the largest key <= key / the smallest key >= key. */
bool addrmap_floor(const struct addrmap *m, uintptr_t key, uintptr_t *k, uint64_t *val);
bool addrmap_ceil(const struct addrmap *m, uintptr_t key, uintptr_t *k, uint64_t *val);

/* Both at once, in one descent (the checker's overlap check of a block). */
struct addrmap_near {
	uintptr_t floor, ceil; /* keys, when has_floor / has_ceil */
	uint64_t floor_val, ceil_val;
	bool has_floor, has_ceil;
	/* the descent, for an insert of the same key right after it */
	uintptr_t key;
	uint64_t gen;
	struct addrmap_step path[ADDRMAP_MAX_DEPTH];
};
void addrmap_near(const struct addrmap *m, uintptr_t key, struct addrmap_near *nb);
/* addrmap_insert of key after addrmap_near(m, key, nb): without descending
 * again if m has not changed since (otherwise it does). */
int addrmap_insert_near(struct addrmap *m, uintptr_t key, uint64_t val,
			const struct addrmap_near *nb);

/* A descent made ahead of an operation on key (the checker's frees, some
 * ops before they come): the path, with the leaf's lines being fetched.
 * The operation then follows it if it is the path to its key in the map as
 * it is then (checked node by node: the root, each child and the
 * separators around it), else descends again. */
struct addrmap_seek {
	uint32_t height;
	struct addrmap_step path[ADDRMAP_MAX_DEPTH];
};
void addrmap_seek(const struct addrmap *m, uintptr_t key, struct addrmap_seek *sk);
/* addrmap_remove of key, along sk if it is still valid. */
int addrmap_remove_seek(struct addrmap *m, uintptr_t key, uint64_t *val,
			const struct addrmap_seek *sk);

#endif
