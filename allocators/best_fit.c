/*
 * best_fit.c - best fit: the smallest free block that fits, the lowest
 * address among blocks of that size.
 *
 * Blocks and mechanisms are the boundary-tag heap's (btag.h).  Index: a
 * B+-tree of the free blocks ordered by (size, address) (btindex.c): the
 * best fit is the lower bound of (request, 0), which is the first entry in
 * that order whose size fits, O(log n).
 */
#include "btag.h"

static const struct allocator_option bf_options[] = {
	BT_COMMON_OPTIONS,
	{NULL, NULL},
};

static char *bf_find(struct bt *h, uint64_t asize)
{
	return bt_tree_first_fit(h, asize);
}

static const struct bt_policy bf_policy = {
	.name = "best fit",
	.order = BT_BY_SIZE,
	.find = bf_find,
	BT_TREE_INDEX,
};

static int bf_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	return bt_init(state, heap, &bf_policy, opts, err, errlen);
}

BT_ALLOCATOR(best_fit_allocator, "best-fit",
	     "best fit (smallest block that fits, lowest address on ties), boundary tags",
	     bf_options, bf_init);
