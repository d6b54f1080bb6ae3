/*
 * test_backend_choice.c - a backend as a user names it (backend_spec.c):
 * names with options, every way a choice is refused and the exact words it
 * is refused with, preload:PATH and library:PATH, and a job's config made
 * from a choice.
 *
 * library:PATH is checked in a worker that re-executes this very program
 * (`test_backend_choice __worker ...`), as heapbench's would.
 */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocator.h"
#include "replay/backend_spec.h"
#include "replay/job.h"

static char err[1024];

/* The error backend_parse gives for spec (which must fail). */
static const char *refusal(const char *spec)
{
	struct backend_choice b;
	err[0] = '\0';
	int rc = backend_parse(spec, &b, err, sizeof err);
	backend_choice_free(&b);
	if (rc == 0)
		fail_msg("%s: accepted", spec);
	return err;
}

/* A file next to this program's build: BUILD/tests/test_backend_choice ->
 * BUILD/<rel>. */
static void build_file(const char *rel, char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0'; /* BUILD/tests */
	*strrchr(exe, '/') = '\0'; /* BUILD */
	assert_true((size_t)snprintf(out, len, "%.3000s/%s", exe, rel) < len);
}

static void test_name_with_options(void **state)
{
	(void)state;
	struct backend_choice b;
	int rc = backend_parse("first-fit:order=lifo,min_split=64", &b, err, sizeof err);
	if (rc < 0)
		fail_msg("%s", err);
	assert_ptr_equal(b.a, allocator_find("first-fit"));
	assert_string_equal(b.spec, "first-fit:order=lifo,min_split=64");
	assert_int_equal(b.nopt, 2);
	assert_string_equal(b.opt[0].key, "order");
	assert_string_equal(b.opt[0].value, "lifo");
	assert_string_equal(b.opt[1].key, "min_split");
	assert_string_equal(b.opt[1].value, "64");
	assert_string_equal(b.version, "heapbench " HB_VERSION);
	backend_choice_free(&b);

	rc = backend_parse("buddy", &b, err, sizeof err);
	assert_int_equal(rc, 0);
	assert_int_equal(b.nopt, 0);
	backend_choice_free(&b);
}

static void test_unknown_backend(void **state)
{
	(void)state;
	char names[512], want[1024];
	allocator_names(names, sizeof names);
	/* the known ones are the registry's, then the two path forms */
	assert_non_null(strstr(names, "first-fit"));
	assert_non_null(strstr(names, "system"));
	assert_null(strstr(names, "preload"));
	snprintf(want, sizeof want,
		 "unknown backend 'nope' (known: %s, preload:PATH, library:PATH, mm:PATH)", names);
	assert_string_equal(refusal("nope"), want);
	/* the name is what stands before the options */
	snprintf(want, sizeof want,
		 "unknown backend 'nope' (known: %s, preload:PATH, library:PATH, mm:PATH)", names);
	assert_string_equal(refusal("nope:order=lifo"), want);
	/* the path forms without their path */
	assert_string_equal(refusal("preload"), "backend preload: write preload:PATH");
	assert_string_equal(refusal("library"), "backend library: write library:PATH");
}

static void test_unknown_option(void **state)
{
	(void)state;
	assert_string_equal(refusal("first-fit:bogus=1"),
			    "backend first-fit has no option 'bogus' (known: order mmap_threshold "
			    "min_split)");
}

static void test_bad_value(void **state)
{
	(void)state;
	assert_string_equal(
		refusal("first-fit:order=sideways"),
		"backend first-fit: order: expected address, lifo or fifo, got 'sideways'");
	assert_string_equal(refusal("segregated:spacing=3"),
			    "backend segregated: spacing: expected 1, 2, 4, 8 or 16, got '3'");
	assert_string_equal(refusal("buddy:min_order=99"),
			    "backend buddy: min_order: 99 is outside [5, 30] (a free block holds a "
			    "16-byte header and two links)");
}

static void test_not_key_value(void **state)
{
	(void)state;
	assert_string_equal(refusal("first-fit:order"),
			    "backend first-fit: options are key=value, separated by commas, not "
			    "'order'");
	assert_string_equal(refusal("first-fit:=lifo"),
			    "backend first-fit: options are key=value, separated by commas, not "
			    "'=lifo'");
}

static void test_too_many_options(void **state)
{
	(void)state;
	char spec[512] = "first-fit:";
	for (int i = 0; i < REPLAY_MAX_OPTS + 1; i++)
		snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%sk%d=%d", i ? "," : "",
			 i, i);
	/* the 17th is refused as it is read, before any name is checked */
	assert_string_equal(refusal(spec),
			    "backend first-fit: options are key=value, separated by commas, not "
			    "'k16=16'");
	/* 16 are read, then the first unknown name is refused */
	*strrchr(spec, ',') = '\0';
	assert_string_equal(refusal(spec), "backend first-fit has no option 'k0' (known: order "
					   "mmap_threshold min_split)");
	/* given one by one (a config's mapping form) */
	struct backend_opt opt[REPLAY_MAX_OPTS + 1];
	for (int i = 0; i < REPLAY_MAX_OPTS + 1; i++)
		opt[i] = (struct backend_opt){"order", "lifo"};
	struct backend_choice b;
	assert_int_equal(backend_with_options("ff", "first-fit", opt, REPLAY_MAX_OPTS + 1, &b, err,
					      sizeof err),
			 -1);
	assert_string_equal(err, "backend ff: at most 16 options");
	backend_choice_free(&b);
}

static void test_value_too_long(void **state)
{
	(void)state;
	/* a valid number, padded: no buffer a worker takes holds it */
	char spec[8192] = "first-fit:min_split=";
	size_t n = strlen(spec);
	memset(spec + n, '0', 5000);
	strcpy(spec + n + 5000, "64");
	assert_string_equal(refusal(spec), "backend first-fit: option min_split has a value of "
					   "5002 bytes, more than the 4095 a worker takes");
	/* the longest a worker takes is fine */
	spec[n + 4095 - 2] = '\0';
	strcat(spec, "64");
	struct backend_choice b;
	if (backend_parse(spec, &b, err, sizeof err) < 0)
		fail_msg("%s", err);
	backend_choice_free(&b);
}

static void test_preload(void **state)
{
	(void)state;
	assert_string_equal(refusal("preload:/no/such/lib.so"),
			    "backend preload:/no/such/lib.so: /no/such/lib.so: No such file or "
			    "directory");
	assert_string_equal(refusal("preload:"),
			    "backend preload:: needs a path, as in preload:/path/to/lib.so");
}

static void test_library(void **state)
{
	(void)state;
	char path[PATH_MAX], spec[PATH_MAX + 16], abs[PATH_MAX], cwd[PATH_MAX];
	build_file("examples/mm.so", path, sizeof path);
	assert_non_null(realpath(path, abs));
	/* named relative to the current directory when it is below it */
	assert_non_null(getcwd(cwd, sizeof cwd));
	size_t n = strlen(cwd);
	const char *rel = !strncmp(abs, cwd, n) && abs[n] == '/' ? abs + n + 1 : abs;
	snprintf(spec, sizeof spec, "library:%s", rel);
	struct backend_choice b;
	int rc = backend_parse(spec, &b, err, sizeof err);
	/* the path, made absolute, is the option the worker loads it from */
	assert_ptr_equal(b.a, &library_allocator);
	assert_string_equal(b.spec, spec);
	assert_int_equal(b.nopt, 1);
	assert_string_equal(b.opt[0].key, "path");
	assert_string_equal(b.opt[0].value, abs);
	/* the worker here is this program, linked with allocators/exports.list
	 * as heapbench is, so the library's heap_* calls resolve */
	if (rc < 0)
		fail_msg("expected library:%s to load, got: %s", rel, err);
	assert_true(b.version[0] != '\0');
	backend_choice_free(&b);

	assert_string_equal(refusal("library:/no/such/mm.so"),
			    "backend library:/no/such/mm.so: /no/such/mm.so: No such file or "
			    "directory");
	assert_string_equal(refusal("library:"),
			    "backend library:: needs a path, as in library:/path/to/lib.so");
	/* a shared object that is no heapbench allocator, said by the worker:
	 * not bad usage but the fault of its jobs, which fail with it */
	char want[2 * PATH_MAX + 128];
	build_file("tests/libcount.so", path, sizeof path);
	assert_non_null(realpath(path, abs));
	snprintf(spec, sizeof spec, "library:%s", abs);
	snprintf(want, sizeof want,
		 "%s does not export heapbench_allocator (see allocators/examples/)", abs);
	assert_int_equal(backend_parse(spec, &b, err, sizeof err), 0);
	assert_non_null(b.fault);
	assert_string_equal(b.fault, want);
	backend_choice_free(&b);
}

static void test_with_options(void **state)
{
	(void)state;
	char key[] = "order", value[] = "fifo";
	struct backend_opt opt[] = {{key, value}};
	struct backend_choice b;
	if (backend_with_options("ff-fifo", "first-fit", opt, 1, &b, err, sizeof err) < 0)
		fail_msg("%s", err);
	/* the strings are copied */
	key[0] = value[0] = 'X';
	assert_string_equal(b.spec, "ff-fifo");
	assert_ptr_equal(b.a, allocator_find("first-fit"));
	assert_int_equal(b.nopt, 1);
	assert_string_equal(b.opt[0].key, "order");
	assert_string_equal(b.opt[0].value, "fifo");
	backend_choice_free(&b);

	assert_int_equal(backend_with_options("x", "nope", opt, 0, &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown backend 'nope' (known: first-fit"));
	backend_choice_free(&b);
}

static void test_choice_config(void **state)
{
	(void)state;
	struct backend_choice b;
	assert_int_equal(backend_parse("first-fit:order=lifo,min_split=64", &b, err, sizeof err),
			 0);
	struct replay_config base;
	replay_config_init(&base);
	base.repeat = 3;
	base.check = CHECK_FAST;
	base.latency = true;
	base.heap_limit = 1 << 20;
	base.alignment = 8;
	base.sample_every = 7;
	base.heap_check_every = 11;
	/* the base's own backend and options are replaced */
	base.backend = allocator_find("buddy");
	base.opt[0] = (struct backend_opt){"min_order", "6"};
	base.nopt = 1;
	struct replay_config cfg = backend_choice_config(&b, &base);
	assert_ptr_equal(cfg.backend, b.a);
	assert_int_equal(cfg.nopt, 2);
	assert_ptr_equal(cfg.opt[0].key, b.opt[0].key);
	assert_ptr_equal(cfg.opt[1].value, b.opt[1].value);
	assert_null(cfg.opt[2].key);
	/* every knob is the base's */
	assert_int_equal(cfg.repeat, 3);
	assert_int_equal(cfg.check, CHECK_FAST);
	assert_true(cfg.latency);
	assert_int_equal(cfg.heap_limit, 1 << 20);
	assert_int_equal(cfg.alignment, 8);
	assert_int_equal(cfg.sample_every, 7);
	assert_int_equal(cfg.heap_check_every, 11);
	/* and the base is left alone */
	assert_ptr_equal(base.backend, allocator_find("buddy"));
	assert_int_equal(base.nopt, 1);
	backend_choice_free(&b);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "__worker"))
		return job_worker_main(argc - 1, argv + 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_with_options), cmocka_unit_test(test_unknown_backend),
		cmocka_unit_test(test_unknown_option),    cmocka_unit_test(test_bad_value),
		cmocka_unit_test(test_not_key_value),     cmocka_unit_test(test_too_many_options),
		cmocka_unit_test(test_value_too_long),    cmocka_unit_test(test_preload),
		cmocka_unit_test(test_library),           cmocka_unit_test(test_with_options),
		cmocka_unit_test(test_choice_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
