/*
 * summary.h - a run's tables, made from its job objects (results.jsonl
 * read back, so they never disagree with it): summary.md (also printed)
 * and results.csv (the CSV columns of fields.h).
 */
#ifndef HB_SUMMARY_H
#define HB_SUMMARY_H

#include <jansson.h>
#include <stdio.h>

#include "base/util.h"

/* summary.md's text: a row per job, a row per backend (in the order of
 * backends, those with jobs), then the failed jobs. */
void summary_text(struct buf *b, const char *suite, const char *const *backends, size_t nb,
		  const json_t *all);

/* results.csv: the header, then a row per job. */
void summary_csv(FILE *f, const json_t *all);

/* summary.md to stdout and dir/summary.md, results.csv to dir/results.csv;
 * 0, or -1 after reporting a file that could not be written. */
int summary_write(const char *dir, const char *suite, const char *const *backends, size_t nb,
		  const json_t *all);

#endif
