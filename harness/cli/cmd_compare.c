/*
 * cmd_compare.c - `heapbench compare BASELINE NEW [--max-drop M=F]...
 * [--junit FILE] [--markdown FILE]`: the regression gate (compare.h).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "replay/replay.h"
#include "report/compare.h"

static const char compare_usage[] =
	"usage: heapbench compare BASELINE NEW [--max-drop METRIC=FRACTION]...\n"
	"                         [--junit FILE] [--markdown FILE]\n"
	"\n"
	"Compares two runs (run directories or results.jsonl files), job by job\n"
	"(trace, backend, options), and fails on a regression: a job ok in\n"
	"BASELINE and not ok in NEW, a job missing from NEW, or a metric worse by\n"
	"more than its threshold (a fraction of the baseline's value):\n"
	"\n"
	"  --max-drop utilization=F  default 0 for the built-in backends, whose\n"
	"                            utilization is exact (any drop fails); other\n"
	"                            backends are not gated unless this is given\n"
	"  --max-drop frag_peak=F    footprint per live byte may grow by F\n"
	"  --max-drop mops=F         throughput may drop by F; flagged only when the\n"
	"                            min-max ranges of the timed passes do not overlap\n"
	"  --junit FILE              a JUnit XML report, one test case per job\n"
	"  --markdown FILE           a table for a pull-request comment\n"
	"\n"
	"Jobs only in NEW are listed, not failures.\n"
	"Exit status: 0 no regression, 1 a regression, 2 bad input.\n";

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {{"max-drop", required_argument, NULL, 'm'},
					     {"junit", required_argument, NULL, 'j'},
					     {"markdown", required_argument, NULL, 'k'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	struct compare_opts o = {.utilization = -1, .frag_peak = -1, .mops = -1};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': {
			char *eq = strchr(optarg, '='), *end;
			double v = eq ? strtod(eq + 1, &end) : -1;
			double *slot = NULL;
			if (eq && !strncmp(optarg, "utilization=", 12))
				slot = &o.utilization;
			else if (eq && !strncmp(optarg, "frag_peak=", 10))
				slot = &o.frag_peak;
			else if (eq && !strncmp(optarg, "mops=", 5))
				slot = &o.mops;
			if (!slot || end == eq + 1 || *end || !(v >= 0 && v <= 100)) {
				hb_error("compare: --max-drop takes utilization=F, frag_peak=F or "
					 "mops=F with F a fraction (0.01 = 1%%), not '%s'",
					 optarg);
				return HB_EXIT_USAGE;
			}
			*slot = v;
			break;
		}
		case 'j': o.junit = optarg; break;
		case 'k': o.markdown = optarg; break;
		case 'h': fputs(compare_usage, stdout); return HB_EXIT_OK;
		default: fputs(compare_usage, stderr); return HB_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		hb_error("compare: give a BASELINE and a NEW run (directories or results.jsonl)");
		return HB_EXIT_USAGE;
	}
	o.baseline_name = argv[optind];
	o.new_name = argv[optind + 1];
	json_t *b = compare_load(argv[optind]);
	json_t *n = b ? compare_load(argv[optind + 1]) : NULL;
	int rc = HB_EXIT_USAGE;
	if (b && n)
		rc = compare_runs(b, n, &o, stdout);
	json_decref(b);
	json_decref(n);
	return rc;
}
