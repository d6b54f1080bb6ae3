/*
 * cmd_plot.c - `heapbench plot RESULTS [-o DIR]`: the charts of a run
 * (plot.h).  RESULTS is a run directory or a results.jsonl; the charts go
 * to DIR, by default the run directory's charts/.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cmd.h"
#include "report/plot.h"
#include "report/results.h"

static const char plot_usage[] =
	"usage: heapbench plot RESULTS [-o DIR]\n"
	"\n"
	"Draws the charts of a run with gnuplot: throughput, utilization,\n"
	"fragmentation, a heap profile per trace and, when the run measured\n"
	"latency, latency per trace.  RESULTS is a run directory or a\n"
	"results.jsonl.  Each chart is NAME.png and NAME.svg, made by NAME.gp\n"
	"from NAME.dat, all kept in DIR (default: RUN/charts) to restyle and\n"
	"redraw with `gnuplot NAME.gp`.\n"
	"\n"
	"  -o DIR   where the charts go\n"
	"\n"
	"Exit status: 0 charts drawn, 1 gnuplot failed or is missing, 2 bad input.\n";

int cmd_plot(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': fputs(plot_usage, stdout); return HB_EXIT_OK;
		default: fputs(plot_usage, stderr); return HB_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		hb_error("plot: give one run directory or results.jsonl");
		return HB_EXIT_USAGE;
	}
	const char *arg = argv[optind];
	struct stat st;
	if (stat(arg, &st) < 0) {
		hb_error("%s: no such run directory or file", arg);
		return HB_EXIT_USAGE;
	}
	char jsonl[4200], rundir[4096], suite[256], charts[4200];
	if (S_ISDIR(st.st_mode)) {
		snprintf(rundir, sizeof rundir, "%s", arg);
		snprintf(jsonl, sizeof jsonl, "%s/results.jsonl", arg);
	} else {
		snprintf(jsonl, sizeof jsonl, "%s", arg);
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s", arg);
		snprintf(rundir, sizeof rundir, "%s", dirname(tmp));
	}
	/* the suite's name from env.json, else the directory's */
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/env.json", rundir);
	json_t *env = json_load_file(tmp, 0, NULL);
	const char *name = json_string_value(json_object_get(env, "suite"));
	snprintf(tmp, sizeof tmp, "%s", rundir);
	char *real = realpath(tmp, NULL);
	snprintf(suite, sizeof suite, "%s", name ? name : real ? basename(real) : "run");
	free(real);
	json_decref(env);
	snprintf(charts, sizeof charts, "%s/charts", rundir);
	json_t *all = results_read(jsonl);
	if (!all)
		return HB_EXIT_USAGE;
	if (json_array_size(all) == 0) {
		hb_error("%s: no job results to plot", jsonl);
		json_decref(all);
		return HB_EXIT_USAGE;
	}
	int rc = plot_results(all, suite, out ? out : charts, PLOT_ALL);
	json_decref(all);
	if (rc == PLOT_OK)
		printf("charts in %s\n", out ? out : charts);
	return rc == PLOT_OK ? HB_EXIT_OK : HB_EXIT_FAIL;
}
