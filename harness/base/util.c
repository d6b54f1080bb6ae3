/*
 * util.c - checked allocation, error reporting, byte buffers, mkdir -p.
 */
#include "base/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

void hb_oom(void)
{
	fputs("heapbench: out of memory\n", stderr);
	exit(HB_EXIT_FAIL);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		hb_oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		hb_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		hb_oom();
	return p;
}

void xgrow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			hb_oom();
		ncap *= 2;
	}
	*p = xrealloc(*p, ncap * elem);
	*cap = ncap;
}

void *xmap(size_t n)
{
	void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		hb_oom();
	return p;
}

void *xremap(void *p, size_t old, size_t n)
{
	p = mremap(p, old ? old : 1, n ? n : 1, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		hb_oom();
	return p;
}

void xunmap(void *p, size_t n)
{
	if (p)
		munmap(p, n ? n : 1);
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

void hb_verror(const char *fmt, va_list ap)
{
	/* Build the line first so that it reaches stderr in one write. */
	char line[2048];
	int n = snprintf(line, sizeof line, "heapbench: ");
	vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	size_t len = strlen(line);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}

void hb_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hb_verror(fmt, ap);
	va_end(ap);
}

void buf_append(struct buf *b, const void *data, size_t n)
{
	xgrow((void **)&b->data, &b->cap, b->len + n + 1, 1);
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	xgrow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* "512MiB" -> bytes; -1 if malformed. */
int parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {{"", 1},
		     {"B", 1},
		     {"KiB", 1ull << 10},
		     {"MiB", 1ull << 20},
		     {"GiB", 1ull << 30},
		     {"TiB", 1ull << 40},
		     {"K", 1ull << 10},
		     {"M", 1ull << 20},
		     {"G", 1ull << 30}};
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	for (size_t i = 0; i < HB_ARRAY_LEN(units); i++)
		if (!strcmp(end, units[i].suffix)) {
			if (v > UINT64_MAX / units[i].mult)
				return -1;
			*out = v * units[i].mult;
			return 0;
		}
	return -1;
}

size_t file_name_part(char *out, size_t len, const char *s, size_t n)
{
	size_t k = 0;
	for (; k < n && s[k] && k + 1 < len; k++) {
		char c = s[k];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		out[k] = safe ? c : '_';
	}
	out[k] = '\0';
	return k;
}

int mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

char *read_whole_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		buf_free(&b);
		errno = EIO;
		return NULL;
	}
	buf_append(&b, "", 1);
	*len = b.len - 1;
	return b.data;
}

uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * UINT64_C(0x100000001b3);
	return h;
}
