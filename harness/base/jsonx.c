/*
 * jsonx.c - see jsonx.h.
 */
#include "base/jsonx.h"

#include <string.h>

#include "base/util.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_seq(const unsigned char *p)
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

json_t *jx_str(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	struct buf b = {0};
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = utf8_seq(p);
		if (n) {
			buf_append(&b, p, n);
			p += n;
		} else {
			buf_append(&b, "\xef\xbf\xbd", 3);
			p++;
		}
	}
	j = json_string(b.data ? b.data : "");
	buf_free(&b);
	return j;
}

json_t *jx_u64(uint64_t v)
{
	return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

json_t *jx_num(double v)
{
	return v == v && v < 1e308 && v > -1e308 ? json_real(v) : json_null();
}
