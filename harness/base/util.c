/*
 * util.c - checked allocation, error reporting, byte buffers, mkdir -p.
 */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Bytes of text for one line: a control byte as \n, \t or \xHH, the rest
 * as it is; into out (cap bytes, at least 5), NUL-terminated.  How many of
 * in's n bytes fitted. */
static size_t escape_into(char *out, size_t cap, const char *in, size_t n)
{
	size_t o = 0, i = 0;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		char e[5] = {(char)c, 0};
		if (c == '\n' || c == '\t')
			snprintf(e, sizeof e, "\\%c", c == '\n' ? 'n' : 't');
		else if (c < 0x20 || c == 0x7f)
			snprintf(e, sizeof e, "\\x%02x", c);
		size_t k = strlen(e);
		if (o + k + 1 > cap)
			break;
		memcpy(out + o, e, k);
		o += k;
	}
	out[o] = '\0';
	return i;
}

const char *hb_quote(const char *s)
{
	static char ring[4][256];
	static unsigned next;
	char *out = ring[next++ % 4];
	size_t n = strlen(s), shown = n < 160 ? n : 160;
	size_t fit = escape_into(out, 200, s, shown);
	if (fit < n)
		snprintf(out + strlen(out), 256 - strlen(out), "... (%zu bytes)", n);
	return out;
}

void hb_verror(const char *fmt, va_list ap)
{
	/* Build the line first so that it reaches stderr in one write: one
	 * line, whatever bytes a file name or a value brought */
	char msg[2048], line[4096];
	vsnprintf(msg, sizeof msg, fmt, ap);
	int n = snprintf(line, sizeof line, "heapbench: ");
	size_t len = strlen(msg);
	size_t fit = escape_into(line + n, sizeof line - (size_t)n - 5, msg, len);
	size_t end = strlen(line);
	if (fit < len || len == sizeof msg - 1)
		end += (size_t)snprintf(line + end, sizeof line - end, "...");
	line[end++] = '\n';
	fwrite(line, 1, end, stderr);
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
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno) /* more than 64 bits: no size, never "no limit" */
		return -1;
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

uint64_t memory_available(void)
{
	uint64_t avail = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kib;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			avail = (uint64_t)kib * 1024;
	if (f)
		fclose(f);
	if (!avail)
		avail = (uint64_t)sysconf(_SC_AVPHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	return avail;
}

/* The budget, worked out once, and whether the environment gave it. */
static uint64_t budget_of(bool *given)
{
	static uint64_t budget;
	static bool from_env;
	if (!budget) {
		const char *env = getenv("HEAPBENCH_MEMORY_LIMIT");
		from_env = env && parse_size(env, &budget) == 0 && budget;
		if (!from_env)
			budget = memory_available() / 2;
	}
	if (given)
		*given = from_env;
	return budget;
}

uint64_t memory_budget(void)
{
	return budget_of(NULL);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
size_t utf8_seq(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || p[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong, surrogate and out-of-range forms */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return n;
}

void buf_append_utf8(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_seq(p);
		buf_append(b, n ? (const char *)p : "\xef\xbf\xbd", n ? n : 3);
		p += n ? n : 1;
	}
}

bool utf8_valid(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_seq(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

const char *memory_budget_said(void)
{
	static char said[96];
	bool given;
	uint64_t b = budget_of(&given);
	snprintf(said, sizeof said, "%" PRIu64 " %s (%s)", b >= (1u << 20) ? b >> 20 : b >> 10,
		 b >= (1u << 20) ? "MiB" : "KiB",
		 given ? "$HEAPBENCH_MEMORY_LIMIT" : "half the memory available");
	return said;
}

const char *hb_strerror(int err)
{
	if (err == HB_ENOTREG)
		return "not a regular file (a FIFO, a socket or a device)";
	return strerror(err);
}

int open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return -1;
	int err = fstat(fd, &st) < 0     ? errno
		  : S_ISDIR(st.st_mode)  ? EISDIR
		  : !S_ISREG(st.st_mode) ? HB_ENOTREG
					 : 0;
	if (!err && fcntl(fd, F_SETFL, 0) < 0)
		err = errno;
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

char *read_whole_file(const char *path, size_t *len)
{
	int fd = open_regular(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
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
