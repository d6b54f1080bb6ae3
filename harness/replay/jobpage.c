/*
 * jobpage.c - replay_config's knobs across the page (jobpage.h).
 */
#include "replay/jobpage.h"

#include <string.h>

_Static_assert(JOB_VALUE_MAX == PATH_MAX, "an option's value holds a path");

void job_knobs_put(struct job_knobs *k, const struct replay_config *cfg)
{
	*k = (struct job_knobs){
		.heap_check_every = cfg->heap_check_every,
		.heap_limit = cfg->heap_limit,
		.sample_every = cfg->sample_every,
		.pace = cfg->pace,
		.check = cfg->check,
		.repeat = cfg->repeat,
		.alignment = cfg->alignment,
		.threads = cfg->threads,
		.copies = cfg->copies,
		.lab = cfg->lab,
		.latency = cfg->latency,
		.align_strict = cfg->align_strict,
	};
}

void job_knobs_get(const struct job_knobs *k, struct replay_config *cfg)
{
	replay_config_init(cfg);
	cfg->heap_check_every = k->heap_check_every;
	cfg->heap_limit = k->heap_limit;
	cfg->sample_every = k->sample_every;
	cfg->pace = k->pace;
	cfg->check = (enum replay_check)k->check;
	cfg->repeat = k->repeat;
	cfg->alignment = k->alignment;
	cfg->threads = (enum replay_threads)k->threads;
	cfg->copies = k->copies;
	cfg->lab = k->lab;
	cfg->latency = k->latency;
	cfg->align_strict = k->align_strict;
}

/* A knob added to replay_config changes its size: it must cross the page
 * too (struct job_knobs), or the worker would run with its default. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct replay_config) == 344,
	       "replay_config changed: carry the new knob in struct job_knobs");
