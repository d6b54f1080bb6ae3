/*
 * cmd_list.c - `heapbench list`: every backend, whether it can run here and
 * why not, and its version as the library itself reports it.
 * The work is report/backends.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cmd.h"
#include "report/backends.h"

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
		default: return cmd_option_error("list", argv, optind);
		}
	}
	if (optind < argc) {
		hb_error("list: unexpected argument '%s'", argv[optind]);
		return HB_EXIT_USAGE;
	}
	backends_print(stdout, json);
	return HB_EXIT_OK;
}
