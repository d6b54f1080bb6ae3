/*
 * cmd_trace.c - `heapbench trace stats | convert | lint | gen`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/jsonx.h"
#include "cli/cmd.h"
#include "trace/gen.h"
#include "trace/stats.h"
#include "trace/trace.h"

static const char trace_usage[] =
	"usage: heapbench trace stats [--json] TRACE...\n"
	"       heapbench trace convert IN OUT\n"
	"       heapbench trace lint TRACE...\n"
	"       heapbench trace gen --pattern P --ops N [--seed S] [--live B] -o OUT\n"
	"\n"
	"  stats    what each trace asks of an allocator: op counts, peak and final\n"
	"           live bytes, live blocks, size percentiles and histogram\n"
	"           (--json: one JSON object per trace, one per line)\n"
	"  convert  any readable trace to the format OUT's name gives: .trace (text),\n"
	"           .hbt (binary) or .rep (CMU malloc lab), optionally + .zst or .gz\n"
	"  lint     list every problem with its op number and source line; exit 1 if any\n"
	"  gen      a deterministic synthetic trace; patterns: ramp, peak, plateau,\n"
	"           random-uniform, random-exponential; --live B: the live set peaks\n"
	"           near B blocks (default ops/16)\n"
	"\n"
	"Formats are recognised by content, never by name (see traces/README.md).\n";

/* Parses options with getopt_long from argv[0] = subcommand name. */
static int getopt_reset(void)
{
	optind = 1;
	opterr = 1;
	return 0;
}

/* ---- stats -------------------------------------------------------------- */

static json_t *stats_json(const struct trace *t, const struct trace_stats *st)
{
	char fmt[32];
	json_t *o = json_object();
	json_object_set_new(o, "trace", jx_str(t->path));
	json_object_set_new(o, "format", json_string(trace_format_name(t, fmt, sizeof fmt)));
	json_object_set_new(o, "ops", jx_u64(st->ops));
	for (int k = 0; k < TRACE_NKINDS; k++)
		json_object_set_new(o, trace_kind_plurals[k], jx_u64(st->kinds[k]));
	json_object_set_new(o, "ids", json_integer(st->ids));
	json_object_set_new(o, "threads", json_integer(st->threads));
	json_object_set_new(o, "peak_live_bytes", jx_u64(st->peak_live_bytes));
	json_object_set_new(o, "final_live_bytes", jx_u64(st->final_live_bytes));
	json_object_set_new(o, "max_live_blocks", jx_u64(st->max_live_blocks));
	json_t *sz = json_object();
	json_object_set_new(sz, "count", jx_u64(st->nsizes));
	json_object_set_new(sz, "min", jx_u64(st->size_min));
	json_object_set_new(sz, "median", jx_u64(st->size_median));
	json_object_set_new(sz, "p99", jx_u64(st->size_p99));
	json_object_set_new(sz, "max", jx_u64(st->size_max));
	json_t *hist = json_array();
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++) {
		if (!st->hist[k])
			continue;
		uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0, hi = k ? lo * 2 - 1 : 0;
		json_array_append_new(hist,
				      json_pack("{sIsIsI}", "lo", (json_int_t)lo, "hi",
						(json_int_t)hi, "count", (json_int_t)st->hist[k]));
	}
	json_object_set_new(sz, "histogram", hist);
	json_object_set_new(o, "sizes", sz);
	/* beyond the fixed fields */
	json_object_set_new(o, "free_nulls", jx_u64(st->free_nulls));
	json_object_set_new(o, "realloc_nulls", jx_u64(st->realloc_nulls));
	json_object_set_new(o, "realloc_zeros", jx_u64(st->realloc_zeros));
	json_object_set_new(o, "peak_live_op", jx_u64(st->peak_live_op));
	json_object_set_new(o, "final_live_blocks", jx_u64(st->final_live_blocks));
	json_object_set_new(o, "requested_bytes", jx_u64(st->requested_bytes));
	json_t *meta = json_object();
	for (size_t i = 0; i < t->nmeta; i++)
		json_object_set_new(meta, t->meta[i].key, jx_str(t->meta[i].value));
	json_object_set_new(o, "metadata", meta);
	return o;
}

/* 1234567 -> "1,234,567" */
static const char *group(uint64_t v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), j = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
	return buf;
}

static void stats_print(const struct trace *t, const struct trace_stats *st)
{
	char f[32], a[32], b[32], c[32], e[32];
	printf("%s (%s)\n", t->path, trace_format_name(t, f, sizeof f));
	printf("  ops              %s: %" PRIu64 " alloc, %" PRIu64 " calloc, %" PRIu64
	       " memalign, %" PRIu64 " realloc, %" PRIu64 " free\n",
	       group(st->ops, a), st->kinds[TRACE_ALLOC], st->kinds[TRACE_CALLOC],
	       st->kinds[TRACE_MEMALIGN], st->kinds[TRACE_REALLOC], st->kinds[TRACE_FREE]);
	if (st->free_nulls || st->realloc_nulls || st->realloc_zeros)
		printf("  spelled as       %" PRIu64 " free(NULL), %" PRIu64
		       " realloc(NULL, n), %" PRIu64 " realloc(p, 0)\n",
		       st->free_nulls, st->realloc_nulls, st->realloc_zeros);
	printf("  ids, threads     %s ids, %u thread%s\n", group(st->ids, a), st->threads,
	       st->threads == 1 ? "" : "s");
	printf("  live bytes       peak %s (at op %" PRIu64 "), final %s\n",
	       group(st->peak_live_bytes, a), st->peak_live_op, group(st->final_live_bytes, b));
	printf("  live blocks      max %s, final %s\n", group(st->max_live_blocks, a),
	       group(st->final_live_blocks, b));
	if (!st->nsizes) {
		printf("  sizes            none\n");
		return;
	}
	printf("  sizes            %s requests: min %s, median %s, p99 %s, max %s bytes\n",
	       group(st->nsizes, a), group(st->size_min, b), group(st->size_median, c),
	       group(st->size_p99, f), group(st->size_max, e));
	uint64_t top = 0;
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++)
		if (st->hist[k] > top)
			top = st->hist[k];
	for (unsigned k = 0; k < TRACE_STATS_BUCKETS; k++) {
		if (!st->hist[k])
			continue;
		uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0, hi = k ? lo * 2 - 1 : 0;
		char range[64];
		snprintf(range, sizeof range, "%s..%s", group(lo, a), group(hi, b));
		int bar = (int)((st->hist[k] * 40 + top - 1) / top);
		printf("    %-32s %12s  %.*s\n", range, group(st->hist[k], c), bar,
		       "########################################");
	}
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	bool json = false;
	int c;
	getopt_reset();
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h')
			return fputs(trace_usage, stdout), HB_EXIT_OK;
		else
			return fputs(trace_usage, stderr), HB_EXIT_USAGE;
	}
	if (optind >= argc) {
		hb_error("trace stats: no trace given");
		return HB_EXIT_USAGE;
	}
	int rc = HB_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct diag d;
		diag_init(&d, argv[i], false);
		struct trace *t = trace_load_verified(argv[i], &d);
		diag_finish(&d);
		if (!t) {
			rc = HB_EXIT_USAGE;
			continue;
		}
		struct trace_stats st;
		trace_compute_stats(t, &st);
		if (json) {
			json_t *o = stats_json(t, &st);
			json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(o);
		} else {
			if (i > optind)
				putchar('\n');
			stats_print(t, &st);
		}
		fflush(stdout);
		trace_free(t);
	}
	return rc;
}

/* ---- convert ------------------------------------------------------------ */

static int cmd_convert(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return fputs(trace_usage, stdout), HB_EXIT_OK;
	if (argc != 3) {
		hb_error("trace convert: expected IN OUT");
		return HB_EXIT_USAGE;
	}
	enum trace_outfmt fmt;
	enum trace_compression comp;
	if (trace_outfmt_from_name(argv[2], &fmt, &comp) < 0) {
		hb_error("%s: unknown output format: name it .trace, .hbt or .rep "
			 "(optionally followed by .zst or .gz)",
			 argv[2]);
		return HB_EXIT_USAGE;
	}
	struct diag d;
	diag_init(&d, argv[1], false);
	struct trace *t = trace_load_verified(argv[1], &d);
	diag_finish(&d);
	if (!t)
		return HB_EXIT_USAGE;
	int rc = trace_write(t, argv[2]);
	trace_free(t);
	return rc < 0 ? HB_EXIT_USAGE : HB_EXIT_OK;
}

/* ---- lint --------------------------------------------------------------- */

static int cmd_lint(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return fputs(trace_usage, stdout), HB_EXIT_OK;
	if (argc < 2) {
		hb_error("trace lint: no trace given");
		return HB_EXIT_USAGE;
	}
	int rc = HB_EXIT_OK;
	for (int i = 1; i < argc; i++) {
		struct diag d;
		diag_init(&d, argv[i], true);
		struct stat st;
		bool ok = stat(argv[i], &st) == 0 && access(argv[i], R_OK) == 0;
		if (!ok || S_ISDIR(st.st_mode)) {
			/* no file to lint is bad usage, not a problem found in a trace */
			hb_error("%s: cannot open: %s", argv[i],
				 ok ? "is a directory" : strerror(errno));
			rc = HB_EXIT_USAGE;
			continue;
		}
		struct trace *t = trace_load(argv[i], &d);
		if (t && t->format == TRACE_FMT_HBT)
			trace_verify(t, &d);
		if (d.errors == 0 && t)
			printf("%s: ok, %" PRIu64 " ops%s\n", argv[i], t->nops,
			       d.warnings ? " (with warnings)" : "");
		else
			printf("%s: %lu problem%s\n", argv[i], d.errors, d.errors == 1 ? "" : "s");
		if (d.errors && rc == HB_EXIT_OK)
			rc = HB_EXIT_FAIL;
		trace_free(t);
	}
	return rc;
}

/* ---- gen ---------------------------------------------------------------- */

static int cmd_gen(int argc, char **argv)
{
	static const struct option opts[] = {{"pattern", required_argument, NULL, 'p'},
					     {"ops", required_argument, NULL, 'n'},
					     {"seed", required_argument, NULL, 's'},
					     {"output", required_argument, NULL, 'o'},
					     {"live", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *pattern = NULL, *out = NULL;
	uint64_t nops = 0, seed = 1, live = 0;
	bool have_ops = false;
	int c;
	getopt_reset();
	while ((c = getopt_long(argc, argv, "p:n:s:o:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pattern = optarg; break;
		case 'o': out = optarg; break;
		case 'n':
			if (parse_u64(optarg, &nops) < 0 || nops == 0 || nops > (1ull << 32)) {
				hb_error("trace gen: --ops must be a number from 1 to 2^32, not "
					 "'%s'",
					 optarg);
				return HB_EXIT_USAGE;
			}
			have_ops = true;
			break;
		case 's':
			if (parse_u64(optarg, &seed) < 0) {
				hb_error("trace gen: --seed must be a non-negative integer, not "
					 "'%s'",
					 optarg);
				return HB_EXIT_USAGE;
			}
			break;
		case 'l':
			if (parse_u64(optarg, &live) < 0 || live == 0 || live > (1ull << 31)) {
				hb_error("trace gen: --live takes a number of blocks, not '%s'",
					 optarg);
				return HB_EXIT_USAGE;
			}
			break;
		case 'h': return fputs(trace_usage, stdout), HB_EXIT_OK;
		default: return fputs(trace_usage, stderr), HB_EXIT_USAGE;
		}
	}
	if (!pattern || !have_ops || !out || optind != argc) {
		hb_error("trace gen: needs --pattern P --ops N -o OUT (and nothing else)");
		return HB_EXIT_USAGE;
	}
	enum trace_outfmt fmt;
	enum trace_compression comp;
	if (trace_outfmt_from_name(out, &fmt, &comp) < 0) {
		hb_error("%s: unknown output format: name it .trace, .hbt or .rep "
			 "(optionally followed by .zst or .gz)",
			 out);
		return HB_EXIT_USAGE;
	}
	struct trace *t = trace_generate_live(pattern, nops, seed, live);
	if (!t)
		return HB_EXIT_USAGE;
	free(t->path);
	t->path = xstrdup(out);
	int rc = trace_write(t, out);
	trace_free(t);
	return rc < 0 ? HB_EXIT_USAGE : HB_EXIT_OK;
}

int cmd_trace(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {{"stats", cmd_stats},
		    {"convert", cmd_convert},
		    {"lint", cmd_lint},
		    {"gen", cmd_gen}};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(trace_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? HB_EXIT_USAGE : HB_EXIT_OK;
	}
	for (size_t i = 0; i < HB_ARRAY_LEN(subs); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	hb_error("trace: unknown subcommand '%s' (known: stats, convert, lint, gen)", argv[1]);
	return HB_EXIT_USAGE;
}
