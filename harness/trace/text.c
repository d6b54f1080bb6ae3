/*
 * text.c - readers for the two text formats: CMU malloc-lab .rep
 * (three header dialects and their known quirks) and heapbench's native
 * text format (traces/README.md).  The format is chosen by content: a
 * first non-blank line holding only a number starts a .rep header.
 *
 * One pass, one line at a time from struct src (bounded buffer); numbers
 * are parsed by hand because strtoull per field halves the throughput.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trace/builder.h"
#include "trace/internal.h"

/* 2: ops may carry their time (` @NS`); files without times stay version 1 */
#define TEXT_VERSION 2
#define TEXT_BATCH   32

/* ---- Tokens ------------------------------------------------------------- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\v' || *p == '\f')
		p++;
	return p;
}

static bool is_blank(const char *p)
{
	return *skip_ws(p) == '\0';
}

enum { NUM_OK = 0, NUM_NONE = -1, NUM_OVERFLOW = -2 };

/* A decimal number at *pp (after blanks), optionally negative when neg is
 * given.  Advances *pp past it. */
static int parse_num(const char **pp, uint64_t *v, bool *neg)
{
	const char *p = skip_ws(*pp);
	if (neg) {
		*neg = *p == '-';
		p += *neg;
	}
	if (*p < '0' || *p > '9')
		return NUM_NONE;
	uint64_t x = 0;
	int rc = NUM_OK;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*p - '0'), &x))
			rc = NUM_OVERFLOW;
	}
	/* a number must end at a blank, a comment or the end of the line */
	if (*p && *p != ' ' && *p != '\t' && *p != '#' && *p != '\v' && *p != '\f')
		return NUM_NONE;
	*pp = p;
	*v = x;
	return rc;
}

/* ---- Op lines (shared by both formats) ---------------------------------- */

struct text_reader {
	struct trace *t;
	struct src *s;
	struct diag *d;
	struct trace_builder *b;
	bool rep;
	uint64_t rep_num_ids;  /* ids must be below this (native: UINT64_MAX) */
	uint64_t rep_ids_line; /* the header line that declared it */
	uint64_t prev_size;    /* rep quirk: `a id` means the previous size */
	bool have_prev_size;
	struct trace_srcop batch[TEXT_BATCH]; /* parsed, not yet added */
	unsigned nbatch;
	uint64_t opno; /* op lines seen, good or bad */
};

/* Number of the op line being parsed: in lint mode a bad op keeps its
 * number, so that "op N" always means the N-th op line (from 0). */
static uint64_t text_opno(const struct text_reader *r)
{
	return r->opno;
}

/* Adds the batched ops, after prefetching their hash slots. */
static int text_flush(struct text_reader *r)
{
	for (unsigned i = 0; i < r->nbatch; i++)
		trace_builder_prefetch(r->b, r->batch[i].id);
	int rc = 0;
	for (unsigned i = 0; i < r->nbatch && rc == 0; i++)
		rc = trace_builder_add(r->b, &r->batch[i]);
	r->nbatch = 0;
	return rc;
}

static int text_error(struct text_reader *r, const char *fmt, ...) HB_PRINTF(2, 3);

/* Reports a problem of the line being parsed.  The ops queued before it
 * are added first, so that problems come out in line order and strict
 * mode stops at the first one. */
static int text_error(struct text_reader *r, const char *fmt, ...)
{
	if (text_flush(r) < 0)
		return -1;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_error(r->d, r->s->line, text_opno(r), "%s", msg);
}

static const char *num_field_name(char kind, int field)
{
	static const char *const names[][3] = {{"id", "size", ""},
					       {"id", "nmemb", "size"},
					       {"id", "alignment", "size"},
					       {"id", "", ""}};
	int k = kind == 'c' ? 1 : kind == 'm' ? 2 : kind == 'f' ? 3 : 0;
	return names[k][field];
}

/* Parses one op line (thread prefix already consumed) and queues it. */
static int text_op_parse(struct text_reader *r, const char *p, uint64_t thread)
{
	struct trace_srcop op = {.kind = *p, .thread = thread, .line = r->s->line, .opno = r->opno};
	int nfields;
	switch (op.kind) {
	case 'a':
	case 'r': nfields = 2; break;
	case 'c':
	case 'm': nfields = 3; break;
	case 'f': nfields = 1; break;
	default:
		if (!*p)
			return text_error(r, "missing op after the thread prefix");
		if (*p < 0x21 || *p > 0x7e)
			return text_error(
				r, "unknown op (byte 0x%02x; expected %s)", (unsigned char)*p,
				r->rep ? "a, r or f, or heapbench's c or m" : "a, c, m, r or f");
		return text_error(r, "unknown op '%c' (expected %s)", *p,
				  r->rep ? "a, r or f, or heapbench's c or m" : "a, c, m, r or f");
	}
	p++;
	/* the blanks are those of every other place in a line (skip_ws) */
	if (*p && *p != ' ' && *p != '\t' && *p != '\v' && *p != '\f')
		return text_error(r, "unknown op '%.*s'", (int)strcspn(p - 1, " \t\v\f"), p - 1);

	uint64_t v[3] = {0, 0, 0};
	bool neg = false;
	for (int i = 0; i < nfields; i++) {
		int rc = parse_num(&p, &v[i], i == 0 ? &neg : NULL);
		if (rc == NUM_OVERFLOW)
			return text_error(r, "%s overflows 64 bits", num_field_name(op.kind, i));
		if (rc == NUM_NONE) {
			const char *q = skip_ws(p);
			if (r->rep && i == 1 && (op.kind == 'a' || op.kind == 'r') &&
			    (!*q || *q == '#')) {
				/* The CMU drivers' fscanf left the previous size in
				 * place when a size was missing; keep that meaning. */
				if (!r->have_prev_size)
					return text_error(
						r, "missing size and no previous size to reuse");
				if (text_flush(r) < 0)
					return -1;
				diag_warn(r->d, r->s->line, text_opno(r),
					  "missing size; using the previous size %" PRIu64
					  " as the CMU drivers do",
					  r->prev_size);
				v[1] = r->prev_size;
				break;
			}
			if (!*q || *q == '#')
				return text_error(r, "missing %s", num_field_name(op.kind, i));
			return text_error(r, "bad %s '%.*s'", num_field_name(op.kind, i),
					  (int)strcspn(q, " \t"), q);
		}
	}
	p = skip_ws(p);
	if (*p == '@' && !r->rep) { /* the op's time in ns (version 2) */
		p++;
		int rc = parse_num(&p, &op.time, NULL);
		if (rc != NUM_OK)
			return text_error(r, "%s time after '@'",
					  rc == NUM_OVERFLOW ? "overflowing" : "bad");
		op.timed = true;
		p = skip_ws(p);
	}
	if (*p && *p != '#')
		return text_error(r, "unexpected '%.*s' after the op", (int)strcspn(p, " \t"), p);

	if (neg) {
		if (v[0] != 1 || op.kind != 'f')
			return text_error(
				r, "negative id -%" PRIu64 " (only `f -1`, free(NULL), is allowed)",
				v[0]);
		op.id = -1;
	} else if (v[0] > INT64_MAX) {
		return text_error(r, "id %" PRIu64 " out of range", v[0]);
	} else {
		op.id = (int64_t)v[0];
	}
	if (r->rep && op.id >= 0 && v[0] >= r->rep_num_ids)
		return text_error(r,
				  "id %" PRIu64 " out of range: header line %" PRIu64
				  " declares num_ids %" PRIu64,
				  v[0], r->rep_ids_line, r->rep_num_ids);

	switch (op.kind) {
	case 'a':
	case 'r': op.size = v[1]; break;
	case 'c':
	case 'm':
		op.arg = v[1];
		op.size = v[2];
		break;
	}
	if (nfields >= 2) {
		r->prev_size = v[nfields - 1];
		r->have_prev_size = true;
	}
	r->batch[r->nbatch++] = op;
	return r->nbatch == TEXT_BATCH ? text_flush(r) : 0;
}

static int text_op(struct text_reader *r, const char *p, uint64_t thread)
{
	int rc = text_op_parse(r, p, thread);
	r->opno++;
	return rc;
}

/* ---- The fast path ------------------------------------------------------ */

/* Nearly every line of a big trace is a plain op: its letter, one space,
 * then its 1 to 3 decimal numbers separated by single spaces, then LF.
 * text_fast takes a run of such lines straight from the source's buffer,
 * without a call per line or per number; it stops before the first line
 * that is anything else (blank, a comment, a thread prefix, a time, CR,
 * tabs or runs of blanks, `f -1`, a number of 19 digits or more, an id out
 * of a .rep's range, the ops after a .rep's num_ops, a line the buffer
 * cuts), which then goes through src_line and text_op as it always did:
 * what is accepted and every message stay theirs.  A line taken here gives
 * exactly the op text_op would have queued. */

/* The number at p: 1 to 18 digits (below 10^18, so never near an
 * overflow), else NULL.  The byte after the buffer is a NUL (src_window),
 * which ends the digits like any non-digit. */
static inline const char *fast_num(const char *p, uint64_t *v)
{
	const char *start = p;
	uint64_t x = 0;
	while ((unsigned)(*p - '0') <= 9)
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (p == start || p - start > 18)
		return NULL;
	*v = x;
	return p;
}

/* The plain op line at p, queued; the byte after its LF, or NULL (not
 * plain: nothing queued). */
static inline const char *fast_line(struct text_reader *r, const char *p, uint64_t line)
{
	int nfields = p[0] == 'a' || p[0] == 'r' ? 2 : p[0] == 'c' || p[0] == 'm' ? 3 : p[0] == 'f';
	if (!nfields || p[1] != ' ')
		return NULL;
	uint64_t v[3];
	const char *q = p + 2;
	for (int i = 0; i < nfields; i++) {
		if (!(q = fast_num(q, &v[i])) || *q != (i + 1 < nfields ? ' ' : '\n'))
			return NULL;
		q++;
	}
	if (v[0] >= r->rep_num_ids)
		return NULL;
	struct trace_srcop *op = &r->batch[r->nbatch];
	*op = (struct trace_srcop){
		.kind = p[0], .id = (int64_t)v[0], .line = line, .opno = r->opno};
	if (nfields == 3) {
		op->arg = v[1];
		op->size = v[2];
	} else if (nfields == 2) {
		op->size = v[1];
	}
	if (nfields >= 2) {
		r->prev_size = v[nfields - 1];
		r->have_prev_size = true;
	}
	return q;
}

/* Queues (and adds, batch by batch) the plain op lines that come next, at
 * most max_ops of them; 0, or -1 when the builder stops. */
static int text_fast(struct text_reader *r, uint64_t max_ops)
{
	size_t n;
	const char *start = src_window(r->s, &n), *p = start, *end = start + n;
	uint64_t line = r->s->line, first = r->opno;
	int rc = 0;
	while (p < end && r->opno - first < max_ops) {
		const char *next = fast_line(r, p, line + 1);
		if (!next)
			break;
		p = next;
		line++;
		r->opno++;
		if (++r->nbatch == TEXT_BATCH && (rc = text_flush(r)) < 0)
			break;
	}
	src_consume_lines(r->s, (size_t)(p - start), line - r->s->line);
	return rc;
}

/* ---- CMU .rep ----------------------------------------------------------- */

static enum rep_dialect rep_guess_dialect(const uint64_t h[4], uint64_t peak_live)
{
	/* Line 1 is a weight (0-3) in CMU files, a heap size in CS:APP 2002.
	 * Line 4 is max_alloc (the peak live bytes) in CMU 2016+, a 0/1
	 * ignore_ranges flag in CMU 2010-2015. */
	if (h[0] > 3)
		return REP_CSAPP2002;
	if (h[3] > 1 || (h[3] == peak_live && peak_live > 1))
		return REP_CMU2016;
	return REP_CMU2010;
}

static int read_rep(struct text_reader *r, char *line)
{
	static const char *const names[4] = {"weight or heap size", "num_ids", "num_ops",
					     "weight, ignore_ranges or max_alloc"};
	uint64_t h[4] = {0}, hline[4] = {0};
	int nh = 0;
	size_t len;
	int got = 1;

	/* The header is 4 numbers; the CMU drivers read them with fscanf, so
	 * any whitespace (blank lines included) may separate them. */
	r->rep = true;
	for (; nh < 4 && got > 0; got = nh < 4 ? src_line(r->s, &line, &len) : 1) {
		const char *p = line;
		while (nh < 4 && *skip_ws(p)) {
			int rc = parse_num(&p, &h[nh], NULL);
			if (rc != NUM_OK)
				return diag_fatal(r->d, r->s->line, DIAG_NO_OP,
						  "rep header: %s for %s (header line %d)",
						  rc == NUM_OVERFLOW ? "number overflows"
								     : "expected a number",
						  names[nh], nh + 1);
			hline[nh++] = r->s->line;
		}
		if (*skip_ws(p))
			return diag_fatal(r->d, r->s->line, DIAG_NO_OP,
					  "rep header: unexpected text after the 4 header numbers");
	}
	if (got < 0)
		return -1;
	if (nh < 4)
		return diag_fatal(r->d, r->s->line, DIAG_NO_OP,
				  "truncated rep header: %d of 4 numbers (missing %s)", nh,
				  names[nh]);
	r->rep_num_ids = h[1];
	r->rep_ids_line = hline[1];

	uint64_t extra = 0, extra_line = 0;
	while ((got = src_line(r->s, &line, &len)) > 0) {
		const char *p = skip_ws(line);
		if (!*p || *p == '#')
			continue;
		if (text_opno(r) >= h[2]) {
			if (!extra++)
				extra_line = r->s->line;
			continue;
		}
		if (text_op(r, p, 0) < 0 || text_fast(r, h[2] - text_opno(r)) < 0)
			return -1;
	}
	if (got < 0 || text_flush(r) < 0)
		return -1;
	if (extra)
		diag_warn(r->d, extra_line, DIAG_NO_OP,
			  "%" PRIu64 " line%s after the declared num_ops (%" PRIu64 ") ignored",
			  extra, extra == 1 ? "" : "s", h[2]);
	if (text_opno(r) < h[2])
		return diag_fatal(r->d, hline[2], DIAG_NO_OP,
				  "header declares num_ops %" PRIu64 " but the file has %" PRIu64
				  " ops",
				  h[2], text_opno(r));

	char hdr[128];
	snprintf(hdr, sizeof hdr, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, h[0], h[1], h[2],
		 h[3]);
	r->t->format = TRACE_FMT_REP;
	r->t->rep_dialect = rep_guess_dialect(h, trace_builder_peak_live(r->b));
	trace_meta_set(r->t, "rep-header", hdr);
	return 0;
}

/* ---- Native text -------------------------------------------------------- */

/* `# key: value` before the first op is metadata; other # lines are comments. */
static int text_comment(struct text_reader *r, const char *p)
{
	if (text_opno(r))
		return 0;
	p = skip_ws(p + 1);
	size_t kl = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	if (kl == 0 || kl > TRACE_META_MAX_KEY || p[kl] != ':')
		return 0;
	char key[TRACE_META_MAX_KEY + 1];
	memcpy(key, p, kl);
	key[kl] = '\0';
	const char *v = skip_ws(p + kl + 1);
	size_t vl = strlen(v);
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	char value[TRACE_META_MAX_VALUE + 1];
	if (vl >= sizeof value) {
		diag_warn(r->d, r->s->line, DIAG_NO_OP,
			  "metadata value longer than %d bytes: kept as a comment",
			  TRACE_META_MAX_VALUE);
		return 0;
	}
	memcpy(value, v, vl);
	value[vl] = '\0';
	if (!strcmp(key, "heapbench-trace")) {
		uint64_t ver;
		if (parse_u64(value, &ver) < 0 || ver < 1 || ver > TEXT_VERSION)
			return diag_fatal(r->d, r->s->line, DIAG_NO_OP,
					  "unsupported heapbench text trace version '%s' (this "
					  "heapbench reads 1 and %d)",
					  value, TEXT_VERSION);
		return 0;
	}
	if (!strcmp(key, "ids")) /* derived by the builder, never taken on trust */
		return 0;
	if (trace_meta_set(r->t, key, value) < 0)
		diag_warn(r->d, r->s->line, DIAG_NO_OP,
			  "more than %d metadata lines: kept as a comment", TRACE_META_MAX);
	return 0;
}

static int read_native(struct text_reader *r, char *line)
{
	int got = 1;
	size_t len;
	do {
		const char *p = skip_ws(line);
		if (!*p)
			continue;
		if (*p == '#') {
			if (text_comment(r, p) < 0)
				return -1;
			continue;
		}
		uint64_t thread = 0;
		if (*p >= '0' && *p <= '9') { /* thread prefix "T:" */
			const char *q = p;
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q != ':') {
				if (text_error(r, "expected an op letter or a thread prefix 'N:'") <
				    0)
					return -1;
				r->opno++;
				continue;
			}
			*(char *)q = ' ';
			if (parse_num(&p, &thread, NULL) != NUM_OK) {
				if (text_error(r, "thread id overflows 64 bits") < 0)
					return -1;
				r->opno++;
				continue;
			}
			p = skip_ws(p);
		}
		if (text_op(r, p, thread) < 0 || text_fast(r, UINT64_MAX) < 0)
			return -1;
	} while ((got = src_line(r->s, &line, &len)) > 0);
	if (got < 0 || text_flush(r) < 0)
		return -1;
	r->t->format = TRACE_FMT_TEXT;
	return 0;
}

/* ---- Entry -------------------------------------------------------------- */

static bool looks_binary(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t' &&
				  p[i] != '\v' && p[i] != '\f'))
			return true;
	return false;
}

/* Text is what holds no control bytes but the blank ones. */
bool trace_probe_text(const unsigned char *head, size_t n)
{
	return !looks_binary(head, n);
}

int trace_read_text(struct trace *t, struct src *s, struct diag *d)
{
	struct text_reader r = {.t = t, .s = s, .d = d, .rep_num_ids = UINT64_MAX};
	char *line;
	size_t len;
	int got;
	/* skip leading blank lines (and a UTF-8 byte order mark) */
	while ((got = src_line(s, &line, &len)) > 0) {
		if (s->line == 1 && !memcmp(line, "\xef\xbb\xbf", 3))
			line += 3;
		if (!is_blank(line))
			break;
	}
	if (got < 0)
		return -1;
	if (got == 0)
		return diag_fatal(d, DIAG_NO_LINE, DIAG_NO_OP, "empty trace (only blank lines)");

	r.b = trace_builder_new(t, d);
	const char *p = skip_ws(line);
	int rc;
	if (*p >= '0' && *p <= '9' && p[strspn(p, "0123456789")] != ':')
		rc = read_rep(&r, line); /* a number alone: a rep header */
	else
		rc = read_native(&r, line);
	trace_builder_finish(r.b);
	if (rc < 0 || d->errors)
		return -1;
	return 0;
}
