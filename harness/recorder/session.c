/*
 * session.c - the directory of one `heapbench record` (session.h): made
 * ready before the program runs, then filled with one trace per process
 * image, a table on stderr and summary.json once it is done.
 *
 * While the program runs (recorder_follow) the parent converts up to
 * FOLLOW_MAX logs at once as they are written, every 1 ms, compressing
 * their ops as it goes (hbtstream.h), and writes the trace of a process
 * image as soon as it has ended; after the program, recorder_finish does
 * what is left.  Traces are numbered in the order the processes started
 * and named after the program (1-make.hbt.zst, 2-sh.hbt.zst, ...); each
 * carries where it came from in its metadata (recorder, recorded,
 * command, pid).
 */
#include "recorder/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonx.h"
#include "base/out.h"
#include "recorder/convert.h"
#include "recorder/hbtstream.h"
#include "recorder/raw.h"

#define RECORDER_LIB "libheapbench-record.so"

/* One raw log. */
struct rawfile {
	char *path;
	struct raw_header h;
};

/* A log converted while the program runs (recorder_follow). */
struct livelog {
	char *path;
	struct trace *t;
	struct recorder_info info;
	struct recorder_live *live; /* NULL: it could not be read */
	struct hbt_stream out;      /* the ops converted so far, compressed */
	bool failed;                /* reported: recorder_finish fails */
	bool later;                 /* not followed (another pid namespace): converted after */
	struct raw_header h;        /* as it was when the log was found */
	char *written;              /* the trace, written once the process ended; or NULL */
	char recorded[64];          /* its "recorded" metadata, for the table */
};

/* The logs converted while the program runs. */
struct recorder_follow {
	const char *rawdir;
	struct livelog **logs;
	size_t n, cap;
	size_t active;    /* logs still converted (not written, not failed) */
	uint64_t pidns;   /* heapbench's own pid namespace (raw_pidns) */
	atomic_bool stop; /* the program has ended: the follower stops */
};

/* ---- Before the program ------------------------------------------------- */

/* The recorder library, next to this binary. */
int recorder_find_library(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	int k = snprintf(out, len, "%s/%s", exe, RECORDER_LIB);
	return k < 0 || (size_t)k >= len ? -1 : access(out, R_OK);
}

const char *recorder_order(void)
{
	char src[64] = "";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (!fgets(src, sizeof src, f))
			src[0] = '\0';
		fclose(f);
	}
	return RAW_TICKS_TSC && !strcmp(src, "tsc\n") && recorder_tsc_invariant() ? "ticks" : "seq";
}

int recorder_prepare(const char *out, char *absout, char *rawdir, size_t len)
{
	if (mkdir(out, 0777) < 0 && errno != EEXIST) {
		hb_error("%s: %s", out, strerror(errno));
		return -1;
	}
	DIR *d = opendir(out);
	if (!d) {
		hb_error("%s: %s", out, strerror(errno));
		return -1;
	}
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			hb_error("%s: not empty: record into a new directory", out);
			return -1;
		}
	closedir(d);
	if (!realpath(out, absout)) {
		hb_error("%s: %s", out, strerror(errno));
		return -1;
	}
	int k = snprintf(rawdir, len, "%s/.raw", absout);
	if (k < 0 || (size_t)k >= len || mkdir(rawdir, 0777) < 0) {
		hb_error("%s: %s", rawdir, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- The raw logs ------------------------------------------------------- */

/* The program's name from a NUL-separated command line, safe for a file name. */
static void program_name(const struct raw_header *h, char *out, size_t len)
{
	size_t n = strnlen(h->cmdline, h->cmdline_len < RAW_CMDLINE_MAX ? h->cmdline_len : 0);
	const char *arg0 = h->cmdline, *base = memrchr(arg0, '/', n);
	base = base ? base + 1 : arg0;
	size_t most = (size_t)(arg0 + n - base);
	if (!file_name_part(out, len < 41 ? len : 41, base, most))
		snprintf(out, len, "process");
}

/* The command line with spaces between arguments and no control bytes. */
static void command_text(const struct raw_header *h, char *out, size_t len)
{
	uint32_t n = h->cmdline_len < RAW_CMDLINE_MAX ? h->cmdline_len : RAW_CMDLINE_MAX;
	while (n && h->cmdline[n - 1] == '\0')
		n--;
	size_t k = 0;
	for (uint32_t i = 0; i < n && k + 1 < len; i++) {
		unsigned char c = (unsigned char)h->cmdline[i];
		out[k++] = c == 0 ? ' ' : c < 32 || c == 127 ? '?' : (char)c;
	}
	out[k] = '\0';
}

static int by_start(const void *a, const void *b)
{
	const struct raw_header *x = &((const struct rawfile *)a)->h;
	const struct raw_header *y = &((const struct rawfile *)b)->h;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->exec_seq > y->exec_seq) - (x->exec_seq < y->exec_seq);
}

/* Every raw log in rawdir with a whole header, in the order the processes
 * started.  -1 if the directory cannot be read (reported). */
static int rawfiles_list(const char *rawdir, struct rawfile **out, size_t *count)
{
	DIR *dir = opendir(rawdir);
	if (!dir) {
		hb_error("%s: %s", rawdir, strerror(errno));
		return -1;
	}
	struct rawfile *files = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *e; (e = readdir(dir));) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".raw"))
			continue;
		xgrow((void **)&files, &cap, n + 1, sizeof *files);
		struct rawfile *f = &files[n];
		size_t plen = strlen(rawdir) + l + 2;
		f->path = xmalloc(plen);
		snprintf(f->path, plen, "%s/%s", rawdir, e->d_name);
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		ssize_t got = fd >= 0 ? read(fd, &f->h, sizeof f->h) : -1;
		if (fd >= 0)
			close(fd);
		if (got != (ssize_t)sizeof f->h || memcmp(f->h.magic, RAW_MAGIC, 8)) {
			free(f->path); /* cut short before its header: nothing in it */
			continue;
		}
		n++;
	}
	closedir(dir);
	if (n)
		qsort(files, n, sizeof *files, by_start);
	*out = files;
	*count = n;
	return 0;
}

/* The logs are consumed: whatever happened, none stays behind. */
static void rawfiles_remove(struct rawfile *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unlink(files[i].path);
		free(files[i].path);
	}
	free(files);
}

/* ---- One process -------------------------------------------------------- */

static void set_meta(struct trace *t, const char *key, const char *value)
{
	if (trace_meta_valid(key, value))
		trace_meta_set(t, key, value);
}

/* Where the trace came from, in its metadata. */
static void process_meta(struct trace *t, const struct raw_header *h, const char *cmd)
{
	char buf[64];
	time_t secs = (time_t)(h->start_ns / 1000000000u);
	struct tm tm;
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&secs, &tm));
	set_meta(t, "recorder", "heapbench record " HB_VERSION);
	set_meta(t, "recorded", buf);
	set_meta(t, "command", cmd);
	snprintf(buf, sizeof buf, "%" PRIu64, h->pid);
	set_meta(t, "pid", buf);
}

/* The process's row of the table on stderr and its object in summary. */
static void process_report(const struct raw_header *h, const char *base, const char *cmd,
			   const char *recorded, const struct recorder_info *info, json_t *summary)
{
	fprintf(stderr, "  %-28s %8" PRIu64 " %12" PRIu64 " %8" PRIu64 " %16" PRIu64 "  %.60s\n",
		base, h->pid, info->ops, info->threads, info->peak_live, cmd);
	json_t *o = json_object();
	json_object_set_new(o, "trace", jx_str(base));
	json_object_set_new(o, "pid", jx_u64(h->pid));
	json_object_set_new(o, "ppid", jx_u64(h->ppid));
	json_object_set_new(o, "command", jx_str(cmd));
	json_object_set_new(o, "recorded", jx_str(recorded));
	json_object_set_new(o, "ops", jx_u64(info->ops));
	json_object_set_new(o, "allocs", jx_u64(info->allocs));
	json_object_set_new(o, "frees", jx_u64(info->frees));
	json_object_set_new(o, "threads", jx_u64(info->threads));
	json_object_set_new(o, "peak_live_bytes", jx_u64(info->peak_live));
	json_object_set_new(o, "frees_of_untraced_blocks", jx_u64(info->unknown_frees));
	json_object_set_new(o, "reallocs_of_untraced_blocks", jx_u64(info->unknown_reallocs));
	json_object_set_new(o, "calls_cut_short", jx_u64(info->lost));
	json_object_set_new(o, "unseen_frees", jx_u64(info->unseen_frees));
	json_array_append_new(summary, o);
}

/* The log converted while the program ran at path, or NULL. */
/* Where path is, or goes, in fl->logs (sorted by path: a scan looks up
 * every name in the directory, and a build makes thousands). */
static size_t follow_pos(const struct recorder_follow *fl, const char *path)
{
	size_t lo = 0, hi = fl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(fl->logs[mid]->path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct livelog *follow_find(struct recorder_follow *fl, const char *path)
{
	size_t i = fl ? follow_pos(fl, path) : 0;
	return fl && i < fl->n && !strcmp(fl->logs[i]->path, path) ? fl->logs[i] : NULL;
}

/* Finishes the trace t of the process of header h (its ops in out so far)
 * and writes it to file; "recorded" (64 bytes) gets its date.  Frees t. */
static int trace_finish(struct trace *t, const struct raw_header *h, struct hbt_stream *out,
			const char *file, char *recorded)
{
	char cmd[RAW_CMDLINE_MAX + 1];
	command_text(h, cmd, sizeof cmd);
	process_meta(t, h, cmd);
	const char *date = trace_meta_get(t, "recorded");
	snprintf(recorded, 64, "%s", date ? date : "");
	int rc = hbts_finish(out, t, file);
	trace_free(t);
	return rc;
}

/* The trace of the process of f into file, then reported: finished from
 * what was converted while the program ran (if anything was), or moved
 * into place if it was written then. */
static int process_record(const struct rawfile *f, struct recorder_follow *fl, const char *file,
			  json_t *summary)
{
	struct livelog *l = follow_find(fl, f->path);
	if (l && l->later)
		l = NULL; /* converted here, as if not followed */
	struct recorder_info own = {0}, *info = l ? &l->info : &own;
	char recorded[64];
	int rc;
	if (l && l->written) {
		snprintf(recorded, sizeof recorded, "%s", l->recorded);
		rc = rename(l->written, file) < 0 ? -1 : 0;
		if (rc < 0)
			hb_error("%s: %s", file, strerror(errno));
	} else if (l) {
		rc = l->failed ? -1 : recorder_live_step(l->live, true);
		struct trace *t = l->t;
		l->t = NULL;
		if (rc == 0)
			rc = trace_finish(t, &f->h, &l->out, file, recorded);
		else
			trace_free(t);
	} else {
		struct trace *t = trace_new(file);
		struct hbt_stream fresh = {0};
		rc = recorder_convert(f->path, t, info);
		if (rc == 0)
			rc = trace_finish(t, &f->h, &fresh, file, recorded);
		else
			trace_free(t);
	}
	if (rc == 0) {
		char cmd[RAW_CMDLINE_MAX + 1];
		command_text(&f->h, cmd, sizeof cmd);
		const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		process_report(&f->h, base, cmd, recorded, info, summary);
	}
	return rc;
}

/* ---- While the program runs -------------------------------------------- */

/* Logs converted at once while the program runs (a log whose process has
 * ended is written and leaves its place); the others are converted after
 * it.  It bounds the memory of a recording of many processes. */
#define FOLLOW_MAX 8
/* The follower's nice value: a tenth of a core against a program at 0. */
#define FOLLOW_NICE 10

/* The header of the log at path, if it is written (the recorder writes
 * its magic last). */
static bool header_read(const char *path, struct raw_header *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes = fd >= 0 && pread(fd, h, sizeof *h, 0) == (ssize_t)sizeof *h &&
		   !memcmp(h->magic, RAW_MAGIC, sizeof h->magic);
	if (fd >= 0)
		close(fd);
	return yes;
}

/* Takes in the logs that appeared in rawdir since the last call. */
static void follow_scan(struct recorder_follow *fl)
{
	DIR *dir = opendir(fl->rawdir);
	for (struct dirent *e; dir && fl->active < FOLLOW_MAX && (e = readdir(dir));) {
		size_t l = strlen(e->d_name);
		char path[PATH_MAX];
		struct raw_header h;
		if (l < 5 || strcmp(e->d_name + l - 4, ".raw") ||
		    snprintf(path, sizeof path, "%s/%s", fl->rawdir, e->d_name) >=
			    (int)sizeof path ||
		    follow_find(fl, path) || !header_read(path, &h))
			continue; /* not ours, known, or not made yet (next time) */
		xgrow((void **)&fl->logs, &fl->cap, fl->n + 1, sizeof *fl->logs);
		/* each log on its own: its live state points into it */
		struct livelog *lg = xcalloc(1, sizeof(struct livelog));
		size_t at = follow_pos(fl, path);
		memmove(&fl->logs[at + 1], &fl->logs[at], (fl->n - at) * sizeof *fl->logs);
		fl->logs[at] = lg;
		fl->n++;
		*lg = (struct livelog){.path = xstrdup(path), .h = h};
		/* whether the process runs and which of its threads do are asked
		 * of /proc by its pid and tids: only in heapbench's own namespace
		 * (unshare -p, a container) do they mean what the log says */
		if (!h.pidns || h.pidns != fl->pidns) {
			lg->later = true;
			continue;
		}
		lg->t = trace_new(path);
		lg->live = recorder_live_open(path, lg->t, &lg->info);
		lg->failed = !lg->live;
		fl->active += !lg->failed;
	}
	if (dir)
		closedir(dir);
}

/* Whether the process image of lg is over: its process is gone, or it
 * executed another program (whose log we know). */
static bool log_over(const struct recorder_follow *fl, const struct livelog *lg)
{
	if (kill((pid_t)lg->h.pid, 0) < 0 && errno == ESRCH)
		return true;
	for (size_t i = 0; i < fl->n; i++)
		if (fl->logs[i]->h.pid == lg->h.pid && fl->logs[i]->h.exec_seq > lg->h.exec_seq)
			return true;
	return false;
}

/* Converts the rest of the log of a process image that is over and writes
 * its trace next to the log, for recorder_finish to move into place. */
static void log_write(struct recorder_follow *fl, struct livelog *lg)
{
	size_t len = strlen(lg->path);
	char *file = xmalloc(len + 16);
	snprintf(file, len + 16, "%.*s.hbt.zst", (int)(len - 4), lg->path);
	struct trace *t = lg->t;
	lg->t = NULL;
	bool ok = recorder_live_step(lg->live, true) == 0;
	if (ok)
		ok = trace_finish(t, &lg->h, &lg->out, file, lg->recorded) == 0;
	else
		trace_free(t);
	if (ok) {
		lg->written = file;
	} else {
		lg->failed = true; /* reported */
		free(file);
	}
	recorder_live_close(lg->live);
	lg->live = NULL;
	fl->active--;
}

/* One step of every log: whether any op was converted.  Each `check`
 * steps, logs whose process has ended are written. */
static bool follow_step(struct recorder_follow *fl, bool check)
{
	bool progress = false;
	for (size_t i = 0; i < fl->n; i++) {
		struct livelog *lg = fl->logs[i];
		uint64_t before = lg->info.ops;
		if (lg->failed || lg->written || lg->later)
			continue;
		if (check && log_over(fl, lg)) {
			log_write(fl, lg);
			progress = true;
			continue;
		}
		if (recorder_live_step(lg->live, false) < 0 ||
		    hbts_feed(&lg->out, lg->t, false) < 0) {
			lg->failed = true; /* reported; recorder_finish fails */
			fl->active--;
			/* its memory goes now: the bound of FOLLOW_MAX logs holds */
			recorder_live_close(lg->live);
			lg->live = NULL;
			trace_free(lg->t);
			lg->t = NULL;
			hbts_free(&lg->out);
		}
		progress |= lg->info.ops != before;
	}
	return progress;
}

/* The follower thread: converts the logs as they come until told to stop.
 * It runs at a low priority (FOLLOW_NICE): on a core the program leaves
 * idle it has the core; where other programs want the cores, it gives way
 * to them and to the program, and the work is done after the program. */
static void *follow_loop(void *arg)
{
	struct recorder_follow *fl = arg;
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), FOLLOW_NICE); /* this thread's */
	for (unsigned round = 0; !atomic_load(&fl->stop); round++) {
		if (round % 16 == 0)
			follow_scan(fl);
		if (!follow_step(fl, round % 16 == 0)) {
			struct timespec pause = {0, 1000000}; /* 1 ms: the program has the CPU */
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

struct recorder_follow *recorder_follow(const char *rawdir, pid_t pid, int *status, bool live)
{
	struct recorder_follow *fl = xcalloc(1, sizeof *fl);
	fl->rawdir = rawdir;
	fl->pidns = raw_pidns();
	pthread_t follower;
	live = live && pthread_create(&follower, NULL, follow_loop, fl) == 0;
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	if (live) {
		atomic_store(&fl->stop, true);
		pthread_join(follower, NULL);
	}
	return fl;
}

static void follow_free(struct recorder_follow *fl)
{
	for (size_t i = 0; fl && i < fl->n; i++) {
		struct livelog *lg = fl->logs[i];
		if (lg->live)
			recorder_live_close(lg->live);
		if (lg->t)
			trace_free(lg->t);
		hbts_free(&lg->out);
		if (lg->written)
			unlink(lg->written); /* still there if a rename failed */
		free(lg->written);
		free(lg->path);
		free(lg);
	}
	if (fl)
		free(fl->logs);
	free(fl);
}

/* ---- The whole recording ------------------------------------------------ */

/* summary.json: the program's exit status, the seconds the conversion
 * took after the program ended, and one object per process.  Takes
 * summary. */
static int summary_write(const char *out, int status, double seconds, json_t *summary)
{
	char path[PATH_MAX];
	int k = snprintf(path, sizeof path, "%s/summary.json", out), rc = 0;
	json_t *top = json_object();
	json_object_set_new(top, "exit_status", json_integer(status));
	json_object_set_new(top, "convert_seconds", json_real(seconds));
	json_object_set_new(top, "processes", summary);
	if (k < 0 || (size_t)k >= sizeof path) {
		hb_error("%s: the path is too long", out);
		rc = -1;
	} else if (out_json(path, top) < 0) {
		rc = -1;
	}
	json_decref(top);
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int recorder_finish(const char *out, const char *rawdir, int status, struct recorder_follow *fl)
{
	double start = now_seconds();
	struct rawfile *files;
	size_t n;
	if (rawfiles_list(rawdir, &files, &n) < 0) {
		follow_free(fl);
		return -1;
	}
	int rc = 0, width = n >= 1000 ? 4 : n >= 100 ? 3 : n >= 10 ? 2 : 1;
	json_t *summary = json_array();
	fprintf(stderr, "heapbench record: %zu process%s\n", n, n == 1 ? "" : "es");
	fprintf(stderr, "  %-28s %8s %12s %8s %16s  %s\n", "trace", "pid", "ops", "threads",
		"peak live bytes", "command");
	for (size_t i = 0; i < n && rc == 0; i++) {
		char name[64], file[PATH_MAX];
		program_name(&files[i].h, name, sizeof name);
		int k = snprintf(file, sizeof file, "%s/%0*zu-%s.hbt.zst", out, width, i + 1, name);
		if (k < 0 || (size_t)k >= sizeof file) {
			hb_error("%s: the path is too long", out);
			rc = -1;
			break;
		}
		rc = process_record(&files[i], fl, file, summary);
	}
	follow_free(fl);
	rawfiles_remove(files, n);
	if (rc == 0)
		return summary_write(out, status, now_seconds() - start, summary);
	json_decref(summary);
	return rc;
}
