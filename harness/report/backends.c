/*
 * backends.c - the list of backends (backends.h).
 *
 * Each process-wide backend is started in a worker with its library
 * preloaded (job_probe), exactly as a job would start it, so "available"
 * means a job would run, and the version is the one that would be measured.
 */
#include "report/backends.h"

#include <stdlib.h>
#include <string.h>

#include "base/jsonx.h"
#include "replay/job.h"

static const char *kind_of(const struct allocator *a)
{
	if (a->flags & ALLOC_F_SIMULATED)
		return "built-in";
	return a->flags & ALLOC_F_PRELOAD ? "preload" : "process";
}

void backends_print(FILE *out, bool json)
{
	size_t n = 0;
	while (allocator_registry[n])
		n++;
	char(*info)[512] = xcalloc(n, sizeof *info);
	bool *ok = xcalloc(n, sizeof *ok);
	int width = (int)strlen("version");
	for (size_t i = 0; i < n; i++) {
		const struct allocator *a = allocator_registry[i];
		ok[i] = true;
		if (a->flags & ALLOC_F_SIMULATED) {
			snprintf(info[i], sizeof info[i], "heapbench %s", HB_VERSION);
		} else {
			struct replay_config cfg = {.backend = a};
			ok[i] = job_probe(&cfg, info[i], sizeof info[i]) == 0;
		}
		if (ok[i] && (int)strlen(info[i]) > width)
			width = (int)strlen(info[i]);
	}
	if (!json)
		fprintf(out, "%-12s %-9s %-10s %-*s  %s\n", "backend", "kind", "available", width,
			"version", "description");
	for (size_t i = 0; i < n; i++) {
		const struct allocator *a = allocator_registry[i];
		if (json) {
			struct backend_opts none = {NULL, 0};
			const char *lib = allocator_preload(a, &none);
			json_t *o = json_object();
			json_object_set_new(o, "backend", jx_str(a->name));
			json_object_set_new(o, "kind", jx_str(kind_of(a)));
			json_object_set_new(o, "available", json_boolean(ok[i]));
			json_object_set_new(o, "version", ok[i] ? jx_str(info[i]) : json_null());
			json_object_set_new(o, "reason", ok[i] ? json_null() : jx_str(info[i]));
			json_object_set_new(o, "library", lib ? jx_str(lib) : json_null());
			json_object_set_new(o, "description", jx_str(a->description));
			json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
			fputc('\n', out);
			json_decref(o);
			continue;
		}
		fprintf(out, "%-12s %-9s %-10s %-*s  %s\n", a->name, kind_of(a),
			ok[i] ? "yes" : "no", width, ok[i] ? info[i] : "-", a->description);
		if (!ok[i])
			fprintf(out, "%-12s why not: %s\n", "", info[i]);
	}
	free(info);
	free(ok);
}
