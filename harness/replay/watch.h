/*
 * watch.h - the parent's side of a running worker (job.c): what it writes
 * captured, its wall time and its physical memory held to the job's
 * limits, a Ctrl-C or SIGTERM of ours passed on to it, and, when it is
 * over, every process it started ended with it.
 *
 * A worker leads a process group of its own, which what it forks joins;
 * and the parent is the subreaper of its workers' descendants
 * (PR_SET_CHILD_SUBREAPER): a process a backend forks, even one that
 * leaves the group and the session, comes to the parent when its own
 * parent dies.  When the job is over the group is killed, then every such
 * orphan (a child of ours outside our own process group), round after
 * round until none is left.
 */
#ifndef HB_REPLAY_WATCH_H
#define HB_REPLAY_WATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "replay/job.h"

/* What a worker writes to stdout and stderr, read through a pipe while it
 * runs: the last WATCH_CAPTURE bytes are kept (the end of a failed job's
 * message comes from them), the rest only counted, so that a backend
 * printing a line per block (a student's debug printf) costs the harness
 * no memory. */
#define WATCH_CAPTURE 4096
struct capture {
	char tail[WATCH_CAPTURE]; /* a ring */
	uint64_t total;           /* bytes written */
};

/* The last bytes written, in order, into out (WATCH_CAPTURE + 1 long). */
size_t capture_last(const struct capture *c, char *out);

enum watch_end {
	WATCH_EXITED,      /* by itself: status says how */
	WATCH_TIMEOUT,     /* killed at the time limit */
	WATCH_MEMORY,      /* killed over the memory limit */
	WATCH_INTERRUPTED, /* killed because we were (job_interrupt) */
};

struct watch {
	pid_t pid;
	const struct job_limits *lim;
	int outfd;           /* the worker's output (non-blocking), or -1 */
	struct capture *cap; /* where it goes, or NULL */
	int status;          /* the worker's wait status */
	uint64_t memory;     /* its physical memory at the last reading, bytes */
	uint64_t peak_rss;   /* its largest resident set (wait4's ru_maxrss), bytes */
};

/* Makes this process the subreaper of what its children leave; before the
 * first worker is forked. */
void watch_become_reaper(void);

/* Waits for w->pid within w->lim, reading its output meanwhile; a worker
 * over a limit, or of a run interrupted, is killed.  When it returns the
 * worker is reaped (w->status, w->peak_rss) and every process it left
 * behind is killed and reaped too. */
enum watch_end watch_worker(struct watch *w);

#endif
