/*
 * test_replay.c - the replay engine: metric arithmetic on hand-computed
 * layouts, the checker against deliberately broken backends, worker
 * crashes and timeouts, and the real backends on every test trace.
 *
 * The broken backends wrap the system malloc and misbehave at a chosen
 * call.  Jobs run in worker processes that re-execute this very program
 * (`test_replay __worker ...`), which registers the broken backends through
 * allocator_extra before anything else, so the worker finds them by name.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "btag.h"
#include "replay/internal.h"
#include "replay/job.h"
#include "replay/replay.h"
#include "trace/trace.h"

/* ---- Broken backends ------------------------------------------------------ */

static unsigned long calls; /* malloc-family calls so far in this process */

static int sys_init(void **state, struct heap *heap, const struct backend_opts *opts, char *err,
		    size_t errlen)
{
	(void)heap, (void)opts, (void)err, (void)errlen;
	*state = NULL;
	calls = 0;
	return 0;
}

static void sys_fini(void *state)
{
	(void)state;
}

static void *plain_malloc(void *state, size_t size)
{
	(void)state;
	calls++;
	return malloc(size ? size : 1);
}

static void *plain_realloc(void *state, void *p, size_t size)
{
	(void)state;
	calls++;
	return realloc(p, size);
}

static int plain_free(void *state, void *p, char *why, size_t len)
{
	(void)state, (void)why, (void)len;
	free(p);
	return 0;
}

static void *plain_memalign(void *state, size_t align, size_t size)
{
	(void)state;
	void *p;
	return posix_memalign(&p, align < 16 ? 16 : align, size) ? NULL : p;
}

/* the 3rd allocation returns the 2nd block + 16: an overlap */
static void *last_block;
static void *overlap_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size + 64);
	if (calls == 3)
		return (char *)last_block + 16;
	last_block = p;
	return p;
}

/* the 3rd allocation returns 32 bytes before the 2nd block: it contains it */
static char arena[1 << 16] __attribute__((aligned(64)));
static void *contain_malloc(void *state, size_t size)
{
	(void)state;
	calls++;
	if (calls == 2)
		return arena + 1024;
	if (calls == 3)
		return arena + 1024 - 32;
	return malloc(size ? size : 1);
}

static int contain_free(void *state, void *p, char *why, size_t len)
{
	if ((char *)p >= arena && (char *)p < arena + sizeof arena)
		return 0;
	return plain_free(state, p, why, len);
}

static void *misaligned_malloc(void *state, size_t size)
{
	char *p = plain_malloc(state, size + 16);
	return calls == 2 ? p + 2 : p;
}

/* the 2nd allocation, of n bytes, flips byte n of the first block (the
 * worker is a process of its own: the trace says which byte) */
static void *first_block;
static void *tailbite_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 1)
		first_block = p;
	if (calls == 2)
		((char *)first_block)[size] ^= 0x5a;
	return p;
}

/* the 4th allocation scribbles over the first block */
static void *scribble_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 1)
		first_block = p;
	if (calls == 4)
		((char *)first_block)[5] ^= 0x5a;
	return p;
}

/* realloc that moves without copying */
static void *lossy_realloc(void *state, void *p, size_t size)
{
	(void)p;
	void *q = plain_malloc(state, size);
	memset(q, 0, size);
	return q; /* the old block leaks: the checker must stop first */
}

/* calloc that returns dirty memory */
static void *dirty_calloc(void *state, size_t nmemb, size_t size)
{
	char *p = plain_malloc(state, nmemb * size);
	memset(p, 0xaa, nmemb * size);
	return p;
}

static void *null_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 5) {
		free(p);
		return NULL;
	}
	return p;
}

static void *segv_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 4)
		raise(SIGSEGV);
	return p;
}

static unsigned long frees;
static int abort_free(void *state, void *p, char *why, size_t len)
{
	if (++frees == 2)
		abort();
	return plain_free(state, p, why, len);
}

static void *loop_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 3)
		for (volatile int spin = 1; spin;)
			;
	return p;
}

/* the worker quits with status 0 in the middle of the job */
static void *exit_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 3)
		exit(0);
	return p;
}

/* corrupts block 0 on the 3rd malloc; the trace never frees it */
static void *late_malloc(void *state, size_t size)
{
	void *p = plain_malloc(state, size);
	if (calls == 1)
		first_block = p;
	if (calls == 3)
		((char *)first_block)[1] ^= 1;
	return p;
}

/* a bump allocator whose 2nd realloc hands back the block's first address
 * without copying: the stale bytes there are the block's old contents */
static char bump[1 << 16] __attribute__((aligned(16)));
static size_t bump_top;
static void *bump_malloc(void *state, size_t size)
{
	(void)state;
	void *p = bump + bump_top;
	bump_top += (size + 15) & ~(size_t)15;
	return p;
}

static void *stale_realloc(void *state, void *p, size_t size)
{
	static void *origin;
	static unsigned n;
	if (++n == 1) {
		origin = p;
		void *q = bump_malloc(state, size);
		memcpy(q, p, size < 100 ? size : 100);
		return q;
	}
	return origin;
}

static int bump_free(void *state, void *p, char *why, size_t len)
{
	(void)state, (void)p, (void)why, (void)len;
	return 0;
}

/* malloc(0) returns NULL, which C allows */
static void *null0_malloc(void *state, size_t size)
{
	return size ? plain_malloc(state, size) : NULL;
}

static void *null0_realloc(void *state, void *p, size_t size)
{
	return plain_realloc(state, p, size); /* realloc(NULL, n) is malloc(n) */
}

static int bad_check(void *state, char *why, size_t len)
{
	(void)state;
	if (calls >= 3) {
		snprintf(why, len, "free list corrupted (made up by the test)");
		return -1;
	}
	return 0;
}

/* each broken backend is the plain one with some members overridden */
#pragma GCC diagnostic ignored "-Woverride-init"
#define BROKEN(id, ...)                                                                            \
	static const struct allocator id = {.name = #id,                                           \
					    .description = "broken on purpose",                    \
					    .flags = ALLOC_F_PROCESS,                              \
					    .init = sys_init,                                      \
					    .fini = sys_fini,                                      \
					    .malloc = plain_malloc,                                \
					    .memalign = plain_memalign,                            \
					    .realloc = plain_realloc,                              \
					    .free = plain_free,                                    \
					    __VA_ARGS__}

BROKEN(overlap, .malloc = overlap_malloc);
BROKEN(contain, .malloc = contain_malloc, .free = contain_free);
BROKEN(misaligned, .malloc = misaligned_malloc);
BROKEN(scribble, .malloc = scribble_malloc);
BROKEN(tailbite, .malloc = tailbite_malloc);
BROKEN(lossy, .realloc = lossy_realloc);
BROKEN(dirty, .calloc = dirty_calloc);
BROKEN(nullret, .malloc = null_malloc);
BROKEN(segv, .malloc = segv_malloc);
BROKEN(aborts, .free = abort_free);
BROKEN(loops, .malloc = loop_malloc);
BROKEN(badcheck, .check = bad_check);
BROKEN(exits, .malloc = exit_malloc);
BROKEN(late, .malloc = late_malloc);
BROKEN(stale, .malloc = bump_malloc, .realloc = stale_realloc, .free = bump_free);
BROKEN(null0, .malloc = null0_malloc, .realloc = null0_realloc);

static const struct allocator *const broken[] = {
	&overlap, &contain,  &misaligned, &scribble, &lossy, &dirty, &nullret,  &segv, &aborts,
	&loops,   &badcheck, &exits,      &late,     &stale, &null0, &tailbite, NULL,
};

/* ---- Helpers --------------------------------------------------------------- */

static char tmpdir[64];

static struct trace *text_trace(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	struct diag d;
	diag_init(&d, path, false);
	struct trace *t = trace_load_verified(path, &d);
	assert_non_null(t);
	return t;
}

static struct replay_config config(const char *backend)
{
	struct replay_config cfg = {.backend = allocator_find(backend),
				    .check = CHECK_FULL,
				    .repeat = 1,
				    .alignment = 16,
				    .sample_every = 1};
	assert_non_null(cfg.backend);
	return cfg;
}

static void run(const struct trace *t, const struct replay_config *cfg, double timeout,
		struct replay_result *r)
{
	int fd = job_trace_fd(t);
	assert_true(fd >= 0);
	job_run(t, fd, cfg, &(struct job_limits){timeout, 0}, r);
	close(fd);
}

/* A job must end with this status at this op with this text in its error. */
static void expect_failure(const char *backend, const struct trace *t, double timeout,
			   enum replay_status status, uint64_t op, const char *text)
{
	struct replay_config cfg = config(backend);
	static struct replay_result r;
	run(t, &cfg, timeout, &r);
	if (r.status != status || r.error_op != op || !strstr(r.error, text))
		fail_msg("%s: expected %s at op %llu containing \"%s\"; got %s at op %lld: %s",
			 backend, replay_status_names[status], (unsigned long long)op, text,
			 replay_status_names[r.status], (long long)r.error_op, r.error);
}

/* Eight allocations of varied sizes, a realloc and a calloc, then frees. */
static const char *const basic = "a 0 24\na 1 100\na 2 40\na 3 8\na 4 200\nc 5 4 10\nr 1 300\n"
				 "f 0\nf 2\nf 1\nf 3\nf 4\nf 5\n";

/* ---- Broken backends are caught -------------------------------------------- */

static void test_overlap(void **state)
{
	(void)state;
	struct trace *t = text_trace("overlap.trace", basic);
	expect_failure("overlap", t, 0, JOB_ERROR, 2, "overlaps live block 1");
	trace_free(t);
}

static void test_contain(void **state)
{
	(void)state;
	struct trace *t = text_trace("contain.trace", "a 0 8\na 1 8\na 2 100\nf 0\nf 1\nf 2\n");
	expect_failure("contain", t, 0, JOB_ERROR, 2, "contains live block 1");
	trace_free(t);
}

static void test_misaligned(void **state)
{
	(void)state;
	struct trace *t = text_trace("misaligned.trace", basic);
	/* malloc(100) needs 4 bytes' alignment: an object of 100 bytes can
	 * need no more (C17 7.22.3) */
	expect_failure("misaligned", t, 0, JOB_ERROR, 1, "not aligned to 4 bytes");
	trace_free(t);
}

static void test_scribble(void **state)
{
	(void)state;
	struct trace *t = text_trace("scribble.trace", basic);
	/* block 0 is corrupted by the 4th malloc (op 3); its free (op 7) sees it */
	expect_failure("scribble", t, 0, JOB_ERROR, 7, "block 0 [");
	expect_failure("scribble", t, 0, JOB_ERROR, 7, "was overwritten: byte 5 is 0x");
	trace_free(t);
}

/* --check fast verifies a block's first and last 64 bytes whatever its
 * alignment: here 203 bytes, whose last range starts at byte 139 (from 136,
 * the word boundary below), and ends in a partial word.  The byte flipped
 * must be found and named (or, in the middle, is --check full's). */
static void expect_bite(uint64_t at, bool found)
{
	char text[96], want[64];
	snprintf(text, sizeof text, "a 0 203\na 1 %llu\nf 0\nf 1\n", (unsigned long long)at);
	struct trace *t = text_trace("ends.trace", text);
	struct replay_config cfg = config("tailbite");
	static struct replay_result r;
	cfg.check = CHECK_FAST;
	run(t, &cfg, 0, &r);
	snprintf(want, sizeof want, "was overwritten: byte %llu is", (unsigned long long)at);
	if (found && (r.status != JOB_ERROR || r.error_op != 2 || !strstr(r.error, want)))
		fail_msg("byte %llu flipped: expected an error at op 2 containing \"%s\"; got %s "
			 "at op %lld: %s",
			 (unsigned long long)at, want, replay_status_names[r.status],
			 (long long)r.error_op, r.error);
	if (!found && r.status != JOB_OK)
		fail_msg("byte %llu flipped: expected ok at --check fast, got %s: %s",
			 (unsigned long long)at, replay_status_names[r.status], r.error);
	trace_free(t);
}

static void test_fast_ends(void **state)
{
	(void)state;
	static const uint64_t found[] = {0, 7, 63, 136, 139, 199, 200, 202};
	for (size_t k = 0; k < sizeof found / sizeof found[0]; k++)
		expect_bite(found[k], true);
	expect_bite(64, false);
	expect_bite(100, false);
	expect_bite(135, false);
}

static void test_lossy_realloc(void **state)
{
	(void)state;
	struct trace *t = text_trace("lossy.trace", basic);
	expect_failure("lossy", t, 0, JOB_ERROR, 6, "lost data: byte 0 is 0x00");
	trace_free(t);
}

static void test_dirty_calloc(void **state)
{
	(void)state;
	struct trace *t = text_trace("dirty.trace", basic);
	expect_failure("dirty", t, 0, JOB_ERROR, 5,
		       "calloc memory is not zero: byte 0 of 40 is 0xaa");
	trace_free(t);
}

static void test_null(void **state)
{
	(void)state;
	struct trace *t = text_trace("null.trace", basic);
	expect_failure("nullret", t, 0, JOB_OOM, 4, "malloc(200) returned NULL");
	trace_free(t);
}

static void test_segv(void **state)
{
	(void)state;
	struct trace *t = text_trace("segv.trace", basic);
	expect_failure("segv", t, 0, JOB_CRASH, 3, "killed by SIGSEGV in the checked pass");
	trace_free(t);
}

static void test_abort(void **state)
{
	(void)state;
	struct trace *t = text_trace("abort.trace", basic);
	expect_failure("aborts", t, 0, JOB_CRASH, 8, "killed by SIGABRT in the checked pass");
	trace_free(t);
}

static void test_timeout(void **state)
{
	(void)state;
	struct trace *t = text_trace("loop.trace", basic);
	expect_failure("loops", t, 0.5, JOB_TIMEOUT, 2,
		       "no result after 0.5 s, in the checked pass");
	trace_free(t);
}

static void test_bad_check(void **state)
{
	(void)state;
	struct trace *t = text_trace("check.trace", basic);
	struct replay_config cfg = config("badcheck");
	cfg.heap_check_every = 1;
	static struct replay_result r;
	run(t, &cfg, 0, &r);
	assert_int_equal(r.status, JOB_ERROR);
	assert_int_equal(r.error_op, 2);
	assert_int_equal(r.error_line, 3);
	assert_string_equal(
		r.error,
		"heap check failed after this op: free list corrupted (made up by the test)");
	trace_free(t);
}

static void test_exit_midway(void **state)
{
	(void)state;
	struct trace *t = text_trace("exit.trace", basic);
	expect_failure("exits", t, 0, JOB_ERROR, 2,
		       "the worker exited with status 0 in the checked pass");
	trace_free(t);
}

static void test_corrupt_at_end(void **state)
{
	(void)state;
	struct trace *t = text_trace("late.trace", "a 0 24\na 1 24\na 2 24\na 3 24\n");
	expect_failure("late", t, 0, JOB_ERROR, 3, "at the end of the trace: block 0");
	trace_free(t);
}

static void test_stale_realloc(void **state)
{
	(void)state;
	struct trace *t = text_trace("stale.trace", "a 0 100\nr 0 200\nr 0 100\nf 0\n");
	expect_failure("stale", t, 0, JOB_ERROR, 2, "lost data");
	trace_free(t);
}

static void test_null_for_zero(void **state)
{
	(void)state;
	struct trace *t = text_trace("zero.trace", "a 0 0\nr 0 10\nf 0\n");
	struct replay_config cfg = config("null0");
	static struct replay_result r;
	run(t, &cfg, 0, &r);
	if (r.status != JOB_OK)
		fail_msg("%s at op %lld: %s", replay_status_names[r.status], (long long)r.error_op,
			 r.error);
	trace_free(t);
}

/* ---- The job reaches the worker whole ----------------------------------------- */

/* Every knob travels in the page the worker maps (job.c), none in argv. */
static void test_config_reaches_worker(void **state)
{
	(void)state;
	struct trace *t = text_trace("knobs.trace", basic);
	static struct replay_result r;
	/* check off: scribble's overwrite goes unseen; 3 timed passes; latency */
	struct replay_config cfg = config("scribble");
	cfg.check = CHECK_OFF;
	cfg.repeat = 3;
	cfg.latency = true;
	run(t, &cfg, 0, &r);
	if (r.status != JOB_OK)
		fail_msg("%s at op %lld: %s", replay_status_names[r.status], (long long)r.error_op,
			 r.error);
	assert_int_equal(r.repeat, 3);
	assert_true(r.seconds[2] > 0);
	assert_true(r.have_latency);
	assert_int_equal(r.latency[TRACE_ALLOC].count, 5);
	assert_int_equal(r.latency[TRACE_FREE].count, 6);
	trace_free(t);

	/* the heap limit */
	t = text_trace("big.trace", "a 0 1000000\nf 0\n");
	cfg = config("first-fit");
	cfg.heap_limit = 64 << 10;
	run(t, &cfg, 0, &r);
	assert_int_equal(r.status, JOB_OOM);
	assert_string_equal(r.error, "malloc(1000000) returned NULL");

	/* the options, strings and all: the worker's init judges this one */
	cfg = config("segregated");
	cfg.opt[0] = (struct backend_opt){"spacing", "3"};
	cfg.nopt = 1;
	run(t, &cfg, 0, &r);
	assert_int_equal(r.status, JOB_ERROR);
	assert_string_equal(r.error,
			    "cannot start backend segregated: spacing: expected 1, 2, 4, 8 or 16, "
			    "got '3'");
	trace_free(t);
}

/* An option the page has no room for is refused before a worker starts. */
static void test_option_too_long(void **state)
{
	(void)state;
	static char value[5001];
	memset(value, '0', sizeof value - 1);
	struct trace *t = text_trace("long.trace", basic);
	struct replay_config cfg = config("first-fit");
	cfg.opt[0] = (struct backend_opt){"min_split", value};
	cfg.nopt = 1;
	static struct replay_result r;
	run(t, &cfg, 0, &r);
	assert_int_equal(r.status, JOB_ERROR);
	assert_string_equal(r.error, "cannot set up the worker: option min_split has a value of "
				     "5000 bytes, more than the 4095 a worker takes");
	trace_free(t);
}

/* ---- Metric arithmetic ------------------------------------------------------- */

/* first-fit's layout, by hand (btag.h): the backend's state (struct bt,
 * rounded to 16 bytes, then the tree index's state with its first nodes,
 * BT_TREE_EXT_BYTES, the two rounded to 16) sits at the bottom of the heap,
 * then an 8-byte pad, a 16-byte prologue and an 8-byte epilogue: EMPTY
 * bytes in all.  A heap with at most 31 free blocks maps no index node. */
#define ROUND16(n) (((n) + 15) & ~(size_t)15)
#define EMPTY      (ROUND16(ROUND16(sizeof(struct bt)) + BT_TREE_EXT_BYTES) + 32)

/* malloc(100) needs 100 + 8 (header) + 8 (footer) rounded up to 16 = 128
 * bytes: footprint EMPTY + 128, live 100. */
static void test_first_fit_one_block(void **state)
{
	(void)state;
	struct trace *t = text_trace("one.trace", "a 0 100\nf 0\n");
	struct replay_config cfg = config("first-fit");
	static struct replay_result r;
	run(t, &cfg, 0, &r);
	assert_int_equal(r.status, JOB_OK);
	assert_int_equal(r.peak_live_bytes, 100);
	assert_int_equal(r.peak_footprint_bytes, EMPTY + 128);
	assert_int_equal(r.footprint_at_peak_live, EMPTY + 128);
	assert_true(r.utilization == 100.0 / (EMPTY + 128));
	assert_true(r.frag_peak == (EMPTY + 128) / 100.0 - 1);
	/* usable = 128 - 16 = 112: internal 12, external (EMPTY + 128) - 112 */
	assert_int_equal(r.internal_frag_bytes, 12);
	assert_int_equal(r.external_frag_bytes, EMPTY + 128 - 112);
	assert_string_equal(r.footprint_source, "simulated-heap");
	trace_free(t);
}

/* a 0 100; a 1 100; f 0; a 2 50: the freed 128-byte block at the bottom is
 * reused by the 80-byte request (50 + 16 -> 80; the 48-byte rest is a whole
 * block and is split off).  Footprint: EMPTY + 128, then EMPTY + 256 from
 * op 1 on; live: 100, 200 (peak at op 1), 100, 150.
 * frag_mean = mean over the 4 ops of (footprint - live) / live. */
static void test_first_fit_reuse(void **state)
{
	(void)state;
	struct trace *t = text_trace("reuse.trace", "a 0 100\na 1 100\nf 0\na 2 50\n");
	struct replay_config cfg = config("first-fit");
	static struct replay_result r;
	run(t, &cfg, 0, &r);
	double one = EMPTY + 128, two = EMPTY + 256;
	assert_int_equal(r.status, JOB_OK);
	assert_int_equal(r.peak_live_bytes, 200);
	assert_int_equal(r.peak_live_op, 1);
	assert_int_equal(r.peak_footprint_bytes, EMPTY + 256);
	assert_true(r.utilization == 200.0 / two);
	double mean =
		((one - 100) / 100 + (two - 200) / 200 + (two - 100) / 100 + (two - 150) / 150) / 4;
	if (r.frag_mean < mean - 1e-12 || r.frag_mean > mean + 1e-12)
		fail_msg("frag_mean: expected %.15f, got %.15f", mean, r.frag_mean);
	assert_int_equal(r.npoints, 4);
	assert_int_equal(r.timeline[3].op, 3);
	assert_int_equal(r.timeline[3].live, 150);
	assert_int_equal(r.timeline[3].footprint, EMPTY + 256);
	/* each point covers its own window only: op 2 has live 100 */
	assert_int_equal(r.timeline[2].live, 100);
	trace_free(t);
}

/* a large block goes to its own mapping: 16 bytes of header in front, the
 * whole rounded to 4096: 200000 + 16 -> 200704 bytes, plus the empty heap. */
static void test_first_fit_mapped(void **state)
{
	(void)state;
	struct trace *t = text_trace("big.trace", "a 0 200000\nf 0\n");
	struct replay_config cfg = config("first-fit");
	static struct replay_result r;
	run(t, &cfg, 0, &r);
	assert_int_equal(r.status, JOB_OK);
	assert_int_equal(r.peak_footprint_bytes, 200704 + EMPTY);
	trace_free(t);
}

/* ---- Measurement arithmetic ---------------------------------------------------- */

/* The figures a result may not print, by hand: live 1000 at op 7. */
static void test_impossible_figures(void **state)
{
	(void)state;
	char why[256];
	struct replay_result r = {.peak_live_bytes = 1000,
				  .peak_live_op = 7,
				  .peak_footprint_bytes = 4096,
				  .footprint_at_peak_live = 4096,
				  .internal_frag_bytes = 96,
				  .have_usable = true};
	snprintf(r.footprint_source, sizeof r.footprint_source, "rss");
	assert_null(measure_impossible(&r, why, sizeof why));
	/* usable 1096 fits exactly */
	r.footprint_at_peak_live = 1096;
	assert_null(measure_impossible(&r, why, sizeof why));
	r.footprint_at_peak_live = 1095;
	assert_non_null(measure_impossible(&r, why, sizeof why));
	assert_string_equal(why,
			    "at the peak of live bytes (op 7) the footprint (1095 bytes, rss) is "
			    "below the usable bytes of the live blocks (1096)");
	/* without usable sizes the peak alone is checked */
	r.have_usable = false;
	assert_null(measure_impossible(&r, why, sizeof why));
	r.peak_footprint_bytes = 999;
	assert_non_null(measure_impossible(&r, why, sizeof why));
	assert_string_equal(why, "the peak footprint (999 bytes, rss) is below the peak of live "
				 "bytes (1000)");
	r.peak_footprint_bytes = 1000; /* utilization exactly 1 is possible */
	assert_null(measure_impossible(&r, why, sizeof why));
}

/* The resident snapshot counts, per page range, the pages resident when it
 * was taken: 8 fresh pages, 1, 2 and 5 touched; then 6 touched after. */
static void test_resident_snapshot(void **state)
{
	(void)state;
	size_t page = os_page_size();
	char *p = os_map(8 * page);
	assert_non_null(p);
	p[1 * page] = p[2 * page] = p[5 * page] = 1;
	struct resident_base rb;
	resident_snapshot(&rb);
	p[6 * page] = 1;
	uintptr_t a = (uintptr_t)p;
	assert_int_equal(resident_pages(&rb, a, a + 7 * page), 3);
	assert_int_equal(resident_pages(&rb, a + 2 * page, a + 5 * page), 2);
	assert_int_equal(resident_pages(&rb, a + 3 * page, a + 4 * page), 0);
	assert_int_equal(resident_pages(&rb, a + 5 * page, a + 7 * page), 1);
	assert_int_equal(resident_pages(&rb, a + 1 * page, a + 1 * page), 1);
	resident_release(&rb);
	os_unmap(p, 8 * page);
}

/* ---- Real backends on every test trace --------------------------------------- */

static void test_backends_pass_test_traces(void **state)
{
	(void)state;
	static const char *const paths[] = {
		"traces/examples/tiny.rep",
		"traces/synthetic/peak.trace",
		"traces/synthetic/plateau.trace",
		"traces/synthetic/ramp.trace",
		"traces/synthetic/random-uniform.trace",
		"traces/synthetic/random-exponential.trace",
		"tests/data/rep/cmu2016.rep",
		"tests/data/rep/csapp2002.rep",
		"tests/data/rep/quirk-realloc-null.rep",
		"tests/data/rep/quirk-realloc-zero.rep",
		"tests/data/rep/quirk-free-null.rep",
		"tests/data/text/kinds.trace",
		"tests/data/text/threads.trace",
	};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct diag d;
		diag_init(&d, paths[i], false);
		struct trace *t = trace_load_verified(paths[i], &d);
		assert_non_null(t);
		for (size_t b = 0; allocator_registry[b]; b++)
			for (int level = CHECK_OFF; level <= CHECK_FULL; level++) {
				const struct allocator *a = allocator_registry[b];
				struct replay_config cfg = config(a->name);
				cfg.heap_check_every = 1;
				cfg.check = (enum replay_check)level;
				static struct replay_result r;
				run(t, &cfg, 60, &r);
#ifdef HB_SANITIZED
				/* preloading cannot work under ASan: a clear error, not glibc */
				if (a->flags & ALLOC_F_PRELOAD) {
					assert_int_equal(r.status, JOB_ERROR);
					assert_non_null(strstr(r.error, "sanitizer build"));
					continue;
				}
#endif
				if (r.status != JOB_OK)
					fail_msg("%s on %s: %s at op %lld: %s",
						 allocator_registry[b]->name, paths[i],
						 replay_status_names[r.status],
						 (long long)r.error_op, r.error);
				/* the invariants, on every backend at every level: the
				 * simulated heap's exactly, a resident set's by
				 * construction (docs/metrics.md) */
				assert_true(r.peak_footprint_bytes >= r.peak_live_bytes);
				if (r.peak_live_bytes) {
					assert_true(r.have_utilization);
					assert_true(r.utilization > 0 && r.utilization <= 1);
					assert_true(r.frag_peak >= 0);
				}
				if (r.have_usable)
					assert_int_equal(r.peak_live_bytes + r.internal_frag_bytes +
								 r.external_frag_bytes,
							 r.footprint_at_peak_live);
				assert_true(r.mops > 0);
				/* the footprint at full speed: process-wide backends */
				assert_int_equal(r.have_timed_footprint,
						 (a->flags & ALLOC_F_PROCESS) != 0);
				if (r.have_timed_footprint)
					assert_true(r.timed_peak_footprint_bytes >=
						    r.peak_live_bytes);
			}
		trace_free(t);
	}
}

int main(int argc, char **argv)
{
	allocator_extra = broken;
	if (argc > 1 && !strcmp(argv[1], "__worker"))
		return job_worker_main(argc - 1, argv + 1);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/heapbench-test-replay.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_impossible_figures),
		cmocka_unit_test(test_resident_snapshot),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_contain),
		cmocka_unit_test(test_misaligned),
		cmocka_unit_test(test_scribble),
		cmocka_unit_test(test_fast_ends),
		cmocka_unit_test(test_lossy_realloc),
		cmocka_unit_test(test_dirty_calloc),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_segv),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_bad_check),
		cmocka_unit_test(test_exit_midway),
		cmocka_unit_test(test_corrupt_at_end),
		cmocka_unit_test(test_stale_realloc),
		cmocka_unit_test(test_null_for_zero),
		cmocka_unit_test(test_config_reaches_worker),
		cmocka_unit_test(test_option_too_long),
		cmocka_unit_test(test_first_fit_one_block),
		cmocka_unit_test(test_first_fit_reuse),
		cmocka_unit_test(test_first_fit_mapped),
		cmocka_unit_test(test_backends_pass_test_traces),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
