/*
 * valgrind.c - importer of the valgrind --trace-malloc=yes log.
 *
 * valgrind's malloc replacements (coregrind/m_replacemalloc/
 * vg_replace_malloc.c) print, per call, one message line prefixed with
 * the process id:
 *
 *   --PID-- malloc(SIZE) = 0xPTR          also valloc, __builtin_new,
 *                                         __builtin_vec_new, _Znwm, _Znam,
 *                                         _ZnwmRKSt9nothrow_t, ... (any _Zn*)
 *   --PID-- _ZnwmSt11align_val_t(size N, al A) = 0xPTR    aligned new
 *   --PID-- calloc(N,SIZE) = 0xPTR
 *   --PID-- realloc(0xOLD,SIZE) = 0xNEW
 *   --PID-- realloc(0x0,SIZE)malloc(SIZE) = 0xPTR   (realloc(NULL, n), some
 *                                         versions; 3.19 prints the malloc only)
 *   --PID-- realloc(0xOLD,0)free(0xOLD)   realloc(p, 0) before 3.20: frees,
 *   --PID--  = 0                          its result on a line of its own
 *   --PID-- memalign(al A, size N) = 0xPTR  also posix_memalign, aligned_alloc
 *                                         (3.19 spells them all memalign)
 *   --PID-- free(0xPTR)                   also cfree, __builtin_delete,
 *                                         __builtin_vec_delete, any _Zd*
 *                                         (sized/aligned delete: more args)
 *
 * With --time-stamp=yes the prefix is --D:HH:MM:SS.mmm PID--.  A failed
 * call shows = 0x0.  Lines starting ==PID== (the banner, errors, the leak
 * summary), other --PID-- messages (-v), the program's own output when the
 * log is stderr, and other functions (malloc_usable_size, zones, ...) are
 * other lines.  valgrind does not say which thread made a call: thread 0.
 * --trace-children=yes writes each process's lines, interleaved, to the
 * same log: the first process's calls are read (import_process).
 *
 * Policies of its own: a call whose result never comes (an aligned new of
 * an invalid alignment returns without printing one) is a failed call; a
 * lone " = RESULT" line not expected is an other line.
 */
#include <string.h>

#include "trace/import.h"
#include "trace/internal.h"

enum vg_kind { VG_NONE, VG_ALLOC, VG_CALLOC, VG_ALIGNED, VG_REALLOC, VG_FREE };

static bool ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool name_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(p, lit, n);
}

/* What the function named p[0..n) is, for the trace. */
static enum vg_kind classify(const char *p, size_t n)
{
	if (n >= 3 && p[0] == '_' && p[1] == 'Z') {
		if (p[2] == 'n')
			return VG_ALLOC; /* operator new, new[] (aligned: labelled args) */
		if (p[2] == 'd')
			return VG_FREE; /* operator delete, delete[] */
		return VG_NONE;
	}
	if (name_is(p, n, "malloc") || name_is(p, n, "valloc") || name_is(p, n, "__builtin_new") ||
	    name_is(p, n, "__builtin_vec_new"))
		return VG_ALLOC;
	if (name_is(p, n, "free") || name_is(p, n, "cfree") || name_is(p, n, "__builtin_delete") ||
	    name_is(p, n, "__builtin_vec_delete"))
		return VG_FREE;
	if (name_is(p, n, "calloc"))
		return VG_CALLOC;
	if (name_is(p, n, "realloc"))
		return VG_REALLOC;
	if (name_is(p, n, "memalign") || name_is(p, n, "posix_memalign") ||
	    name_is(p, n, "aligned_alloc"))
		return VG_ALIGNED;
	return VG_NONE;
}

/* The --[D:HH:MM:SS.mmm ]PID-- prefix at p (limit end): the text after it
 * (past one blank), or NULL.  ms: the time stamp in milliseconds, or -1. */
static const char *prefix(const char *p, const char *end, char mark, uint64_t *pid, int64_t *ms)
{
	*ms = -1;
	if (end - p < 6 || p[0] != mark || p[1] != mark)
		return NULL;
	p += 2;
	/* a time stamp: digits and colons, then '.' and digits, then a blank */
	if (p < end && *p >= '0' && *p <= '9') {
		const char *q = p;
		uint64_t f[4] = {0, 0, 0, 0};
		int nf = 0;
		while (q < end && nf < 4) {
			uint64_t v = 0;
			int nd = 0;
			while (q < end && *q >= '0' && *q <= '9' && nd < 12)
				v = v * 10 + (uint64_t)(*q++ - '0'), nd++;
			if (!nd)
				break;
			f[nf++] = v;
			if (q < end && *q == ':')
				q++;
			else
				break;
		}
		if (nf == 4 && q < end && *q == '.') {
			uint64_t frac = 0;
			int nd = 0;
			for (q++; q < end && *q >= '0' && *q <= '9' && nd < 3; q++, nd++)
				frac = frac * 10 + (uint64_t)(*q - '0');
			if (nd != 3 || q >= end || *q != ' ')
				return NULL;
			*ms = (int64_t)((((f[0] * 24 + f[1]) * 60 + f[2]) * 60 + f[3]) * 1000 +
					frac);
			p = q + 1;
		}
	}
	uint64_t v = 0;
	int nd = 0;
	while (p < end && *p >= '0' && *p <= '9' && nd < 19)
		v = v * 10 + (uint64_t)(*p++ - '0'), nd++;
	if (!nd || end - p < 2 || p[0] != mark || p[1] != mark)
		return NULL;
	p += 2;
	if (p < end && *p == ' ')
		p++;
	*pid = v;
	return p;
}

/* ---- Probe -------------------------------------------------------------- */

static bool has(const unsigned char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	for (size_t i = 0; i + l <= n; i++)
		if (p[i] == (unsigned char)lit[0] && !memcmp(p + i, lit, l))
			return true;
	return false;
}

/* A log whose first line is valgrind's banner (==PID== ... and "Using
 * Valgrind-" within the head), or any line of the head a traced call
 * (--PID-- NAME( with NAME one of the allocation functions above). */
bool trace_probe_valgrind(const unsigned char *head, size_t n)
{
	const char *h = (const char *)head, *end = h + n;
	uint64_t pid;
	int64_t ms;
	if (prefix(h, end, '=', &pid, &ms) && has(head, n, "Using Valgrind-"))
		return true;
	for (const char *p = h; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = prefix(p, le, '-', &pid, &ms);
		if (q) {
			const char *r = q;
			while (r < le && ident_char((unsigned char)*r))
				r++;
			if (r < le && *r == '(' && classify(q, (size_t)(r - q)) != VG_NONE)
				return true;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

/* ---- Reading ------------------------------------------------------------ */

/* " = RESULT" at *pp: true with *v set, advancing *pp. */
static bool result(const char **pp, uint64_t *v)
{
	const char *p = import_skip_blanks(*pp);
	if (*p != '=')
		return false;
	p = import_skip_blanks(p + 1);
	if (import_lit(&p, "(nil)"))
		*v = 0;
	else if (!import_hex(&p, v))
		return false;
	*pp = p;
	return true;
}

struct vg_state {
	struct importer im;
	bool pending; /* a call waiting for its " = RESULT" line */
	struct import_call call;
	uint64_t pending_pid;
	bool expect_zero; /* realloc(p,0)free(p) seen: its " = 0" line may follow */
	uint64_t zero_pid;
};

/* The pending call, never given its result: a failed call. */
static int flush_pending(struct vg_state *st)
{
	if (!st->pending)
		return 0;
	st->pending = false;
	st->call.ptr = 0;
	(void)import_process(&st->im, st->pending_pid); /* its own, in a split load */
	return import_call(&st->im, &st->call);
}

/* One call line's text after the prefix: 0 done, 1 not a call (other
 * line), -1 stop. */
static int call_line(struct vg_state *st, const char *p, uint64_t pid, int64_t ms)
{
	struct importer *im = &st->im;
	const char *name = p;
	while (ident_char((unsigned char)*p))
		p++;
	enum vg_kind k = *p == '(' ? classify(name, (size_t)(p - name)) : VG_NONE;
	if (k == VG_NONE)
		return 1;
	struct import_call c = {
		.thread = 0, .has_time = ms >= 0, .time_ns = ms >= 0 ? (uint64_t)ms * 1000000 : 0};
	struct import_args a;
	if (!import_args(&p, &a, true))
		goto bad;
	bool need_result = true, zero_free = false;
	switch (k) {
	case VG_ALLOC:
		if (a.n == 1 && a.al < 0) {
			c.kind = 'a';
			c.size = a.v[0];
		} else if (a.n == 2 && a.al >= 0 && a.size >= 0) {
			c.kind = 'm';
			c.size = a.v[a.size];
			c.arg = a.v[a.al];
		} else {
			goto bad;
		}
		break;
	case VG_ALIGNED:
		if (a.n != 2)
			goto bad;
		c.kind = 'm';
		/* unlabelled: (alignment, size), as memalign's arguments */
		c.arg = a.v[a.al >= 0 ? a.al : a.size >= 0 ? 1 - a.size : 0];
		c.size = a.v[a.size >= 0 ? a.size : a.al >= 0 ? 1 - a.al : 1];
		break;
	case VG_CALLOC:
		if (a.n != 2 || a.al >= 0 || a.size >= 0)
			goto bad;
		c.kind = 'c';
		c.arg = a.v[0];
		c.size = a.v[1];
		break;
	case VG_REALLOC:
		if (a.n != 2 || a.al >= 0 || a.size >= 0)
			goto bad;
		c.kind = 'r';
		c.old = a.v[0];
		c.size = a.v[1];
		/* realloc(0x0,N)malloc(N) = P, realloc(P,0)free(P): the call it
		 * made printed on the same line */
		if (ident_char((unsigned char)*p)) {
			const char *inner = p;
			while (ident_char((unsigned char)*p))
				p++;
			struct import_args b;
			enum vg_kind ik = classify(inner, (size_t)(p - inner));
			if (*p != '(' || !import_args(&p, &b, true) ||
			    (ik != VG_ALLOC && ik != VG_FREE))
				goto bad;
			if (ik == VG_FREE) {
				need_result = false;
				zero_free = true;
			}
		}
		break;
	case VG_FREE:
		if (a.n < 1)
			goto bad;
		c.kind = 'f';
		c.ptr = a.v[0];
		need_result = false;
		break;
	default: return 1;
	}
	if (need_result) {
		uint64_t v;
		if (result(&p, &v)) {
			c.ptr = v;
		} else if (*import_skip_blanks(p) == '\0') {
			if (im->s->unterminated) /* cut off before its result */
				return import_bad_line(im, "a call without its result") < 0 ? -1
											    : 0;
			st->pending = true;
			st->call = c;
			st->pending_pid = pid;
			return 0;
		} else {
			goto bad;
		}
	}
	if (zero_free) {
		/* realloc(p, 0) freed p and returns NULL (" = 0" next line) */
		c.ptr = 0;
		st->expect_zero = true;
		st->zero_pid = pid;
	}
	return import_call(im, &c) < 0 ? -1 : 0;
bad:
	return import_bad_line(im, "unreadable valgrind call: %.60s", name) < 0 ? -1 : 0;
}

int trace_read_valgrind(struct trace *t, struct src *s, struct diag *d)
{
	struct vg_state st;
	memset(&st, 0, sizeof st);
	struct importer *im = &st.im;
	import_begin(im, t, s, d, "valgrind");
	char *line;
	size_t len;
	int rc;
	while ((rc = src_line(s, &line, &len)) > 0) {
		uint64_t pid;
		int64_t ms;
		const char *p = prefix(line, line + len, '-', &pid, &ms);
		if (!p) {
			import_other_line(im);
			continue;
		}
		/* " = RESULT" alone: the end of the call of the line before */
		const char *q = import_skip_blanks(p);
		if (*q == '=') {
			uint64_t v;
			bool ok = result(&q, &v) && *import_skip_blanks(q) == '\0';
			if (ok && st.pending && st.pending_pid == pid) {
				st.pending = false;
				st.call.ptr = v;
				if (!import_process(im, pid))
					import_skip_call(im);
				else if (import_call(im, &st.call) < 0)
					goto fail;
			} else if (ok && st.expect_zero && st.zero_pid == pid) {
				st.expect_zero = false; /* realloc(p, 0)'s NULL, applied */
			} else {
				import_other_line(im);
			}
			continue;
		}
		if (st.pending && st.pending_pid == pid) {
			bool mine = import_process(im, pid);
			if (!mine) {
				st.pending = false;
				import_skip_call(im);
			} else if (flush_pending(&st) < 0) {
				goto fail;
			}
		}
		st.expect_zero = false;
		/* whether it is a call, before asking whose */
		const char *r = p;
		while (ident_char((unsigned char)*r))
			r++;
		if (*r != '(' || classify(p, (size_t)(r - p)) == VG_NONE) {
			import_other_line(im);
			continue;
		}
		if (!import_process(im, pid)) {
			import_skip_call(im);
			continue;
		}
		int cr = call_line(&st, p, pid, ms);
		if (cr < 0)
			goto fail;
		if (cr > 0)
			import_other_line(im);
	}
	if (rc < 0)
		goto fail;
	if (st.pending && flush_pending(&st) < 0)
		goto fail;
	return import_finish(im);
fail:
	import_abort(im);
	return -1;
}
