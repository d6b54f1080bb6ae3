/*
 * mtrace.c - importer of the glibc mtrace (MALLOC_TRACE) log.
 *
 * glibc's mtrace() writes one line per call (malloc/mtrace-impl.c):
 *
 *   = Start                                   (and = End at muntrace)
 *   @ CALLER + 0xPTR 0xSIZE                   malloc, calloc, memalign,
 *                                             realloc(NULL, n); PTR (nil)
 *                                             if it failed
 *   @ CALLER - 0xPTR                          free (never free(NULL)), and
 *                                             realloc(p, 0); "- (nil)" is a
 *                                             failed realloc(NULL, 0)
 *   @ CALLER < 0xOLD                          realloc that returned a block:
 *   @ CALLER > 0xNEW 0xSIZE                   the two lines, one after the other
 *   @ CALLER ! 0xOLD 0xSIZE                   realloc that failed
 *
 * CALLER is `[0xADDR]`, `FILE:[0xADDR]` or `FILE:(SYMBOL+OFF)[0xADDR]` (OFF
 * hex without 0x, the sign may be '-'); with no caller the `@ CALLER ` part
 * is absent.  The log has no threads, no times, no processes: a forked
 * child appends to the same file, indistinguishably.  Calloc and the
 * aligned functions are spelled as malloc: all are 'a' ops.
 */
#include <string.h>

#include "trace/import.h"
#include "trace/internal.h"

/* The part after CALLER: "+ ", "- ", ... at p, or NULL. */
static const char *skip_caller(const char *p)
{
	if (p[0] != '@' || p[1] != ' ')
		return p;
	/* CALLER ends at "] " followed by an op and a blank: the file name may
	 * hold anything, so look for the last such "] " shape from the left */
	for (const char *q = p + 2; (q = strstr(q, "] ")); q++) {
		char op = q[2];
		if ((op == '+' || op == '-' || op == '<' || op == '>' || op == '!') && q[3] == ' ')
			return q + 2;
	}
	return NULL;
}

static bool ptr_field(const char **pp, uint64_t *v)
{
	if (import_lit(pp, "(nil)")) {
		*v = 0;
		return true;
	}
	return import_hex(pp, v);
}

/* Parses the op part: op char, pointer, and a size for + > !.  true if the
 * whole rest of the line is well formed. */
static bool parse_op(const char *p, char *op, uint64_t *ptr, uint64_t *size)
{
	*op = p[0];
	if (!strchr("+-<>!", *op) || !*op || p[1] != ' ')
		return false;
	p += 2;
	if (!ptr_field(&p, ptr))
		return false;
	*size = 0;
	if (*op == '+' || *op == '>' || *op == '!') {
		if (*p++ != ' ' || !import_hex(&p, size))
			return false;
	}
	return *p == 0 || *p == '\r' || *p == '\n';
}

bool trace_probe_mtrace(const unsigned char *head, size_t n)
{
	if (n >= 8 && !memcmp(head, "= Start", 7) && (head[7] == '\n' || head[7] == '\r'))
		return true;
	/* an excerpt: the first line must be a whole call line */
	char line[600];
	size_t len = 0;
	while (len < n && len < sizeof line - 1 && head[len] != '\n')
		len++;
	if (len == n || len == sizeof line - 1)
		return false; /* no complete first line */
	memcpy(line, head, len);
	line[len] = 0;
	if (line[0] != '@')
		return false;
	const char *p = skip_caller(line);
	char op;
	uint64_t ptr, size;
	return p && parse_op(p, &op, &ptr, &size);
}

int trace_read_mtrace(struct trace *t, struct src *s, struct diag *d)
{
	struct importer im;
	import_begin(&im, t, s, d, "mtrace");
	char *line;
	size_t len;
	int rc;
	bool pending = false; /* a "<" line waits for its ">" */
	uint64_t pend_old = 0, pend_line = 0;
	while ((rc = src_line(s, &line, &len)) > 0) {
		const char *p = line;
		if (p[0] != '@' &&
		    !((p[0] == '+' || p[0] == '-' || p[0] == '<' || p[0] == '>' || p[0] == '!') &&
		      p[1] == ' ')) {
			import_other_line(&im); /* = Start, = End, anything else */
			continue;
		}
		p = skip_caller(p);
		char op = 0;
		uint64_t ptr = 0, size = 0;
		if (!p || !parse_op(p, &op, &ptr, &size)) {
			if (import_bad_line(
				    &im,
				    "not an mtrace call line (@ CALLER +|-|<|>|! 0xPTR [0xSIZE])") <
			    0)
				goto fail;
			continue;
		}
		if (pending != (op == '>')) {
			if (import_bad_line(&im,
					    pending ? "realloc's '<' line (line %llu) is not "
						      "followed by its '>' line"
						    : "a realloc's '>' line without its '<' line",
					    (unsigned long long)pend_line) < 0)
				goto fail;
			if (op == '>')
				continue;
			pending = false;
		}
		struct import_call c = {0};
		switch (op) {
		case '+': c.kind = 'a', c.ptr = ptr, c.size = size; break;
		case '-':
			/* "- (nil)": realloc(NULL, 0) that failed */
			c.kind = ptr ? 'f' : 'a', c.ptr = ptr;
			break;
		case '<': pending = true, pend_old = ptr, pend_line = s->line; continue;
		case '>':
			pending = false;
			c.kind = 'r', c.old = pend_old, c.ptr = ptr, c.size = size;
			break;
		case '!': c.kind = 'r', c.old = ptr, c.ptr = 0, c.size = size; break;
		}
		if (import_call(&im, &c) < 0)
			goto fail;
	}
	if (rc < 0)
		goto fail;
	if (pending) /* the log ends between a realloc's two lines */
		im.counts[IMPORT_TRUNCATED_LINES]++;
	return import_finish(&im);
fail:
	import_abort(&im);
	return -1;
}
