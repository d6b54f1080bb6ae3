/*
 * cmd_replay.c - `heapbench replay`: every trace against every backend
 * asked for, one worker process per job, a table or JSON Lines.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "heap.h"
#include "job.h"
#include "results.h"

static const char replay_usage[] =
	"usage: heapbench replay [-a BACKEND]... [--repeat N] [--check full|fast|off]\n"
	"                        [--heap-check K] [--latency] [--timeout S] [--heap-limit SIZE]\n"
	"                        [--align N] [--sample-every K] [--json] TRACE...\n"
	"\n"
	"Replays each trace against each backend in a worker process: a checked pass\n"
	"(correctness, live bytes, footprint, fragmentation), N timed passes (median\n"
	"Mops/s) and, with --latency, a pass timing every op.\n"
	"\n"
	"  -a BACKEND        a backend name, optionally with options:\n"
	"                    first-fit:mmap_threshold=65536,min_split=64\n"
	"                    or preload:PATH (any malloc replacement library)\n"
	"                    or library:PATH (an allocator exporting heapbench's\n"
	"                    contract, see allocators/examples/)\n"
	"                    (repeatable; default: every available backend)\n"
	"  --repeat N        timed passes (default 5; 0 = none)\n"
	"  --check LEVEL     full: every payload byte; fast: the first and last 64\n"
	"                    bytes of each block; off: addresses only (default full)\n"
	"  --heap-check K    call the backend's own check every K ops\n"
	"  --latency         time every op: p50/p90/p99/p999/max per op kind\n"
	"  --timeout S       kill a job after S seconds (status timeout)\n"
	"  --heap-limit SIZE simulated heap limit, e.g. 512MiB (exhaustion: status oom)\n"
	"  --align N         the alignment every block must have (default 16)\n"
	"  --sample-every K  read a process-wide allocator's own accounting every K\n"
	"                    ops of the checked pass, and at every new live peak\n"
	"                    (default 128; built-in backends are exact at every op)\n"
	"  --json            one JSON object per job (JSON Lines)\n"
	"\n"
	"Exit status: 0 every job ok, 1 a job failed, 2 bad usage or input.\n";

struct backend_choice {
	const struct allocator *a;
	char *spec; /* as given, for the table */
	char *buf;  /* holds the option strings */
	struct backend_opt opt[REPLAY_MAX_OPTS];
	size_t nopt;
};

/* Can the backend start in a worker (its library preloaded or loaded)?
 * Built-in backends need no asking. */
static int probe_backend(const struct backend_choice *b, bool quiet)
{
	if ((b->a->flags & ALLOC_F_SIMULATED) && b->a != &library_allocator)
		return 0;
	struct replay_config cfg = {.backend = b->a, .nopt = b->nopt};
	memcpy(cfg.opt, b->opt, sizeof cfg.opt);
	char why[512];
	if (job_probe(&cfg, why, sizeof why) == 0)
		return 0;
	if (!quiet)
		hb_error("backend %s: %s", b->spec, why);
	return -1;
}

/* preload:PATH and library:PATH: the whole rest is the path */
static int parse_path_backend(const char *spec, const char *path, const struct allocator *a,
			      struct backend_choice *b)
{
	b->a = a;
	if (!*path) {
		hb_error("backend %s: needs a path, as in %s:/path/to/lib.so", spec, a->name);
		return -1;
	}
	/* a name without a slash is ld.so's to find (preload:libfoo.so.1) */
	if (strchr(path, '/') || a == &library_allocator) {
		char *abs = realpath(path, NULL);
		if (!abs) {
			hb_error("backend %s: %s: %s", spec, path, strerror(errno));
			return -1;
		}
		b->buf = abs;
	} else {
		b->buf = xstrdup(path);
	}
	b->opt[0] = (struct backend_opt){"path", b->buf};
	b->nopt = 1;
	return probe_backend(b, false);
}

/* "name[:k=v,k=v]", "preload:PATH" or "library:PATH" */
static int parse_backend(const char *spec, struct backend_choice *b)
{
	memset(b, 0, sizeof *b);
	b->spec = xstrdup(spec);
	if (!strncmp(spec, "preload:", 8))
		return parse_path_backend(spec, spec + 8, &preload_allocator, b);
	if (!strncmp(spec, "library:", 8))
		return parse_path_backend(spec, spec + 8, &library_allocator, b);
	char *copy = b->buf = xstrdup(spec), *colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	b->a = allocator_find(copy);
	if (b->a == &preload_allocator || b->a == &library_allocator) {
		hb_error("backend %s: write %s:PATH", spec, b->a->name);
		return -1;
	}
	if (!b->a) {
		char names[512];
		hb_error("unknown backend '%s' (known: %s)", copy,
			 allocator_names(names, sizeof names));
		return -1;
	}
	for (char *kv = colon ? strtok(colon + 1, ",") : NULL; kv; kv = strtok(NULL, ",")) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv || b->nopt == REPLAY_MAX_OPTS) {
			hb_error("backend %s: options are key=value, separated by commas, not '%s'",
				 b->a->name, kv);
			return -1;
		}
		*eq = '\0';
		b->opt[b->nopt].key = kv;
		b->opt[b->nopt].value = eq + 1;
		b->nopt++;
	}
	struct backend_opts opts = {b->opt, b->nopt};
	char err[ALLOC_ERRLEN];
	if (allocator_check_options(b->a, &opts, err, sizeof err) < 0) {
		hb_error("%s", err);
		return -1;
	}
	/* option values are the backend's to judge: let it try them now, so
	 * that a bad value is bad usage (exit 2), not a failed job */
	if (b->a->flags & ALLOC_F_SIMULATED) {
		struct heap *heap = heap_create(0);
		void *st;
		int rc = heap ? b->a->init(&st, heap, &opts, err, sizeof err) : 0;
		if (heap && rc == 0)
			b->a->fini(st);
		heap_destroy(heap);
		if (rc < 0) {
			hb_error("backend %s: %s", b->a->name, err);
			return -1;
		}
	}
	return probe_backend(b, false);
}

static void backends_free(struct backend_choice *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(b[i].spec);
		free(b[i].buf);
	}
}

/* "512MiB" -> bytes; -1 if malformed. */
static int parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {{"", 1},
		     {"B", 1},
		     {"KiB", 1ull << 10},
		     {"MiB", 1ull << 20},
		     {"GiB", 1ull << 30},
		     {"TiB", 1ull << 40},
		     {"K", 1ull << 10},
		     {"M", 1ull << 20},
		     {"G", 1ull << 30}};
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	for (size_t i = 0; i < HB_ARRAY_LEN(units); i++)
		if (!strcmp(end, units[i].suffix)) {
			if (v > UINT64_MAX / units[i].mult)
				return -1;
			*out = v * units[i].mult;
			return 0;
		}
	return -1;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {{"backend", required_argument, NULL, 'a'},
					     {"repeat", required_argument, NULL, 'r'},
					     {"check", required_argument, NULL, 'c'},
					     {"heap-check", required_argument, NULL, 'k'},
					     {"latency", no_argument, NULL, 'l'},
					     {"timeout", required_argument, NULL, 't'},
					     {"json", no_argument, NULL, 'j'},
					     {"heap-limit", required_argument, NULL, 'L'},
					     {"align", required_argument, NULL, 'A'},
					     {"sample-every", required_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	struct backend_choice backends[32];
	size_t nb = 0;
	struct replay_config base = {
		.check = CHECK_FULL, .repeat = 5, .alignment = 16, .sample_every = 128};
	double timeout = 0;
	bool json = false, explicit = false;
	uint64_t x;
	int c, rc = HB_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (nb == HB_ARRAY_LEN(backends)) {
				hb_error("replay: at most %zu backends per run",
					 HB_ARRAY_LEN(backends));
				goto out;
			}
			explicit = true;
			if (parse_backend(optarg, &backends[nb++]) < 0)
				goto out;
			break;
		case 'r':
			if (parse_u64(optarg, &x) < 0 || x > REPLAY_MAX_REPEAT) {
				hb_error("replay: --repeat takes 0 to %d, not '%s'",
					 REPLAY_MAX_REPEAT, optarg);
				goto out;
			}
			base.repeat = (unsigned)x;
			break;
		case 'c':
			if (!strcmp(optarg, "full"))
				base.check = CHECK_FULL;
			else if (!strcmp(optarg, "fast"))
				base.check = CHECK_FAST;
			else if (!strcmp(optarg, "off"))
				base.check = CHECK_OFF;
			else {
				hb_error("replay: --check takes full, fast or off, not '%s'",
					 optarg);
				goto out;
			}
			break;
		case 'k':
			if (parse_u64(optarg, &base.heap_check_every) < 0) {
				hb_error("replay: --heap-check takes a number of ops, not '%s'",
					 optarg);
				goto out;
			}
			break;
		case 'l': base.latency = true; break;
		case 't': {
			char *end;
			timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(timeout >= 0 && timeout <= 1e6)) {
				hb_error("replay: --timeout takes seconds (0 to 1e6), not '%s'",
					 optarg);
				goto out;
			}
			break;
		}
		case 'L':
			if (parse_size(optarg, &base.heap_limit) < 0) {
				hb_error("replay: --heap-limit takes a size like 512MiB, not '%s'",
					 optarg);
				goto out;
			}
			break;
		case 'A':
			if (parse_u64(optarg, &x) < 0 || x == 0 || (x & (x - 1)) || x > 4096) {
				hb_error(
					"replay: --align takes a power of two up to 4096, not '%s'",
					optarg);
				goto out;
			}
			base.alignment = (unsigned)x;
			break;
		case 'S':
			if (parse_u64(optarg, &base.sample_every) < 0 || base.sample_every == 0) {
				hb_error("replay: --sample-every takes a number of ops, not '%s'",
					 optarg);
				goto out;
			}
			break;
		case 'j': json = true; break;
		case 'h':
			fputs(replay_usage, stdout);
			rc = HB_EXIT_OK;
			goto out;
		default: fputs(replay_usage, stderr); goto out;
		}
	}
	if (optind >= argc) {
		hb_error("replay: no trace given");
		goto out;
	}
	/* by default every backend that can run here (heapbench list) */
	for (size_t i = 0; !explicit && allocator_registry[i] && nb < HB_ARRAY_LEN(backends); i++) {
		memset(&backends[nb], 0, sizeof backends[nb]);
		backends[nb].a = allocator_registry[i];
		backends[nb].spec = xstrdup(allocator_registry[i]->name);
		if (probe_backend(&backends[nb], true) == 0)
			nb++;
		else
			free(backends[nb].spec);
	}

	/* every trace is read and checked before any job runs */
	int ntraces = argc - optind;
	struct trace **traces = xcalloc((size_t)ntraces, sizeof *traces);
	int *fds = xcalloc((size_t)ntraces, sizeof *fds);
	for (int i = 0; i < ntraces; i++)
		fds[i] = -1;
	for (int i = 0; i < ntraces; i++) {
		struct diag d;
		diag_init(&d, argv[optind + i], false);
		traces[i] = trace_load_verified(argv[optind + i], &d);
		diag_finish(&d);
		if (!traces[i])
			goto out_traces;
	}

	rc = HB_EXIT_OK;
	struct replay_result *res = xcalloc(1, sizeof *res);
	struct replay_result *failed = xcalloc((size_t)ntraces * nb, sizeof *failed);
	struct job_id *failed_ids = xcalloc((size_t)ntraces * nb, sizeof *failed_ids);
	size_t nfailed = 0;
	char(*names)[256] = xcalloc((size_t)ntraces, sizeof *names);
	if (!json)
		result_table_header(stdout);
	for (int i = 0; i < ntraces; i++) {
		trace_short_name(traces[i]->path, names[i], sizeof names[i]);
		/* one descriptor at a time: a run may hold many traces */
		if ((fds[i] = job_trace_fd(traces[i])) < 0) {
			rc = HB_EXIT_USAGE;
			break;
		}
		for (size_t b = 0; b < nb; b++) {
			struct replay_config cfg = base;
			cfg.backend = backends[b].a;
			memcpy(cfg.opt, backends[b].opt, sizeof cfg.opt);
			cfg.nopt = backends[b].nopt;
			struct job_id id = {names[i], traces[i]->path, backends[b].spec, NULL};
			job_run(traces[i], fds[i], &cfg, timeout, res);
			id.cfg = &cfg;
			if (json) {
				json_t *o = result_json(&id, res);
				json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
				putchar('\n');
				json_decref(o);
			} else {
				result_table_row(stdout, &id, res);
			}
			fflush(stdout);
			if (res->status != JOB_OK) {
				rc = HB_EXIT_FAIL;
				failed[nfailed] = *res;
				id.cfg = NULL;
				failed_ids[nfailed++] = id;
			}
		}
		close(fds[i]);
		fds[i] = -1;
	}
	if (!json && nfailed) {
		printf("\nfailed jobs:\n");
		for (size_t k = 0; k < nfailed; k++)
			result_print_error(stdout, &failed_ids[k], &failed[k]);
	}
	free(res);
	free(failed);
	free(failed_ids);
	free(names);
out_traces:
	for (int i = 0; i < ntraces; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		trace_free(traces[i]);
	}
	free(traces);
	free(fds);
out:
	backends_free(backends, nb);
	return rc;
}
