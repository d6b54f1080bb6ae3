/*
 * scratch.h - what the report and suite unit tests share: a scratch
 * directory for the files a test writes (removed at the end) and stderr
 * captured as a string, so a test compares whole messages.  Include after
 * cmocka.h.
 */
#ifndef HB_TEST_SCRATCH_H
#define HB_TEST_SCRATCH_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_dir[64];

static inline int scratch_setup(void **state)
{
	(void)state;
	snprintf(scratch_dir, sizeof scratch_dir, "/tmp/heapbench-unit.XXXXXX");
	return mkdtemp(scratch_dir) ? 0 : -1;
}

static inline int scratch_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static inline int scratch_teardown(void **state)
{
	(void)state;
	return nftw(scratch_dir, scratch_rm, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* scratch_dir/name, holding text; its path in buf (PATH_MAX bytes). */
static inline const char *scratch_file(char *buf, const char *name, const char *text)
{
	snprintf(buf, PATH_MAX, "%s/%s", scratch_dir, name);
	FILE *f = fopen(buf, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		fail_msg("%s: %s", buf, strerror(errno));
	return buf;
}

/* What a block of code reports: stdio's stderr (where hb_error writes)
 * swapped for a memory stream until capture_end. */
struct capture {
	FILE *saved, *mem;
	char *text;
	size_t len;
};

static inline void capture_begin(struct capture *c)
{
	fflush(stderr);
	c->text = NULL;
	c->mem = open_memstream(&c->text, &c->len);
	if (!c->mem)
		fail_msg("open_memstream: %s", strerror(errno));
	c->saved = stderr;
	stderr = c->mem;
}

/* The text reported since capture_begin (the caller frees it). */
static inline char *capture_end(struct capture *c)
{
	stderr = c->saved;
	fclose(c->mem);
	return c->text;
}

#endif
