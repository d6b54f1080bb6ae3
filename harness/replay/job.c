/*
 * job.c - worker processes (see job.h).
 */
#include "replay/job.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap.h"
#include "host/hb_assert.h"
#include "host/os.h"
#include "replay/jobpage.h"
#include "replay/lab.h"
#include "replay/mmbuild.h"
#include "replay/watch.h"

int job_trace_fd(const struct trace *t)
{
	if (t->format == TRACE_FMT_HBT && t->compression == TRACE_COMP_NONE && t->map) {
		int fd = open(t->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	int fd = memfd_create("heapbench-trace", MFD_CLOEXEC);
	if (fd < 0) {
		hb_error("%s: cannot create a memory file: %s", t->path, strerror(errno));
		return -1;
	}
	if (trace_write_hbt_fd(t, fd) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- Parent -------------------------------------------------------------- */

/* The last non-empty line of buf (n bytes, NUL-terminated), trimmed. */
static void last_line_of(char *buf, size_t n, char *out, size_t len)
{
	out[0] = '\0';
	if (!n)
		return;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	const char *start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	size_t n2 = strlen(start) < len - 1 ? strlen(start) : len - 1;
	/* one line of text: a backend's control bytes are not ours to print */
	for (size_t i = 0; i < n2; i++)
		out[i] = (unsigned char)start[i] < 0x20 || start[i] == 0x7f ? '?' : start[i];
	out[n2] = '\0';
}

static void pass_name(int pass, char *buf, size_t len)
{
	switch (pass) {
	case REPLAY_PASS_CHECKED: snprintf(buf, len, "the checked pass"); break;
	case REPLAY_PASS_LATENCY: snprintf(buf, len, "the latency pass"); break;
	case REPLAY_PASS_CLEANUP:
		snprintf(buf, len, "the free of the blocks still live after the checked pass");
		break;
	case REPLAY_PASS_START:
		snprintf(buf, len, "the worker's start, before the checked pass");
		break;
	case REPLAY_PASS_THREADED: snprintf(buf, len, "the checked threaded pass"); break;
	default: snprintf(buf, len, "timed pass %d", pass);
	}
}

/* The worker to run cfg in, into exe: this binary, or for mm:PATH at 32
 * bits the 32-bit worker next to it.  -1 and why not in err. */
static int worker_exe(const struct replay_config *cfg, char *exe, size_t len, char *err,
		      size_t errlen)
{
	snprintf(exe, len, "/proc/self/exe");
	if (cfg->backend != &mm_allocator || mm_bits(cfg) != 32)
		return 0;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	int k = snprintf(exe, len, "%s/heapbench-worker32", self);
	if (n > 0 && k > 0 && (size_t)k < len && access(exe, X_OK) == 0)
		return 0;
	snprintf(
		err, errlen,
		"mm: a 32-bit build runs in the 32-bit worker, which this heapbench lacks (%.200s: "
		"it is built where gcc-multilib is installed); mm:PATH:bits=64 runs it 64-bit",
		n > 0 ? exe : "heapbench-worker32");
	return -1;
}

/* Forks and executes the worker (argv) with the backend's library
 * (exe: worker_exe) preloaded, or none: an LD_PRELOAD of the caller's would change what
 * `system` measures.  Its stdout and stderr go to outfd; the descriptors in
 * keep are inherited.  Returns the pid, or -1 with errno set. */
static pid_t spawn_worker(const char *exe, const char *const *argv, const char *preload, int outfd,
			  const int *keep, int nkeep)
{
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid > 0) /* its own process group, set on both sides of the race */
		setpgid(pid, pid);
	if (pid != 0)
		return pid;
	/* what the backend starts is in the worker's group, ended with it
	 * (watch.c); our Ctrl-C and SIGTERM reach it through job_interrupt */
	setpgid(0, 0);
	/* under AddressSanitizer (make debug), let a crashing backend die
	 * of its signal instead of being reported as an ASan error */
	char asan[512];
	const char *old = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof asan,
		 "%s%shandle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0", old ? old : "",
		 old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
#ifdef HB_SANITIZED
	/* ASan must come first in the process: the backend's init says why
	 * it cannot run */
	preload = NULL;
#endif
	if (preload)
		setenv("LD_PRELOAD", preload, 1);
	else
		unsetenv("LD_PRELOAD");
	/* a backend's chatter must not mix with our output */
	dup2(outfd, 1);
	dup2(outfd, 2);
	/* a worker does not outlive a killed parent */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	for (int i = 0; i < nkeep; i++)
		fcntl(keep[i], F_SETFD, 0);
	/* the same address-space layout in every run (setarch -R): where an
	 * allocator's mappings land decides whether a large realloc grows in
	 * place, and so its footprint (docs/metrics.md, "fixed layout"); where the
	 * kernel refuses, the worker runs randomised */
	int persona = personality(0xffffffff);
	if (persona != -1)
		personality((unsigned long)persona | ADDR_NO_RANDOMIZE);
	execv(exe, (char *const *)argv);
	dprintf(2, "cannot run the worker: %s\n", strerror(errno));
	_exit(127);
}

/* ---- The page a worker shares ------------------------------------------------ */

int job_config_check(const struct replay_config *cfg, char *err, size_t len)
{
	if (strlen(cfg->backend->name) >= JOB_NAME_MAX) {
		snprintf(err, len, "its name is longer than the %d bytes a worker takes",
			 JOB_NAME_MAX - 1);
		return -1;
	}
	if (cfg->nopt > REPLAY_MAX_OPTS) {
		snprintf(err, len, "at most %d options", REPLAY_MAX_OPTS);
		return -1;
	}
	for (size_t i = 0; i < cfg->nopt; i++) {
		const struct backend_opt *o = &cfg->opt[i];
		size_t n = strlen(o->value);
		if (strlen(o->key) >= JOB_KEY_MAX) {
			snprintf(err, len,
				 "option %.32s... has a name longer than the %d bytes a worker "
				 "takes",
				 o->key, JOB_KEY_MAX - 1);
			return -1;
		}
		if (n >= JOB_VALUE_MAX) {
			snprintf(err, len,
				 "option %s has a value of %zu bytes, more than the %d a worker "
				 "takes",
				 o->key, n, JOB_VALUE_MAX - 1);
			return -1;
		}
	}
	return 0;
}

/* A shared page holding cfg for a worker (*fd: its memory file, to be
 * inherited), or NULL and why not. */
static struct job_page *page_create(const struct replay_config *cfg, int *fd, char *err, size_t len)
{
	char why[256];
	if (job_config_check(cfg, why, sizeof why) < 0) {
		snprintf(err, len, "cannot set up the worker: %s", why);
		return NULL;
	}
	struct job_page *pg = MAP_FAILED;
	*fd = memfd_create("heapbench-job", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, sizeof *pg) < 0 ||
	    (pg = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0)) ==
		    MAP_FAILED) {
		snprintf(err, len, "cannot set up the worker: %s", strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return NULL;
	}
	pg->magic = JOB_PAGE_MAGIC;
	pg->size = sizeof *pg;
	job_knobs_put(&pg->knobs, cfg);
	snprintf(pg->backend, sizeof pg->backend, "%s", cfg->backend->name);
	pg->nopt = (uint32_t)cfg->nopt;
	for (size_t i = 0; i < cfg->nopt; i++) {
		snprintf(pg->opt[i].key, sizeof pg->opt[i].key, "%s", cfg->opt[i].key);
		snprintf(pg->opt[i].value, sizeof pg->opt[i].value, "%s", cfg->opt[i].value);
	}
	return pg;
}

static void page_destroy(struct job_page *pg, int fd)
{
	if (pg)
		munmap(pg, sizeof *pg);
	if (fd >= 0)
		close(fd);
}

/* How a worker that did not finish ended, for a message: "exited with
 * status N" or "was killed by SIGx" (a worker we killed: why). */
static void how_it_ended(enum watch_end end, const struct watch *w, char *out, size_t len)
{
	switch (end) {
	case WATCH_TIMEOUT: snprintf(out, len, "gave no answer in %g s", w->lim->timeout); return;
	case WATCH_MEMORY:
		snprintf(out, len, "was killed over the memory limit (%" PRIu64 " MiB)",
			 w->lim->memory >> 20);
		return;
	case WATCH_INTERRUPTED: snprintf(out, len, "was interrupted"); return;
	case WATCH_EXITED: break;
	}
	if (WIFSIGNALED(w->status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(w->status));
		snprintf(out, len, "was killed by SIG%s", abbrev ? abbrev : "?");
	} else {
		snprintf(out, len, "exited with status %d", WEXITSTATUS(w->status));
	}
}

/* A worker's output and its end, into a probe's or a job's message: the
 * last line it wrote, trimmed, or "" */
static void output_tail(const struct capture *cap, char *out, size_t len)
{
	char last[WATCH_CAPTURE + 1];
	last_line_of(last, capture_last(cap, last), out, len);
}

/* The probe's answer, from the page the worker left: ok (its version in
 * error) or error, both finished; otherwise how far it got (the stage the
 * worker wrote in error before each step) and how it ended. */
static int probe_answer(const struct replay_result *r, enum watch_end end, const struct watch *w,
			char *out, size_t len)
{
	/* the page's shape only: a probe replays nothing, so no numbers */
	char why[256];
	bool sane = job_result_check(r, 0, false, why, sizeof why) == 0;
	if (sane && r->finished && end == WATCH_EXITED && WIFEXITED(w->status) &&
	    WEXITSTATUS(w->status) == 0) {
		snprintf(out, len, "%s", r->error);
		return r->status == JOB_OK ? 0 : -1;
	}
	char how[96], tail[256];
	how_it_ended(end, w, how, sizeof how);
	output_tail(w->cap, tail, sizeof tail);
	snprintf(out, len, "the worker %s %s%s%s", how,
		 sane ? r->error : "(and the backend corrupted the page it answers in)",
		 tail[0] ? ": " : "", tail);
	return -1;
}

int job_probe(const struct replay_config *cfg, char *out, size_t len)
{
	int fd = -1, rc = -1, pipefd[2] = {-1, -1};
	struct job_page *pg = page_create(cfg, &fd, out, len);
	if (!pg)
		return -1;
	/* before the worker takes a step, the stage it is in (worker_probe) */
	snprintf(pg->result.error, sizeof pg->result.error,
		 "while it started (a preloaded library loads first)");
	char fdbuf[16];
	snprintf(fdbuf, sizeof fdbuf, "%d", fd);
	const char *argv[] = {"heapbench", "__worker", "--probe", "--page-fd", fdbuf, NULL};
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	struct capture cap = {.total = 0};
	struct job_limits lim;
	job_limits_default(&lim);
	lim.timeout = 30;
	watch_become_reaper();
	pid_t pid = -1;
	if (pipe2(pipefd, O_CLOEXEC) == 0 && fcntl(pipefd[0], F_SETFL, O_NONBLOCK) == 0)
		pid = spawn_worker("/proc/self/exe", argv, allocator_preload(cfg->backend, &opts),
				   pipefd[1], &fd, 1);
	if (pid < 0) {
		snprintf(out, len, "cannot run a worker: %s", strerror(errno));
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	struct watch w = {.pid = pid, .lim = &lim, .outfd = pipefd[0], .cap = &cap};
	enum watch_end end = watch_worker(&w);
	rc = probe_answer(&pg->result, end, &w, out, len);
out:
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	page_destroy(pg, fd);
	return rc;
}

/* How the worker ended, into r (its result as the worker left it). */
static void judge_end(struct replay_result *r, enum watch_end end, const struct watch *w)
{
	char where[64], tail[256];
	pass_name(r->pass, where, sizeof where);
	output_tail(w->cap, tail, sizeof tail);
	/* ops are only counted where the harness steps through them itself */
	bool op_known = r->pass == REPLAY_PASS_CHECKED || r->pass == REPLAY_PASS_LATENCY;
	uint64_t op = op_known ? r->progress : UINT64_MAX;
	int status = w->status;
	if (end == WATCH_INTERRUPTED) {
		r->status = JOB_ERROR;
		r->error_op = op;
		snprintf(r->error, sizeof r->error, "interrupted in %s", where);
	} else if (end == WATCH_TIMEOUT) {
		r->status = JOB_TIMEOUT;
		r->error_op = op;
		snprintf(r->error, sizeof r->error, "no result after %g s, in %s", w->lim->timeout,
			 where);
	} else if (end == WATCH_MEMORY) {
		r->status = JOB_OOM;
		r->error_op = op;
		snprintf(r->error, sizeof r->error,
			 "the worker used %" PRIu64 " MiB of physical memory, over the job's limit "
			 "of %" PRIu64 " MiB (memory_limit), in %s",
			 w->memory >> 20, w->lim->memory >> 20, where);
	} else if (WIFSIGNALED(status)) {
		r->status = JOB_CRASH;
		r->signal = WTERMSIG(status);
		r->error_op = op;
		const char *abbrev = sigabbrev_np(r->signal);
		/* a SIGKILL that is not ours: the kernel's OOM killer, most often */
		char who[128] = "";
		if (r->signal == SIGKILL)
			snprintf(who, sizeof who,
				 " (not by heapbench: by the kernel's OOM killer or another "
				 "process; the worker held %" PRIu64 " MiB)",
				 w->memory >> 20);
		snprintf(r->error, sizeof r->error, "killed by SIG%s%s in %s%s%s",
			 abbrev ? abbrev : "?", who, where, tail[0] ? ": " : "", tail);
	} else if (WEXITSTATUS(status) != 0 || !r->finished) {
		/* a backend that calls exit() must not pass for a finished job */
		r->status = JOB_ERROR;
		r->error_op = op;
		snprintf(r->error, sizeof r->error, "the worker exited with status %d in %s%s%s",
			 WEXITSTATUS(status), where, tail[0] ? ": " : "", tail);
	}
}

/* A result page the backend scribbled on: r, cleared, is the job's error
 * (with how the worker ended), and true; false if the page is sound. */
static bool judge_page(struct replay_result *r, const struct trace *t, enum watch_end end,
		       const struct watch *w)
{
	char why[256];
	bool clean_exit = end == WATCH_EXITED && WIFEXITED(w->status) && !WEXITSTATUS(w->status);
	if (job_result_check(r, t->nops, clean_exit, why, sizeof why) == 0)
		return false;
	memset(r, 0, sizeof *r);
	r->status = JOB_ERROR;
	r->error_op = UINT64_MAX;
	char how[96] = "";
	if (!clean_exit)
		how_it_ended(end, w, how, sizeof how);
	snprintf(r->error, sizeof r->error, "%s%s%s", why, how[0] ? "; the worker then " : "", how);
	return true;
}

void job_refuse(const struct trace *t, const struct replay_config *cfg, const char *why,
		struct replay_result *r)
{
	memset(r, 0, sizeof *r);
	r->status = JOB_ERROR;
	r->error_op = UINT64_MAX;
	r->pass = REPLAY_PASS_START;
	snprintf(r->error, sizeof r->error, "the backend cannot run here: %s", why);
	r->lab_weight = replay_lab_weight(t, cfg->lab);
}

int job_run(const struct trace *t, int hbt_fd, const struct replay_config *cfg,
	    const struct job_limits *lim, struct replay_result *r)
{
	memset(r, 0, sizeof *r);
	r->status = JOB_ERROR;
	r->error_op = UINT64_MAX;
	int fd = -1, out[2] = {-1, -1};
	struct job_page *pg = NULL;
	struct capture cap = {.total = 0};
	if (pipe2(out, O_CLOEXEC) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(r->error, sizeof r->error, "cannot set up the worker: %s",
			 strerror(errno));
		goto out;
	}
	char exe[PATH_MAX + 32];
	if (worker_exe(cfg, exe, sizeof exe, r->error, sizeof r->error) < 0 ||
	    !(pg = page_create(cfg, &fd, r->error, sizeof r->error)))
		goto out;
	memcpy(&pg->result, r, sizeof *r);
	pg->result.pass = REPLAY_PASS_START;
	snprintf(pg->result.error, sizeof pg->result.error,
		 "the worker stopped before it reported");

	char fdbuf[2][16];
	snprintf(fdbuf[0], sizeof fdbuf[0], "%d", fd);
	snprintf(fdbuf[1], sizeof fdbuf[1], "%d", hbt_fd);
	const char *argv[] = {"heapbench",  "__worker", "--page-fd", fdbuf[0],
			      "--trace-fd", fdbuf[1],   NULL};
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	int keep[2] = {fd, hbt_fd};
	watch_become_reaper();
	pid_t pid =
		spawn_worker(exe, argv, allocator_preload(cfg->backend, &opts), out[1], keep, 2);
	close(out[1]);
	out[1] = -1;
	if (pid < 0) {
		snprintf(r->error, sizeof r->error, "cannot fork a worker: %s", strerror(errno));
		goto out;
	}
	struct watch w = {.pid = pid, .lim = lim, .outfd = out[0], .cap = &cap};
	enum watch_end end = watch_worker(&w);
	memcpy(r, &pg->result, sizeof *r);
	if (!judge_page(r, t, end, &w))
		judge_end(r, end, &w);
	r->output_bytes = cap.total;
	r->worker_peak_rss_bytes = w.peak_rss;
	/* the worker's trace is the .hbt image, which has no lines: ours has */
	r->error_line = r->error_op == UINT64_MAX ? 0 : trace_line(t, r->error_op);
out:
	r->lab_weight = replay_lab_weight(t, cfg->lab);
	page_destroy(pg, fd);
	for (int i = 0; i < 2; i++)
		if (out[i] >= 0)
			close(out[i]);
	return r->status == JOB_OK ? 0 : -1;
}
