/*
 * cmd_compare.c - `heapbench compare BASELINE NEW [--max-drop M=F]...
 * [--junit FILE] [--markdown FILE]`: the regression gate (compare.h).
 */
#include <getopt.h>

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
	struct compare_opts o;
	compare_opts_init(&o);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (compare_parse_drop(&o, optarg) < 0)
				return HB_EXIT_USAGE;
			break;
		case 'j': o.junit = optarg; break;
		case 'k': o.markdown = optarg; break;
		case 'h': fputs(compare_usage, stdout); return HB_EXIT_OK;
		default: return cmd_option_error("compare", argv, optind);
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
