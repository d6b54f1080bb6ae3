/*
 * android.c - importer of the text Android's malloc_debug writes with
 * record_allocs (the input of memory_replay, libmemory_trace's format):
 *
 *   TID: malloc PTR SIZE [START_NS END_NS]
 *   TID: calloc PTR NMEMB SIZE [START_NS END_NS]
 *   TID: memalign PTR ALIGN SIZE [START_NS END_NS]   (also posix_memalign,
 *                                                     aligned_alloc, valloc)
 *   TID: realloc NEWPTR OLDPTR SIZE [START_NS END_NS] (OLDPTR 0x0: of NULL)
 *   TID: free PTR [START_NS END_NS]                   (0x0: free(NULL))
 *   TID: thread_done 0x0 [END_NS]
 *
 * Pointers are hex with or without 0x (memory_replay reads them with %x),
 * the other numbers decimal; fields past the timestamps are tolerated.
 * The thread label is the TID; a thread_done ends it, so calls of a later
 * thread that got the same TID from the kernel get a label of their own
 * (TID + generation << 32).  The start time is the op's time.  Devices
 * ship these files zipped: src.c reads a one-file zip transparently.
 */
#include "trace/import.h"
#include "trace/internal.h"

#include <string.h>

/* Whether p starts "DIGITS: NAME " with one of the record names. */
static bool is_record(const char *p, const char *end)
{
	static const char *const names[] = {"malloc ",  "calloc ", "memalign ",
					    "realloc ", "free ",   "thread_done "};
	const char *q = p;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	if (q == p || q == end || *q != ':')
		return false;
	q++;
	while (q < end && *q == ' ')
		q++;
	for (size_t i = 0; i < HB_ARRAY_LEN(names); i++) {
		/* all of the name, or as much of it as the head holds */
		size_t k = strlen(names[i]), avail = (size_t)(end - q);
		if (k > avail)
			k = avail;
		if (k && !memcmp(q, names[i], k))
			return true;
	}
	return false;
}

bool trace_probe_android(const unsigned char *head, size_t n)
{
	/* the first line is a record (the file holds nothing else) */
	const char *p = (const char *)head, *end = p + n;
	return is_record(p, end);
}

/* A field boundary: a blank or the end of the line. */
static inline bool field_end(const char *p)
{
	return *p == ' ' || *p == '\t' || *p == 0;
}

static bool dec_field(const char **pp, uint64_t *v)
{
	*pp = import_skip_blanks(*pp);
	return import_dec(pp, v) && field_end(*pp);
}

static bool hex_field(const char **pp, uint64_t *v)
{
	*pp = import_skip_blanks(*pp);
	return import_hex(pp, v) && field_end(*pp);
}

/* Thread labels: TID, and past a thread_done of that TID, a new generation. */
struct threads {
	struct idmap gen; /* tid + 1 -> generation (data), once done */
	uint64_t last_tid, last_label;
	bool cached;
};

static uint64_t thread_label(struct threads *th, uint64_t tid)
{
	if (th->cached && tid == th->last_tid)
		return th->last_label;
	uint64_t label = tid;
	if (th->gen.used) {
		struct idmap_slot *s = idmap_find(&th->gen, tid + 1);
		if (s->key)
			label = tid + (s->data << 32);
	}
	th->cached = true;
	th->last_tid = tid;
	th->last_label = label;
	return label;
}

static void thread_done(struct threads *th, uint64_t tid)
{
	struct idmap_slot *s = idmap_find(&th->gen, tid + 1);
	if (!s->key)
		s = idmap_insert(&th->gen, s, tid + 1);
	s->data++;
	th->cached = false;
}

/* Not a record: the cut-off last line, if it is one, else another line. */
static int not_a_call(struct importer *im)
{
	if (im->s->unterminated)
		return import_bad_line(im, "not an android record");
	import_other_line(im);
	return 0;
}

/* Parses one line into c; 1 = a call, 0 = not a call, -1 = stop. */
static int parse(struct importer *im, struct threads *th, char *line, struct import_call *c)
{
	const char *p = import_skip_blanks(line);
	uint64_t tid;
	if (!import_dec(&p, &tid) || *p != ':' || tid > UINT32_MAX)
		return not_a_call(im);
	p = import_skip_blanks(p + 1);
	char kind;
	int nargs; /* decimal arguments after the pointer (realloc: hex first) */
	if (import_lit(&p, "malloc"))
		kind = 'a', nargs = 1;
	else if (import_lit(&p, "free"))
		kind = 'f', nargs = 0;
	else if (import_lit(&p, "realloc"))
		kind = 'r', nargs = 2;
	else if (import_lit(&p, "calloc"))
		kind = 'c', nargs = 2;
	else if (import_lit(&p, "memalign"))
		kind = 'm', nargs = 2;
	else if (import_lit(&p, "thread_done"))
		kind = 't', nargs = 0;
	else
		return not_a_call(im);
	if (*p != ' ' && *p != '\t')
		return not_a_call(im);
	uint64_t ptr, a = 0, b = 0;
	bool ok = hex_field(&p, &ptr);
	if (ok && kind == 'r')
		ok = hex_field(&p, &a) && dec_field(&p, &b);
	else if (ok && nargs == 2)
		ok = dec_field(&p, &a) && dec_field(&p, &b);
	else if (ok && nargs == 1)
		ok = dec_field(&p, &b);
	if (!ok) {
		if (import_bad_line(im, "malformed android %s record",
				    kind == 'a'   ? "malloc"
				    : kind == 'f' ? "free"
				    : kind == 'r' ? "realloc"
				    : kind == 'c' ? "calloc"
				    : kind == 'm' ? "memalign"
						  : "thread_done") < 0)
			return -1;
		return 0;
	}
	if (kind == 't') { /* the end of a thread: no op; its end time is ignored */
		thread_done(th, tid);
		import_other_line(im);
		return 0;
	}
	*c = (struct import_call){.kind = kind, .ptr = ptr, .thread = thread_label(th, tid)};
	if (kind == 'r')
		c->old = a, c->size = b;
	else if (kind == 'c' || kind == 'm')
		c->arg = a, c->size = b;
	else
		c->size = b;
	/* the start time, if the record has times; later fields are tolerated */
	p = import_skip_blanks(p);
	uint64_t start;
	if (import_dec(&p, &start) && field_end(p)) {
		c->time_ns = start;
		c->has_time = true;
	}
	return 1;
}

int trace_read_android(struct trace *t, struct src *s, struct diag *d)
{
	struct importer im;
	struct threads th = {.cached = false};
	idmap_init(&th.gen);
	import_begin(&im, t, s, d, "android");
	char *line;
	size_t len;
	int rc;
	while ((rc = src_line(s, &line, &len)) > 0) {
		struct import_call c;
		int got = parse(&im, &th, line, &c);
		if (got < 0 || (got > 0 && import_call(&im, &c) < 0)) {
			rc = -1;
			break;
		}
	}
	idmap_free(&th.gen);
	if (rc < 0) {
		import_abort(&im);
		return -1;
	}
	return import_finish(&im);
}
