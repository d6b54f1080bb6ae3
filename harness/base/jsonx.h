/*
 * jsonx.h - jansson values that never silently vanish: jansson returns NULL
 * for strings that are not UTF-8 and has no unsigned integers, and
 * json_object_set_new drops a NULL value without a word.
 */
#ifndef HB_JSONX_H
#define HB_JSONX_H

#include <jansson.h>
#include <stdint.h>

/* A string; bytes that are not valid UTF-8 become U+FFFD. */
json_t *jx_str(const char *s);
/* An integer, or a real above INT64_MAX. */
json_t *jx_u64(uint64_t v);
/* A real, or null for NaN and infinities (JSON has neither). */
json_t *jx_num(double v);

#endif
