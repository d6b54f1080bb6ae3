/*
 * first_fit.c - first fit: the first free block that fits, in one of three
 * list orders (option `order`):
 *
 *   address (default)  the lowest-addressed free block that fits (the
 *                      address-ordered first fit of Wilson et al., which
 *                      behaves much like best fit);
 *   lifo               the most recently freed block that fits (a free
 *                      list with insertion at the head);
 *   fifo               the least recently freed block that fits.
 *
 * Blocks and mechanisms are the boundary-tag heap's (btag.h): boundary tags,
 * immediate coalescing, splitting, realloc in place, large blocks in
 * mappings.  A coalesced block and the rest of a split block count as newly
 * freed.  Index: a B+-tree of the free blocks (btindex.c) ordered by
 * address or by insertion number, annotated with the largest size below
 * each child, so that the first fitting block in list order is found in
 * O(log n), not by walking the list.
 */
#include <stdio.h>
#include <string.h>

#include "btag.h"

static const struct allocator_option ff_options[] = {
	{"order", "free list order: address (default), lifo or fifo"},
	BT_COMMON_OPTIONS,
	{NULL, NULL},
};

static char *ff_find(struct bt *h, uint64_t asize)
{
	return bt_tree_first_fit(h, asize);
}

#define FF_POLICY(id, label, ord)                                                                  \
	static const struct bt_policy id = {                                                       \
		.name = label,                                                                     \
		.order = ord,                                                                      \
		.find = ff_find,                                                                   \
		BT_TREE_INDEX,                                                                     \
	}

static const struct bt_policy ff_address = {
	.name = "address-ordered first fit",
	.order = BT_BY_ADDRESS,
	.find = ff_find,
	.replace = bt_tree_replace,
	.grow = bt_tree_grow,
	BT_TREE_INDEX,
};
FF_POLICY(ff_lifo, "LIFO first fit", BT_BY_SEQ_DESC);
FF_POLICY(ff_fifo, "FIFO first fit", BT_BY_SEQ_ASC);

static int ff_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		   size_t errlen)
{
	const char *order = backend_opt_get(opts, "order");
	const struct bt_policy *p = &ff_address;
	if (order && !strcmp(order, "lifo"))
		p = &ff_lifo;
	else if (order && !strcmp(order, "fifo"))
		p = &ff_fifo;
	else if (order && strcmp(order, "address"))
		return snprintf(err, errlen, "order: expected address, lifo or fifo, got '%s'",
				order),
		       -1;
	return bt_init(state, heap, p, opts, err, errlen);
}

BT_ALLOCATOR(first_fit_allocator, "first-fit",
	     "first fit (address-ordered, or lifo/fifo), boundary tags, coalescing", ff_options,
	     ff_init);
