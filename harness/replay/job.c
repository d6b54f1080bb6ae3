/*
 * job.c - worker processes (see job.h).
 */
#include "replay/job.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap.h"
#include "host/os.h"

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

/* The last non-empty line the worker wrote to stderr, trimmed. */
static void last_line(int fd, char *out, size_t len)
{
	char buf[8192];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, from);
	out[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	const char *start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	size_t n2 = strlen(start) < len - 1 ? strlen(start) : len - 1;
	memcpy(out, start, n2);
	out[n2] = '\0';
}

/* Waits for pid at most timeout seconds (0 = forever): 1 exited (*status
 * set), 0 timed out. */
static int wait_child(pid_t pid, double timeout, int *status)
{
	uint64_t deadline = timeout > 0 ? os_now_ns() + (uint64_t)(timeout * 1e9) : 0;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			*status = 0;
			break;
		}
		int ms = 50;
		if (deadline) {
			uint64_t now = os_now_ns();
			if (now >= deadline) {
				if (pidfd >= 0)
					close(pidfd);
				return 0;
			}
			uint64_t left = (deadline - now) / 1000000 + 1;
			ms = left < 50 ? (int)left : 50;
		}
		if (pidfd >= 0) {
			struct pollfd p = {pidfd, POLLIN, 0};
			poll(&p, 1, ms);
		} else {
			usleep((useconds_t)ms * 1000);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return 1;
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
	default: snprintf(buf, len, "timed pass %d", pass);
	}
}

/* Forks and executes the worker (argv) with the backend's library
 * preloaded, or none: an LD_PRELOAD of the caller's would change what
 * `system` measures.  Its stdout and stderr go to outfd; the descriptors in
 * keep are inherited.  Returns the pid, or -1 with errno set. */
static pid_t spawn_worker(const char *const *argv, const char *preload, int outfd, const int *keep,
			  int nkeep)
{
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
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
	execv("/proc/self/exe", (char *const *)argv);
	dprintf(2, "cannot run the worker: %s\n", strerror(errno));
	_exit(127);
}

/* argv for `__worker --backend NAME --opt k=v...` from argv[n] on; the
 * option strings go into optbuf (freed by the caller).  Returns the new n. */
static int backend_args(const char **argv, int n, const struct replay_config *cfg, char **optbuf)
{
	argv[n++] = "--backend", argv[n++] = cfg->backend->name;
	for (size_t i = 0; i < cfg->nopt; i++) {
		size_t len = strlen(cfg->opt[i].key) + strlen(cfg->opt[i].value) + 2;
		optbuf[i] = xmalloc(len);
		snprintf(optbuf[i], len, "%s=%s", cfg->opt[i].key, cfg->opt[i].value);
		argv[n++] = "--opt", argv[n++] = optbuf[i];
	}
	return n;
}

int job_probe(const struct replay_config *cfg, char *out, size_t len)
{
	char *optbuf[REPLAY_MAX_OPTS] = {NULL};
	const char *argv[64];
	int n = 0;
	argv[n++] = "heapbench";
	argv[n++] = "__worker";
	argv[n++] = "--probe";
	n = backend_args(argv, n, cfg, optbuf);
	argv[n] = NULL;
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	int rc = -1, outfd = memfd_create("heapbench-probe", MFD_CLOEXEC);
	pid_t pid = outfd < 0 ? -1
			      : spawn_worker(argv, allocator_preload(cfg->backend, &opts), outfd,
					     NULL, 0);
	if (pid < 0) {
		snprintf(out, len, "cannot run a worker: %s", strerror(errno));
		goto out;
	}
	int status = 0;
	if (!wait_child(pid, 30, &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(out, len, "loading it took longer than 30 s");
		goto out;
	}
	/* the answer is the last line: "ok\tVERSION" or "error\tWHY" */
	char line[512];
	last_line(outfd, line, sizeof line);
	if (!strncmp(line, "ok\t", 3)) {
		snprintf(out, len, "%s", line + 3);
		rc = 0;
	} else if (!strncmp(line, "error\t", 6)) {
		snprintf(out, len, "%s", line + 6);
	} else if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(out, len, "the worker was killed by SIG%s while loading it%s%s",
			 abbrev ? abbrev : "?", line[0] ? ": " : "", line);
	} else {
		snprintf(out, len, "the worker exited with status %d while loading it%s%s",
			 WEXITSTATUS(status), line[0] ? ": " : "", line);
	}
out:
	if (outfd >= 0)
		close(outfd);
	for (size_t i = 0; i < cfg->nopt; i++)
		free(optbuf[i]);
	return rc;
}

int job_run(const struct trace *t, int hbt_fd, const struct replay_config *cfg, double timeout,
	    struct replay_result *r)
{
	memset(r, 0, sizeof *r);
	r->status = JOB_ERROR;
	r->error_op = UINT64_MAX;
	int shm = memfd_create("heapbench-result", MFD_CLOEXEC);
	int errfd = memfd_create("heapbench-stderr", MFD_CLOEXEC);
	struct replay_result *sh = MAP_FAILED;
	if (shm < 0 || errfd < 0 || ftruncate(shm, sizeof *r) < 0 ||
	    (sh = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0)) ==
		    MAP_FAILED) {
		snprintf(r->error, sizeof r->error, "cannot set up the worker: %s",
			 strerror(errno));
		goto out;
	}
	memcpy(sh, r, sizeof *r);
	sh->pass = REPLAY_PASS_START;
	snprintf(sh->error, sizeof sh->error, "the worker stopped before it reported");

	char fdbuf[2][16], num[6][32], *optbuf[REPLAY_MAX_OPTS] = {NULL};
	const char *argv[64];
	int n = 0;
	snprintf(fdbuf[0], sizeof fdbuf[0], "%d", hbt_fd);
	snprintf(fdbuf[1], sizeof fdbuf[1], "%d", shm);
	snprintf(num[0], sizeof num[0], "%" PRIu64, cfg->heap_check_every);
	snprintf(num[1], sizeof num[1], "%u", cfg->repeat);
	snprintf(num[2], sizeof num[2], "%" PRIu64, cfg->heap_limit);
	snprintf(num[3], sizeof num[3], "%u", cfg->alignment);
	snprintf(num[4], sizeof num[4], "%" PRIu64, cfg->sample_every);
	argv[n++] = "heapbench";
	argv[n++] = "__worker";
	argv[n++] = "--trace-fd", argv[n++] = fdbuf[0];
	argv[n++] = "--result-fd", argv[n++] = fdbuf[1];
	argv[n++] = "--check", argv[n++] = replay_check_names[cfg->check];
	argv[n++] = "--heap-check", argv[n++] = num[0];
	argv[n++] = "--repeat", argv[n++] = num[1];
	argv[n++] = "--heap-limit", argv[n++] = num[2];
	argv[n++] = "--alignment", argv[n++] = num[3];
	argv[n++] = "--sample-every", argv[n++] = num[4];
	if (cfg->latency)
		argv[n++] = "--latency";
	n = backend_args(argv, n, cfg, optbuf);
	argv[n] = NULL;

	struct backend_opts opts = {cfg->opt, cfg->nopt};
	int keep[2] = {hbt_fd, shm};
	pid_t pid = spawn_worker(argv, allocator_preload(cfg->backend, &opts), errfd, keep, 2);
	if (pid < 0) {
		snprintf(r->error, sizeof r->error, "cannot fork a worker: %s", strerror(errno));
		goto out;
	}

	int status = 0;
	bool finished = wait_child(pid, timeout, &status);
	if (!finished) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	memcpy(r, sh, sizeof *r);
	char where[64], tail[256];
	pass_name(r->pass, where, sizeof where);
	last_line(errfd, tail, sizeof tail);
	/* ops are only counted where the harness steps through them itself */
	bool op_known = r->pass == REPLAY_PASS_CHECKED || r->pass == REPLAY_PASS_LATENCY;
	if (!finished) {
		r->status = JOB_TIMEOUT;
		r->error_op = op_known ? r->progress : UINT64_MAX;
		snprintf(r->error, sizeof r->error, "no result after %g s, in %s", timeout, where);
	} else if (WIFSIGNALED(status)) {
		r->status = JOB_CRASH;
		r->signal = WTERMSIG(status);
		r->error_op = op_known ? r->progress : UINT64_MAX;
		const char *abbrev = sigabbrev_np(r->signal);
		snprintf(r->error, sizeof r->error, "killed by SIG%s in %s%s%s",
			 abbrev ? abbrev : "?", where, tail[0] ? ": " : "", tail);
	} else if (WEXITSTATUS(status) != 0 || !r->finished) {
		/* a backend that calls exit() must not pass for a finished job */
		r->status = JOB_ERROR;
		r->error_op = op_known ? r->progress : UINT64_MAX;
		snprintf(r->error, sizeof r->error, "the worker exited with status %d in %s%s%s",
			 WEXITSTATUS(status), where, tail[0] ? ": " : "", tail);
	}
	/* the worker's trace is the .hbt image, which has no lines: ours has */
	r->error_line = r->error_op == UINT64_MAX ? 0 : trace_line(t, r->error_op);
	for (size_t i = 0; i < cfg->nopt; i++)
		free(optbuf[i]);
out:
	if (sh != MAP_FAILED)
		munmap(sh, sizeof *r);
	if (shm >= 0)
		close(shm);
	if (errfd >= 0)
		close(errfd);
	return r->status == JOB_OK ? 0 : -1;
}

/* ---- Worker ---------------------------------------------------------------- */

static int worker_fail(const char *what, const char *arg)
{
	fprintf(stderr, "heapbench worker: %s%s\n", what, arg ? arg : "");
	return 2;
}

/* `__worker --probe`: can the backend start here, and which version is
 * it?  One line on stdout, "ok\tVERSION" or "error\tWHY" (job_probe). */
static int worker_probe(const struct replay_config *cfg)
{
	const struct allocator *a = cfg->backend;
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	struct heap *heap = NULL;
	char err[ALLOC_ERRLEN], version[256];
	void *st;
	if ((a->flags & ALLOC_F_SIMULATED) && !(heap = heap_create(0)))
		return printf("error\tcannot reserve the simulated heap\n"), 0;
	if (a->init(&st, heap, &opts, err, sizeof err) < 0)
		return printf("error\t%s\n", err), 0;
	if (a->version && a->version(version, sizeof version) < 0)
		return printf("error\t%s\n", version), 0;
	if (!a->version) /* built in, or the name a user's library gives itself */
		snprintf(version, sizeof version, "%s",
			 allocator_find(a->name) == a ? "heapbench " HB_VERSION : a->name);
	a->fini(st);
	heap_destroy(heap);
	printf("ok\t%s\n", version);
	return 0;
}

int job_worker_main(int argc, char **argv)
{
	struct replay_config cfg;
	replay_config_init(&cfg);
	int trace_fd = -1, result_fd = -1;
	const char *backend = NULL;
	static char *opt_copy[REPLAY_MAX_OPTS];
	bool probe = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x = 0;
		if (!strcmp(a, "--latency")) {
			cfg.latency = true;
			continue;
		}
		if (!strcmp(a, "--probe")) {
			probe = true;
			continue;
		}
		if (!v)
			return worker_fail("missing value for ", a);
		i++;
		if (!strcmp(a, "--backend")) {
			backend = v;
		} else if (!strcmp(a, "--check")) {
			int k = replay_name_find(replay_check_names, v);
			cfg.check = k < 0 ? CHECK_OFF : (enum replay_check)k;
		} else if (!strcmp(a, "--opt")) {
			const char *eq = strchr(v, '=');
			if (!eq || cfg.nopt == REPLAY_MAX_OPTS)
				return worker_fail("bad option ", v);
			opt_copy[cfg.nopt] = xstrdup(v);
			opt_copy[cfg.nopt][eq - v] = '\0';
			cfg.opt[cfg.nopt].key = opt_copy[cfg.nopt];
			cfg.opt[cfg.nopt].value = opt_copy[cfg.nopt] + (eq - v) + 1;
			cfg.nopt++;
		} else if (parse_u64(v, &x) < 0) {
			return worker_fail("bad number for ", a);
		} else if (!strcmp(a, "--trace-fd")) {
			trace_fd = (int)x;
		} else if (!strcmp(a, "--result-fd")) {
			result_fd = (int)x;
		} else if (!strcmp(a, "--heap-check")) {
			cfg.heap_check_every = x;
		} else if (!strcmp(a, "--repeat")) {
			cfg.repeat = (unsigned)(x < REPLAY_MAX_REPEAT ? x : REPLAY_MAX_REPEAT);
		} else if (!strcmp(a, "--heap-limit")) {
			cfg.heap_limit = x;
		} else if (!strcmp(a, "--alignment")) {
			cfg.alignment = (unsigned)x;
		} else if (!strcmp(a, "--sample-every")) {
			cfg.sample_every = x;
		} else {
			return worker_fail("unknown argument ", a);
		}
	}
	if (!backend || (!probe && (trace_fd < 0 || result_fd < 0)))
		return worker_fail("needs --trace-fd, --result-fd and --backend", NULL);
	if (!(cfg.backend = allocator_find(backend)))
		return worker_fail("unknown backend ", backend);
	char err[ALLOC_ERRLEN];
	if (cfg.backend == &library_allocator) {
		struct backend_opts opts = {cfg.opt, cfg.nopt};
		const char *path = backend_opt_get(&opts, "path");
		cfg.backend = library_load(path ? path : "", err, sizeof err);
		cfg.nopt = 0; /* `path` was ours; the library's own options are none */
		if (!cfg.backend && probe)
			return printf("error\t%s\n", err), 0;
		if (!cfg.backend)
			return worker_fail("cannot load the library: ", err);
	}
	if (probe)
		return worker_probe(&cfg);

	struct replay_result *r =
		mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, result_fd, 0);
	if (r == MAP_FAILED)
		return worker_fail("cannot map the result: ", strerror(errno));
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", trace_fd);
	struct diag d;
	diag_init(&d, path, false);
	/* verified again here: the file may have changed since the parent read it */
	struct trace *t = trace_load_verified(path, &d);
	if (!t)
		return worker_fail("cannot load the trace", NULL);
	memset(r, 0, sizeof *r); /* touches the result pages before any baseline */
	r->status = JOB_ERROR;
	r->pass = REPLAY_PASS_START;
	snprintf(r->error, sizeof r->error, "the worker stopped before the checked pass");
	replay_run(t, &cfg, r);
	/* the result is in shared memory; nothing else to hand back */
	_exit(0);
}
