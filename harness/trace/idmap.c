/*
 * idmap.c - the hash map of idmap.h.
 */
#include "trace/idmap.h"

#include <stdlib.h>

#include "base/util.h"

static void idmap_grow(struct idmap *m)
{
	struct idmap_slot *old = m->slots;
	size_t oldcap = m->cap;
	m->cap = oldcap ? oldcap * 2 : 1024;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key)
			*idmap_find(m, old[i].key) = old[i];
	free(old);
}

void idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->cap = m->used = 0;
	idmap_grow(m);
}

struct idmap_slot *idmap_insert(struct idmap *m, struct idmap_slot *s, uint64_t key)
{
	if (m->used + 1 > m->cap / 2) {
		idmap_grow(m);
		s = idmap_find(m, key);
	}
	s->key = key;
	s->data = 0;
	s->val = 0;
	m->used++;
	return s;
}

void idmap_delete(struct idmap *m, struct idmap_slot *s)
{
	size_t mask = m->cap - 1, hole = (size_t)(s - m->slots), i = hole;
	for (;;) {
		i = (i + 1) & mask;
		if (!m->slots[i].key)
			break;
		size_t home = idmap_hash(m->slots[i].key, m->cap);
		/* move i into the hole unless its home lies cyclically in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	m->slots[hole].key = 0;
	m->used--;
}

void idmap_free(struct idmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->used = 0;
}
