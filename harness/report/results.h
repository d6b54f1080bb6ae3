/*
 * results.h - a job's result as the JSON object of DESIGN §6 (the fields
 * of results.jsonl and `replay --json`) and as a row of the readable table.
 */
#ifndef HB_RESULTS_H
#define HB_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "replay/replay.h"

struct job_id {
	const char *trace; /* short name */
	const char *trace_path;
	const char *backend; /* name as the user gave it */
	const struct replay_config *cfg;
};

json_t *result_json(const struct job_id *id, const struct replay_result *r);

/* The readable table: header, one row per job, and the errors below. */
void result_table_header(FILE *f);
void result_table_row(FILE *f, const struct job_id *id, const struct replay_result *r);
/* "trace x backend: status at op N (line L): message", for failed jobs. */
void result_print_error(FILE *f, const struct job_id *id, const struct replay_result *r);

/* A job object's string field, or "" (also for a NULL object). */
const char *result_str(const json_t *o, const char *key);
/* A job object's numeric field into *v; false when it has none. */
bool result_num(const json_t *o, const char *key, double *v);

/* Every job object of a results.jsonl, in order (an empty array if the
 * file does not exist); NULL after reporting a line that is not one. */
json_t *results_read(const char *path);

#endif
