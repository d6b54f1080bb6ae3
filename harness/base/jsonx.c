/*
 * jsonx.c - see jsonx.h.
 */
#include "base/jsonx.h"

#include <string.h>

#include "base/util.h"

json_t *jx_str(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	struct buf b = {0};
	buf_append_utf8(&b, s);
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
