/*
 * next_fit.c - next fit: first fit in address order, starting where the
 * previous search ended (a roving pointer) and wrapping around to the
 * lowest address (Knuth's modified first fit).
 *
 * The rover is the address of the block last allocated by a search; the
 * next search takes the first fitting free block at or after it.  Blocks
 * and mechanisms are the boundary-tag heap's (btag.h).  Index: a B+-tree
 * of the free blocks by address (btindex.c), annotated with the largest
 * size below each child: the first fit at or after the rover is O(log n)
 * (plus one more O(log n) search when it wraps).
 */
#include "btag.h"

static const struct allocator_option nf_options[] = {
	BT_COMMON_OPTIONS,
	{NULL, NULL},
};

static char *nf_find(struct bt *h, uint64_t asize)
{
	char *b = h->rover ? bt_tree_first_fit_from(h, h->rover, asize) : NULL;
	return b ? b : bt_tree_first_fit(h, asize);
}

static void nf_placed(struct bt *h, char *b)
{
	h->rover = b;
}

static const struct bt_policy nf_policy = {
	.name = "next fit",
	.order = BT_BY_ADDRESS,
	.find = nf_find,
	.placed = nf_placed,
	.replace = bt_tree_replace,
	.grow = bt_tree_grow,
	BT_TREE_INDEX,
};

static int nf_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	return bt_init(state, heap, &nf_policy, opts, err, errlen);
}

BT_ALLOCATOR(next_fit_allocator, "next-fit",
	     "next fit (first fit from a roving pointer), boundary tags, coalescing", nf_options,
	     nf_init);
