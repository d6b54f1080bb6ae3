/*
 * cmd_trace.c - `heapbench trace stats | convert | lint | gen`: the
 * arguments of each subcommand, then one call per file (trace/tools.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cli/cmd.h"
#include "trace/tools.h"

static const char trace_usage[] =
	"usage: heapbench trace stats [--json] TRACE...\n"
	"       heapbench trace convert IN OUT | DIR/\n"
	"       heapbench trace lint TRACE...\n"
	"       heapbench trace gen --pattern P --ops N [--seed S] [--live B] -o OUT\n"
	"\n"
	"  stats    what each trace asks of an allocator: op counts, peak and final\n"
	"           live bytes, live blocks, size percentiles and histogram\n"
	"           (--json: one JSON object per trace, one per line)\n"
	"  convert  any readable trace to the format OUT's name gives: .trace (text),\n"
	"           .hbt (binary) or .rep (CMU malloc lab), optionally + .zst or .gz;\n"
	"           to a directory (DIR/ or an existing one): one DIR/N-PID.hbt.zst per\n"
	"           process of a log\n"
	"  lint     list every problem with its op number and source line; exit 1 if any\n"
	"  gen      a deterministic synthetic trace; patterns: ramp, peak, plateau,\n"
	"           random-uniform, random-exponential; --live B: the live set peaks\n"
	"           near B blocks (default ops/16)\n"
	"\n"
	"Formats are recognised by content, never by name (see traces/README.md).\n";

/* `--help` as the only argument of a subcommand without options. */
static bool help_only(int argc, char **argv)
{
	return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	bool json = false;
	int c;
	optind = 1; /* argv[0] is the subcommand */
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h')
			return fputs(trace_usage, stdout), HB_EXIT_OK;
		else
			return cmd_option_error("trace", argv, optind);
	}
	if (optind >= argc) {
		hb_error("trace stats: no trace given");
		return HB_EXIT_USAGE;
	}
	int rc = HB_EXIT_OK;
	for (int i = optind; i < argc; i++)
		if (trace_stats_show(argv[i], json, i > optind) < 0)
			rc = HB_EXIT_USAGE;
	return rc;
}

static int cmd_convert(int argc, char **argv)
{
	if (help_only(argc, argv))
		return fputs(trace_usage, stdout), HB_EXIT_OK;
	if (argc != 3) {
		hb_error("trace convert: expected IN OUT (or IN DIR/)");
		return HB_EXIT_USAGE;
	}
	return trace_convert(argv[1], argv[2]) < 0 ? HB_EXIT_USAGE : HB_EXIT_OK;
}

static int cmd_lint(int argc, char **argv)
{
	if (help_only(argc, argv))
		return fputs(trace_usage, stdout), HB_EXIT_OK;
	if (argc < 2) {
		hb_error("trace lint: no trace given");
		return HB_EXIT_USAGE;
	}
	/* a missing file is bad usage, and wins over problems found */
	int rc = HB_EXIT_OK;
	for (int i = 1; i < argc; i++) {
		int found = trace_lint(argv[i]);
		rc = found < 0 ? HB_EXIT_USAGE : found && rc == HB_EXIT_OK ? HB_EXIT_FAIL : rc;
	}
	return rc;
}

static int cmd_gen(int argc, char **argv)
{
	static const struct option opts[] = {{"pattern", required_argument, NULL, 'p'},
					     {"ops", required_argument, NULL, 'n'},
					     {"seed", required_argument, NULL, 's'},
					     {"output", required_argument, NULL, 'o'},
					     {"live", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *pattern = NULL, *out = NULL, *bad = NULL;
	uint64_t nops = 0, seed = 1, live = 0;
	int c;
	optind = 1; /* argv[0] is the subcommand */
	while (!bad && (c = getopt_long(argc, argv, "p:n:s:o:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pattern = optarg; break;
		case 'o': out = optarg; break;
		case 'n':
			if (parse_u64(optarg, &nops) < 0 || nops == 0 || nops > (1ull << 32))
				bad = "--ops must be a number from 1 to 2^32, not";
			break;
		case 's':
			if (parse_u64(optarg, &seed) < 0)
				bad = "--seed must be a non-negative integer, not";
			break;
		case 'l':
			if (parse_u64(optarg, &live) < 0 || live == 0 || live > (1ull << 31))
				bad = "--live takes a number of blocks, not";
			break;
		case 'h': return fputs(trace_usage, stdout), HB_EXIT_OK;
		default: return cmd_option_error("trace", argv, optind);
		}
	}
	if (bad) {
		hb_error("trace gen: %s '%s'", bad, optarg);
		return HB_EXIT_USAGE;
	}
	if (!pattern || !nops || !out || optind != argc) {
		hb_error("trace gen: needs --pattern P --ops N -o OUT (and nothing else)");
		return HB_EXIT_USAGE;
	}
	return trace_gen_write(pattern, nops, seed, live, out) < 0 ? HB_EXIT_USAGE : HB_EXIT_OK;
}

int cmd_trace(int argc, char **argv)
{
	static const char *const names[] = {"stats", "convert", "lint", "gen"};
	static int (*const fns[])(int, char **) = {cmd_stats, cmd_convert, cmd_lint, cmd_gen};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(trace_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? HB_EXIT_USAGE : HB_EXIT_OK;
	}
	for (size_t i = 0; i < HB_ARRAY_LEN(names); i++)
		if (!strcmp(argv[1], names[i]))
			return fns[i](argc - 1, argv + 1);
	hb_error("trace: unknown subcommand '%s' (known: stats, convert, lint, gen)", argv[1]);
	return HB_EXIT_USAGE;
}
