/*
 * env.h - env.json: where and with what a run ran (DESIGN §6): CPU,
 * kernel, compiler, heapbench's version and commit, each backend's
 * version, the config as read.
 */
#ifndef HB_ENV_H
#define HB_ENV_H

#include <jansson.h>
#include <stddef.h>

#include "replay/backend_spec.h"

/* The environment object of a suite run from config_path (its text as
 * read), with its backends' versions as the config's check found them. */
json_t *env_json(const char *suite, const char *config_path, const char *config_text,
		 const struct backend_choice *backends, size_t nb);

#endif
