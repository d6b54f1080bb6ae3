/*
 * lab.h - the malloc-lab report of a run under --lab (lab.c).
 */
#ifndef HB_REPORT_LAB_H
#define HB_REPORT_LAB_H

#include <jansson.h>
#include <stdio.h>

#include "replay/replay.h"

/* Keeps one job's figures, when its config has a lab (in run order). */
void lab_report_add(const char *trace_path, const char *backend, const struct replay_config *cfg,
		    const struct replay_result *r);
/* The same from a job object of a results file (one with a `lab`). */
void lab_report_add_json(const json_t *o);
/* Prints each backend's mdriver table, totals and index, and forgets
 * them. */
void lab_report_print(FILE *f);

#endif
