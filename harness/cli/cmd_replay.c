/*
 * cmd_replay.c - `heapbench replay`: every trace against every backend
 * asked for, one worker process per job, a table or JSON Lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "replay/backend_spec.h"
#include "replay/job.h"
#include "report/results.h"

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
	struct replay_config base;
	replay_config_init(&base);
	double timeout = 0;
	bool json = false, explicit = false;
	char why[ALLOC_ERRLEN + 256];
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
			if (backend_parse(optarg, &backends[nb++], why, sizeof why) < 0) {
				hb_error("%s", why);
				goto out;
			}
			break;
		case 'r':
			if (parse_u64(optarg, &x) < 0 || x > REPLAY_MAX_REPEAT) {
				hb_error("replay: --repeat takes 0 to %d, not '%s'",
					 REPLAY_MAX_REPEAT, optarg);
				goto out;
			}
			base.repeat = (unsigned)x;
			break;
		case 'c': {
			int k = replay_name_find(replay_check_names, optarg);
			if (k < 0) {
				hb_error("replay: --check takes full, fast or off, not '%s'",
					 optarg);
				goto out;
			}
			base.check = (enum replay_check)k;
			break;
		}
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
		if (backend_parse(allocator_registry[i]->name, &backends[nb], why, sizeof why) == 0)
			nb++;
		else
			backend_choice_free(&backends[nb]);
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
			struct replay_config cfg = backend_choice_config(&backends[b], &base);
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
	for (size_t i = 0; i < nb; i++)
		backend_choice_free(&backends[i]);
	return rc;
}
