/*
 * ltrace.c - importer of the ltrace log of the allocation calls, as
 * ltrace 0.7.3 writes it (`ltrace -f -e malloc+free+... -o LOG PROG`):
 *
 *   [PID |[pid PID] ][TIME ][[0xIP] ][LIB->]NAME(ARGS) = RESULT[ <DURATION>]
 *   ... NAME(ARGS <unfinished ...>         a call interrupted by another line,
 *   ... <... NAME resumed> ) = RESULT       completed later on the same thread
 *   ... +++ exited (status 0) +++ / --- SIGCHLD (Child exited) ---
 *
 * TIME is -t HH:MM:SS, -tt HH:MM:SS.UUUUUU, -ttt SECONDS.UUUUUU or -r
 * (seconds since the previous line, accumulated here); NAME@LIB( is -x's
 * spelling.  PID (with -f) is the OS thread id: threads and processes are
 * not told apart by ltrace, so it is the thread label of one address space.
 * Functions: malloc, calloc, realloc, free, memalign, aligned_alloc,
 * valloc, posix_memalign, and the mangled operator new/delete (_Znwm,
 * _Znam, _ZdlPv, _ZdaPv, _ZdlPvm, _ZdaPvm); other functions are skipped.
 * posix_memalign's block is not in the log (its first argument is &ptr):
 * it gets a stand-in address, and the first free or realloc of an address
 * never allocated that is aligned as asked is taken as its, oldest first;
 * with the prototype `int posix_memalign(+void**, ulong, ulong);` (ltrace
 * -F) the first argument is the block, matched exactly.  A call made while another allocation call
 * of the same thread is unfinished is nested in it (-x's malloc@libc.so.6 inside realloc, or calls
 * made by the allocator itself): skipped, the outer call is the one the program made.
 */
#include <stdlib.h>
#include <string.h>

#include "trace/builder.h"
#include "trace/idmap.h"
#include "trace/import.h"
#include "trace/internal.h"

/* ---- One line --------------------------------------------------------- */

struct lline {
	bool has_pid;
	uint64_t pid;
	int tkind;        /* 0 none, 't' clock time of day, 'e' epoch-or-relative */
	uint64_t time_ns; /* as written */
	const char *body; /* after the prefix */
};

/* "SS[.UUUUUU]" fraction: ns */
static bool frac(const char **pp, uint64_t *ns)
{
	const char *p = *pp;
	*ns = 0;
	if (*p != '.')
		return true;
	p++;
	uint64_t v = 0;
	int n = 0;
	for (; *p >= '0' && *p <= '9'; p++, n++)
		if (n < 9)
			v = v * 10 + (uint64_t)(*p - '0');
	if (n == 0)
		return false;
	for (; n < 9; n++)
		v *= 10;
	*ns = v;
	*pp = p;
	return true;
}

/* PID column and timestamp, if any. */
static void prefix(const char *p, struct lline *l)
{
	l->has_pid = false;
	l->tkind = 0;
	p = import_skip_blanks(p);
	if (import_lit(&p, "[pid ")) {
		if (import_dec(&p, &l->pid) && *p == ']') {
			l->has_pid = true;
			p = import_skip_blanks(p + 1);
		}
	} else if (*p >= '0' && *p <= '9') {
		const char *q = p;
		uint64_t v;
		if (import_dec(&q, &v) && (*q == ' ' || *q == '\t')) {
			l->has_pid = true, l->pid = v;
			p = import_skip_blanks(q);
		}
	}
	if (*p >= '0' && *p <= '9') {
		const char *q = p;
		uint64_t a, b, c, ns;
		if (import_dec(&q, &a)) {
			if (*q == ':' && (q++, import_dec(&q, &b)) && *q == ':' &&
			    (q++, import_dec(&q, &c)) && frac(&q, &ns) &&
			    (*q == ' ' || *q == '\t')) {
				l->tkind = 't';
				l->time_ns = ((a * 60 + b) * 60 + c) * 1000000000u + ns;
				p = import_skip_blanks(q);
			} else if (*q == '.' && frac(&q, &ns) && (*q == ' ' || *q == '\t')) {
				l->tkind = 'e';
				l->time_ns = a * 1000000000u + ns;
				p = import_skip_blanks(q);
			}
		}
	}
	if (p[0] == '[' && p[1] == '0' && p[2] == 'x') { /* -i: the caller's address */
		const char *q = p + 1;
		uint64_t ip;
		if (import_hex(&q, &ip) && *q == ']')
			p = import_skip_blanks(q + 1);
	}
	l->body = p;
}

enum fn {
	FN_OTHER,
	FN_MALLOC,
	FN_CALLOC,
	FN_REALLOC,
	FN_FREE,
	FN_MEMALIGN,
	FN_VALLOC,
	FN_POSIX_MEMALIGN
};

static enum fn fn_of(const char *name, size_t n)
{
	static const struct {
		const char *name;
		enum fn fn;
	} fns[] = {
		{"malloc", FN_MALLOC},     {"calloc", FN_CALLOC},
		{"realloc", FN_REALLOC},   {"free", FN_FREE},
		{"memalign", FN_MEMALIGN}, {"aligned_alloc", FN_MEMALIGN},
		{"valloc", FN_VALLOC},     {"posix_memalign", FN_POSIX_MEMALIGN},
		{"_Znwm", FN_MALLOC},      {"_Znam", FN_MALLOC},
		{"_ZdlPv", FN_FREE},       {"_ZdaPv", FN_FREE},
		{"_ZdlPvm", FN_FREE},      {"_ZdaPvm", FN_FREE},
	};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
		if (strlen(fns[i].name) == n && !memcmp(fns[i].name, name, n))
			return fns[i].fn;
	return FN_OTHER;
}

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* The function called at p: [LIB->]NAME[@LIB]( ; *args after the '('.
 * -1 if p is not a call at all. */
static int call_name(const char *p, const char **args, bool *marked)
{
	const char *open = p;
	while (*open && *open != '(' && *open != ' ')
		open++;
	if (*open != '(' || open == p)
		return -1;
	const char *name = p, *end = open;
	for (const char *q = p; q + 1 < open; q++)
		if (q[0] == '-' && q[1] == '>')
			name = q + 2, *marked = true;
	const char *at = memchr(name, '@', (size_t)(open - name));
	if (at)
		end = at, *marked = true;
	if (end == name)
		return -1;
	for (const char *q = name; q < end; q++)
		if (!ident_char(*q))
			return -1;
	*args = open + 1;
	return (int)fn_of(name, (size_t)(end - name));
}

/* Up to 3 arguments, separated by ", "; ends at ')' or " <unfinished ...>".
 * Extra arguments (ltrace shows some without a prototype) are ignored. */
static bool args_of(const char **pp, uint64_t *a, int *na, bool *unfinished, bool *noret)
{
	*noret = false;
	const char *p = *pp;
	*na = 0;
	*unfinished = false;
	p = import_skip_blanks(p);
	if (*p != ')' && *p != '<') {
		for (;;) {
			uint64_t v;
			if (!import_value(&p, &v))
				return false;
			if (*na < 3)
				a[*na] = v;
			++*na;
			if (!import_lit(&p, ", "))
				break;
		}
	}
	if (import_lit(&p, " <unfinished ...>") || import_lit(&p, "<unfinished ...>")) {
		*unfinished = true;
	} else if (import_lit(&p, " <no return ...>") || import_lit(&p, "<no return ...>")) {
		*noret = true;
	} else if (*p != ')') {
		return false;
	} else {
		p++;
	}
	*pp = p;
	return true;
}

/* " = RESULT" after the ')': 0 ok (void: *isvoid), false if malformed. */
static bool result_of(const char *p, uint64_t *r, bool *isvoid)
{
	p = import_skip_blanks(p);
	if (*p++ != '=')
		return false;
	p = import_skip_blanks(p);
	*isvoid = import_lit(&p, "<void>");
	if (!*isvoid && !import_value(&p, r))
		return false;
	return *p == 0 || *p == ' ' || *p == '\t' || *p == '\r'; /* then -T's <DURATION> */
}

/* ---- Probe -------------------------------------------------------------- */

/* Whether one line is ltrace's, with something only ltrace writes: a PID
 * column, a time, LIB->, @LIB, <unfinished ...>, resumed, = <void>, or the
 * +++ exited / --- SIGNAL lines.  Plain NAME(ARGS) = RESULT lines are the
 * call log's (calllog.c) unless such a mark is in the head. */
static int probe_line(const char *line)
{
	struct lline l;
	prefix(line, &l);
	const char *p = l.body;
	bool marked = l.has_pid || l.tkind;
	if (import_lit(&p, "+++ ") || import_lit(&p, "--- "))
		return (l.has_pid || l.tkind || p == line + 4) &&
		       strstr(p, p[-2] == '+' ? " +++" : " ---");
	if (import_lit(&p, "<... ")) {
		const char *q = strstr(p, " resumed>");
		return q && fn_of(p, (size_t)(q - p)) != FN_OTHER;
	}
	const char *args;
	bool lib = false;
	int fn = call_name(p, &args, &lib);
	if (fn < 0)
		return 0;
	if (fn == FN_OTHER) /* another function: LIB-> or @LIB decide */
		return lib ? 1 : 2;
	marked = marked || lib;
	uint64_t a[3], r;
	int na;
	bool unf, isvoid, noret;
	if (!args_of(&args, a, &na, &unf, &noret))
		return 0;
	if (unf || noret)
		return *args == 0 || *args == '\r';
	if (!result_of(args, &r, &isvoid))
		return 0;
	return marked || isvoid || strstr(args, " <") ? 1 : 2; /* 2: a plain call */
}

bool trace_probe_ltrace(const unsigned char *head, size_t n)
{
	char line[520];
	size_t i = 0;
	int lines = 0;
	while (i < n && lines < 8) {
		size_t len = 0;
		while (i + len < n && head[i + len] != '\n')
			len++;
		if (i + len == n && n >= TRACE_PROBE_BYTES)
			return false; /* the cut-off end of the head */
		if (len >= sizeof line)
			return false;
		memcpy(line, head + i, len);
		line[len] = 0;
		i += len + 1;
		lines++;
		int k = probe_line(line);
		if (k == 1)
			return true;
		if (k == 0 && lines == 1)
			return false; /* ltrace's first line is ltrace's */
	}
	return false;
}

/* ---- Reader ------------------------------------------------------------- */

struct pending {
	uint64_t tid;
	int depth; /* unfinished allocation calls, outermost first */
	int fn;    /* of the outermost one */
	uint64_t a[3];
	int na;
	uint64_t line;
};

struct lt {
	struct importer im;
	struct pending *pend;
	size_t npend, cappend;
	int tmode;    /* 0 unknown, 'a' absolute, 'r' relative (-r) */
	uint64_t now; /* accumulated -r time, or the last absolute time */
	uint64_t day; /* -t/-tt: days added after midnight */
	bool have_time;
	/* posix_memalign's blocks not yet seen by address (see bind_pm) */
	struct pm {
		uint64_t s, hint, align;
		bool done;
	} * pm;
	size_t npm, cappm, pmhead;
	uint64_t pmnext;    /* stand-in addresses: PM_BASE + 16 * n */
	struct idmap hints; /* a pending block's address as shown -> its index + 1 */
};

#define PM_BASE ((uint64_t)1 << 62) /* above any user-space address */

/* A free or realloc of x, an address never allocated: the block of a
 * pending posix_memalign?  Its address as the log shows it (a prototype
 * with +void**), else the oldest pending one (without an address) that x
 * is aligned for.  Returns the stand-in address to use, or x. */
static uint64_t bind_pm(struct lt *lt, uint64_t x)
{
	if (lt->pmhead == lt->npm || !x || trace_builder_live(lt->im.b, (int64_t)x))
		return x;
	size_t i = lt->npm;
	if (lt->hints.used) {
		struct idmap_slot *sl = idmap_find(&lt->hints, x);
		if (sl->key) {
			i = (size_t)sl->data - 1;
			idmap_delete(&lt->hints, sl);
		}
	}
	if (i == lt->npm)
		for (i = lt->pmhead; i < lt->npm; i++)
			if (!lt->pm[i].done && !lt->pm[i].hint && x % lt->pm[i].align == 0)
				break;
	if (i == lt->npm)
		return x;
	lt->pm[i].done = true;
	while (lt->pmhead < lt->npm && lt->pm[lt->pmhead].done)
		lt->pmhead++;
	if (lt->pmhead == lt->npm)
		lt->pmhead = lt->npm = 0;
	return lt->pm[i].s;
}

/* An allocation returned r: if r is a pending block's shown address, that
 * block's free is not in the log (a lost free). */
static int unbind_pm(struct lt *lt, const struct import_call *c)
{
	if (!lt->hints.used || !c->ptr)
		return 0;
	struct idmap_slot *sl = idmap_find(&lt->hints, c->ptr);
	if (!sl->key)
		return 0;
	struct pm *p = &lt->pm[sl->data - 1];
	idmap_delete(&lt->hints, sl);
	p->done = true;
	lt->im.counts[IMPORT_LOST_FREES]++;
	struct import_call f = *c;
	f.kind = 'f', f.ptr = p->s, f.old = 0;
	return import_call(&lt->im, &f);
}

static struct pending *pending_of(struct lt *lt, uint64_t tid)
{
	for (size_t i = 0; i < lt->npend; i++)
		if (lt->pend[i].tid == tid)
			return &lt->pend[i];
	if (lt->npend == lt->cappend) {
		lt->cappend = lt->cappend ? 2 * lt->cappend : 16;
		lt->pend = xrealloc(lt->pend, lt->cappend * sizeof *lt->pend);
	}
	struct pending *pd = &lt->pend[lt->npend++];
	memset(pd, 0, sizeof *pd);
	pd->tid = tid;
	return pd;
}

static void line_time(struct lt *lt, const struct lline *l)
{
	if (!l->tkind)
		return;
	if (l->tkind == 't') {
		uint64_t t = l->time_ns + lt->day;
		if (lt->have_time && t + 43200ull * 1000000000u < lt->now) { /* past midnight */
			lt->day += 86400ull * 1000000000u;
			t += 86400ull * 1000000000u;
		}
		lt->now = t;
	} else {
		if (!lt->tmode) /* -r starts near 0, -ttt at the epoch's seconds */
			lt->tmode = l->time_ns < 1000000ull * 1000000000u ? 'r' : 'a';
		lt->now = lt->tmode == 'r' ? lt->now + l->time_ns : l->time_ns;
	}
	lt->have_time = true;
}

/* Applies the call fn(a...) = r; -1 to stop. */
static int apply(struct lt *lt, int fn, const uint64_t *a, int na, uint64_t r, bool isvoid,
		 uint64_t tid, const struct lline *l)
{
	struct importer *im = &lt->im;
	static const int nargs[] = {
		[FN_MALLOC] = 1,   [FN_CALLOC] = 2, [FN_REALLOC] = 2,       [FN_FREE] = 1,
		[FN_MEMALIGN] = 2, [FN_VALLOC] = 1, [FN_POSIX_MEMALIGN] = 3};
	if (na < nargs[fn])
		return import_bad_line(im, "%s: too few arguments",
				       fn == FN_CALLOC ? "calloc" : "call");
	if (fn == FN_POSIX_MEMALIGN) {
		/* the block is stored through a[0]: without a prototype a[0] is
		 * &ptr; with `int posix_memalign(+void**, ulong, ulong)` it is ptr */
		struct import_call c = {.kind = 'm',
					.arg = a[1],
					.size = a[2],
					.thread = tid,
					.time_ns = lt->now,
					.has_time = lt->have_time};
		if (r == 0) {
			if (lt->npm == lt->cappm) {
				lt->cappm = lt->cappm ? 2 * lt->cappm : 64;
				lt->pm = xrealloc(lt->pm, lt->cappm * sizeof *lt->pm);
			}
			struct pm *p = &lt->pm[lt->npm++];
			p->s = c.ptr = PM_BASE + 16 * lt->pmnext++;
			p->align = a[1] ? a[1] : 1;
			p->hint = na == 3 ? a[0] : 0;
			p->done = false;
			if (p->hint) {
				struct idmap_slot *sl = idmap_find(&lt->hints, p->hint);
				if (!sl->key)
					sl = idmap_insert(&lt->hints, sl, p->hint);
				sl->data = lt->npm;
			}
		}
		return import_call(im, &c);
	}
	if (isvoid != (fn == FN_FREE))
		return import_bad_line(im, isvoid ? "an allocation call returning <void>"
						  : "free returning a value");
	struct import_call c = {.thread = tid, .time_ns = lt->now, .has_time = lt->have_time};
	(void)l;
	switch (fn) {
	case FN_MALLOC: c.kind = 'a', c.size = a[0], c.ptr = r; break;
	case FN_CALLOC: c.kind = 'c', c.arg = a[0], c.size = a[1], c.ptr = r; break;
	case FN_REALLOC: c.kind = 'r', c.old = bind_pm(lt, a[0]), c.size = a[1], c.ptr = r; break;
	case FN_FREE: c.kind = 'f', c.ptr = bind_pm(lt, a[0]); break;
	case FN_MEMALIGN: c.kind = 'm', c.arg = a[0], c.size = a[1], c.ptr = r; break;
	case FN_VALLOC: c.kind = 'm', c.arg = 4096, c.size = a[0], c.ptr = r; break;
	}
	if (c.kind != 'f' && unbind_pm(lt, &c) < 0)
		return -1;
	return import_call(im, &c);
}

static int do_line(struct lt *lt, char *line)
{
	struct importer *im = &lt->im;
	struct lline l;
	prefix(line, &l);
	line_time(lt, &l);
	uint64_t tid = l.has_pid ? l.pid : 0;
	const char *p = l.body;
	if (import_lit(&p, "<... ")) {
		const char *q = strstr(p, " resumed>");
		int fn = q ? (int)fn_of(p, (size_t)(q - p)) : FN_OTHER;
		struct pending *pd = fn != FN_OTHER ? pending_of(lt, tid) : NULL;
		if (!pd || pd->depth == 0) { /* not ours, or its start is not in the log */
			import_other_line(im);
			return 0;
		}
		if (--pd->depth > 0) { /* a nested call ends */
			import_other_line(im);
			return 0;
		}
		if (fn != pd->fn)
			return import_bad_line(
				im, "a call resumed, but another one (line %llu) is unfinished",
				(unsigned long long)pd->line);
		p = strchr(q, ')');
		uint64_t r = 0;
		bool isvoid;
		if (!p || !result_of(p + 1, &r, &isvoid))
			return import_bad_line(im, "a resumed call without ') = RESULT'");
		return apply(lt, pd->fn, pd->a, pd->na, r, isvoid, tid, &l);
	}
	if (p[0] == '+' && p[1] == '+' && p[2] == '+') { /* +++ exited / killed */
		struct pending *pd = pending_of(lt, tid);
		if (pd->depth) /* a call it never returned from; its tid may be reused */
			im->counts[IMPORT_TRUNCATED_LINES]++;
		pd->depth = 0;
		import_other_line(im);
		return 0;
	}
	const char *args;
	bool marked = false;
	int fn = call_name(p, &args, &marked);
	if (fn <= FN_OTHER) { /* other functions, +++ exited, --- SIGNAL, output */
		if (fn < 0 && im->s->unterminated) /* a cut-off last line */
			im->counts[IMPORT_TRUNCATED_LINES]++;
		else
			import_other_line(im);
		return 0;
	}
	uint64_t a[3] = {0}, r = 0;
	int na;
	bool unf, isvoid, noret;
	if (!args_of(&args, a, &na, &unf, &noret))
		return import_bad_line(im, "cannot read the arguments of an allocation call");
	struct pending *pd = pending_of(lt, tid);
	if (pd->depth > 0) { /* nested in an unfinished allocation call */
		if (unf)
			pd->depth++;
		import_other_line(im);
		return 0;
	}
	if (noret) { /* the thread ended (or exec'd) before the call returned */
		if (fn == FN_FREE)
			return apply(lt, fn, a, na, 0, true, tid, &l);
		im->counts[IMPORT_TRUNCATED_LINES]++; /* its result is not known */
		return 0;
	}
	if (unf) {
		pd->depth = 1, pd->fn = fn, pd->na = na, pd->line = im->s->line;
		memcpy(pd->a, a, sizeof a);
		return 0;
	}
	if (!result_of(args, &r, &isvoid))
		return import_bad_line(im, "an allocation call without ' = RESULT'");
	return apply(lt, fn, a, na, r, isvoid, tid, &l);
}

int trace_read_ltrace(struct trace *t, struct src *s, struct diag *d)
{
	struct lt lt;
	memset(&lt, 0, sizeof lt);
	import_begin(&lt.im, t, s, d, "ltrace");
	idmap_init(&lt.hints);
	char *line;
	size_t len;
	int rc;
	while ((rc = src_line(s, &line, &len)) > 0)
		if (do_line(&lt, line) < 0)
			break;
	free(lt.pm);
	idmap_free(&lt.hints);
	if (rc != 0) {
		free(lt.pend);
		import_abort(&lt.im);
		return -1;
	}
	for (size_t i = 0; i < lt.npend; i++) /* calls the log ends in */
		if (lt.pend[i].depth)
			lt.im.counts[IMPORT_TRUNCATED_LINES]++;
	free(lt.pend);
	return import_finish(&lt.im);
}
