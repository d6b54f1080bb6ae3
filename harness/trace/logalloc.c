/*
 * logalloc.c - importer of Mozilla's logalloc (memory/replace/logalloc):
 *
 *   PID TID malloc(SIZE)=RESULT            PID TID free(PTR)
 *   PID TID calloc(NMEMB,SIZE)=RESULT      PID TID realloc(PTR,SIZE)=RESULT
 *   PID TID memalign(ALIGN,SIZE)=RESULT    posix_memalign, aligned_alloc: same
 *   PID TID valloc(SIZE)=RESULT            PID TID jemalloc_stats()
 *
 * in both spellings: raw, as LogAlloc.cpp writes it (pointers 0x-hex,
 * NULL 0x0), and munged by logalloc_munge.py for logalloc-replay (pointers
 * are slots #N, N from 1, recycled once freed; pids and tids renumbered
 * from 1; failed calls left out; free(NULL) and realloc(NULL, n) name a
 * slot no allocation ever fills).  Slot #N becomes the address N + 1, so
 * that no slot is NULL.  The oldest logs have no TID column: the thread is
 * then the PID, as logalloc_munge.py has it.  One trace per process
 * (import_process); jemalloc_stats() and anything else are other lines.
 */
#include "trace/import.h"
#include "trace/internal.h"

#include <string.h>

#include "trace/builder.h"

struct func {
	const char *name; /* with its "(" */
	char kind;        /* import_call kind */
	int nargs;
	bool aligned; /* ALIGN,SIZE */
};

static const struct func funcs[] = {
	{"malloc(", 'a', 1, false},         {"free(", 'f', 1, false},
	{"realloc(", 'r', 2, false},        {"calloc(", 'c', 2, false},
	{"memalign(", 'm', 2, true},        {"posix_memalign(", 'm', 2, true},
	{"aligned_alloc(", 'm', 2, true},   {"valloc(", 'v', 1, false},
	{"jemalloc_stats(", 's', 0, false},
};

/* The function named at p, or NULL. */
static const struct func *func_at(const char **pp)
{
	for (size_t i = 0; i < HB_ARRAY_LEN(funcs); i++)
		if (funcs[i].name[0] == **pp && import_lit(pp, funcs[i].name))
			return &funcs[i];
	return NULL;
}

bool trace_probe_logalloc(const unsigned char *head, size_t n)
{
	/* the first line is "PID [TID ]NAME(ARGS)" with a known NAME, then
	 * "=" or its end: ltrace -f's "PID NAME(ARGS) = R" has blanks */
	char buf[160];
	size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
	memcpy(buf, head, k);
	buf[k] = 0;
	const char *p = buf;
	for (int col = 0; col < 2; col++) {
		if (*p < '0' || *p > '9') {
			if (col == 0)
				return false;
			break;
		}
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != ' ')
			return false;
		p++;
	}
	if (!func_at(&p))
		return false;
	while (*p && *p != ')' && *p != '\n' && *p != ' ')
		p++;
	if (*p == 0) /* the head ends within the first line */
		return true;
	if (*p++ != ')')
		return false;
	return *p == '=' || *p == '\n' || *p == '\r' || *p == 0;
}

/* A pointer: 0x-hex (raw), #N (munged: N + 1), or "(nil)" (glibc's %p).
 * *slot: whether it was a slot. */
static bool pointer(const char **pp, uint64_t *v, bool *slot)
{
	const char *p = *pp;
	*slot = *p == '#';
	if (*slot) {
		p++;
		if (!import_dec(&p, v) || *v >= (uint64_t)INT64_MAX)
			return false;
		(*v)++;
	} else if (import_lit(&p, "(nil)")) {
		*v = 0;
	} else if (!(p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) || !import_hex(&p, v)) {
		return false;
	}
	*pp = p;
	return true;
}

/* Not a call: the cut-off last line, if it is one, else another line. */
static int not_a_call(struct importer *im)
{
	if (im->s->unterminated)
		return import_bad_line(im, "not a logalloc line");
	import_other_line(im);
	return 0;
}

/* One line: 0 = go on, -1 = stop. */
static int line_in(struct importer *im, const char *p)
{
	uint64_t pid, tid;
	if (!import_dec(&p, &pid) || *p != ' ')
		return not_a_call(im);
	p++;
	const char *q = p;
	if (import_dec(&q, &tid) && *q == ' ')
		p = q + 1;
	else
		tid = pid; /* the oldest logs: no TID column */
	const struct func *f = func_at(&p);
	if (!f || f->kind == 's')
		return not_a_call(im);
	uint64_t a = 0, b = 0, ptr = 0;
	bool ok, slot = false, rslot;
	if (f->kind == 'f' || f->kind == 'r')
		ok = pointer(&p, &a, &slot);
	else
		ok = import_dec(&p, &a);
	if (ok && f->nargs == 2)
		ok = *p++ == ',' && import_dec(&p, &b);
	ok = ok && *p++ == ')';
	if (ok && f->kind != 'f')
		ok = *p++ == '=' && pointer(&p, &ptr, &rslot);
	if (ok) { /* trailing blanks (a CR is taken by src_line) only */
		p = import_skip_blanks(p);
		ok = *p == 0;
	}
	if (!ok)
		return import_bad_line(im, "malformed logalloc %s) call", f->name);
	if (!import_process(im, pid)) {
		import_skip_call(im);
		return 0;
	}
	/* munged: the pointer passed is a slot no allocation filled only if it
	 * was NULL (logalloc_munge.py drops frees of unknown addresses) */
	if (slot && !trace_builder_live(im->b, (int64_t)a))
		a = 0;
	struct import_call c = {.thread = tid};
	if (!import_c_call(&c, f->kind, (uint64_t[]){a, b}, f->nargs, ptr))
		return import_bad_line(im, "malformed logalloc %s) call", f->name);
	return import_call(im, &c);
}

int trace_read_logalloc(struct trace *t, struct src *s, struct diag *d)
{
	struct importer im;
	import_begin(&im, t, s, d, "logalloc");
	char *line;
	size_t len;
	int rc;
	while ((rc = src_line(s, &line, &len)) > 0)
		if (line_in(&im, line) < 0) {
			rc = -1;
			break;
		}
	if (rc < 0) {
		import_abort(&im);
		return -1;
	}
	return import_finish(&im);
}
