/*
 * cmd_replay.c - `heapbench replay`: every trace against every backend
 * asked for, one worker process per job, a table or JSON Lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cmd.h"
#include "replay/batch.h"
#include "replay/lab.h"
#include "report/results.h"

static const char replay_usage[] =
	"usage: heapbench replay [-a BACKEND]... [--repeat N] [--check full|fast|off]\n"
	"                        [--heap-check K] [--latency] [--timeout S]\n"
	"                        [--memory-limit SIZE] [--heap-limit SIZE] [--lab LAB]\n"
	"                        [--align N | --align-strict N] [--sample-every K]\n"
	"                        [--threads serial|recorded] [--copies N[,N...]]\n"
	"                        [--pace recorded|Kx] [--json] TRACE...\n"
	"\n"
	"Replays each trace against each backend in a worker process: a checked pass\n"
	"(correctness, live bytes, footprint, fragmentation), N timed passes (median\n"
	"Mops/s) and, with --latency, a pass timing every op.\n"
	"\n"
	"  -a BACKEND        a backend, with options (first-fit:min_split=64,...);\n"
	"                    preload:PATH (a malloc replacement library); library:PATH\n"
	"                    (allocators/examples/); mm:PATH (a malloc-lab mm.c or its\n"
	"                    object); repeatable (default: every available backend)\n"
	"  --repeat N        timed passes (default 5; 0 none)\n"
	"  --check LEVEL     full: every payload byte; fast: the first and last 64\n"
	"                    bytes of each block; off: addresses only (default full)\n"
	"  --heap-check K    call the backend's own check (mm: mm_checkheap) every K ops\n"
	"  --latency         time every op: p50/p90/p99/p999/max per op kind\n"
	"  --timeout S       a job's wall time, then status timeout (default 600; 0 none)\n"
	"  --memory-limit SIZE  a job's physical memory, then status oom (default half\n"
	"                    the memory available; 0 none)\n"
	"  --heap-limit SIZE the simulated heap (built-ins, mm:), e.g. 512MiB, then oom\n"
	"  --align N         a block's alignment (default 16), or the largest power of\n"
	"                    two dividing its size if less; --align-strict N: always N\n"
	"  --lab LAB         a malloc-lab handout's rules: csapp2002 or cmu2016\n"
	"  --sample-every K  a process-wide backend's resident set every K ops (128)\n"
	"  --threads MODE    serial (default), or recorded: an OS thread per trace thread\n"
	"  --copies N,...    N copies of each trace at once, a job per value (default 1)\n"
	"  --pace P          recorded: the trace's gaps between ops; Kx: divided by K\n"
	"  --json            one JSON object per job (JSON Lines)\n"
	"\n"
	"Exit status: 0 every job ok, 1 a job failed, 2 bad usage or input.\n";

static const struct option opts[] = {{"backend", required_argument, NULL, 'a'},
				     {"repeat", required_argument, NULL, 'r'},
				     {"check", required_argument, NULL, 'c'},
				     {"heap-check", required_argument, NULL, 'k'},
				     {"latency", no_argument, NULL, 'l'},
				     {"timeout", required_argument, NULL, 't'},
				     {"json", no_argument, NULL, 'j'},
				     {"heap-limit", required_argument, NULL, 'L'},
				     {"memory-limit", required_argument, NULL, 'M'},
				     {"align", required_argument, NULL, 'A'},
				     {"align-strict", required_argument, NULL, 's'},
				     {"lab", required_argument, NULL, 'b'},
				     {"mm-check", required_argument, NULL, 'k'},
				     {"sample-every", required_argument, NULL, 'S'},
				     {"threads", required_argument, NULL, 'T'},
				     {"copies", required_argument, NULL, 'C'},
				     {"pace", required_argument, NULL, 'P'},
				     {"help", no_argument, NULL, 'h'},
				     {0}};
#define STR_(x) #x
#define STR(x)  STR_(x)
/* What each option's value must be, for the message when it is not. */
static const char *const takes[128] = {['r'] = "--repeat takes 0 to " STR(REPLAY_MAX_REPEAT),
				       ['c'] = "--check takes full, fast or off",
				       ['k'] = "--heap-check takes a number of ops",
				       ['t'] = "--timeout takes seconds (0 to 1e6)",
				       ['L'] = "--heap-limit takes a size like 512MiB",
				       ['M'] = "--memory-limit takes a size like 4GiB (0: none)",
				       ['A'] = "--align takes a power of two up to 4096",
				       ['s'] = "--align-strict takes a power of two up to 4096",
				       ['b'] = "--lab takes csapp2002 or cmu2016",
				       ['S'] = "--sample-every takes a number of ops",
				       ['T'] = "--threads takes serial or recorded",
				       ['P'] = "--pace takes recorded or a factor like 10x"};

/* One option (getopt's c, its argument v) into the batch; -1 once said why
 * not (which ends the command: what a bad value leaves in a knob is moot). */
static int replay_option(struct replay_batch *b, int c, const char *v, bool *json, char **argv)
{
	struct replay_config *cfg = &b->base;
	uint64_t x = 0;
	char *end;
	int k;
	bool ok;
	switch (c) {
	case 'a': return replay_batch_add(b, v);
	case 'C': return replay_batch_copies(b, v);
	case 'l': return cfg->latency = true, 0;
	case 'j': return *json = true, 0;
	case 'r':
		ok = !parse_u64(v, &x) && x <= REPLAY_MAX_REPEAT, cfg->repeat = (unsigned)x;
		break;
	case 'c':
		ok = (k = replay_name_find(replay_check_names, v)) >= 0;
		cfg->check = (enum replay_check)k;
		break;
	case 'k': ok = !parse_u64(v, &cfg->heap_check_every); break;
	case 't':
		b->limits.timeout = strtod(v, &end);
		ok = !*end && end != v && b->limits.timeout >= 0 && b->limits.timeout <= 1e6;
		break;
	case 'L': ok = !parse_size(v, &cfg->heap_limit); break;
	case 'M': ok = !parse_size(v, &b->limits.memory); break;
	case 'A':
	case 's':
		ok = !parse_u64(v, &x) && x && !(x & (x - 1)) && x <= 4096;
		cfg->alignment = (unsigned)x, cfg->align_strict = c == 's';
		break;
	case 'b': ok = replay_lab_set(cfg, v); break;
	case 'S': ok = !parse_u64(v, &cfg->sample_every) && cfg->sample_every; break;
	case 'P': ok = !replay_parse_pace(v, &cfg->pace); break;
	case 'T':
		ok = (k = replay_name_find(replay_threads_names, v)) >= 0;
		cfg->threads = (enum replay_threads)k;
		break;
	default: return cmd_option_error("replay", argv, optind), -1;
	}
	return ok ? 0 : (hb_error("replay: %s, not '%s'", takes[c], hb_quote(v)), -1);
}

int cmd_replay(int argc, char **argv)
{
	bool json = false;
	struct replay_sink sink = result_stdout_sink(&json);
	struct replay_batch b;
	replay_batch_init(&b, &sink);
	int c, rc = HB_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1 && c != 'h')
		if (replay_option(&b, c, optarg, &json, argv) < 0)
			goto out;
	if (c == 'h')
		rc = (fputs(replay_usage, stdout), HB_EXIT_OK);
	else if (optind >= argc)
		hb_error("replay: no trace given");
	else
		rc = replay_batch(&b, argv + optind, argc - optind);
out:
	replay_batch_free(&b);
	return rc;
}
