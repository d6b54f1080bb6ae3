/*
 * cmd_record.c - `heapbench record -o OUT [--] COMMAND [ARGS...]`: runs a
 * program with the recorder preloaded (recorder/record.c) and then has
 * each of its processes' raw logs turned into a trace (recorder/session.h).
 *
 * The program's own output and exit status pass through: `record` exits
 * with the program's status (128 + N if signal N killed it).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cmd.h"
#include "recorder/session.h"

static const char record_usage[] =
	"usage: heapbench record -o OUT [--] COMMAND [ARGS...]\n"
	"\n"
	"Runs COMMAND with heapbench's recorder preloaded and writes one trace\n"
	"per process it starts (forks and execs included) into the directory OUT:\n"
	"1-PROGRAM.hbt.zst, 2-PROGRAM.hbt.zst, ... in the order the processes\n"
	"started, and summary.json.  COMMAND's output and exit status pass\n"
	"through unchanged; the table of recorded processes goes to stderr.\n"
	"\n"
	"  -o OUT   the output directory (created; must be empty if it exists)\n"
	"\n"
	"The logs are converted while COMMAND runs, on a core it leaves idle;\n"
	"HEAPBENCH_RECORD_FOLLOW=0 converts them only after it ends.\n"
	"\n"
	"Exit status: COMMAND's (128 + N if signal N killed it); 2 if heapbench\n"
	"could not record.\n";

/* Runs argv with the recorder preloaded, writing into rawdir, and waits
 * for it, converting its logs meanwhile (into *fl): its exit status (128 +
 * N if signal N killed it), or HB_EXIT_USAGE if it could not be started. */
static int run_recorded(char **argv, const char *lib, const char *rawdir,
			struct recorder_follow **fl)
{
	/* the program's Ctrl-C is its own; we finish the traces after it */
	struct sigaction ign = {.sa_handler = SIG_IGN}, oldint, oldquit;
	sigaction(SIGINT, &ign, &oldint);
	sigaction(SIGQUIT, &ign, &oldquit);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &oldint, NULL);
		sigaction(SIGQUIT, &oldquit, NULL);
		const char *old = getenv("LD_PRELOAD");
		size_t len = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
		char *preload = xmalloc(len);
		snprintf(preload, len, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
		setenv("LD_PRELOAD", preload, 1);
		setenv("HEAPBENCH_RECORD_DIR", rawdir, 1);
		unsetenv("HEAPBENCH_RECORD_FOLLOW"); /* ours: the program runs as it would */
		/* a user's (or a test's) choice stays */
		setenv("HEAPBENCH_RECORD_ORDER", recorder_order(), 0);
		execvp(argv[0], argv);
		hb_error("record: cannot run '%s': %s", argv[0], strerror(errno));
		_exit(127);
	}
	int status = 0;
	if (pid < 0) {
		hb_error("record: cannot fork: %s", strerror(errno));
		status = -1;
	} else {
		const char *follow = getenv("HEAPBENCH_RECORD_FOLLOW");
		*fl = recorder_follow(rawdir, pid, &status, !follow || strcmp(follow, "0"));
	}
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGQUIT, &oldquit, NULL);
	return pid < 0               ? HB_EXIT_USAGE
	       : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
				     : WEXITSTATUS(status);
}

int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *out = NULL;
	int c;
	optind = 1;
	/* '+': the command's own options are its business */
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': fputs(record_usage, stdout); return HB_EXIT_OK;
		default: return cmd_option_error("record", argv, optind);
		}
	}
	if (!out) {
		hb_error("record: -o OUT is required");
		return HB_EXIT_USAGE;
	}
	if (optind >= argc) {
		hb_error("record: no command given");
		return HB_EXIT_USAGE;
	}
	char lib[PATH_MAX], rawdir[PATH_MAX], absout[PATH_MAX];
	if (recorder_find_library(lib, sizeof lib) < 0) {
		hb_error("record: %s is missing (make builds it next to heapbench)", lib);
		return HB_EXIT_USAGE;
	}
	if (recorder_prepare(out, absout, rawdir, sizeof rawdir) < 0)
		return HB_EXIT_USAGE;
	struct recorder_follow *fl = NULL;
	int exit_status = run_recorded(argv + optind, lib, rawdir, &fl);
	int rc = recorder_finish(absout, rawdir, exit_status, fl);
	rmdir(rawdir);
	return rc < 0 ? HB_EXIT_USAGE : exit_status;
}
