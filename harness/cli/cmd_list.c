/*
 * cmd_list.c - `heapbench list`: every backend, whether it can run here and
 * why not, and its version as the library itself reports it.
 *
 * Each process-wide backend is started in a worker with its library
 * preloaded (job_probe), exactly as a job would start it, so "available"
 * means a job would run, and the version is the one that would be measured.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonx.h"
#include "cli/cmd.h"
#include "replay/job.h"

static const char list_usage[] =
	"usage: heapbench list [--json]\n"
	"\n"
	"Every backend: its kind (built-in policy on the simulated heap, or a\n"
	"process-wide malloc, preloaded or not), whether it can run here (and why\n"
	"not), its version as the library reports it, and what it is.  Also\n"
	"usable: preload:PATH (any malloc replacement) and library:PATH (an\n"
	"allocator exporting heapbench's contract, see allocators/examples/).\n"
	"\n"
	"  --json   one JSON object per backend (JSON Lines)\n";

static const char *kind_of(const struct allocator *a)
{
	if (a->flags & ALLOC_F_SIMULATED)
		return "built-in";
	return a->flags & ALLOC_F_PRELOAD ? "preload" : "process";
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': fputs(list_usage, stdout); return HB_EXIT_OK;
		default: fputs(list_usage, stderr); return HB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		hb_error("list: unexpected argument '%s'", argv[optind]);
		return HB_EXIT_USAGE;
	}
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
		printf("%-12s %-9s %-10s %-*s  %s\n", "backend", "kind", "available", width,
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
			json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(o);
			continue;
		}
		printf("%-12s %-9s %-10s %-*s  %s\n", a->name, kind_of(a), ok[i] ? "yes" : "no",
		       width, ok[i] ? info[i] : "-", a->description);
		if (!ok[i])
			printf("%-12s why not: %s\n", "", info[i]);
	}
	free(info);
	free(ok);
	return HB_EXIT_OK;
}
