/*
 * heaptrack.c - importer of heaptrack data files: the text heaptrack
 * writes as heaptrack.PROG.PID.zst / .gz (heaptrack_interpret's output;
 * traces/README.md, "heaptrack").
 *
 * Lines start with a record letter: `v VERSION FILEVERSION` first, then
 * `X` (the command), `I` (page size, pages), `s` strings, `t` traces, `i`
 * instruction pointers, `m` modules, `A` attach, `R` RSS, `c` elapsed time
 * (ms, hex), `#` comments: the program's structure, skipped; and the
 * allocation records, numbers in hex:
 *
 *   a SIZE TRACE    allocation info number N (N counts the a lines from 0):
 *                   SIZE bytes from call stack TRACE
 *   + INFO          an allocation of info INFO's size
 *   - INFO          a free of a block allocated with that info
 *
 * (heaptrack's raw, not interpreted, data spells them `+ SIZE TRACE PTR`
 * and `- PTR`, with addresses: both are read; the first + decides.)
 *
 * A `- INFO` does not say which of the live blocks of that info it frees.
 * They all have the same size, so live bytes, peaks and counts are exact
 * whatever the choice; which block goes is not: the most recently
 * allocated one (LIFO), and the trace is marked `lifetimes: approximate`.
 * heaptrack records realloc as a free and an allocation, and calloc and
 * the aligned calls as allocations: a trace from it has only allocs and
 * frees.  Failed calls and free(NULL) are not in its data.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trace/import.h"
#include "trace/internal.h"

/* The live blocks of each allocation info, most recent first: a stack per
 * info, linked through one pool of nodes.  Memory O(infos + live blocks). */
struct info_stacks {
	uint64_t *size; /* per info */
	uint32_t *head; /* per info: top node + 1, 0 = none */
	size_t ninfo, capinfo, caphead;
	struct node {
		uint64_t ptr;
		uint32_t next; /* node + 1 */
	} * nodes;
	size_t nnodes, capnodes;
	uint32_t freelist; /* node + 1 */
};

struct heaptrack {
	struct importer im;
	struct info_stacks st;
	uint64_t next_ptr; /* synthetic addresses of the interpreted form */
	uint64_t time_ns;
	bool have_time;
	int mode; /* 0 undecided, 1 infos, 2 raw addresses */
};

static void push(struct info_stacks *st, uint64_t info, uint64_t ptr)
{
	uint32_t n;
	if (st->freelist) {
		n = st->freelist - 1;
		st->freelist = st->nodes[n].next;
	} else {
		xgrow((void **)&st->nodes, &st->capnodes, st->nnodes + 1, sizeof *st->nodes);
		n = (uint32_t)st->nnodes++;
	}
	st->nodes[n].ptr = ptr;
	st->nodes[n].next = st->head[info];
	st->head[info] = n + 1;
}

/* The most recent live block of info, or 0 if it has none. */
static uint64_t pop(struct info_stacks *st, uint64_t info)
{
	uint32_t top = st->head[info];
	if (!top)
		return 0;
	struct node *nd = &st->nodes[top - 1];
	st->head[info] = nd->next;
	nd->next = st->freelist;
	st->freelist = top;
	return nd->ptr;
}

static int ht_call(struct heaptrack *h, char kind, uint64_t ptr, uint64_t size)
{
	struct import_call c = {.kind = kind,
				.ptr = ptr,
				.size = size,
				.time_ns = h->time_ns,
				.has_time = h->have_time};
	return import_call(&h->im, &c);
}

/* `a SIZE TRACE`: the next allocation info. */
static int ht_info(struct heaptrack *h, const char *p)
{
	uint64_t size, trace;
	if (!import_hex(&p, &size) || *p != ' ' || (p++, !import_hex(&p, &trace)))
		return import_bad_line(&h->im, "heaptrack: bad allocation info 'a %s'", p);
	struct info_stacks *st = &h->st;
	if (st->ninfo >= UINT32_MAX)
		return import_bad_line(&h->im, "heaptrack: more than 2^32 allocation infos");
	xgrow((void **)&st->size, &st->capinfo, st->ninfo + 1, sizeof *st->size);
	xgrow((void **)&st->head, &st->caphead, st->ninfo + 1, sizeof *st->head);
	st->size[st->ninfo] = size;
	st->head[st->ninfo++] = 0;
	return 0;
}

/* `+ INFO`, or raw `+ SIZE TRACE PTR`. */
static int ht_alloc(struct heaptrack *h, const char *p)
{
	uint64_t v[3];
	int nv = 0;
	while (nv < 3 && import_hex(&p, &v[nv])) {
		nv++;
		if (*p != ' ')
			break;
		p++;
	}
	if (*p || (nv != 1 && nv != 3) || (h->mode && h->mode != (nv == 1 ? 1 : 2)))
		return import_bad_line(&h->im, "heaptrack: bad allocation record");
	h->mode = nv == 1 ? 1 : 2;
	if (nv == 3)
		return ht_call(h, 'a', v[2], v[0]);
	if (v[0] >= h->st.ninfo)
		return import_bad_line(&h->im,
				       "heaptrack: allocation of info %" PRIu64
				       ", but only %zu infos are defined",
				       v[0], h->st.ninfo);
	uint64_t ptr = h->next_ptr += 16;
	push(&h->st, v[0], ptr);
	return ht_call(h, 'a', ptr, h->st.size[v[0]]);
}

/* `- INFO`, or raw `- PTR`. */
static int ht_free(struct heaptrack *h, const char *p)
{
	uint64_t v;
	if (!import_hex(&p, &v) || *p)
		return import_bad_line(&h->im, "heaptrack: bad free record");
	if (h->mode == 2)
		return ht_call(h, 'f', v, 0);
	if (v >= h->st.ninfo)
		return import_bad_line(&h->im,
				       "heaptrack: free of info %" PRIu64
				       ", but only %zu infos are defined",
				       v, h->st.ninfo);
	uint64_t ptr = pop(&h->st, v);
	/* none live: a block allocated before heaptrack attached (an address
	 * never seen, counted as such) */
	return ht_call(h, 'f', ptr ? ptr : UINT64_C(1) << 62, 0);
}

static int ht_line(struct heaptrack *h, const char *line)
{
	if (!line[0])
		return 0;
	if (line[1] != ' ' && line[1] != '\0')
		return import_bad_line(&h->im, "heaptrack: unknown record '%.8s'", line);
	const char *p = line + 2;
	switch (line[0]) {
	case 'a': return ht_info(h, p);
	case '+': return ht_alloc(h, p);
	case '-': return ht_free(h, p);
	case 'c': {
		uint64_t ms;
		if (!import_hex(&p, &ms) || ms > UINT64_MAX / 1000000)
			return import_bad_line(&h->im, "heaptrack: bad time record");
		h->time_ns = ms * 1000000;
		h->have_time = true;
		return 0;
	}
	default: /* structure: strings, traces, ips, modules, RSS, comments */
		if ((line[0] >= 'A' && line[0] <= 'Z') || (line[0] >= 'a' && line[0] <= 'z') ||
		    line[0] == '#')
			return 0;
		return import_bad_line(&h->im, "heaptrack: unknown record '%.8s'", line);
	}
}

/* `v VERSION FILEVERSION` (hex), then a record of the known letters. */
bool trace_probe_heaptrack(const unsigned char *head, size_t n)
{
	const char *p = (const char *)head, *end = p + n;
	if (n < 5 || p[0] != 'v' || p[1] != ' ')
		return false;
	p += 2;
	int fields = 0;
	while (p < end && fields < 2) {
		const char *q = p;
		while (q < end && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')))
			q++;
		if (q == p)
			return false;
		fields++;
		p = q;
		if (p < end && *p == ' ')
			p++;
	}
	return fields == 2 && p < end && *p == '\n' && (p + 1 == end || strchr("XIsm#A", p[1]));
}

int trace_read_heaptrack(struct trace *t, struct src *s, struct diag *d)
{
	struct heaptrack *h = xcalloc(1, sizeof *h);
	import_begin(&h->im, t, s, d, "heaptrack");
	h->next_ptr = 0x10000;
	char *line;
	size_t len;
	int got = 0, rc = 0;
	while (rc == 0 && (got = src_line(s, &line, &len)) > 0)
		rc = ht_line(h, line);
	if (rc < 0 || got < 0) {
		import_abort(&h->im);
		rc = -1;
	} else {
		h->im.approximate = h->mode == 1;
		rc = import_finish(&h->im);
	}
	free(h->st.size);
	free(h->st.head);
	free(h->st.nodes);
	free(h);
	return rc;
}
