/*
 * cache.c - the parsed-trace cache (cache.h).
 *
 * The key is FNV-1a over the source file's bytes and its size: reading the
 * file once costs far less than parsing it, and a file edited in place gets
 * a new entry rather than a stale one.  Entries are written whole by
 * trace_write (out.h), so a reader never maps half a file.
 */
#include "trace/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/hbt.h"

/* Part of the key: bumped whenever a reader turns the same bytes into a
 * different trace (2: the importers of other recorders' logs), so that an
 * entry written by an older heapbench is not taken for the new reading. */
#define READERS_VERSION 2

static bool cache_dir(char *out, size_t len)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n = x && *x         ? snprintf(out, len, "%s/heapbench", x)
		: home && *home ? snprintf(out, len, "%s/.cache/heapbench", home)
				: -1;
	return n > 0 && (size_t)n < len && mkdirs(out) == 0;
}

/* FNV-1a over the file's bytes, and its size: the cache key. */
static bool content_key(const char *path, char *out, size_t len)
{
	int fd = open_regular(path);
	if (fd < 0)
		return false;
	uint64_t h = FNV1A_BASIS, size = 0;
	static unsigned char chunk[1 << 16];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) > 0) {
		h = fnv1a(h, chunk, (size_t)n);
		size += (uint64_t)n;
	}
	close(fd);
	snprintf(out, len, "%016llx-%llu-r%d", (unsigned long long)h, (unsigned long long)size,
		 READERS_VERSION);
	return n == 0;
}

struct trace *trace_cache_load(const char *path, bool *cached)
{
	*cached = false;
	char magic[HBT_MAGIC_LEN] = {0}, dir[4096], key[64], file[4200];
	int fd = open_regular(path);
	bool plain = fd >= 0 && read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
		     !memcmp(magic, HBT_MAGIC, HBT_MAGIC_LEN);
	if (fd >= 0)
		close(fd);
	if (plain || !cache_dir(dir, sizeof dir) || !content_key(path, key, sizeof key))
		return trace_load_file(path, false); /* a plain .hbt is mapped, not parsed */
	snprintf(file, sizeof file, "%s/%s.hbt", dir, key);
	struct trace *t = access(file, R_OK) == 0 ? trace_load_file(file, true) : NULL;
	if (t) {
		*cached = true;
		return t;
	}
	if ((t = trace_load_file(path, false)))
		trace_write(t, file); /* by its name: a plain .hbt */
	return t;
}

uint64_t trace_cache_line(const char *path, uint64_t i)
{
	struct trace *src = trace_load_file(path, true);
	uint64_t line = src ? trace_line(src, i) : 0;
	trace_free(src);
	return line;
}
