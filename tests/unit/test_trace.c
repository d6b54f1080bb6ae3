/*
 * test_trace.c - unit tests for the trace readers, writers, verifier,
 * statistics and generator (harness/trace*.c, hbt.c).
 *
 * Run from the repository root: data files are opened as tests/data/...;
 * outputs go to a mkdtemp directory under /tmp, removed at the end.
 * Writer calls run in a child process (write_trace), so that a crashing
 * writer fails only its own test instead of ending the whole run (under
 * ASan a crash would abort the process).  test_write_in_process writes
 * every format in this process, so that LeakSanitizer checks the writers.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/diag.h"
#include "trace/builder.h"
#include "trace/gen.h"
#include "trace/hbt.h"
#include "trace/internal.h"
#include "trace/stats.h"
#include "trace/trace.h"

#define REP "tests/data/rep/"
#define TXT "tests/data/text/"

/* ---- Fixture: the temporary directory ------------------------------------ */

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/heapbench-test-trace.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* tmpdir/name in buf (PATH_MAX bytes). */
static const char *tmp_path(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name);
	return buf;
}

/* ---- Files ---------------------------------------------------------------- */

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *p = malloc(cap + 1);
	size_t got;
	while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *q = realloc(p, 2 * cap + 1);
			if (!q) {
				free(p);
				p = NULL;
				break;
			}
			p = q;
			cap *= 2;
		}
	}
	fclose(f);
	if (p)
		p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

static void spew(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	size_t put = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || put != len)
		fail_msg("cannot write %s", path);
}

/* Writes text to tmpdir/name and returns the path (in buf). */
static const char *tmp_text(char *buf, const char *name, const char *text)
{
	tmp_path(buf, name);
	spew(buf, text, strlen(text));
	return buf;
}

/* ---- Assertions ------------------------------------------------------------ */

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (!h_ || !strstr(h_, n_))                                                        \
			fail_msg("expected \"%s\" within \"%s\"", n_, h_ ? h_ : "(null)");         \
	} while (0)

static const char *const kind_names[] = {"ALLOC", "CALLOC", "MEMALIGN", "REALLOC", "FREE"};

static const char *kind_name(unsigned k)
{
	return k < TRACE_NKINDS ? kind_names[k] : "?";
}

/* Compares every field of op i with want; describes the first difference. */
static bool op_matches(const struct trace *t, uint64_t i, struct trace_op want, char *why,
		       size_t len)
{
	if (i >= t->nops) {
		snprintf(why, len, "op %" PRIu64 ": the trace has only %" PRIu64 " ops", i,
			 t->nops);
		return false;
	}
	const struct trace_op *op = &t->ops[i];
	if (op->kind != want.kind)
		snprintf(why, len, "op %" PRIu64 " kind: expected %s, got %s", i,
			 kind_name(want.kind), kind_name(op->kind));
	else if (op->id != want.id)
		snprintf(why, len, "op %" PRIu64 " id: expected %" PRIu32 ", got %" PRIu32, i,
			 want.id, op->id);
	else if (op->size != want.size)
		snprintf(why, len, "op %" PRIu64 " size: expected %" PRIu64 ", got %" PRIu64, i,
			 want.size, op->size);
	else if (op->arg != want.arg)
		snprintf(why, len, "op %" PRIu64 " arg: expected %" PRIu64 ", got %" PRIu64, i,
			 want.arg, op->arg);
	else if (op->flags != want.flags)
		snprintf(why, len, "op %" PRIu64 " flags: expected %u, got %u", i, want.flags,
			 op->flags);
	else if (op->thread != want.thread)
		snprintf(why, len, "op %" PRIu64 " thread: expected %u, got %u", i, want.thread,
			 op->thread);
	else
		return true;
	return false;
}

/* assert_op(t, i, .kind = ..., .id = ..., .size = ...): fields not named
 * must be 0. */
#define assert_op(t, i, ...)                                                                       \
	do {                                                                                       \
		char why_[256];                                                                    \
		if (!op_matches((t), (i), (struct trace_op){__VA_ARGS__}, why_, sizeof why_))      \
			fail_msg("%s", why_);                                                      \
	} while (0)

/* Same ops, ids and threads. */
#define assert_same_ops(a, b)                                                                      \
	do {                                                                                       \
		const struct trace *a_ = (a), *b_ = (b);                                           \
		assert_int_equal(b_->nops, a_->nops);                                              \
		assert_int_equal(b_->nids, a_->nids);                                              \
		assert_int_equal(b_->nthreads, a_->nthreads);                                      \
		if (a_->nops && memcmp(a_->ops, b_->ops, (size_t)a_->nops * sizeof *a_->ops))      \
			fail_msg("op arrays of %s and %s differ", a_->path, b_->path);             \
	} while (0)

/* ---- Loading ---------------------------------------------------------------- */

static struct trace *load_quiet(const char *path, struct diag *d, bool lint)
{
	diag_init(d, path, lint);
	d->quiet = true;
	return trace_load(path, d);
}

/* Loads a trace that must load; the diag is left in *d. */
#define load_ok(path, d)                                                                           \
	({                                                                                         \
		struct trace *t_ = load_quiet((path), (d), false);                                 \
		if (!t_)                                                                           \
			fail_msg("%s: expected to load, got: %s", (path), (d)->last);              \
		assert_int_equal((d)->errors, 0);                                                  \
		t_;                                                                                \
	})

/* Loads a trace that must fail; checks the error count and message. */
#define assert_load_fails(path, lint, nerrors, message)                                            \
	do {                                                                                       \
		struct diag d_;                                                                    \
		struct trace *t_ = load_quiet((path), &d_, (lint));                                \
		if (t_) {                                                                          \
			trace_free(t_);                                                            \
			fail_msg("%s: expected a load error \"%s\", but it loaded", (path),        \
				 (message));                                                       \
		}                                                                                  \
		assert_int_equal(d_.errors, (nerrors));                                            \
		assert_string_equal(d_.last, (message));                                           \
	} while (0)

/* stderr of a block of code, captured through a file. */
struct capture {
	int saved, fd;
};

static void capture_begin(struct capture *c)
{
	char path[PATH_MAX];
	tmp_path(path, "stderr.XXXXXX");
	fflush(stderr);
	c->fd = mkstemp(path);
	if (c->fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	unlink(path);
	c->saved = dup(STDERR_FILENO);
	dup2(c->fd, STDERR_FILENO);
}

static char *capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	off_t n = lseek(c->fd, 0, SEEK_END);
	char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
	ssize_t got = n > 0 ? pread(c->fd, s, (size_t)n, 0) : 0;
	s[got > 0 ? got : 0] = '\0';
	close(c->fd);
	return s;
}

/* What a non-quiet load prints: the full "FILE:LINE: op N: message"
 * lines, which name the source line (d.last holds only the message). */
static char *load_stderr(const char *path, bool lint)
{
	struct diag d;
	struct capture c;
	diag_init(&d, path, lint);
	capture_begin(&c);
	struct trace *t = trace_load(path, &d);
	diag_finish(&d);
	char *s = capture_end(&c);
	trace_free(t);
	return s;
}

#define assert_load_stderr(path, lint, expected)                                                   \
	do {                                                                                       \
		char *e_ = load_stderr((path), (lint));                                            \
		bool ok_ = strstr(e_, (expected)) != NULL;                                         \
		if (!ok_) {                                                                        \
			char m_[1024];                                                             \
			snprintf(m_, sizeof m_, "%s", e_);                                         \
			free(e_);                                                                  \
			fail_msg("expected \"%s\" on stderr, got \"%s\"", (expected), m_);         \
		}                                                                                  \
		free(e_);                                                                          \
	} while (0)

/* ---- Writing ------------------------------------------------------------------ */

/* trace_write in a child process; returns the wait status (0 = wrote). */
static int write_status(const struct trace *t, const char *path)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) /* _exit: no stdio flush, no leak check of the parent's state */
		_exit(trace_write(t, path) == 0 ? 0 : 1);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

#define write_trace(t, path)                                                                       \
	do {                                                                                       \
		int st_ = write_status((t), (path));                                               \
		if (st_ != 0) {                                                                    \
			if (st_ > 0 && WIFSIGNALED(st_))                                           \
				fail_msg("trace_write(%s) crashed: signal %d", (path),             \
					 WTERMSIG(st_));                                           \
			fail_msg("trace_write(%s) failed: wait status %d (exit %d; 1 is "          \
				 "a reported error or a sanitizer report, see stderr)",            \
				 (path), st_, st_ > 0 ? WEXITSTATUS(st_) : -1);                    \
		}                                                                                  \
	} while (0)

/* Compares two files; on a difference describes it in why (text files
 * are shown whole) and returns false. */
static bool files_equal(const char *expected_path, const char *actual_path, char *why, size_t len)
{
	size_t la, lb;
	char *a = slurp(expected_path, &la), *b = slurp(actual_path, &lb);
	bool same = a && b && la == lb && !memcmp(a, b, la);
	if (!a || !b)
		snprintf(why, len, "cannot read %s or %s", expected_path, actual_path);
	else if (!same && strlen(a) == la && strlen(b) == lb)
		snprintf(why, len, "%s differs from %s:\n--- expected\n%s--- actual\n%s",
			 actual_path, expected_path, a, b);
	else if (!same)
		snprintf(why, len, "%s (%zu bytes) differs from %s (%zu bytes)", actual_path, lb,
			 expected_path, la);
	free(a);
	free(b);
	return same;
}

#define assert_files_equal(expected_path, actual_path)                                             \
	do {                                                                                       \
		char why_[4096];                                                                   \
		if (!files_equal((expected_path), (actual_path), why_, sizeof why_))               \
			fail_msg("%s", why_);                                                      \
	} while (0)

#define assert_file_text(path, expected)                                                           \
	do {                                                                                       \
		char *s_ = slurp((path), NULL);                                                    \
		if (!s_)                                                                           \
			fail_msg("cannot read %s", (path));                                        \
		char c_[4096];                                                                     \
		snprintf(c_, sizeof c_, "%s", s_);                                                 \
		free(s_);                                                                          \
		assert_string_equal(c_, (expected));                                               \
	} while (0)

static uint64_t peak_live(const struct trace *t)
{
	struct trace_stats st;
	trace_compute_stats(t, &st);
	return st.peak_live_bytes;
}

static const char *format_name(const struct trace *t)
{
	static char buf[64];
	return trace_format_name(t, buf, sizeof buf);
}

/* ==== 1. CMU .rep header dialects ============================================ */

static void test_rep_csapp2002(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "csapp2002.rep", &d);
	assert_int_equal(d.warnings, 0);
	assert_int_equal(t->format, TRACE_FMT_REP);
	assert_int_equal(t->rep_dialect, REP_CSAPP2002);
	assert_string_equal(format_name(t), "rep-csapp2002");
	assert_int_equal(t->nops, 8);
	assert_int_equal(t->nids, 3);
	assert_int_equal(t->nthreads, 1);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 512);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 128);
	assert_op(t, 2, .kind = TRACE_REALLOC, .id = 0, .size = 640);
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 2, .size = 128);
	assert_op(t, 4, .kind = TRACE_FREE, .id = 1);
	assert_op(t, 5, .kind = TRACE_REALLOC, .id = 0, .size = 768);
	assert_op(t, 6, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 7, .kind = TRACE_FREE, .id = 2);
	/* 512, 640, 768, 896, 768, 896, 128, 0 */
	assert_int_equal(peak_live(t), 896);
	assert_string_equal(trace_meta_get(t, "rep-header"), "20000 3 8 1");
	/* ids 0, 1, 2 are already dense: nothing to record */
	assert_null(trace_meta_get(t, "ids"));
	assert_int_equal(t->nmeta, 1);
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_rep_cmu2010(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "cmu2010.rep", &d);
	assert_int_equal(t->format, TRACE_FMT_REP);
	assert_int_equal(t->rep_dialect, REP_CMU2010);
	assert_string_equal(format_name(t), "rep-cmu2010");
	assert_int_equal(t->nops, 8);
	/* source ids 0..3, at most 3 live at once */
	assert_int_equal(t->nids, 3);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 16);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 32);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 0, .size = 48); /* source id 2 */
	assert_op(t, 4, .kind = TRACE_ALLOC, .id = 2, .size = 8);  /* source id 3 */
	assert_op(t, 5, .kind = TRACE_FREE, .id = 1);
	assert_op(t, 6, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 7, .kind = TRACE_FREE, .id = 2);
	assert_int_equal(peak_live(t), 88); /* 16, 48, 32, 80, 88, ... */
	assert_string_equal(trace_meta_get(t, "rep-header"), "0 4 8 1");
	assert_string_equal(trace_meta_get(t, "ids"), "sequential");
	trace_free(t);
}

static void test_rep_cmu2016(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "cmu2016.rep", &d);
	assert_int_equal(t->format, TRACE_FMT_REP);
	assert_int_equal(t->rep_dialect, REP_CMU2016);
	assert_string_equal(format_name(t), "rep-cmu2016");
	assert_int_equal(t->nops, 6);
	assert_int_equal(t->nids, 2);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 64);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 32);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 0, .size = 16);
	assert_op(t, 4, .kind = TRACE_FREE, .id = 1);
	assert_op(t, 5, .kind = TRACE_FREE, .id = 0);
	/* header line 4 (max_alloc) is the peak live bytes */
	assert_int_equal(peak_live(t), 96);
	assert_string_equal(trace_meta_get(t, "rep-header"), "1 3 6 96");
	assert_string_equal(trace_meta_get(t, "ids"), "sequential");
	trace_free(t);
}

/* fscanf reads the header, so any whitespace may separate its numbers. */
static void test_rep_header_whitespace(void **state)
{
	(void)state;
	char p1[PATH_MAX], p2[PATH_MAX];
	struct diag d;
	struct trace *t =
		load_ok(tmp_text(p1, "oneline.rep", "1 2 3 40\na 0 40\na 1 8\nf 1\n"), &d);
	assert_int_equal(t->rep_dialect, REP_CMU2016);
	assert_int_equal(t->nops, 3);
	assert_string_equal(trace_meta_get(t, "rep-header"), "1 2 3 40");
	assert_int_equal(trace_line(t, 0), 2);
	trace_free(t);

	t = load_ok(tmp_text(p2, "blanks.rep", "1\n\n1\n  2\t\n0\na 0 8\nf 0\n"), &d);
	assert_int_equal(t->rep_dialect, REP_CMU2010);
	assert_int_equal(t->nops, 2);
	assert_string_equal(trace_meta_get(t, "rep-header"), "1 1 2 0");
	assert_int_equal(trace_line(t, 0), 6);
	assert_int_equal(trace_line(t, 1), 7);
	trace_free(t);
}

/* ==== 2. .rep quirks ========================================================== */

static void test_quirk_free_null(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "quirk-free-null.rep", &d);
	assert_int_equal(t->nops, 3);
	assert_int_equal(t->nids, 1);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 8);
	assert_op(t, 1, .kind = TRACE_FREE, .id = TRACE_ID_NULL);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 0);
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_quirk_realloc_null(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "quirk-realloc-null.rep", &d);
	assert_int_equal(t->nops, 3);
	assert_int_equal(t->nids, 2);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 8);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 24, .flags = TRACE_F_REALLOC_NULL);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 1);
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_quirk_realloc_zero(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "quirk-realloc-zero.rep", &d);
	assert_int_equal(t->nops, 4);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 8);
	assert_op(t, 1, .kind = TRACE_FREE, .id = 0, .flags = TRACE_F_REALLOC_ZERO);
	/* the id was freed: allocating it again is fine and reuses dense id 0 */
	assert_op(t, 2, .kind = TRACE_ALLOC, .id = 0, .size = 16);
	assert_op(t, 3, .kind = TRACE_FREE, .id = 0);
	assert_int_equal(t->nids, 1);
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_quirk_missing_size(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "quirk-missing-size.rep", &d);
	assert_int_equal(d.warnings, 1);
	assert_string_equal(d.last,
			    "missing size; using the previous size 40 as the CMU drivers do");
	assert_int_equal(t->nops, 4);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 40);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 40);
	trace_free(t);
	assert_load_stderr(REP "quirk-missing-size.rep", false,
			   REP "quirk-missing-size.rep:6: op 1: warning: missing size");
}

static void test_quirk_missing_size_first(void **state)
{
	(void)state;
	assert_load_fails(REP "quirk-missing-size-first.rep", false, 1,
			  "missing size and no previous size to reuse");
	assert_load_stderr(REP "quirk-missing-size-first.rep", false,
			   REP "quirk-missing-size-first.rep:5: op 0: missing size");
}

/* More than DIAG_MAX_WARNINGS warnings: all counted, 5 printed, then a
 * summary line. */
static void test_quirk_missing_size_many(void **state)
{
	(void)state;
	char p[PATH_MAX];
	tmp_text(p, "many-missing.rep", "1\n8\n8\n0\na 0 16\na 1\na 2\na 3\na 4\na 5\na 6\na 7\n");
	struct diag d;
	struct trace *t = load_ok(p, &d);
	assert_int_equal(d.warnings, 7);
	for (uint64_t i = 0; i < 8; i++)
		assert_op(t, i, .kind = TRACE_ALLOC, .id = (uint32_t)i, .size = 16);
	trace_free(t);
	char *e = load_stderr(p, false);
	unsigned n = 0;
	for (const char *q = e; (q = strstr(q, "warning: missing size")); q++)
		n++;
	char c[2048];
	snprintf(c, sizeof c, "%s", e);
	free(e);
	assert_int_equal(n, DIAG_MAX_WARNINGS);
	assert_contains(c, "2 more warnings not shown");
}

/* No newline at the end, a UTF-8 byte order mark. */
static void test_text_edges(void **state)
{
	(void)state;
	char p[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(tmp_text(p, "nonl.rep", "1\n1\n2\n0\na 0 8\nf 0"), &d);
	assert_int_equal(t->nops, 2);
	assert_op(t, 1, .kind = TRACE_FREE, .id = 0);
	trace_free(t);
	t = load_ok(tmp_text(p, "nonl.trace", "a 0 8\nr 0 9"), &d);
	assert_op(t, 1, .kind = TRACE_REALLOC, .id = 0, .size = 9);
	trace_free(t);
	t = load_ok(tmp_text(p, "bom.rep",
			     "\xef\xbb\xbf"
			     "20000\n1\n1\n0\na 0 8\n"),
		    &d);
	assert_int_equal(t->rep_dialect, REP_CSAPP2002);
	assert_int_equal(t->nops, 1);
	trace_free(t);
	t = load_ok(tmp_text(p, "bom.trace", "\xef\xbb\xbf# heapbench-trace: 1\n# k: v\na 0 8\n"),
		    &d);
	assert_string_equal(trace_meta_get(t, "k"), "v");
	assert_int_equal(t->nops, 1);
	trace_free(t);
	/* leading blank lines before a rep header */
	t = load_ok(tmp_text(p, "lead.rep", "\n\n1\n1\n1\n0\na 0 8\n"), &d);
	assert_int_equal(t->format, TRACE_FMT_REP);
	assert_int_equal(trace_line(t, 0), 7);
	trace_free(t);
}

static void test_quirk_extra_lines(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "quirk-extra-lines.rep", &d);
	assert_int_equal(t->nops, 2);
	assert_int_equal(t->nids, 1);
	assert_int_equal(d.warnings, 1);
	assert_string_equal(d.last, "2 lines after the declared num_ops (2) ignored");
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 8);
	assert_op(t, 1, .kind = TRACE_FREE, .id = 0);
	trace_free(t);
	assert_load_stderr(REP "quirk-extra-lines.rep", false,
			   REP "quirk-extra-lines.rep:7: warning: 2 lines after");
}

static void test_quirk_crlf(void **state)
{
	(void)state;
	struct diag d1, d2;
	struct trace *lf = load_ok(REP "csapp2002.rep", &d1);
	struct trace *crlf = load_ok(REP "csapp2002-crlf.rep", &d2);
	assert_int_equal(d2.warnings, 0);
	assert_int_equal(crlf->rep_dialect, REP_CSAPP2002);
	assert_same_ops(lf, crlf);
	assert_string_equal(trace_meta_get(crlf, "rep-header"), trace_meta_get(lf, "rep-header"));
	for (uint64_t i = 0; i < lf->nops; i++)
		assert_int_equal(trace_line(crlf, i), trace_line(lf, i));
	trace_free(lf);
	trace_free(crlf);
}

static void test_quirk_id_reuse(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(REP "quirk-id-reuse.rep", &d);
	assert_int_equal(t->nops, 6);
	assert_int_equal(t->nids, 2);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 10);
	assert_op(t, 1, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 2, .kind = TRACE_ALLOC, .id = 0, .size = 20);
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 1, .size = 30);
	assert_op(t, 4, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 5, .kind = TRACE_FREE, .id = 1);
	assert_null(trace_meta_get(t, "ids")); /* a reused id is not sequential */
	assert_int_equal(peak_live(t), 50);
	trace_free(t);
}

/* ==== 3. Errors that name the line ============================================ */

static void test_err_num_ids(void **state)
{
	(void)state;
	assert_load_fails(REP "err-num-ids.rep", false, 1,
			  "id 2 out of range: header line 2 declares num_ids 2");
	assert_load_stderr(REP "err-num-ids.rep", false,
			   REP "err-num-ids.rep:7: op 2: id 2 out of range");
}

static void test_err_unknown_op(void **state)
{
	(void)state;
	assert_load_fails(REP "err-unknown-op.rep", false, 1,
			  "unknown op 'x' (expected a, r or f, or heapbench's c or m)");
	assert_load_stderr(REP "err-unknown-op.rep", false,
			   REP "err-unknown-op.rep:6: op 1: unknown op 'x'");
}

static void test_err_free_dead(void **state)
{
	(void)state;
	assert_load_fails(REP "err-free-dead.rep", false, 1, "free of id 1 which is not live");
	assert_load_stderr(REP "err-free-dead.rep", false,
			   REP "err-free-dead.rep:6: op 1: free of id 1");
}

static void test_err_alloc_live(void **state)
{
	(void)state;
	assert_load_fails(REP "err-alloc-live.rep", false, 1,
			  "allocation of id 0 which is already live");
	assert_load_stderr(REP "err-alloc-live.rep", false,
			   REP "err-alloc-live.rep:6: op 1: allocation of id 0");
}

static void test_err_few_ops(void **state)
{
	(void)state;
	assert_load_fails(REP "err-few-ops.rep", false, 1,
			  "header declares num_ops 5 but the file has 3 ops");
	/* the error names header line 3, where num_ops is */
	assert_load_stderr(REP "err-few-ops.rep", false,
			   REP "err-few-ops.rep:3: header declares num_ops 5");
}

static void test_err_header_truncated(void **state)
{
	(void)state;
	assert_load_fails(REP "err-header-short.rep", false, 1,
			  "truncated rep header: 2 of 4 numbers (missing num_ops)");
	assert_load_stderr(REP "err-header-short.rep", false,
			   REP "err-header-short.rep:2: truncated rep header");
	assert_load_fails(REP "err-header-op.rep", false, 1,
			  "rep header: expected a number for weight, ignore_ranges or max_alloc "
			  "(header line 4)");
	assert_load_stderr(REP "err-header-op.rep", false, REP "err-header-op.rep:4: rep header");
}

static void test_err_lint_collects(void **state)
{
	(void)state;
	/* lines 6-9 are bad: free of a dead id, unknown op, allocation of a
	 * live id, id >= num_ids; "op N" is the N-th op line, bad ones too */
	struct diag d;
	struct trace *t = load_quiet(REP "lint-several.rep", &d, true);
	assert_null(t);
	assert_int_equal(d.errors, 4);
	assert_int_equal(d.warnings, 0);
	char *e = load_stderr(REP "lint-several.rep", true);
	char c[2048];
	snprintf(c, sizeof c, "%s", e);
	free(e);
	assert_contains(c, REP "lint-several.rep:6: op 1: free of id 2 which is not live");
	assert_contains(c, REP "lint-several.rep:7: op 2: unknown op 'x'");
	assert_contains(c,
			REP "lint-several.rep:8: op 3: allocation of id 0 which is already live");
	assert_contains(c, REP "lint-several.rep:9: op 4: id 5 out of range");
}

/* Lint lists the problems in file order, so the last one reported is the
 * one on the last bad line. */
static void test_err_lint_order(void **state)
{
	(void)state;
	char *e = load_stderr(REP "lint-several.rep", true);
	char c[2048];
	snprintf(c, sizeof c, "%s", e);
	free(e);
	const char *l6 = strstr(c, ".rep:6:"), *l7 = strstr(c, ".rep:7:");
	const char *l8 = strstr(c, ".rep:8:"), *l9 = strstr(c, ".rep:9:");
	assert_non_null(l6);
	assert_non_null(l7);
	assert_non_null(l8);
	assert_non_null(l9);
	if (!(l6 < l7 && l7 < l8 && l8 < l9))
		fail_msg("lint messages are not in line order:\n%s", c);
	assert_load_fails(REP "lint-several.rep", true, 4,
			  "id 5 out of range: header line 2 declares num_ids 3");
}

/* Strict mode stops at, and reports, the first bad line, whatever kind of
 * problem a later line has. */
static void test_err_strict_first(void **state)
{
	(void)state;
	assert_load_fails(REP "lint-several.rep", false, 1, "free of id 2 which is not live");
	assert_load_stderr(REP "lint-several.rep", false,
			   REP "lint-several.rep:6: op 1: free of id 2 which is not live");
	/* a builder error (free of a dead id) before a parse error (bad op) */
	char p[PATH_MAX];
	tmp_text(p, "first.rep", "1\n2\n3\n0\na 0 8\nf 1\nx 0\n");
	assert_load_fails(p, false, 1, "free of id 1 which is not live");
	tmp_text(p, "first.trace", "a 0 8\na 0 16\nf -5\n");
	assert_load_fails(p, false, 1, "allocation of id 0 which is already live");
}

/* ==== 4. Native text format ==================================================== */

static void test_text_kinds(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(TXT "kinds.trace", &d);
	assert_int_equal(d.warnings, 0);
	assert_int_equal(t->format, TRACE_FMT_TEXT);
	assert_int_equal(t->rep_dialect, REP_NONE);
	assert_int_equal(t->compression, TRACE_COMP_NONE);
	assert_string_equal(format_name(t), "text");
	assert_int_equal(t->nops, 8);
	assert_int_equal(t->nids, 3);
	assert_int_equal(t->nthreads, 1);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 100);
	assert_op(t, 1, .kind = TRACE_CALLOC, .id = 1, .arg = 4, .size = 25);
	assert_op(t, 2, .kind = TRACE_MEMALIGN, .id = 2, .arg = 64, .size = 200);
	assert_op(t, 3, .kind = TRACE_REALLOC, .id = 0, .size = 150);
	assert_op(t, 4, .kind = TRACE_FREE, .id = 1);
	assert_op(t, 5, .kind = TRACE_FREE, .id = TRACE_ID_NULL);
	assert_op(t, 6, .kind = TRACE_FREE, .id = 2, .flags = TRACE_F_REALLOC_ZERO);
	assert_op(t, 7, .kind = TRACE_FREE, .id = 0);
	/* metadata before the first op, in order, values trimmed; the version
	 * line is not metadata, and `# key:` after an op is a comment */
	assert_int_equal(t->nmeta, 2);
	assert_string_equal(t->meta[0].key, "program");
	assert_string_equal(t->meta[0].value, "demo");
	assert_string_equal(t->meta[1].key, "note");
	assert_string_equal(t->meta[1].value, "two words");
	assert_null(trace_meta_get(t, "key"));
	assert_null(trace_meta_get(t, "heapbench-trace"));
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_text_threads(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(TXT "threads.trace", &d);
	assert_int_equal(t->nops, 7);
	assert_int_equal(t->nthreads, 4);
	assert_int_equal(t->nids, 2);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 8, .thread = 0);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 16, .thread = 1);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 0, .thread = 2);
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 0, .size = 24, .thread = 3);
	assert_op(t, 4, .kind = TRACE_FREE, .id = 1, .thread = 1);
	assert_op(t, 5, .kind = TRACE_FREE, .id = TRACE_ID_NULL, .thread = 2);
	assert_op(t, 6, .kind = TRACE_FREE, .id = 0, .thread = 0); /* no prefix */
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

/* Thread prefixes are labels (OS tids, say), numbered densely in order of
 * first appearance. */
static void test_text_thread_labels(void **state)
{
	(void)state;
	char p[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(tmp_text(p, "tids.trace",
					   "31337: a 0 8\n4242: a 1 8\n31337: f 0\n7: f 1\n"
					   "18446744073709551614: f -1\n"),
				  &d);
	assert_int_equal(t->nthreads, 4);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 8, .thread = 0);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 8, .thread = 1);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 0, .thread = 0);
	assert_op(t, 3, .kind = TRACE_FREE, .id = 1, .thread = 2);
	assert_op(t, 4, .kind = TRACE_FREE, .id = TRACE_ID_NULL, .thread = 3);
	trace_free(t);

	/* at most TRACE_THREADS_MAX distinct labels */
	diag_init(&d, "threads", false);
	d.quiet = true;
	t = trace_new("threads");
	struct trace_builder *b = trace_builder_new(t, &d);
	int rc = 0;
	for (uint64_t i = 0; i <= TRACE_THREADS_MAX && rc == 0; i++) {
		struct trace_srcop op = {.kind = 'f', .id = -1, .thread = 1000 + i};
		rc = trace_builder_add(b, &op);
	}
	trace_builder_finish(b);
	assert_int_equal(rc, -1);
	assert_string_equal(d.last, "more than 65536 threads");
	assert_int_equal(t->nops, TRACE_THREADS_MAX);
	assert_int_equal(t->nthreads, TRACE_THREADS_MAX);
	trace_free(t);
}

static void test_text_errors(void **state)
{
	(void)state;
	assert_load_fails(TXT "err-align.trace", false, 1,
			  "alignment 48 is not a power of two from 1 to 2^40");
	assert_load_stderr(TXT "err-align.trace", false,
			   TXT "err-align.trace:2: op 0: alignment 48");
	assert_load_fails(TXT "err-calloc-overflow.trace", false, 1,
			  "calloc(4294967296, 4294967296) overflows");
	assert_load_fails(TXT "err-size-overflow.trace", false, 1, "size overflows 64 bits");
	assert_load_stderr(TXT "err-size-overflow.trace", false,
			   TXT "err-size-overflow.trace:2: op 0: size");
	assert_load_fails(
		TXT "err-version3.trace", false, 1,
		"unsupported heapbench text trace version '3' (this heapbench reads 1 and 2)");
	assert_load_stderr(TXT "err-version3.trace", false,
			   TXT "err-version3.trace:1: unsupported");
}

/* More malformed op lines, one temporary file each. */
static void test_text_errors_more(void **state)
{
	(void)state;
	static const struct {
		const char *text, *message;
	} cases[] = {
		{"m 0 0 16\n", "alignment 0 is not a power of two from 1 to 2^40"},
		{"m 0 2199023255552 16\n",
		 "alignment 2199023255552 is not a power of two from 1 to 2^40"},
		{"a 0 9223372036854775808\n",
		 "size 9223372036854775808 exceeds the largest request (9223372036854775807)"},
		{"c 0 3 6148914691236517206\n", "calloc(3, 6148914691236517206) overflows"},
		{"c 0 99999999999999999999 1\n", "nmemb overflows 64 bits"},
		{"a 0 8 9\n", "unexpected '9' after the op"},
		{"a 0 8x\n", "bad size '8x'"},
		{"a 0\n", "missing size"},
		{"c 0 4\n", "missing size"},
		{"f\n", "missing id"},
		{"a -1 8\n", "negative id -1 (only `f -1`, free(NULL), is allowed)"},
		{"f -2\n", "negative id -2 (only `f -1`, free(NULL), is allowed)"},
		{"alloc 0 8\n", "unknown op 'alloc'"},
		{"a 9223372036854775808 8\n", "id 9223372036854775808 out of range"},
		{"18446744073709551615: a 0 8\n", "thread label 18446744073709551615 is reserved"},
		{"99999999999999999999: a 0 8\n", "thread id overflows 64 bits"},
		{"a 0 8\n12 a 1 8\n", "expected an op letter or a thread prefix 'N:'"},
		{"a 0 8\nr 1 0\nr 1 8\nf 1\nf 1\n", "free of id 1 which is not live"},
		{"a 0 9223372036854775807\na 1 9223372036854775807\na 2 9223372036854775807\n",
		 "live bytes exceed 2^63-1"},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(cases); i++) {
		char path[PATH_MAX], name[32];
		snprintf(name, sizeof name, "err-%zu.trace", i);
		tmp_text(path, name, cases[i].text);
		assert_load_fails(path, false, 1, cases[i].message);
	}
}

/* ==== 5. Id remapping ============================================================= */

static void test_ids_sparse(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(TXT "sparse.trace", &d);
	assert_int_equal(t->nops, 10);
	assert_int_equal(t->nids, 3); /* at most 3 blocks live at once */
	assert_int_equal(t->nmeta, 0);
	assert_op(t, 0, .kind = TRACE_ALLOC, .id = 0, .size = 16);
	assert_op(t, 1, .kind = TRACE_ALLOC, .id = 1, .size = 32);
	assert_op(t, 2, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 0, .size = 8); /* lowest free */
	assert_op(t, 4, .kind = TRACE_ALLOC, .id = 2, .size = 8);
	assert_op(t, 5, .kind = TRACE_FREE, .id = 1);
	assert_op(t, 6, .kind = TRACE_ALLOC, .id = 1, .size = 1);
	assert_op(t, 7, .kind = TRACE_FREE, .id = 2);
	assert_op(t, 8, .kind = TRACE_FREE, .id = 1);
	assert_op(t, 9, .kind = TRACE_FREE, .id = 0);
	struct trace_stats st;
	trace_compute_stats(t, &st);
	assert_int_equal(st.max_live_blocks, t->nids);
	trace_free(t);
}

static void test_ids_lowest_free(void **state)
{
	(void)state;
	char path[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(tmp_text(path, "lowest.trace",
					   "a 100 1\na 200 1\na 300 1\na 400 1\n"
					   "f 300\nf 100\n"
					   "a 500 1\na 600 1\na 700 1\n"),
				  &d);
	assert_int_equal(t->nops, 9);
	assert_op(t, 4, .kind = TRACE_FREE, .id = 2);
	assert_op(t, 5, .kind = TRACE_FREE, .id = 0);
	assert_op(t, 6, .kind = TRACE_ALLOC, .id = 0, .size = 1);
	assert_op(t, 7, .kind = TRACE_ALLOC, .id = 2, .size = 1);
	assert_op(t, 8, .kind = TRACE_ALLOC, .id = 4, .size = 1);
	assert_int_equal(t->nids, 5);
	trace_free(t);
}

/* Many live ids through the hash map (growth, deletion, probe runs). */
static void test_ids_many(void **state)
{
	(void)state;
	char path[PATH_MAX];
	FILE *f = fopen(tmp_path(path, "many.trace"), "w");
	assert_non_null(f);
	const unsigned n = 5000;
	for (unsigned i = 0; i < n; i++) /* ids spaced like pointers */
		fprintf(f, "a %u %u\n", 0x10000u + 48u * i, i + 1);
	for (unsigned i = 0; i < n; i += 2)
		fprintf(f, "f %u\n", 0x10000u + 48u * i);
	for (unsigned i = 0; i < n / 2; i++)
		fprintf(f, "a %u 1\n", 0x7000000u + i);
	for (unsigned i = 1; i < n; i += 2)
		fprintf(f, "r %u 7\n", 0x10000u + 48u * i);
	assert_int_equal(fclose(f), 0);
	struct diag d;
	struct trace *t = load_ok(path, &d);
	assert_int_equal(t->nops, n + n / 2 + n / 2 + n / 2);
	assert_int_equal(t->nids, n);
	/* the frees free even dense ids; the new blocks take them in order */
	for (unsigned i = 0; i < n / 2; i++)
		assert_op(t, n + n / 2 + i, .kind = TRACE_ALLOC, .id = 2 * i, .size = 1);
	for (unsigned i = 0; i < n / 2; i++)
		assert_op(t, n + n + i, .kind = TRACE_REALLOC, .id = 2 * i + 1, .size = 7);
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_ids_sequential_meta(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(TXT "sequential.trace", &d);
	assert_string_equal(trace_meta_get(t, "ids"), "sequential");
	assert_op(t, 3, .kind = TRACE_ALLOC, .id = 0, .size = 8); /* source id 2 */
	assert_int_equal(t->nids, 2);
	trace_free(t);

	/* canonical ids: no metadata, and a claim in the file is not trusted */
	t = load_ok(TXT "canonical.trace", &d);
	assert_null(trace_meta_get(t, "ids"));
	assert_int_equal(t->nmeta, 0);
	trace_free(t);

	/* kinds.trace allocates 0, 1, 2 in order: sequential and canonical */
	t = load_ok(TXT "kinds.trace", &d);
	assert_null(trace_meta_get(t, "ids"));
	trace_free(t);
}

/* The builder's own queries, on source ids. */
static void test_builder_api(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d, "built", false);
	d.quiet = true;
	struct trace *t = trace_new("built");
	struct trace_builder *b = trace_builder_new(t, &d);
	struct trace_srcop ops[] = {
		{.kind = 'a', .id = 1000, .size = 10},
		{.kind = 'c', .id = 7, .arg = 3, .size = 10},
		{.kind = 'r', .id = 1000, .size = 50},
		{.kind = 'f', .id = 7},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(ops); i++)
		assert_int_equal(trace_builder_add(b, &ops[i]), 0);
	assert_int_equal(trace_builder_allocations(b), 2);
	assert_true(trace_builder_live(b, 1000));
	assert_false(trace_builder_live(b, 7));
	assert_false(trace_builder_live(b, -1));
	assert_int_equal(trace_builder_peak_live(b), 80); /* 10, 40, 80, 50 */
	struct trace_srcop bad = {.kind = 'f', .id = 7, .line = 42};
	assert_int_equal(trace_builder_add(b, &bad), -1);
	assert_string_equal(d.last, "free of id 7 which is not live");
	trace_builder_finish(b);
	assert_int_equal(t->nops, 4);
	assert_int_equal(t->nids, 2);
	assert_int_equal(trace_line(t, 0), 0); /* no source lines */
	trace_free(t);
}

/* A thread label is any 64-bit value (trace_srcop); two different labels
 * must never share a dense thread, UINT64_MAX included (or the builder
 * must refuse that label). */
static void test_builder_thread_label_max(void **state)
{
	(void)state;
	struct diag d;
	diag_init(&d, "built", false);
	d.quiet = true;
	struct trace *t = trace_new("built");
	struct trace_builder *b = trace_builder_new(t, &d);
	struct trace_srcop a = {.kind = 'a', .id = 0, .size = 8, .thread = UINT64_MAX};
	struct trace_srcop f = {.kind = 'f', .id = 0, .thread = 5};
	int rc1 = trace_builder_add(b, &a);
	int rc2 = rc1 == 0 ? trace_builder_add(b, &f) : 0;
	trace_builder_finish(b);
	uint64_t nops = t->nops;
	unsigned th0 = nops > 0 ? t->ops[0].thread : 0, th1 = nops > 1 ? t->ops[1].thread : 0;
	unsigned nthreads = t->nthreads;
	trace_free(t);
	if (rc1 == 0) {
		assert_int_equal(rc2, 0);
		assert_int_equal(nops, 2);
		if (th0 == th1)
			fail_msg("labels UINT64_MAX and 5 share dense thread %u (nthreads %u)", th0,
				 nthreads);
		assert_int_equal(nthreads, 2);
	}
}

/* ==== 6. Round trips ============================================================== */

/* rep -> .hbt -> .rep must reproduce the file. */
static void rep_round_trip(const char *rep, const char *tag)
{
	char hbt[PATH_MAX], out[PATH_MAX], name[64];
	struct diag d;
	struct trace *t = load_ok(rep, &d);
	snprintf(name, sizeof name, "%s.hbt", tag);
	write_trace(t, tmp_path(hbt, name));
	struct trace *h = load_ok(hbt, &d);
	assert_int_equal(h->format, TRACE_FMT_HBT);
	assert_same_ops(t, h);
	snprintf(name, sizeof name, "%s.rep", tag);
	write_trace(h, tmp_path(out, name));
	trace_free(t);
	trace_free(h);
	assert_files_equal(rep, out);
}

static void test_roundtrip_rep_canonical(void **state)
{
	(void)state;
	rep_round_trip(REP "csapp2002.rep", "csapp2002");
	rep_round_trip(REP "cmu2010.rep", "cmu2010");
	rep_round_trip(REP "cmu2016.rep", "cmu2016");
	rep_round_trip(REP "quirk-id-reuse.rep", "id-reuse");
}

static void test_roundtrip_rep_quirks(void **state)
{
	(void)state;
	/* `f -1`, `r` of a non-live id, `r id 0`, with sequential ids */
	rep_round_trip(REP "quirk-roundtrip.rep", "quirks");
}

/* rep -> .trace -> .rep: the text form keeps the rep header and the id
 * numbering in its metadata. */
static void rep_via_text(const char *rep, const char *tag)
{
	char txt[PATH_MAX], out[PATH_MAX], name[64];
	struct diag d;
	struct trace *t = load_ok(rep, &d);
	snprintf(name, sizeof name, "%s-via.trace", tag);
	write_trace(t, tmp_path(txt, name));
	struct trace *x = load_ok(txt, &d);
	assert_same_ops(t, x);
	snprintf(name, sizeof name, "%s-via.rep", tag);
	write_trace(x, tmp_path(out, name));
	trace_free(t);
	trace_free(x);
	assert_files_equal(rep, out);
}

static void test_roundtrip_rep_via_text(void **state)
{
	(void)state;
	rep_via_text(REP "csapp2002.rep", "csapp2002");
	rep_via_text(REP "cmu2010.rep", "cmu2010");
	rep_via_text(REP "quirk-roundtrip.rep", "quirks");
}

/* A trace without a rep-header gets the CMU 2016+ header. */
static void test_rep_from_text(void **state)
{
	(void)state;
	char out[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(TXT "sparse.trace", &d);
	write_trace(t, tmp_path(out, "sparse.rep"));
	trace_free(t);
	assert_file_text(out, "1\n3\n10\n48\n"
			      "a 0 16\na 1 32\nf 0\na 0 8\na 2 8\nf 1\na 1 1\nf 2\nf 1\nf 0\n");
	t = load_ok(out, &d);
	assert_int_equal(t->rep_dialect, REP_CMU2016);
	trace_free(t);
}

/* text -> .trace -> .hbt -> .trace: both text outputs are identical, and the
 * first reads back with the original ops. */
static void text_round_trip(const char *src, const char *tag, const char *expected_text)
{
	char t1[PATH_MAX], t2[PATH_MAX], hbt[PATH_MAX], name[64];
	struct diag d;
	struct trace *t = load_ok(src, &d);
	snprintf(name, sizeof name, "%s-1.trace", tag);
	write_trace(t, tmp_path(t1, name));
	snprintf(name, sizeof name, "%s.hbt", tag);
	write_trace(t, tmp_path(hbt, name));
	struct trace *h = load_ok(hbt, &d);
	assert_same_ops(t, h);
	snprintf(name, sizeof name, "%s-2.trace", tag);
	write_trace(h, tmp_path(t2, name));
	struct trace *back = load_ok(t1, &d);
	assert_same_ops(t, back);
	trace_free(t);
	trace_free(h);
	trace_free(back);
	if (expected_text)
		assert_file_text(t1, expected_text);
	assert_files_equal(t1, t2);
}

static void test_roundtrip_text(void **state)
{
	(void)state;
	text_round_trip(TXT "kinds.trace", "kinds",
			"# heapbench-trace: 1\n# program: demo\n# note: two words\n"
			"a 0 100\nc 1 4 25\nm 2 64 200\nr 0 150\nf 1\nf -1\nr 2 0\nf 0\n");
	text_round_trip(TXT "threads.trace", "threads",
			"# heapbench-trace: 1\n0: a 0 8\n1: a 1 16\n2: f 0\n3: a 0 24\n1: f 1\n"
			"2: f -1\n0: f 0\n");
	text_round_trip(
		TXT "sequential.trace", "sequential",
		"# heapbench-trace: 1\n# ids: sequential\na 0 8\na 1 8\nf 0\na 2 8\nf 1\nf 2\n");
	text_round_trip(TXT "sparse.trace", "sparse", NULL);
	text_round_trip(TXT "stats.trace", "stats", NULL);
	text_round_trip(REP "cmu2016.rep", "cmu2016-text", NULL);
}

/* Sequential ids together with free(NULL): the writers name ids by
 * allocation order, and free(NULL) has no id to name. */
static void test_roundtrip_text_sequential_free_null(void **state)
{
	(void)state;
	char src[PATH_MAX];
	tmp_text(src, "seq-null.trace",
		 "# heapbench-trace: 1\n# ids: sequential\n"
		 "a 0 8\na 1 8\nf -1\nf 0\na 2 8\nf 1\nf 2\n");
	text_round_trip(src, "seq-null",
			"# heapbench-trace: 1\n# ids: sequential\n"
			"a 0 8\na 1 8\nf -1\nf 0\na 2 8\nf 1\nf 2\n");
}

static void compressed_round_trip(const char *src, const char *name, enum trace_format fmt,
				  enum trace_compression comp, const char *fmtname)
{
	char out[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(src, &d);
	write_trace(t, tmp_path(out, name));
	/* the file really is compressed: zstd 28 B5 2F FD, gzip 1F 8B */
	size_t len;
	unsigned char *raw = (unsigned char *)slurp(out, &len);
	assert_non_null(raw);
	assert_true(len >= 4);
	bool zstd = raw[0] == 0x28 && raw[1] == 0xb5 && raw[2] == 0x2f && raw[3] == 0xfd;
	bool gzip = raw[0] == 0x1f && raw[1] == 0x8b;
	free(raw);
	assert_int_equal(zstd, comp == TRACE_COMP_ZSTD);
	assert_int_equal(gzip, comp == TRACE_COMP_GZIP);
	struct trace *back = load_ok(out, &d);
	assert_int_equal(back->format, fmt);
	assert_int_equal(back->compression, comp);
	assert_string_equal(format_name(back), fmtname);
	assert_same_ops(t, back);
	trace_free(t);
	trace_free(back);
}

static void test_roundtrip_compressed(void **state)
{
	(void)state;
	compressed_round_trip(TXT "kinds.trace", "kinds.hbt.zst", TRACE_FMT_HBT, TRACE_COMP_ZSTD,
			      "hbt+zst");
	compressed_round_trip(TXT "kinds.trace", "kinds.trace.gz", TRACE_FMT_TEXT, TRACE_COMP_GZIP,
			      "text+gz");
	compressed_round_trip(TXT "threads.trace", "threads.hbt.gz", TRACE_FMT_HBT, TRACE_COMP_GZIP,
			      "hbt+gz");
	compressed_round_trip(TXT "threads.trace", "threads.trace.zst", TRACE_FMT_TEXT,
			      TRACE_COMP_ZSTD, "text+zst");
	compressed_round_trip(REP "csapp2002.rep", "csapp.rep.gz", TRACE_FMT_REP, TRACE_COMP_GZIP,
			      "rep-csapp2002+gz");
	compressed_round_trip(REP "cmu2016.rep", "cmu2016.rep.zst", TRACE_FMT_REP, TRACE_COMP_ZSTD,
			      "rep-cmu2016+zst");
}

/* A large trace crosses the readers' and writers' buffer boundaries. */
static void test_roundtrip_large(void **state)
{
	(void)state;
	char hbt[PATH_MAX], zst[PATH_MAX], gz[PATH_MAX], txt[PATH_MAX];
	struct trace *t = trace_generate("plateau", 300000, 7);
	assert_non_null(t);
	write_trace(t, tmp_path(hbt, "large.hbt"));
	write_trace(t, tmp_path(zst, "large.hbt.zst"));
	write_trace(t, tmp_path(gz, "large.trace.gz"));
	write_trace(t, tmp_path(txt, "large.trace"));
	const char *paths[] = {hbt, zst, gz, txt};
	for (size_t i = 0; i < HB_ARRAY_LEN(paths); i++) {
		struct diag d;
		struct trace *back = load_ok(paths[i], &d);
		assert_same_ops(t, back);
		trace_free(back);
	}
	trace_free(t);
}

static void run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("`%s` failed: status %d", cmd, rc);
}

static void test_external_compressors(void **state)
{
	(void)state;
	char zst[PATH_MAX], gz[PATH_MAX], hbt[PATH_MAX], hzst[PATH_MAX], cat[PATH_MAX];
	char cmd[4 * PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(TXT "kinds.trace", &d);

	snprintf(cmd, sizeof cmd, "zstd -q -c %s > %s", TXT "kinds.trace",
		 tmp_path(zst, "cli.trace.zst"));
	run(cmd);
	snprintf(cmd, sizeof cmd, "gzip -c %s > %s", TXT "kinds.trace",
		 tmp_path(gz, "cli.trace.gz"));
	run(cmd);
	write_trace(t, tmp_path(hbt, "cli.hbt"));
	snprintf(cmd, sizeof cmd, "zstd -q -c %s > %s", hbt, tmp_path(hzst, "cli.hbt.zst"));
	run(cmd);
	/* concatenated gzip members read as one stream */
	snprintf(cmd, sizeof cmd, "(head -n 6 %s | gzip -c; tail -n +7 %s | gzip -c) > %s",
		 TXT "kinds.trace", TXT "kinds.trace", tmp_path(cat, "cli-cat.trace.gz"));
	run(cmd);

	const struct {
		const char *path;
		enum trace_format fmt;
		enum trace_compression comp;
	} cases[] = {
		{zst, TRACE_FMT_TEXT, TRACE_COMP_ZSTD},
		{gz, TRACE_FMT_TEXT, TRACE_COMP_GZIP},
		{hzst, TRACE_FMT_HBT, TRACE_COMP_ZSTD},
		{cat, TRACE_FMT_TEXT, TRACE_COMP_GZIP},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(cases); i++) {
		struct trace *back = load_ok(cases[i].path, &d);
		assert_int_equal(back->format, cases[i].fmt);
		assert_int_equal(back->compression, cases[i].comp);
		assert_same_ops(t, back);
		if (cases[i].fmt == TRACE_FMT_TEXT)
			assert_string_equal(trace_meta_get(back, "note"), "two words");
		trace_free(back);
	}
	trace_free(t);
}

/* ==== 7. .hbt validation ============================================================ */

/* A valid .hbt (kinds.trace: 8 ops, 3 ids, 2 metadata lines) in memory. */
static unsigned char *valid_hbt(size_t *len)
{
	char hbt[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(TXT "kinds.trace", &d);
	write_trace(t, tmp_path(hbt, "valid.hbt"));
	trace_free(t);
	unsigned char *img = (unsigned char *)slurp(hbt, len);
	assert_non_null(img);
	assert_true(*len >= HBT_HEADER_SIZE);
	return img;
}

static void get_header(const unsigned char *img, struct hbt_header *h)
{
	memcpy(h, img, sizeof *h);
}

static void put_header(unsigned char *img, const struct hbt_header *h)
{
	memcpy(img, h, sizeof *h);
}

/* Writes img to tmpdir/name and loads it: the load must fail with a
 * message containing want. */
#define assert_hbt_rejected(name, img, len, want)                                                  \
	do {                                                                                       \
		char p_[PATH_MAX];                                                                 \
		spew(tmp_path(p_, (name)), (img), (len));                                          \
		struct diag d_;                                                                    \
		struct trace *t_ = load_quiet(p_, &d_, false);                                     \
		if (t_) {                                                                          \
			trace_free(t_);                                                            \
			free(img);                                                                 \
			fail_msg("%s: expected \"%s\", but it loaded", (name), (want));            \
		}                                                                                  \
		assert_int_equal(d_.errors, 1);                                                    \
		assert_contains(d_.last, (want));                                                  \
	} while (0)

static void test_hbt_valid(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	struct hbt_header h;
	get_header(img, &h);
	assert_memory_equal(h.magic, HBT_MAGIC, HBT_MAGIC_LEN);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.header_size, 64);
	assert_int_equal(h.record_size, 24);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.op_count, 8);
	assert_int_equal(h.id_count, 3);
	assert_int_equal(h.thread_count, 1);
	assert_int_equal(h.meta_offset, 64);
	assert_int_equal(h.meta_size, strlen("program: demo\nnote: two words\n"));
	assert_memory_equal(img + 64, "program: demo\nnote: two words\n", h.meta_size);
	assert_int_equal(h.ops_offset % 8, 0);
	assert_int_equal(h.ops_offset, (64 + h.meta_size + 7) / 8 * 8);
	assert_int_equal(len, h.ops_offset + 8 * 24);
	free(img);

	char p[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(tmp_path(p, "valid.hbt"), &d);
	assert_string_equal(format_name(t), "hbt");
	assert_string_equal(trace_meta_get(t, "note"), "two words");
	assert_int_equal(trace_line(t, 0), 0); /* .hbt keeps no lines */
	assert_int_equal(trace_verify(t, &d), 0);
	trace_free(t);
}

static void test_hbt_bad_magic(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	img[1] = 'X';
	/* not recognised as .hbt at all, so the text reader refuses the bytes */
	assert_hbt_rejected("bad-magic.hbt", img, len, "not a trace: binary data");
	/* the image reader itself names the magic */
	struct trace *t = trace_new("image");
	struct diag d;
	diag_init(&d, "image", false);
	d.quiet = true;
	assert_int_equal(trace_open_hbt_image(t, img, len, &d), -1);
	assert_string_equal(d.last, "not a .hbt file (bad magic)");
	trace_free(t);
	free(img);
}

static void test_hbt_bad_version(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	struct hbt_header h;
	get_header(img, &h);
	h.version = 2;
	put_header(img, &h);
	assert_hbt_rejected("v2.hbt", img, len,
			    "unsupported .hbt version 2 (this heapbench reads 1)");
	free(img);
}

static void test_hbt_truncated(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	assert_hbt_rejected("trunc-record.hbt", img, len - 24,
			    "truncated: header declares 8 ops, the file holds 7");
	assert_hbt_rejected("trunc-partial.hbt", img, len - 5,
			    "truncated: header declares 8 ops, the file holds 7");
	assert_hbt_rejected("trunc-header.hbt", img, 40, "truncated .hbt header (40 of 64 bytes)");
	free(img);
}

static void test_hbt_trailing(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	unsigned char *big = calloc(1, len + 24);
	assert_non_null(big);
	memcpy(big, img, len);
	free(img);
	assert_hbt_rejected("trailing-1.hbt", big, len + 1, "trailing data after 8 ops");
	assert_hbt_rejected("trailing-24.hbt", big, len + 24, "trailing data after 8 ops");
	free(big);
}

static void test_hbt_id_count(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	struct hbt_header h;
	get_header(img, &h);
	h.id_count = 9;
	put_header(img, &h);
	assert_hbt_rejected("ids.hbt", img, len, "header declares 9 ids for 8 ops");
	free(img);
}

static void test_hbt_record_size(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	struct hbt_header h;
	get_header(img, &h);
	h.record_size = 32;
	put_header(img, &h);
	assert_hbt_rejected("recsize.hbt", img, len,
			    "unsupported .hbt record size 32 (expected 24)");
	free(img);
}

static void test_hbt_other_fields(void **state)
{
	(void)state;
	size_t len;
	unsigned char *img = valid_hbt(&len);
	struct hbt_header good, h;
	get_header(img, &good);

	h = good;
	h.flags = 2;
	put_header(img, &h);
	assert_hbt_rejected("flags.hbt", img, len, "unknown .hbt flags 0x2");

	/* flag 1 says times follow the records: this file has none */
	h = good;
	h.flags = HBT_F_TIMES;
	put_header(img, &h);
	assert_hbt_rejected("times.hbt", img, len, "truncated: header declares 8 ops");

	h = good;
	h.thread_count = 0;
	put_header(img, &h);
	assert_hbt_rejected("threads0.hbt", img, len, "bad thread count 0");

	h = good;
	h.thread_count = TRACE_THREADS_MAX + 1;
	put_header(img, &h);
	assert_hbt_rejected("threadsmax.hbt", img, len, "bad thread count 65537");

	h = good;
	h.ops_offset = good.ops_offset + 4;
	put_header(img, &h);
	assert_hbt_rejected("opsoff.hbt", img, len, "bad op offset");

	h = good;
	h.header_size = 32;
	put_header(img, &h);
	assert_hbt_rejected("hdrsize.hbt", img, len, "bad .hbt header size 32");

	h = good;
	h.meta_size = len;
	put_header(img, &h);
	assert_hbt_rejected("metasize.hbt", img, len, "metadata block out of bounds");

	put_header(img, &good);
	img[64 + 7] = '='; /* "program: demo" -> "program=..." */
	assert_hbt_rejected("meta.hbt", img, len, "corrupt metadata block at byte 0");
	free(img);
}

/* A truncated compressed .hbt fails in the decompressor. */
static void test_hbt_truncated_zstd(void **state)
{
	(void)state;
	char zst[PATH_MAX];
	struct trace *t = trace_generate("ramp", 2000, 3);
	write_trace(t, tmp_path(zst, "cut.hbt.zst"));
	trace_free(t);
	size_t len;
	char *img = slurp(zst, &len);
	assert_non_null(img);
	assert_true(len > 64);
	assert_hbt_rejected("cut2.hbt.zst", img, len / 2, "truncated zstd data");
	free(img);

	char gz[PATH_MAX];
	t = trace_generate("ramp", 2000, 3);
	write_trace(t, tmp_path(gz, "cut.trace.gz"));
	trace_free(t);
	img = slurp(gz, &len);
	assert_non_null(img);
	assert_hbt_rejected("cut2.trace.gz", img, len / 2, "truncated gzip data");
	free(img);
}

/* Builds a small valid trace (a 0 8, a 1 16, f 0, f 1), writes it and
 * returns the file image and the offset of its records. */
static unsigned char *built_hbt(const char *name, size_t *len, size_t *ops)
{
	struct diag d;
	diag_init(&d, "built", false);
	d.quiet = true;
	struct trace *t = trace_new("built");
	struct trace_builder *b = trace_builder_new(t, &d);
	const struct trace_srcop src[] = {
		{.kind = 'a', .id = 0, .size = 8},
		{.kind = 'a', .id = 1, .size = 16},
		{.kind = 'f', .id = 0},
		{.kind = 'f', .id = 1},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(src); i++)
		assert_int_equal(trace_builder_add(b, &src[i]), 0);
	trace_builder_finish(b);
	char p[PATH_MAX];
	write_trace(t, tmp_path(p, name));
	trace_free(t);
	unsigned char *img = (unsigned char *)slurp(p, len);
	assert_non_null(img);
	struct hbt_header h;
	get_header(img, &h);
	assert_int_equal(h.op_count, 4);
	assert_int_equal(h.id_count, 2);
	*ops = (size_t)h.ops_offset;
	return img;
}

static void test_hbt_verify(void **state)
{
	(void)state;
	static const struct {
		unsigned op;
		size_t field; /* offset in struct trace_op */
		uint64_t value;
		unsigned width;
		const char *message;
	} cases[] = {
		{3, offsetof(struct trace_op, id), 0, 4, "free of id 0 which is not live"},
		{1, offsetof(struct trace_op, id), 0, 4,
		 "allocation of id 0 which is already live"},
		{1, offsetof(struct trace_op, kind), TRACE_REALLOC, 1,
		 "realloc of id 1 which is not live"},
		{1, offsetof(struct trace_op, id), 5, 4, "id 5 out of range (2 ids)"},
		{0, offsetof(struct trace_op, id), TRACE_ID_NULL, 4,
		 "NULL id on an op that is not a free"},
		{0, offsetof(struct trace_op, kind), 7, 1, "unknown op kind 7"},
		{0, offsetof(struct trace_op, flags), 8, 1, "unknown flags 0x8"},
		{0, offsetof(struct trace_op, flags), TRACE_F_REALLOC_ZERO, 1,
		 "realloc-to-zero flag on a non-free op"},
		{2, offsetof(struct trace_op, flags), TRACE_F_REALLOC_NULL, 1,
		 "realloc-of-NULL flag on a non-alloc op"},
		{0, offsetof(struct trace_op, thread), 1, 2, "thread 1 out of range (1 threads)"},
		{0, offsetof(struct trace_op, arg), 3, 8, "unexpected argument 3"},
		{2, offsetof(struct trace_op, size), 8, 8, "free with a size"},
		{0, offsetof(struct trace_op, size), UINT64_MAX, 8,
		 "size 18446744073709551615 exceeds the largest request (9223372036854775807)"},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(cases); i++) {
		size_t len, ops;
		char name[32], p[PATH_MAX];
		snprintf(name, sizeof name, "verify-%zu.hbt", i);
		unsigned char *img = built_hbt(name, &len, &ops);
		memcpy(img + ops + cases[i].op * sizeof(struct trace_op) + cases[i].field,
		       &cases[i].value, cases[i].width);
		spew(tmp_path(p, name), img, len);
		free(img);

		/* the header is fine: trace_load maps it; verification finds it */
		struct diag d;
		struct trace *t = load_quiet(p, &d, false);
		if (!t)
			fail_msg("%s: expected to load, got: %s", name, d.last);
		assert_int_equal(trace_verify(t, &d), -1);
		assert_int_equal(d.errors, 1);
		assert_string_equal(d.last, cases[i].message);
		trace_free(t);

		t = load_quiet(p, &d, false);
		struct trace *v = trace_load_verified(p, &d);
		assert_null(v);
		trace_free(t);
	}
}

/* Lint mode lists every broken op. */
static void test_hbt_verify_lint(void **state)
{
	(void)state;
	size_t len, ops;
	char p[PATH_MAX];
	unsigned char *img = built_hbt("lint.hbt", &len, &ops);
	uint8_t bad_kind = 9;
	uint32_t dead = 0;
	memcpy(img + ops + 0 * 24 + offsetof(struct trace_op, kind), &bad_kind, 1);
	memcpy(img + ops + 3 * 24 + offsetof(struct trace_op, id), &dead, 4);
	spew(tmp_path(p, "lint.hbt"), img, len);
	free(img);
	struct diag d;
	struct trace *t = load_quiet(p, &d, true);
	assert_non_null(t);
	assert_int_equal(trace_verify(t, &d), -1);
	/* op 0 (kind 9), op 2 (frees id 0, never allocated), op 3 (frees id 0) */
	assert_int_equal(d.errors, 3);
	assert_string_equal(d.last, "free of id 0 which is not live");
	trace_free(t);
}

/* ==== 8. Statistics =============================================================== */

static void test_stats_mixed(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(TXT "stats.trace", &d);
	assert_int_equal(trace_verify(t, &d), 0);
	struct trace_stats st;
	trace_compute_stats(t, &st);
	assert_int_equal(st.ops, 10);
	assert_int_equal(st.kinds[TRACE_ALLOC], 3); /* a 0, a 1 0, r 5 7 */
	assert_int_equal(st.kinds[TRACE_CALLOC], 1);
	assert_int_equal(st.kinds[TRACE_MEMALIGN], 1);
	assert_int_equal(st.kinds[TRACE_REALLOC], 1);
	assert_int_equal(st.kinds[TRACE_FREE], 4); /* f 1, f -1, r 2 0, f 1 */
	assert_int_equal(st.free_nulls, 1);
	assert_int_equal(st.realloc_nulls, 1);
	assert_int_equal(st.realloc_zeros, 1);
	assert_int_equal(st.ids, 3);
	assert_int_equal(st.threads, 1);
	/* live: 100, 200 (calloc 4*25), 400, 600 (realloc 100 -> 300), 500,
	 * 500, 300, 300, 307, 307 */
	assert_int_equal(st.peak_live_bytes, 600);
	assert_int_equal(st.peak_live_op, 3);
	assert_int_equal(st.final_live_bytes, 307);
	assert_int_equal(st.final_live_blocks, 2);
	assert_int_equal(st.max_live_blocks, 3);
	/* samples 100, 100, 200, 300, 0, 7 -> sorted 0 7 100 100 200 300 */
	assert_int_equal(st.nsizes, 6);
	assert_int_equal(st.requested_bytes, 707);
	assert_int_equal(st.size_min, 0);
	assert_int_equal(st.size_median, 100); /* rank ceil(6/2) = 3 */
	assert_int_equal(st.size_p99, 300);    /* rank ceil(5.94) = 6 */
	assert_int_equal(st.size_max, 300);
	uint64_t want[TRACE_STATS_BUCKETS] = {0};
	want[0] = 1; /* 0 */
	want[3] = 1; /* 7 in [4, 8) */
	want[7] = 2; /* 100 in [64, 128) */
	want[8] = 1; /* 200 in [128, 256) */
	want[9] = 1; /* 300 in [256, 512) */
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++)
		if (st.hist[k] != want[k])
			fail_msg("hist[%u]: expected %" PRIu64 ", got %" PRIu64, k, want[k],
				 st.hist[k]);
	trace_free(t);
}

static void test_stats_median_of_four(void **state)
{
	(void)state;
	char p[PATH_MAX];
	struct diag d;
	struct trace *t =
		load_ok(tmp_text(p, "four.trace", "a 0 40\na 1 10\na 2 30\na 3 20\n"), &d);
	struct trace_stats st;
	trace_compute_stats(t, &st);
	assert_int_equal(st.nsizes, 4);
	assert_int_equal(st.size_min, 10);
	assert_int_equal(st.size_median, 20); /* the 2nd of 4 */
	assert_int_equal(st.size_p99, 40);
	assert_int_equal(st.size_max, 40);
	assert_int_equal(st.peak_live_bytes, 100);
	assert_int_equal(st.peak_live_op, 3);
	assert_int_equal(st.final_live_bytes, 100);
	assert_int_equal(st.final_live_blocks, 4);
	assert_int_equal(st.max_live_blocks, 4);
	trace_free(t);
}

static void test_stats_peak_first_op_and_threads(void **state)
{
	(void)state;
	char p[PATH_MAX];
	struct diag d;
	/* the peak is reached twice: peak_live_op is the first time */
	struct trace *t =
		load_ok(tmp_text(p, "peak.trace", "0: a 0 50\n1: f 0\n2: c 0 5 10\n0: f 0\n"), &d);
	struct trace_stats st;
	trace_compute_stats(t, &st);
	assert_int_equal(st.peak_live_bytes, 50);
	assert_int_equal(st.peak_live_op, 0);
	assert_int_equal(st.final_live_bytes, 0);
	assert_int_equal(st.final_live_blocks, 0);
	assert_int_equal(st.max_live_blocks, 1);
	assert_int_equal(st.threads, 3);
	assert_int_equal(st.size_median, 50);
	trace_free(t);

	/* an empty trace: all zero */
	t = trace_new("empty");
	trace_compute_stats(t, &st);
	assert_int_equal(st.ops, 0);
	assert_int_equal(st.threads, 0);
	assert_int_equal(st.nsizes, 0);
	assert_int_equal(st.size_median, 0);
	assert_int_equal(st.peak_live_bytes, 0);
	trace_free(t);
}

static void test_stats_nearest_rank(void **state)
{
	(void)state;
	uint64_t v[100];
	for (unsigned i = 0; i < 100; i++)
		v[i] = i + 1;
	assert_int_equal(stats_nearest_rank(v, 100, 99, 100), 99);
	assert_int_equal(stats_nearest_rank(v, 100, 1, 2), 50);
	assert_int_equal(stats_nearest_rank(v, 100, 1, 1), 100);
	assert_int_equal(stats_nearest_rank(v, 100, 1, 100), 1);
	assert_int_equal(stats_nearest_rank(v, 100, 999, 1000), 100); /* ceil(99.9) */
	uint64_t one = 42;
	assert_int_equal(stats_nearest_rank(&one, 1, 1, 2), 42);
	assert_int_equal(stats_nearest_rank(&one, 1, 99, 100), 42);
	const uint64_t four[4] = {10, 20, 30, 40};
	assert_int_equal(stats_nearest_rank(four, 4, 1, 2), 20);
	assert_int_equal(stats_nearest_rank(four, 4, 1, 4), 10);
	assert_int_equal(stats_nearest_rank(four, 4, 3, 4), 30);
	assert_int_equal(stats_nearest_rank(four, 4, 99, 100), 40);
	assert_int_equal(stats_nearest_rank(four, 4, 51, 100), 30); /* ceil(2.04) */
	assert_int_equal(stats_nearest_rank(v, 0, 1, 2), 0);
}

static void test_stats_bucket(void **state)
{
	(void)state;
	assert_int_equal(stats_bucket(0), 0);
	assert_int_equal(stats_bucket(1), 1);
	assert_int_equal(stats_bucket(2), 2);
	assert_int_equal(stats_bucket(3), 2);
	assert_int_equal(stats_bucket(4), 3);
	assert_int_equal(stats_bucket(1023), 10);
	assert_int_equal(stats_bucket(1024), 11);
	assert_int_equal(stats_bucket((uint64_t)1 << 63), 64);
	assert_int_equal(stats_bucket(UINT64_MAX), 64);
}

/* ==== 9. Source lines ============================================================== */

static void test_trace_line(void **state)
{
	(void)state;
	struct diag d;
	struct trace *t = load_ok(TXT "lines.trace", &d);
	assert_int_equal(t->nops, 5);
	assert_true(t->has_lines);
	const uint64_t want[] = {4, 5, 8, 9, 10};
	for (uint64_t i = 0; i < t->nops; i++)
		if (trace_line(t, i) != want[i])
			fail_msg("op %" PRIu64 ": expected line %" PRIu64 ", got %" PRIu64, i,
				 want[i], trace_line(t, i));
	trace_free(t);

	t = load_ok(TXT "kinds.trace", &d);
	for (uint64_t i = 0; i < t->nops; i++)
		assert_int_equal(trace_line(t, i), 5 + i);
	trace_free(t);

	/* rep: blank and comment lines between ops, CRLF */
	char p[PATH_MAX];
	t = load_ok(tmp_text(p, "lines.rep", "1\n1\n3\n0\n\n# comment\na 0 8\n\n\nr 0 16\r\nf 0\n"),
		    &d);
	assert_int_equal(trace_line(t, 0), 7);
	assert_int_equal(trace_line(t, 1), 10);
	assert_int_equal(trace_line(t, 2), 11);
	trace_free(t);

	/* generated traces have no lines */
	t = trace_generate("ramp", 10, 1);
	assert_int_equal(trace_line(t, 0), 0);
	trace_free(t);
}

/* ==== 10. Generator ================================================================= */

static void test_generate_patterns(void **state)
{
	(void)state;
	const uint64_t n = 3000;
	for (int i = 0; trace_gen_patterns[i]; i++) {
		const char *pat = trace_gen_patterns[i];
		char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], name[64];
		struct trace *t1 = trace_generate(pat, n, 1);
		struct trace *t2 = trace_generate(pat, n, 1);
		struct trace *t3 = trace_generate(pat, n, 2);
		assert_non_null(t1);
		assert_non_null(t2);
		assert_non_null(t3);
		if (t1->nops != n)
			fail_msg("%s: expected %" PRIu64 " ops, got %" PRIu64, pat, n, t1->nops);
		assert_int_equal(t3->nops, n);
		struct diag d;
		diag_init(&d, pat, false);
		d.quiet = true;
		if (trace_verify(t1, &d) != 0)
			fail_msg("%s: trace_verify: %s", pat, d.last);
		if (trace_verify(t3, &d) != 0)
			fail_msg("%s seed 2: trace_verify: %s", pat, d.last);
		assert_null(trace_meta_get(t1, "ids"));
		assert_non_null(trace_meta_get(t1, "generator"));

		snprintf(name, sizeof name, "gen-%s-1a.hbt", pat);
		write_trace(t1, tmp_path(a, name));
		snprintf(name, sizeof name, "gen-%s-1b.hbt", pat);
		write_trace(t2, tmp_path(b, name));
		snprintf(name, sizeof name, "gen-%s-2.hbt", pat);
		write_trace(t3, tmp_path(c, name));
		assert_files_equal(a, b);
		/* another seed: other ops (not only another metadata line) */
		if (!memcmp(t1->ops, t3->ops, (size_t)n * sizeof *t1->ops))
			fail_msg("%s: seeds 1 and 2 gave the same ops", pat);
		size_t la, lc;
		char *fa = slurp(a, &la), *fc = slurp(c, &lc);
		bool same = la == lc && !memcmp(fa, fc, la);
		free(fa);
		free(fc);
		if (same)
			fail_msg("%s: seeds 1 and 2 gave identical files", pat);

		/* the text form also reads back to the same ops */
		snprintf(name, sizeof name, "gen-%s.trace", pat);
		write_trace(t1, tmp_path(c, name));
		struct trace *back = load_ok(c, &d);
		assert_same_ops(t1, back);
		trace_free(back);
		trace_free(t1);
		trace_free(t2);
		trace_free(t3);
	}
}

static void test_generate_small(void **state)
{
	(void)state;
	static const uint64_t sizes[] = {0, 1, 2, 3, 5, 17, 64};
	for (int i = 0; trace_gen_patterns[i]; i++)
		for (size_t k = 0; k < HB_ARRAY_LEN(sizes); k++) {
			struct trace *t = trace_generate(trace_gen_patterns[i], sizes[k], 99);
			assert_non_null(t);
			if (t->nops != sizes[k])
				fail_msg("%s: expected %" PRIu64 " ops, got %" PRIu64,
					 trace_gen_patterns[i], sizes[k], t->nops);
			struct diag d;
			diag_init(&d, "gen", false);
			d.quiet = true;
			if (trace_verify(t, &d) != 0)
				fail_msg("%s %" PRIu64 ": %s", trace_gen_patterns[i], sizes[k],
					 d.last);
			trace_free(t);
		}
}

static void test_generate_unknown(void **state)
{
	(void)state;
	struct capture c;
	capture_begin(&c);
	struct trace *t = trace_generate("zigzag", 100, 1);
	char *e = capture_end(&c);
	char m[512];
	snprintf(m, sizeof m, "%s", e);
	free(e);
	assert_null(t);
	assert_contains(m, "unknown pattern 'zigzag'");
}

/* ==== Small API pieces =============================================================== */

static void test_meta_api(void **state)
{
	(void)state;
	struct trace *t = trace_new(NULL);
	assert_string_equal(t->path, "");
	trace_meta_set(t, "a", "1");
	trace_meta_set(t, "b", "2");
	trace_meta_set(t, "a", "3");
	assert_int_equal(t->nmeta, 2);
	assert_string_equal(t->meta[0].key, "a");
	assert_string_equal(trace_meta_get(t, "a"), "3");
	trace_meta_del(t, "a");
	assert_null(trace_meta_get(t, "a"));
	assert_string_equal(t->meta[0].key, "b");
	trace_meta_del(t, "missing");
	assert_int_equal(t->nmeta, 1);
	trace_free(t);
}

static void test_outfmt_from_name(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int rc;
		enum trace_outfmt fmt;
		enum trace_compression comp;
	} cases[] = {
		{"x.trace", 0, TRACE_OUT_TEXT, TRACE_COMP_NONE},
		{"x.hbt.zst", 0, TRACE_OUT_HBT, TRACE_COMP_ZSTD},
		{"dir/x.rep.gz", 0, TRACE_OUT_REP, TRACE_COMP_GZIP},
		{"x.rep", 0, TRACE_OUT_REP, TRACE_COMP_NONE},
		{"x.txt", -1, 0, 0},
		{".hbt", -1, 0, 0},
		{"x.zst", -1, 0, 0},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(cases); i++) {
		enum trace_outfmt fmt = TRACE_OUT_TEXT;
		enum trace_compression comp = TRACE_COMP_NONE;
		int rc = trace_outfmt_from_name(cases[i].name, &fmt, &comp);
		if (rc != cases[i].rc)
			fail_msg("%s: expected %d, got %d", cases[i].name, cases[i].rc, rc);
		if (rc == 0 && (fmt != cases[i].fmt || comp != cases[i].comp))
			fail_msg("%s: expected format %d/%d, got %d/%d", cases[i].name,
				 cases[i].fmt, cases[i].comp, fmt, comp);
	}
}

/* Short names strip the same endings trace_outfmt_from_name reads, each
 * once, outer compression first (what results and charts are named by). */
static void test_short_name(void **state)
{
	(void)state;
	static const struct {
		const char *path, *name;
	} cases[] = {
		{"traces/real/gcc-cc1.hbt.zst", "gcc-cc1"},
		{"x.trace", "x"},
		{"dir/x.rep.gz", "x"},
		{"x.gz.zst", "x"},
		{"x.zst.trace", "x.zst"},
		{"x.rep.hbt", "x"},
		{"x.hbt.rep", "x.hbt"},
		{"x.txt", "x.txt"},
		{"dir/.hbt", ".hbt"},
		{"plain", "plain"},
	};
	for (size_t i = 0; i < HB_ARRAY_LEN(cases); i++) {
		char buf[64];
		trace_short_name(cases[i].path, buf, sizeof buf);
		if (strcmp(buf, cases[i].name))
			fail_msg("%s: expected '%s', got '%s'", cases[i].path, cases[i].name, buf);
	}
}

static void test_load_missing_and_empty(void **state)
{
	(void)state;
	char p[PATH_MAX];
	struct diag d;
	assert_null(load_quiet("tests/data/no-such-file.trace", &d, false));
	assert_contains(d.last, "cannot open");
	assert_null(load_quiet(tmp_text(p, "empty.trace", ""), &d, false));
	assert_contains(d.last, "empty");
	assert_null(load_quiet(tmp_text(p, "blank.trace", "\n  \n\t\n"), &d, false));
	assert_string_equal(d.last, "empty trace (only blank lines)");
	assert_null(load_quiet(tmpdir, &d, false));
	assert_contains(d.last, "directory");
}

static void test_write_errors(void **state)
{
	(void)state;
	char p1[PATH_MAX], p2[PATH_MAX];
	struct diag d;
	struct trace *t = load_ok(TXT "kinds.trace", &d);
	struct capture c;
	capture_begin(&c);
	int rc1 = trace_write(t, tmp_path(p1, "out.txt"));
	int rc2 = trace_write(t, tmp_path(p2, "no-such-dir/out.trace"));
	char *e = capture_end(&c);
	char m[1024];
	snprintf(m, sizeof m, "%s", e);
	free(e);
	trace_free(t);
	assert_int_equal(rc1, -1);
	assert_int_equal(rc2, -1);
	assert_contains(m, "out.txt: unknown output format");
	assert_contains(m, "no-such-dir/out.trace: cannot create");
	assert_int_equal(access(p1, F_OK), -1);
}

/* Every output format written in this process (LeakSanitizer sees it). */
static void test_write_in_process(void **state)
{
	(void)state;
	static const char *const names[] = {"inproc.trace",   "inproc.rep",      "inproc.hbt",
					    "inproc.hbt.zst", "inproc.trace.gz", "inproc.rep.zst"};
	struct diag d;
	struct trace *t = load_ok(REP "quirk-roundtrip.rep", &d);
	for (size_t i = 0; i < HB_ARRAY_LEN(names); i++) {
		char p[PATH_MAX];
		int rc = trace_write(t, tmp_path(p, names[i]));
		if (rc != 0) {
			trace_free(t);
			fail_msg("trace_write(%s): %d", p, rc);
		}
		struct trace *back = load_ok(p, &d);
		bool same = back->nops == t->nops &&
			    !memcmp(back->ops, t->ops, (size_t)t->nops * sizeof *t->ops);
		trace_free(back);
		if (!same) {
			trace_free(t);
			fail_msg("%s: ops differ after reading back", p);
		}
	}
	trace_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rep_csapp2002),
		cmocka_unit_test(test_rep_cmu2010),
		cmocka_unit_test(test_rep_cmu2016),
		cmocka_unit_test(test_rep_header_whitespace),
		cmocka_unit_test(test_quirk_free_null),
		cmocka_unit_test(test_quirk_realloc_null),
		cmocka_unit_test(test_quirk_realloc_zero),
		cmocka_unit_test(test_quirk_missing_size),
		cmocka_unit_test(test_quirk_missing_size_first),
		cmocka_unit_test(test_quirk_missing_size_many),
		cmocka_unit_test(test_text_edges),
		cmocka_unit_test(test_quirk_extra_lines),
		cmocka_unit_test(test_quirk_crlf),
		cmocka_unit_test(test_quirk_id_reuse),
		cmocka_unit_test(test_err_num_ids),
		cmocka_unit_test(test_err_unknown_op),
		cmocka_unit_test(test_err_free_dead),
		cmocka_unit_test(test_err_alloc_live),
		cmocka_unit_test(test_err_few_ops),
		cmocka_unit_test(test_err_header_truncated),
		cmocka_unit_test(test_err_lint_collects),
		cmocka_unit_test(test_err_lint_order),
		cmocka_unit_test(test_err_strict_first),
		cmocka_unit_test(test_text_kinds),
		cmocka_unit_test(test_text_threads),
		cmocka_unit_test(test_text_thread_labels),
		cmocka_unit_test(test_text_errors),
		cmocka_unit_test(test_text_errors_more),
		cmocka_unit_test(test_ids_sparse),
		cmocka_unit_test(test_ids_lowest_free),
		cmocka_unit_test(test_ids_many),
		cmocka_unit_test(test_ids_sequential_meta),
		cmocka_unit_test(test_builder_api),
		cmocka_unit_test(test_builder_thread_label_max),
		cmocka_unit_test(test_roundtrip_rep_canonical),
		cmocka_unit_test(test_roundtrip_rep_quirks),
		cmocka_unit_test(test_roundtrip_rep_via_text),
		cmocka_unit_test(test_rep_from_text),
		cmocka_unit_test(test_roundtrip_text),
		cmocka_unit_test(test_roundtrip_text_sequential_free_null),
		cmocka_unit_test(test_roundtrip_compressed),
		cmocka_unit_test(test_roundtrip_large),
		cmocka_unit_test(test_external_compressors),
		cmocka_unit_test(test_hbt_valid),
		cmocka_unit_test(test_hbt_bad_magic),
		cmocka_unit_test(test_hbt_bad_version),
		cmocka_unit_test(test_hbt_truncated),
		cmocka_unit_test(test_hbt_trailing),
		cmocka_unit_test(test_hbt_id_count),
		cmocka_unit_test(test_hbt_record_size),
		cmocka_unit_test(test_hbt_other_fields),
		cmocka_unit_test(test_hbt_truncated_zstd),
		cmocka_unit_test(test_hbt_verify),
		cmocka_unit_test(test_hbt_verify_lint),
		cmocka_unit_test(test_stats_mixed),
		cmocka_unit_test(test_stats_median_of_four),
		cmocka_unit_test(test_stats_peak_first_op_and_threads),
		cmocka_unit_test(test_stats_nearest_rank),
		cmocka_unit_test(test_stats_bucket),
		cmocka_unit_test(test_trace_line),
		cmocka_unit_test(test_generate_patterns),
		cmocka_unit_test(test_generate_small),
		cmocka_unit_test(test_generate_unknown),
		cmocka_unit_test(test_meta_api),
		cmocka_unit_test(test_outfmt_from_name),
		cmocka_unit_test(test_short_name),
		cmocka_unit_test(test_load_missing_and_empty),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_write_in_process),
	};
	return cmocka_run_group_tests_name("trace", tests, group_setup, group_teardown);
}
