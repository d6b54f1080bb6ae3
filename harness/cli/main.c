/*
 * main.c - the heapbench command line: --help, --version, and the dispatch
 * to the command named by argv[1].
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cli/cmd.h"
#include "replay/job.h"

static const char usage[] =
	"usage: heapbench COMMAND [ARGS...]\n"
	"\n"
	"heapbench replays allocation traces against allocators and reports\n"
	"throughput, latency, utilization and fragmentation.\n"
	"\n"
	"commands:\n"
	"  trace stats [--json] TRACE...     what a trace asks of an allocator\n"
	"  trace convert IN OUT              between .trace, .hbt and .rep (+ .zst/.gz)\n"
	"  trace lint TRACE...               every problem, with op number and line\n"
	"  trace gen --pattern P --ops N [--seed S] -o OUT\n"
	"                                    deterministic synthetic traces\n"
	"  run CONFIG.yaml [-o DIR] [--resume] [--shard I/N] [--dry-run]\n"
	"                                    a suite from a YAML config\n"
	"  replay [-a NAME]... TRACE...      replay traces against backends\n"
	"  record -o OUT [--] COMMAND...     record a program's allocations\n"
	"  compare BASELINE NEW [--max-drop METRIC=F] [--junit F] [--markdown F]\n"
	"                                    the regression gate\n"
	"  plot RESULTS [-o DIR]             gnuplot charts of a run\n"
	"  list [--json]                     backends, availability, versions\n"
	"\n"
	"`heapbench COMMAND --help` tells more.  Exit status: 0 ok, 1 a job failed or\n"
	"a problem was found, 2 bad usage or bad input.\n";

/* Every command: its name and the function that parses its arguments. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{"trace", cmd_trace},
	{"replay", cmd_replay},
	{"compare", cmd_compare},
	{"plot", cmd_plot},
	{"run", cmd_run},
	{"record", cmd_record},
	{"list", cmd_list},
	{"__worker", job_worker_main}, /* internal: one job (replay/job.h) */
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return HB_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return HB_EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("heapbench %s (git %s)\n", HB_VERSION, HB_GIT);
		return HB_EXIT_OK;
	}
	/* a refused option is the command's one line (cmd_option_error) */
	opterr = 0;
	for (size_t i = 0; i < HB_ARRAY_LEN(commands); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	hb_error("unknown command '%s' (see heapbench --help)", hb_quote(cmd));
	return HB_EXIT_USAGE;
}
