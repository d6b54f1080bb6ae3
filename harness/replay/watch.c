/*
 * watch.c - a running worker, watched by its parent (watch.h).
 */
#include "replay/watch.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/os.h"

static volatile sig_atomic_t interrupted_by;

void job_interrupt(int sig)
{
	interrupted_by = sig;
}

int job_interrupted(void)
{
	return interrupted_by;
}

void job_signals_catch(const int *sigs, size_t n, struct sigaction *old)
{
	struct sigaction sa = {.sa_handler = job_interrupt};
	for (size_t i = 0; i < n; i++)
		sigaction(sigs[i], &sa, &old[i]);
}

void job_signals_restore(const int *sigs, size_t n, const struct sigaction *old)
{
	for (size_t i = 0; i < n; i++)
		sigaction(sigs[i], &old[i], NULL);
}

/* ---- Output ----------------------------------------------------------------------- */

static void capture_add(struct capture *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++, c->total++)
		c->tail[c->total % WATCH_CAPTURE] = p[i];
}

/* Reads what the pipe holds now (it is non-blocking). */
static void capture_drain(struct capture *c, int fd)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			capture_add(c, buf, (size_t)n);
}

size_t capture_last(const struct capture *c, char *out)
{
	size_t n = c->total < WATCH_CAPTURE ? (size_t)c->total : WATCH_CAPTURE;
	for (size_t i = 0; i < n; i++)
		out[i] = c->tail[(c->total - n + i) % WATCH_CAPTURE];
	out[n] = '\0';
	return n;
}

/* ---- Memory ----------------------------------------------------------------------- */

void job_limits_default(struct job_limits *l)
{
	l->timeout = JOB_DEFAULT_TIMEOUT;
	const char *env = getenv("HEAPBENCH_TIMEOUT");
	char *end;
	double t = env ? strtod(env, &end) : -1;
	if (env && end != env && !*end && t >= 0 && t <= 1e6)
		l->timeout = t;
	/* half of what the kernel says it could give now without swapping,
	 * or $HEAPBENCH_MEMORY_LIMIT (0: none) */
	env = getenv("HEAPBENCH_MEMORY_LIMIT");
	l->memory = env && !strcmp(env, "0") ? 0 : memory_budget();
}

/* ---- What a worker leaves ---------------------------------------------------------- */

void watch_become_reaper(void)
{
	static bool done;
	if (!done)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	done = true;
}

/* The parent process of pid, from /proc/PID/stat (after the name in
 * parentheses, which may hold anything), or -1. */
static pid_t parent_of(const char *pid)
{
	char path[300], buf[512];
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	const char *p = strrchr(buf, ')');
	int ppid;
	char state;
	return p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 ? ppid : -1;
}

/* The children we have now that a worker left (up to max, into kids):
 * those outside our process group.  Our own children (a sanitizer's
 * symbolizer) are in it; a worker's descendants are in the worker's group,
 * or in one of their own. */
static size_t orphans(pid_t *kids, size_t max)
{
	DIR *d = opendir("/proc");
	size_t n = 0;
	pid_t self = getpid(), group = getpgrp();
	for (struct dirent *e; d && n < max && (e = readdir(d));) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (isdigit((unsigned char)e->d_name[0]) && parent_of(e->d_name) == self &&
		    getpgid(pid) != group)
			kids[n++] = pid;
	}
	if (d)
		closedir(d);
	return n;
}

/* Kills and reaps what a worker left, until nothing is: each descendant
 * that came to us (the subreaper) as its parent died, whose own children
 * come the same way in the next round. */
static void end_descendants(void)
{
	pid_t kids[256];
	for (int round = 0; round < 10000; round++) {
		size_t n = orphans(kids, HB_ARRAY_LEN(kids));
		if (!n)
			return;
		for (size_t i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		for (size_t i = 0; i < n; i++)
			waitpid(kids[i], NULL, 0);
	}
}

/* ---- The wait ---------------------------------------------------------------------- */

/* Whether the worker is over a limit or we were interrupted: the reason to
 * kill it, or WATCH_EXITED to wait on. */
static enum watch_end over(struct watch *w, uint64_t deadline, int statm_fd)
{
	if (interrupted_by)
		return WATCH_INTERRUPTED;
	if (deadline && os_now_ns() >= deadline)
		return WATCH_TIMEOUT;
	/* physical memory: the anonymous resident pages (the trace's mapping
	 * and the job's page are files; the simulated heap's reservation is
	 * not resident until touched) */
	if (statm_fd >= 0)
		w->memory = os_anon_resident(statm_fd);
	return w->lim->memory && w->memory > w->lim->memory ? WATCH_MEMORY : WATCH_EXITED;
}

enum watch_end watch_worker(struct watch *w)
{
	const struct job_limits *lim = w->lim;
	uint64_t deadline = lim->timeout > 0 ? os_now_ns() + (uint64_t)(lim->timeout * 1e9) : 0;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/statm", (int)w->pid);
	int pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
	int statm_fd = open(path, O_RDONLY | O_CLOEXEC);
	/* memory is read every 10 ms: a worker filling memory at 10 GB/s
	 * overshoots its limit by 100 MB at most before it is killed */
	int period = lim->memory ? 10 : 50;
	enum watch_end end = WATCH_EXITED;
	w->status = 0;
	for (;;) {
		/* ended, but not reaped: its pid still names its process group
		 * when that is killed, below */
		siginfo_t si = {.si_pid = 0};
		int got = waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT);
		if ((got == 0 && si.si_pid == w->pid) || (got < 0 && errno != EINTR))
			break;
		if ((end = over(w, deadline, statm_fd)) != WATCH_EXITED) {
			kill(w->pid, SIGKILL);
			waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOWAIT);
			break;
		}
		/* poll ignores an entry whose fd is -1: with neither, it sleeps */
		struct pollfd p[2] = {{pidfd, POLLIN, 0}, {w->cap ? w->outfd : -1, POLLIN, 0}};
		poll(p, 2, period);
		if (w->cap)
			capture_drain(w->cap, w->outfd);
	}
	if (w->cap)
		capture_drain(w->cap, w->outfd);
	if (pidfd >= 0)
		close(pidfd);
	if (statm_fd >= 0)
		close(statm_fd);
	/* its group while the worker, not yet reaped, still names it */
	kill(-w->pid, SIGKILL);
	struct rusage ru;
	w->peak_rss = 0;
	if (wait4(w->pid, &w->status, 0, &ru) == w->pid)
		w->peak_rss = (uint64_t)ru.ru_maxrss << 10; /* KiB on Linux */
	end_descendants();
	return end;
}
