/*
 * idmap.h - an open-addressing hash map from 64-bit keys (0 = empty) to a
 * 64-bit and a 32-bit payload: linear probing, Fibonacci hashing, deletion
 * by backward shift (no tombstones), at most half full.
 *
 * The trace builder maps live source ids to dense ids (val) and their live
 * bytes (data); the recorder maps live addresses to allocation chains.
 */
#ifndef HB_IDMAP_H
#define HB_IDMAP_H

#include <stddef.h>
#include <stdint.h>

/* Payloads sit next to the key: one cache miss per lookup. */
struct idmap_slot {
	uint64_t key; /* 0 = empty */
	uint64_t data;
	uint32_t val;
};

struct idmap {
	struct idmap_slot *slots;
	size_t cap, used; /* cap is a power of two (or 0), used <= cap/2 */
};

static inline size_t idmap_hash(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: spreads sequential and strided keys alike */
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* Sizes the map for its first keys; call before any lookup. */
void idmap_init(struct idmap *m);
/* The slot holding key, or the empty slot where it would go.  Inline: the
 * trace builder looks up every op's id, and the call cost a few per cent
 * of parsing. */
static inline struct idmap_slot *idmap_find(const struct idmap *m, uint64_t key)
{
	size_t mask = m->cap - 1, i = idmap_hash(key, m->cap);
	while (m->slots[i].key && m->slots[i].key != key)
		i = (i + 1) & mask;
	return &m->slots[i];
}
/* Claims the empty slot s found for key (growing first if need be); the
 * payloads are zero. */
struct idmap_slot *idmap_insert(struct idmap *m, struct idmap_slot *s, uint64_t key);
void idmap_delete(struct idmap *m, struct idmap_slot *s);
void idmap_free(struct idmap *m);

#endif
