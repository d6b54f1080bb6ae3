/*
 * hb_assert.h - invariants the code relies on, checked (in the spirit of
 * TLSF's tlsf_assert and mimalloc's mi_assert_internal).
 *
 *   HB_ASSERT(c)       always on, in every build: for O(1) facts whose
 *                      failure would corrupt a heap or a result silently
 *                      (a block's header, an index in range, a count).
 *   HB_ASSERT_SLOW(c)  only when HB_DEBUG >= 1 (the sanitizer build): for
 *                      walks that cost O(n) (a whole tree, a whole list).
 *
 * A failed assertion is a bug in heapbench itself, not in the program or
 * the backend under test: it prints one line,
 * `heapbench: internal error: FILE:LINE: CONDITION`, and aborts.  Inside a
 * worker the parent then reports the job as a crash with that line.  The
 * report neither allocates nor uses stdio, so it is safe in any pass.
 */
#ifndef HB_ASSERT_H
#define HB_ASSERT_H

#ifndef HB_DEBUG
#define HB_DEBUG 0
#endif

__attribute__((noreturn, cold)) void hb_assert_fail(const char *file, int line, const char *cond);

#define HB_ASSERT(c) ((c) ? (void)0 : hb_assert_fail(__FILE__, __LINE__, #c))
#if HB_DEBUG >= 1
#define HB_ASSERT_SLOW(c) HB_ASSERT(c)
#else
#define HB_ASSERT_SLOW(c) ((void)0)
#endif

#endif
