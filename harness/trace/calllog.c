/*
 * calllog.c - importer of the NAME(ARGS) = RESULT call logs (jemalloc utrace
 * via kdump, and the many ad-hoc tracers that print calls C-style).
 *
 * One call per line, in either order, after an optional prefix:
 *
 *   [PREFIX] malloc(SIZE) = PTR            valloc, pvalloc too
 *   [PREFIX] calloc(N, SIZE) = PTR
 *   [PREFIX] realloc(OLD, SIZE) = PTR       reallocf too
 *   [PREFIX] memalign(ALIGN, SIZE) = PTR    aligned_alloc too; and
 *   [PREFIX] posix_memalign(ALIGN, SIZE) = PTR   (with 3 arguments, the
 *                                           result is an error code and the
 *                                           block unknown: an other line)
 *   [PREFIX] free(PTR)                      cfree too; "= VALUE" ignored
 *   [PREFIX] PTR = malloc(SIZE)             the result first: FreeBSD
 *   [PREFIX] PTR = realloc(OLD, SIZE)       kdump's utrace records
 *
 * Numbers are decimal or 0x-hex; NULL pointers are 0, 0x0, (nil) or NULL.
 * The prefix is anything before the call not containing '(' (a time, a
 * PID, ...); kdump's is `PID [TID] COMMAND [TIME] USER`: PID is the
 * process (import_process), TID (kdump -H) the thread, TIME (-T, -R, -E:
 * seconds with a fraction) the time.  Other prefixes give no process,
 * thread or time.  jemalloc's utrace records calloc and the aligned calls
 * as malloc (their size the bytes returned), realloc(p, 0) as free(p), and
 * malloc_init(): kdump prints what it knows.
 *
 * Lines whose first '(' is not after one of the names above (kdump's
 * syscall records, malloc_init(), a program's output) are other lines,
 * but a last line without its newline is a cut-off line.  What follows a
 * call's result (a caller, a comment) is not read.
 */
#include <string.h>

#include "trace/import.h"
#include "trace/internal.h"

enum cl_kind { CL_NONE, CL_ALLOC, CL_CALLOC, CL_ALIGNED, CL_POSIX, CL_REALLOC, CL_FREE };

static bool ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static enum cl_kind classify(const char *p, size_t n)
{
#define IS(lit) (n == sizeof lit - 1 && !memcmp(p, lit, n))
	if (IS("malloc") || IS("valloc") || IS("pvalloc"))
		return CL_ALLOC;
	if (IS("free") || IS("cfree"))
		return CL_FREE;
	if (IS("calloc"))
		return CL_CALLOC;
	if (IS("realloc") || IS("reallocf"))
		return CL_REALLOC;
	if (IS("memalign") || IS("aligned_alloc"))
		return CL_ALIGNED;
	if (IS("posix_memalign"))
		return CL_POSIX;
	return CL_NONE;
#undef IS
}

/* What a line holds, as found by locate(). */
struct cl_line {
	const char *pre, *pre_end; /* the prefix (before the result or the name) */
	const char *name;          /* the function's name */
	size_t name_len;
	const char *args; /* at its '(' */
	enum cl_kind kind;
	bool result_first; /* PTR = name(...) */
	uint64_t first_result;
};

/* Finds the call: the identifier before the line's first '(' naming an
 * allocation function.  false: not a call line. */
static bool locate(const char *line, const char *end, struct cl_line *c)
{
	const char *paren = memchr(line, '(', (size_t)(end - line));
	if (!paren)
		return false;
	const char *n = paren;
	while (n > line && ident_char((unsigned char)n[-1]))
		n--;
	if (n == paren || (n > line && n[-1] != ' ' && n[-1] != '\t' && n[-1] != ']' &&
			   n[-1] != ':' && n[-1] != '|'))
		return false;
	c->kind = classify(n, (size_t)(paren - n));
	if (c->kind == CL_NONE)
		return false;
	c->name = n;
	c->name_len = (size_t)(paren - n);
	c->args = paren;
	c->pre = line;
	c->pre_end = n;
	c->result_first = false;
	/* "PTR = " just before the name: the result first */
	const char *q = n;
	while (q > line && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q > line && q[-1] == '=') {
		const char *e = q - 1;
		while (e > line && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		const char *s = e;
		while (s > line &&
		       (ident_char((unsigned char)s[-1]) || s[-1] == '(' || s[-1] == ')'))
			s--;
		const char *r = s;
		uint64_t v;
		if (s < e && import_value(&r, &v) && r == e) {
			c->result_first = true;
			c->first_result = v;
			c->pre_end = s;
		}
	}
	return true;
}

/* ---- Probe -------------------------------------------------------------- */

/* Three consecutive lines that are calls, or a whole short stream of
 * calls only, but perhaps a cut-off last line (a native text trace has
 * none: its ops have no '(', its comments start with '#'). */
bool trace_probe_calllog(const unsigned char *head, size_t n)
{
	const char *h = (const char *)head, *end = h + n;
	int run = 0, calls = 0;
	bool all = true;
	for (const char *p = h; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl && n >= TRACE_PROBE_BYTES)
			break; /* a cut-off line of a longer stream */
		const char *le = nl ? nl : end;
		if (le > p && le[-1] == '\r')
			le--;
		struct cl_line c;
		bool call = le > p && *p != '#' && locate(p, le, &c);
		if (call) {
			calls++;
			if (++run >= 3)
				return true;
		} else {
			run = 0;
			if (le > p && nl) /* (a cut-off last line does not count) */
				all = false;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return n < TRACE_PROBE_BYTES && all && calls > 0;
}

/* ---- Reading ------------------------------------------------------------ */

static bool digits(const char *s, const char *e)
{
	if (s == e)
		return false;
	for (; s < e; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The prefix's process, thread and time: kdump's PID [TID] COMMAND [TIME]
 * USER.  false if it names no process. */
static bool prefix_info(const char *p, const char *e, uint64_t *pid, uint64_t *tid, uint64_t *ns,
			bool *has_time)
{
	const char *tok[8][2];
	int k = 0;
	*tid = 0;
	*has_time = false;
	while (p < e) {
		p = import_skip_blanks(p);
		if (p >= e)
			break;
		const char *s = p;
		while (p < e && *p != ' ' && *p != '\t')
			p++;
		if (k == 8)
			return false;
		tok[k][0] = s;
		tok[k][1] = p;
		k++;
	}
	if (k < 3 || tok[k - 1][1] - tok[k - 1][0] != 4 || memcmp(tok[k - 1][0], "USER", 4))
		return false;
	const char *q = tok[0][0];
	if (!digits(tok[0][0], tok[0][1]) || !import_dec(&q, pid))
		return false;
	if (k >= 4 && digits(tok[1][0], tok[1][1])) {
		q = tok[1][0];
		import_dec(&q, tid);
	}
	/* TIME: digits '.' digits, just before USER */
	const char *ts = tok[k - 2][0], *te = tok[k - 2][1],
		   *dot = memchr(ts, '.', (size_t)(te - ts));
	if (k >= 3 && dot && digits(ts, dot) && digits(dot + 1, te) && te - dot - 1 <= 9) {
		uint64_t sec = 0, frac = 0;
		q = ts;
		if (import_dec(&q, &sec)) {
			int nd = 0;
			for (q = dot + 1; q < te; q++, nd++)
				frac = frac * 10 + (uint64_t)(*q - '0');
			for (; nd < 9; nd++)
				frac *= 10;
			*ns = sec * 1000000000u + frac;
			*has_time = true;
		}
	}
	return true;
}

int trace_read_calllog(struct trace *t, struct src *s, struct diag *d)
{
	struct importer im;
	import_begin(&im, t, s, d, "calllog");
	char *line;
	size_t len;
	int rc;
	while ((rc = src_line(s, &line, &len)) > 0) {
		struct cl_line cl;
		if (!len || line[0] == '#' || !locate(line, line + len, &cl)) {
			if (s->unterminated && len) /* a last line cut off before its '(' */
				(void)import_bad_line(&im, "cut off");
			else
				import_other_line(&im);
			continue;
		}
		uint64_t pid, tid = 0, ns = 0;
		bool has_time = false;
		if (prefix_info(cl.pre, cl.pre_end, &pid, &tid, &ns, &has_time) &&
		    !import_process(&im, pid)) {
			import_skip_call(&im);
			continue;
		}
		struct import_call c = {.thread = tid, .time_ns = ns, .has_time = has_time};
		const char *p = cl.args;
		struct import_args a;
		if (!import_args(&p, &a, false))
			goto bad;
		if (cl.kind == CL_POSIX && a.n == 3) { /* posix_memalign(&p, al, n) = errno */
			import_other_line(&im);
			continue;
		}
		static const char fn[] = {[CL_ALLOC] = 'a', [CL_CALLOC] = 'c',  [CL_ALIGNED] = 'm',
					  [CL_POSIX] = 'm', [CL_REALLOC] = 'r', [CL_FREE] = 'f'};
		if (cl.kind == CL_NONE || !import_c_call(&c, fn[cl.kind], a.v, a.n, 0))
			goto bad;
		bool need_result = c.kind != 'f';
		p = import_skip_blanks(p);
		if (cl.result_first) {
			if (!need_result)
				goto bad; /* X = free(P) */
			c.ptr = cl.first_result;
		} else if (need_result) {
			if (*p != '=')
				goto bad;
			p = import_skip_blanks(p + 1);
			if (!import_value(&p, &c.ptr))
				goto bad;
		}
		/* what follows the call (a caller, a comment) is not read */
		if (import_call(&im, &c) < 0)
			goto fail;
		continue;
	bad:
		if (import_bad_line(&im, "unreadable %.*s call: %.60s", (int)cl.name_len, cl.name,
				    cl.result_first ? cl.pre_end : cl.name) < 0)
			goto fail;
	}
	if (rc < 0)
		goto fail;
	return import_finish(&im);
fail:
	import_abort(&im);
	return -1;
}
