/*
 * import.c - calls as logs spell them, turned into trace ops with the
 * policies of import.h.
 *
 * Every address becomes a source id of the builder (the address itself),
 * so the builder's dense renumbering applies as for any text trace; this
 * file only decides, per call, which ops the call is: none (a failed call,
 * a free of an unknown address), one, or two (a lost free before an
 * allocation).
 */
#include "trace/import.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "trace/builder.h"
#include "trace/internal.h"

const char *const import_count_keys[IMPORT_NCOUNTS] = {
#define IMPORT_COUNT_KEY(e, key, what) key,
	IMPORT_COUNT_LIST(IMPORT_COUNT_KEY)
#undef IMPORT_COUNT_KEY
};
const char *const import_count_what[IMPORT_NCOUNTS] = {
#define IMPORT_COUNT_WHAT(e, key, what) what,
	IMPORT_COUNT_LIST(IMPORT_COUNT_WHAT)
#undef IMPORT_COUNT_WHAT
};

void import_begin(struct importer *im, struct trace *t, struct src *s, struct diag *d,
		  const char *format)
{
	memset(im, 0, sizeof *im);
	im->t = t;
	im->s = s;
	im->d = d;
	im->b = trace_builder_new(t, d);
	idmap_init(&im->pids);
	im->split = t->split_processes;
	t->format = TRACE_FMT_IMPORT;
	t->import_format = format;
}

/* The current process's state, kept in procs[cur] / taken from procs[i]. */
static void proc_save(struct importer *im)
{
	struct import_proc *p = &im->procs[im->cur];
	p->pid = im->pid;
	p->t = im->t;
	p->b = im->b;
	memcpy(p->counts, im->counts, sizeof p->counts);
	p->calls = im->calls;
}

static void proc_load(struct importer *im, size_t i)
{
	const struct import_proc *p = &im->procs[i];
	im->cur = i;
	im->pid = p->pid;
	im->t = p->t;
	im->b = p->b;
	memcpy(im->counts, p->counts, sizeof im->counts);
	im->calls = p->calls;
}

/* A new process of a split load, empty and current. */
static void proc_add(struct importer *im, uint64_t pid)
{
	if (im->nprocs == im->capprocs) {
		im->capprocs = im->capprocs ? 2 * im->capprocs : 8;
		im->procs = xrealloc(im->procs, im->capprocs * sizeof *im->procs);
	}
	struct trace *first = im->procs[0].t, *t = trace_new(first->path);
	t->compression = first->compression;
	t->format = TRACE_FMT_IMPORT;
	t->import_format = first->import_format;
	im->procs[im->nprocs] = (struct import_proc){.pid = pid, .t = t};
	im->procs[im->nprocs].b = trace_builder_new(t, im->d);
	proc_load(im, im->nprocs++);
}

bool import_process(struct importer *im, uint64_t pid)
{
	if (im->have_pid && pid == im->pid)
		return true;
	uint64_t key = pid == UINT64_MAX ? pid : pid + 1; /* 0 is the map's empty key */
	struct idmap_slot *slot = idmap_find(&im->pids, key);
	bool seen = slot->key != 0;
	if (!seen) {
		slot = idmap_insert(&im->pids, slot, key);
		slot->val = (uint32_t)(im->pids.used - 1); /* the order of first calls */
	}
	if (!im->have_pid) { /* the first process: the trace begun with */
		im->have_pid = true;
		im->pid = pid;
		if (im->split) {
			im->procs = xmalloc(8 * sizeof *im->procs);
			im->capprocs = 8;
			im->nprocs = 1;
		}
		return true;
	}
	if (!im->split)
		return false;
	proc_save(im);
	if (seen)
		proc_load(im, slot->val);
	else
		proc_add(im, pid);
	return true;
}

void import_skip_call(struct importer *im)
{
	im->counts[IMPORT_OTHER_PROCESSES]++;
	im->calls++;
}

/* ---- Calls to ops ------------------------------------------------------- */

/* One op for the builder, at the current line. */
static int emit(struct importer *im, const struct import_call *c, char kind, uint64_t id,
		uint64_t size, uint64_t arg, uint64_t to)
{
	struct trace_srcop op = {
		.kind = kind,
		.id = id ? (int64_t)id : -1,
		.size = size,
		.arg = arg,
		.thread = c->thread,
		.to = to,
		.line = im->s->line,
		.opno = im->calls,
		.time = c->time_ns,
		.timed = c->has_time,
	};
	return trace_builder_add(im->b, &op);
}

static bool live(const struct importer *im, uint64_t ptr)
{
	return ptr && trace_builder_live(im->b, (int64_t)ptr);
}

/* Before an allocation at ptr: if ptr is still live, the log lost its free. */
static int make_room(struct importer *im, const struct import_call *c, uint64_t ptr)
{
	if (!live(im, ptr))
		return 0;
	im->counts[IMPORT_LOST_FREES]++;
	return emit(im, c, 'f', ptr, 0, 0, 0);
}

/* The smallest power of two >= a (1 for 0): what glibc's memalign uses. */
static uint64_t pow2_at_least(uint64_t a)
{
	if (a <= 1)
		return 1;
	if (a > ((uint64_t)1 << 62))
		return (uint64_t)1 << 63;
	return (uint64_t)1 << (64 - __builtin_clzll(a - 1));
}

static int do_alloc(struct importer *im, const struct import_call *c)
{
	uint64_t arg = c->kind == 'm' ? pow2_at_least(c->arg) : c->kind == 'c' ? c->arg : 0;
	if (c->size == 0 || (c->kind == 'c' && c->arg == 0))
		im->counts[IMPORT_ZERO_SIZES]++;
	int rc = make_room(im, c, c->ptr);
	return rc ? rc : emit(im, c, c->kind, c->ptr, c->size, arg, 0);
}

static int do_free(struct importer *im, const struct import_call *c)
{
	if (c->ptr && !live(im, c->ptr)) {
		im->counts[IMPORT_UNKNOWN_FREES]++;
		return 0;
	}
	return emit(im, c, 'f', c->ptr, 0, 0, 0);
}

/* realloc(old, size) = ptr, with old and ptr non-NULL unless said. */
static int do_realloc(struct importer *im, const struct import_call *c)
{
	bool known = live(im, c->old);
	if (c->size == 0) { /* frees old (glibc), perhaps returning a new block */
		int rc = 0;
		if (known)
			rc = emit(im, c, 'r', c->old, 0, 0, 0);
		else if (c->old)
			im->counts[IMPORT_UNKNOWN_FREES]++;
		if (rc || !c->ptr)
			return rc;
		im->counts[IMPORT_ZERO_SIZES]++;
		return (rc = make_room(im, c, c->ptr)) ? rc : emit(im, c, 'a', c->ptr, 0, 0, 0);
	}
	if (!c->ptr) { /* failed: the block stays as it was */
		im->counts[IMPORT_FAILED_CALLS]++;
		return 0;
	}
	if (!known) {
		if (c->old)
			im->counts[IMPORT_UNKNOWN_REALLOCS]++;
		int rc = make_room(im, c, c->ptr);
		/* realloc(NULL, n) keeps its spelling; of an unknown block it is
		 * a plain allocation */
		return rc ? rc : emit(im, c, c->old ? 'a' : 'r', c->ptr, c->size, 0, 0);
	}
	if (c->ptr != c->old) {
		int rc = make_room(im, c, c->ptr);
		if (rc)
			return rc;
	}
	return emit(im, c, 'r', c->old, c->size, 0, c->ptr == c->old ? 0 : c->ptr + 1);
}

bool import_c_call(struct import_call *c, char fn, const uint64_t *v, int n, uint64_t result)
{
	bool two = fn == 'c' || fn == 'm' || fn == 'r';
	if (!fn || !strchr("acmvrf", fn) || n != (two ? 2 : 1))
		return false;
	c->kind = fn == 'v' ? 'm' : fn;
	c->ptr = fn == 'f' ? v[0] : result;
	c->old = fn == 'r' ? v[0] : 0;
	c->arg = fn == 'v' ? 4096 : fn == 'c' || fn == 'm' ? v[0] : 0;
	c->size = fn == 'f' ? 0 : v[two ? 1 : 0];
	return true;
}

int import_call(struct importer *im, const struct import_call *c)
{
	int rc;
	if (c->ptr > (uint64_t)INT64_MAX || c->old > (uint64_t)INT64_MAX) {
		rc = diag_error(im->d, im->s->line, im->calls,
				"address 0x%" PRIx64 " is above 2^63: not a user-space pointer",
				c->ptr > (uint64_t)INT64_MAX ? c->ptr : c->old);
	} else if (c->kind == 'f') {
		rc = do_free(im, c);
	} else if (c->kind == 'r') {
		rc = do_realloc(im, c);
	} else if (!c->ptr) {
		im->counts[IMPORT_FAILED_CALLS]++;
		rc = 0;
	} else {
		rc = do_alloc(im, c);
	}
	im->calls++;
	return rc;
}

int import_bad_line(struct importer *im, const char *fmt, ...)
{
	if (im->s->unterminated) {
		im->counts[IMPORT_TRUNCATED_LINES]++;
		return 0;
	}
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_error(im->d, im->s->line, DIAG_NO_OP, "%s", msg);
}

/* ---- The end ------------------------------------------------------------ */

static void meta_u64(struct trace *t, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	trace_meta_set(t, key, buf);
}

/* One warning naming every count of a call that was dropped or guessed
 * (other lines are normal in logs with the program's output: not warned). */
static void warn_counts(struct importer *im)
{
	char msg[512];
	size_t n = 0;
	for (int k = 0; k < IMPORT_NCOUNTS; k++) {
		if (!im->counts[k] || k == IMPORT_OTHER_LINES || k == IMPORT_ZERO_SIZES)
			continue;
		int w = snprintf(msg + n, sizeof msg - n, "%s%" PRIu64 " %s", n ? ", " : "",
				 im->counts[k], import_count_what[k]);
		if (w < 0 || (size_t)w >= sizeof msg - n)
			break;
		n += (size_t)w;
	}
	if (!n)
		return;
	char who[48] = "";
	if (im->split)
		snprintf(who, sizeof who, ", process %" PRIu64, im->pid);
	diag_warn(im->d, DIAG_NO_LINE, DIAG_NO_OP, "imported %s log%s: %s%s", im->t->import_format,
		  who, msg,
		  im->counts[IMPORT_OTHER_PROCESSES]
			  ? " (`heapbench trace convert LOG DIR/` writes one trace per process)"
			  : "");
}

/* The end of the current process's trace: the builder finished, the
 * metadata, the warning. */
static void finish_one(struct importer *im)
{
	struct trace *t = im->t;
	trace_builder_finish(im->b);
	im->b = NULL;
	trace_meta_set(t, "imported-from", t->import_format);
	for (int k = 0; k < IMPORT_NCOUNTS; k++) {
		char key[64];
		snprintf(key, sizeof key, "import-%s", import_count_keys[k]);
		meta_u64(t, key, im->counts[k]);
	}
	if (im->have_pid) {
		meta_u64(t, "pid", im->pid);
		meta_u64(t, "processes", im->pids.used);
	}
	if (im->approximate)
		trace_meta_set(t, "lifetimes", "approximate");
	warn_counts(im);
}

int import_finish(struct importer *im)
{
	uint64_t nops = 0;
	if (im->split && im->nprocs) {
		proc_save(im);
		for (size_t i = 0; i < im->nprocs; i++) {
			proc_load(im, i);
			finish_one(im);
			nops += im->t->nops;
			if (i)
				im->procs[i - 1].t->next_process = im->t;
		}
		im->t = im->procs[0].t;
	} else {
		finish_one(im);
		nops = im->t->nops;
	}
	idmap_free(&im->pids);
	free(im->procs);
	im->procs = NULL;
	if (nops == 0)
		return diag_fatal(im->d, DIAG_NO_LINE, DIAG_NO_OP,
				  "%s log without any allocation call", im->t->import_format);
	return 0;
}

void import_abort(struct importer *im)
{
	if (im->split && im->nprocs) {
		proc_save(im);
		for (size_t i = 0; i < im->nprocs; i++) {
			trace_builder_finish(im->procs[i].b);
			if (i)
				trace_free(im->procs[i].t);
		}
		free(im->procs);
		im->procs = NULL;
	} else if (im->b) {
		trace_builder_finish(im->b);
	}
	im->b = NULL;
	idmap_free(&im->pids);
}

/* ---- Parsing helpers ---------------------------------------------------- */

bool import_hex(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	uint64_t x = 0;
	int n = 0;
	for (;; p++, n++) {
		unsigned c = (unsigned char)*p, dgt;
		if (c - '0' < 10)
			dgt = c - '0';
		else if ((c | 0x20) - 'a' < 6)
			dgt = (c | 0x20) - 'a' + 10;
		else
			break;
		x = x << 4 | dgt;
	}
	if (n == 0 || n > 16)
		return false;
	*pp = p;
	*v = x;
	return true;
}

bool import_dec(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t x = 0;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*p - '0'), &x))
			return false;
	*pp = p;
	*v = x;
	return true;
}

bool import_lit(const char **pp, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*pp, lit, n))
		return false;
	*pp += n;
	return true;
}

bool import_value(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	if (import_lit(&p, "(nil)") || import_lit(&p, "nil") || import_lit(&p, "NULL")) {
		*v = 0;
	} else if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		if (!import_hex(&p, v))
			return false;
	} else if (!import_dec(&p, v)) {
		return false;
	}
	*pp = p;
	return true;
}

bool import_args(const char **pp, struct import_args *a, bool labels)
{
	const char *p = *pp;
	a->n = 0;
	a->al = a->size = -1;
	if (*p++ != '(')
		return false;
	p = import_skip_blanks(p);
	if (*p == ')') {
		*pp = p + 1;
		return true;
	}
	for (;;) {
		if (a->n == 3)
			return false;
		if (labels && import_lit(&p, "al "))
			a->al = a->n;
		else if (labels && import_lit(&p, "size "))
			a->size = a->n;
		if (!import_value(&p, &a->v[a->n]))
			return false;
		a->n++;
		p = import_skip_blanks(p);
		if (*p == ')') {
			*pp = p + 1;
			return true;
		}
		if (*p++ != ',')
			return false;
		p = import_skip_blanks(p);
	}
}
