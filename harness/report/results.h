/*
 * results.h - a job's result as the JSON object of DESIGN §6 (the fields
 * of results.jsonl and `replay --json`, listed in fields.h) and as a row
 * of the readable table; results.jsonl read back.
 */
#ifndef HB_RESULTS_H
#define HB_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "replay/batch.h"
#include "replay/replay.h"
#include "report/fields.h"

struct job_id {
	const char *trace; /* short name */
	const char *trace_path;
	const char *backend; /* name as the user gave it */
	const struct replay_config *cfg;
};

/* The job object: the fields of RES_FIELDS that apply, in that order. */
json_t *result_json(const struct job_id *id, const struct replay_result *r);

/* The readable table: header, one row per job, and the errors below. */
void result_table_header(FILE *f);
void result_table_row(FILE *f, const struct job_id *id, const struct replay_result *r);
/* "trace x backend: status at op N (line L): message", for failed jobs. */
void result_print_error(FILE *f, const struct job_id *id, const struct replay_result *r);
/* The sink of `heapbench replay` (batch.h), printing to stdout: the table,
 * then the failed jobs below it; or, when *json, JSON Lines. */
struct replay_sink result_stdout_sink(bool *json);

/* Every job object of a results.jsonl, in order, blank lines skipped (an
 * empty array if the file does not exist); NULL after reporting the first
 * line that is not one ("FILE:LINE: not a job result: why"). */
json_t *results_read(const char *path);
/* Appends a job object as one line to the open results.jsonl fd and
 * syncs it to the disk; 0, or -1 after reporting (path names fd). */
int results_append(int fd, const char *path, const json_t *o);

#endif
