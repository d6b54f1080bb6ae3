/*
 * cmd_run.c - `heapbench run CONFIG [-o DIR] [--resume] [--shard I/N]
 * [--dry-run] [--no-plots] [--no-compare]`: a suite from a YAML config
 * (config.h), run by suite_run (run.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cmd.h"
#include "suite/config.h"
#include "suite/run.h"

static const char run_usage[] =
	"usage: heapbench run CONFIG.yaml [-o DIR] [--resume] [--shard I/N] [--dry-run]\n"
	"                     [--no-plots] [--no-compare]\n"
	"\n"
	"Runs every trace of the config against every backend, one job at a time,\n"
	"and writes DIR (default: the config's output): results.jsonl (a line per\n"
	"job, written as each ends), results.csv, summary.md and env.json.  The\n"
	"summary tables are printed too.\n"
	"\n"
	"  -o DIR        the run directory (instead of the config's output)\n"
	"  --resume      skip the jobs DIR/results.jsonl already holds\n"
	"  --shard I/N   run jobs I, I+N, I+2N, ... of the plan (1 <= I <= N); the\n"
	"                results.jsonl files of the N shards concatenate into one run\n"
	"  --dry-run     print the plan and stop\n"
	"  --no-plots    no charts (they go to DIR/charts: see heapbench plot)\n"
	"  --no-compare  skip the config's regression check (making a baseline)\n"
	"\n"
	"Exit status: 0 every job ok, 1 a job failed, 2 a bad config or trace.\n";

static int parse_shard(const char *s, unsigned *i, unsigned *n)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10);
	if (end == s || *end != '/')
		return -1;
	const char *t = end + 1;
	unsigned long b = strtoul(t, &end, 10);
	if (end == t || *end || a < 1 || b < 1 || a > b || b > 1000000)
		return -1;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"resume", no_argument, NULL, 'r'},
		{"shard", required_argument, NULL, 's'},  {"dry-run", no_argument, NULL, 'd'},
		{"no-plots", no_argument, NULL, 'p'},     {"no-compare", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},         {0}};
	const char *outdir = NULL;
	struct suite_opts so = {.shard_i = 1, .shard_n = 1, .plots = true, .compare = true};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outdir = optarg; break;
		case 'r': so.resume = true; break;
		case 'd': so.dry_run = true; break;
		case 'p': so.plots = false; break;
		case 'c': so.compare = false; break;
		case 's':
			if (parse_shard(optarg, &so.shard_i, &so.shard_n) < 0) {
				hb_error("run: --shard takes I/N with 1 <= I <= N, not '%s'",
					 optarg);
				return HB_EXIT_USAGE;
			}
			break;
		case 'h': fputs(run_usage, stdout); return HB_EXIT_OK;
		default: return cmd_option_error("run", argv, optind);
		}
	}
	if (optind != argc - 1) {
		hb_error(optind >= argc ? "run: no config given" : "run: one config at a time");
		return HB_EXIT_USAGE;
	}
	struct config *cfg = config_load(argv[optind]);
	if (!cfg)
		return HB_EXIT_USAGE;
	if (outdir) {
		free(cfg->output);
		cfg->output = xstrdup(outdir);
	}
	int rc = suite_run(cfg, &so);
	config_free(cfg);
	return rc;
}
