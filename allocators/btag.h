/*
 * btag.h - the boundary-tag heap that first-fit, next-fit, best-fit and
 * segregated fits share: one block layout and one set of mechanisms, so
 * that these policies differ only in which free block they choose.
 *
 * Block layout (sizes multiples of 16, payloads 16-byte aligned):
 *
 *     | header: size|flags (8) | payload ...             | footer: size|flags (8) |
 *     ^ block                  ^ block + 8 = payload      ^ block + size - 8
 *
 * Mechanisms (DESIGN §4): boundary tags in every block, immediate
 * coalescing with both neighbours, splitting when the rest is a whole block
 * of at least min_split bytes, realloc in place (shrink and split; grow into
 * a free successor or at the top of the heap), requests of mmap_threshold
 * bytes or more in their own mappings, frees of foreign pointers rejected.
 * The heap grows by exactly what a request lacks (a free block at the top is
 * extended).  A free block holds its index links in its payload
 * (struct bt_node), so the minimum block is BT_MIN_BLOCK bytes.
 *
 * A policy is an index over the free blocks of the break region: insert,
 * remove, and find (the block the policy's definition picks).  Free blocks
 * are always removed from the index before their header changes, so an
 * index may key on size or address.  btindex.c provides a B+-tree over the
 * free blocks, outside them, ordered by address, by insertion sequence or
 * by (size, address), annotated with the largest size below each child:
 * first fit, next fit and best fit are O(log n) searches in it.
 */
#ifndef HB_BTAG_H
#define HB_BTAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allocator.h"

#define BT_ALIGN    16u
#define BT_WORD     8u
#define BT_F_ALLOC  1u
#define BT_F_MAPPED 2u
#define BT_F_MASK   15u

/* What a free block carries in its payload: a list policy's links
 * (segregated fits), and the insertion number that orders the tree index's
 * lifo and fifo lists. */
struct bt_node {
	char *left, *right; /* list next/prev */
	uint64_t seq;       /* insertion number: the order of lifo/fifo lists */
};

/* header + links + insertion number + footer, rounded to the alignment */
#define BT_MIN_BLOCK 48u

struct bt;

/* A placement policy: an index of the free blocks of the break region. */
struct bt_policy {
	const char *name;
	int order; /* enum bt_order, for the tree index */
	/* adds a free block (its header final), removes one */
	void (*insert)(struct bt *h, char *b);
	void (*remove)(struct bt *h, char *b);
	/* the free block the policy picks for asize bytes, or NULL (it stays
	 * in the index); `placed` is told the block that was allocated */
	char *(*find)(struct bt *h, uint64_t asize);
	void (*placed)(struct bt *h, char *b);
	/* optional shortcuts for indexes where a block's position does not
	 * depend on its size (address order): `replace` puts b where old was,
	 * `grow` tells that an indexed block grew in place */
	void (*replace)(struct bt *h, char *old, char *b, uint64_t old_size);
	void (*grow)(struct bt *h, char *b, uint64_t size);
	/* walks the index: every entry a free block, counted; -1 and why */
	int (*check)(struct bt *h, uint64_t *count, char *why, size_t len);
	/* bytes of the heap's mappings the index holds (optional: none) */
	uint64_t (*index_mapped)(struct bt *h);
	/* bytes of state the policy needs (h->ext, zeroed, in the heap next to
	 * struct bt) and how to set it up from its options; both optional */
	size_t ext_bytes;
	int (*setup)(struct bt *h, const struct backend_opts *opts, char *err, size_t errlen);
};

/* Tree orders. */
enum bt_order { BT_BY_ADDRESS, BT_BY_SEQ_DESC, BT_BY_SEQ_ASC, BT_BY_SIZE };

struct bt_path; /* below: the tree path of a fit search */

struct bt {
	struct heap *heap;
	const struct bt_policy *policy;
	char *first; /* first real block (after the prologue) */
	uint64_t mmap_threshold;
	uint64_t min_split;
	uint64_t in_use;      /* bytes of allocated blocks, heap and mapped */
	uint64_t free_blocks; /* free blocks in the break region */
	uint64_t seq;         /* insertions so far */
	/* index state, for the policy's use */
	enum bt_order order;
	void *root;  /* the tree index's root node */
	char *rover; /* next fit: where the last search ended */
	void *ext;   /* the policy's own state (policy->ext_bytes, in the heap) */
	/* the fit path of the malloc in progress: scratch of one call, so it
	 * is a local of that call (outside the heap, in no footprint); NULL
	 * between calls, when the index caches nothing */
	struct bt_path *fit;
};

/* ---- Block helpers ------------------------------------------------------- */

static inline uint64_t bt_size(const char *b)
{
	return *(const uint64_t *)b & ~(uint64_t)BT_F_MASK;
}

static inline bool bt_is_alloc(const char *b)
{
	return *(const uint64_t *)b & BT_F_ALLOC;
}

static inline struct bt_node *bt_node(char *b)
{
	return (struct bt_node *)(b + BT_WORD);
}

/* ---- The core: table functions shared by the policies -------------------- */

/* Creates the heap's state at the bottom of the heap.  Reads the options
 * mmap_threshold and min_split; policy-specific options are the caller's. */
int bt_init(void **state, struct heap *heap, const struct bt_policy *policy,
	    const struct backend_opts *opts, char *err, size_t errlen);
void bt_fini(void *state);
void *bt_malloc(void *state, size_t size);
/* malloc + clearing, except for a fresh mapping, which comes zeroed. */
void *bt_calloc(void *state, size_t nmemb, size_t size);
void *bt_memalign(void *state, size_t align, size_t size);
void *bt_realloc(void *state, void *p, size_t size);
int bt_free(void *state, void *p, char *why, size_t len);
size_t bt_usable_size(void *state, void *p);
int bt_check(void *state, char *why, size_t len);
void bt_stats(void *state, struct alloc_stats *out);

/* The table of a boundary-tag backend: its name, description, options and
 * init (which picks the policy); every other member is the core's. */
#define BT_ALLOCATOR(id, label, desc, opts, init_fn)                                               \
	const struct allocator id = {                                                              \
		.name = label,                                                                     \
		.description = desc,                                                               \
		.options = opts,                                                                   \
		.flags = ALLOC_F_SIMULATED,                                                        \
		.init = init_fn,                                                                   \
		.fini = bt_fini,                                                                   \
		.malloc = bt_malloc,                                                               \
		.calloc = bt_calloc,                                                               \
		.memalign = bt_memalign,                                                           \
		.realloc = bt_realloc,                                                             \
		.free = bt_free,                                                                   \
		.usable_size = bt_usable_size,                                                     \
		.check = bt_check,                                                                 \
		.stats = bt_stats,                                                                 \
	}

/* The options every boundary-tag backend takes, to put in its option list. */
#define BT_COMMON_OPTIONS                                                                          \
	{"mmap_threshold", "requests of at least this many bytes get their own mapping "           \
			   "(default 131072; 0 = never)"},                                         \
	{                                                                                          \
		"min_split", "split a block only if at least this many bytes remain (default 48, " \
			     "the minimum block)"                                                  \
	}

/* ---- The tree index ------------------------------------------------------ */

/* The tree's state, in h->ext of a policy that uses it (btindex.c), and
 * after it its first BT_TREE_INLINE nodes, so that a heap with few free
 * blocks maps nothing for its index. */
struct bt_tree {
	int height;              /* levels of inner nodes above the leaves */
	void *free_nodes;        /* nodes left empty, for reuse */
	char *chunk, *chunk_end; /* the unused part of the newest page (NULL: none yet) */
	uint64_t mapped;         /* bytes of pages mapped */
};
#define BT_TREE_NODE      512u
#define BT_TREE_INLINE    2u
#define BT_TREE_EXT_BYTES (sizeof(struct bt_tree) + BT_TREE_INLINE * BT_TREE_NODE)

/* The tree path of the last fit search, root first: taking the block found
 * out of the index, or putting the rest of it in its place, then needs no
 * second descent.  Every other change to the index clears it.  It is
 * scratch of one malloc call: break_alloc holds it as a local and lends it
 * to the index through h->fit, so each heap has its own and none of it
 * counts in a footprint. */
#define BT_TREE_DEPTH 16
struct bt_path {
	char *end;                   /* the block found; NULL: nothing cached */
	void *node[BT_TREE_DEPTH];   /* node[0] the root .. node[height] a leaf */
	unsigned idx[BT_TREE_DEPTH]; /* the child taken (in the leaf: the entry) */
};

/* The members of a bt_policy that index with the tree. */
#define BT_TREE_INDEX                                                                              \
	.insert = bt_tree_insert, .remove = bt_tree_remove, .check = bt_tree_check,                \
	.index_mapped = bt_tree_mapped, .ext_bytes = BT_TREE_EXT_BYTES

void bt_tree_insert(struct bt *h, char *b);
void bt_tree_remove(struct bt *h, char *b);
/* Address order only.  b takes the place of the indexed block old, whose
 * size was old_size: b must sort where old did (the rest of a split old,
 * or a block that merged old into itself from below); b's header is final. */
void bt_tree_replace(struct bt *h, char *old, char *b, uint64_t old_size);
/* Address order only: indexed block b grew to size in place. */
void bt_tree_grow(struct bt *h, char *b, uint64_t size);
/* The first block in tree order with size >= asize, or NULL.  In size
 * order that is the best fit: the smallest block >= asize, lowest address
 * among equals. */
char *bt_tree_first_fit(struct bt *h, uint64_t asize);
/* The first block in tree order at or after address `from` (address order
 * only) with size >= asize, or NULL. */
char *bt_tree_first_fit_from(struct bt *h, const char *from, uint64_t asize);
int bt_tree_check(struct bt *h, uint64_t *count, char *why, size_t len);
uint64_t bt_tree_mapped(struct bt *h);

#endif
