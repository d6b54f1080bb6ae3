/*
 * cmd_plot.c - `heapbench plot RESULTS [-o DIR]`: the charts of a run
 * (plot_run, plot.h).
 */
#include <getopt.h>
#include <stdio.h>

#include "base/util.h"
#include "cli/cmd.h"
#include "report/plot.h"

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
		default: return cmd_option_error("plot", argv, optind);
		}
	}
	if (optind != argc - 1) {
		hb_error("plot: give one run directory or results.jsonl");
		return HB_EXIT_USAGE;
	}
	return plot_run(argv[optind], out);
}
