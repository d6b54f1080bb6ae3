/*
 * cmd_record.c - `heapbench record -o OUT [--] COMMAND [ARGS...]`: runs a
 * program with the recorder preloaded (harness/recorder/record.c) and turns
 * the raw log of each of its processes into a trace.
 *
 * OUT is a directory (created; it must not hold anything yet).  It gets one
 * zstd-compressed .hbt trace per process image, numbered in the order the
 * processes started and named after the program: 1-make.hbt.zst,
 * 2-sh.hbt.zst, ...; and summary.json, one object per trace (file, pid,
 * parent pid, command line, ops, threads, peak live bytes, what could not
 * be traced).  The program's own output and exit status pass through:
 * `record` exits with the program's status (128 + N if signal N killed it),
 * and prints its per-process table on stderr.
 *
 * From pointers to ids: the raw records are placed in their global order
 * (each carries its place, so no sort), and an address map follows every
 * block from its allocation through its reallocs to its free; the trace
 * builder then gives the blocks dense ids.  A free or realloc of an address
 * the process never allocated while recorded (memory from before the
 * recorder started, or inherited across fork) is left out and counted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonx.h"
#include "base/out.h"
#include "cli/cmd.h"
#include "recorder/raw.h"
#include "trace/trace.h"

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
	"Exit status: COMMAND's (128 + N if signal N killed it); 2 if heapbench\n"
	"could not record.\n";

#define RECORDER_LIB "libheapbench-record.so"

/* One raw log. */
struct rawfile {
	char *path;
	struct raw_header h;
};

struct rec_info {
	uint64_t ops, allocs, frees, threads, peak_live;
	uint64_t unknown_frees;    /* frees of addresses never allocated while recorded */
	uint64_t unknown_reallocs; /* reallocs of such addresses: taken as allocations */
	uint64_t lost;             /* places in the order with no record (a call cut short) */
	uint64_t unseen_frees;     /* blocks handed out again without a free we saw */
};

/* The recorder library, next to this binary. */
static int find_recorder(char *out, size_t len)
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

/* Feeds one op to the builder; -1 if it refused (reported).  Source ids
 * are the addresses themselves: the builder follows a realloc that moves a
 * block to its new address (to). */
static int emit(struct trace_builder *b, struct rec_info *info, char kind, uint64_t addr,
		uint64_t size, uint64_t arg, uint32_t tid, uint64_t to)
{
	struct trace_srcop op = {.kind = kind,
				 .id = addr ? (int64_t)addr : -1,
				 .size = size,
				 .arg = arg,
				 .thread = tid,
				 .to = to ? to + 1 : 0,
				 .opno = info->ops};
	info->ops++;
	return trace_builder_add(b, &op);
}

/* A block the program got at addr, which must not be live: if it is, the
 * program freed it in a way we did not see (say, inside the C library),
 * and the trace frees it first. */
static int claim(struct trace_builder *b, struct rec_info *info, uint64_t addr, uint32_t tid)
{
	if (!trace_builder_live(b, (int64_t)addr))
		return 0;
	info->unseen_frees++;
	return emit(b, info, 'f', addr, 0, 0, tid, 0);
}

static uint64_t pow2_at_least(uint64_t a)
{
	uint64_t p = 1;
	while (p < a && p < TRACE_ALIGN_MAX)
		p <<= 1;
	return p;
}

/* One raw record, in order: 0, or -1 if the builder refused it. */
static int convert_one(struct trace_builder *b, struct rec_info *info, const struct raw_record *r)
{
	bool known = r->in && trace_builder_live(b, (int64_t)r->in);
	int rc = 0;
	switch (r->kind) {
	case RAW_MALLOC:
	case RAW_CALLOC:
	case RAW_MEMALIGN: {
		char kind = r->kind == RAW_MALLOC ? 'a' : r->kind == RAW_CALLOC ? 'c' : 'm';
		uint64_t arg = r->kind == RAW_MEMALIGN ? pow2_at_least(r->arg) : r->arg;
		info->allocs++;
		return claim(b, info, r->out, r->tid) ||
		       emit(b, info, kind, r->out, r->size, arg, r->tid, 0);
	}
	case RAW_REALLOC:
		if (!r->in) { /* realloc(NULL, n): a dead id, which the builder spells */
			info->allocs++;
			return claim(b, info, r->out, r->tid) ||
			       emit(b, info, 'r', r->out, r->size, 0, r->tid, 0);
		}
		if (!known) { /* a block from before the recording: now a new one */
			info->unknown_reallocs++;
			if (!r->out)
				return 0;
			info->allocs++;
			return claim(b, info, r->out, r->tid) ||
			       emit(b, info, 'a', r->out, r->size, 0, r->tid, 0);
		}
		if (r->size == 0) { /* realloc(p, 0) freed p ... */
			info->frees++;
			rc = emit(b, info, 'r', r->in, 0, 0, r->tid, 0);
			if (rc == 0 && r->out) { /* ... and returned a new block */
				info->allocs++;
				rc = claim(b, info, r->out, r->tid) ||
				     emit(b, info, 'a', r->out, 0, 0, r->tid, 0);
			}
			return rc;
		}
		if (r->out != r->in && claim(b, info, r->out, r->tid))
			return -1;
		return emit(b, info, 'r', r->in, r->size, 0, r->tid, r->out);
	case RAW_FREE:
		if (!r->in)
			return emit(b, info, 'f', 0, 0, 0, r->tid, 0);
		if (!known) {
			info->unknown_frees++;
			return 0;
		}
		info->frees++;
		return emit(b, info, 'f', r->in, 0, 0, r->tid, 0);
	default: return 0; /* RAW_NONE: a failed call */
	}
}

/* Turns the raw log at path into trace t (already created), in order. */
static int convert(const char *path, struct trace *t, struct rec_info *info)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		hb_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = (size_t)st.st_size;
	const char *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED || len < RAW_HEADER_BYTES) {
		hb_error("%s: not a recorder log", path);
		if (map != MAP_FAILED)
			munmap((void *)map, len);
		return -1;
	}
	const struct raw_record *rec = (const void *)(map + RAW_HEADER_BYTES);
	size_t nrec = (len - RAW_HEADER_BYTES) / sizeof *rec;
	madvise((void *)map, len, MADV_SEQUENTIAL);

	/* place every record at its seq: seqs are dense from 1 */
	uint64_t maxseq = 0;
	for (size_t i = 0; i < nrec; i++)
		if (rec[i].seq > maxseq && rec[i].seq <= nrec)
			maxseq = rec[i].seq;
	uint32_t *at = xmalloc((maxseq + 1) * sizeof *at);
	memset(at, 0xff, (maxseq + 1) * sizeof *at);
	for (size_t i = 0; i < nrec; i++)
		if (rec[i].seq && rec[i].seq <= maxseq)
			at[rec[i].seq] = (uint32_t)i;

	struct diag d;
	diag_init(&d, path, false);
	struct trace_builder *b = trace_builder_new(t, &d);
	int rc = 0;
	enum { AHEAD = 16 }; /* the map's cache misses overlap */
	for (uint64_t s = 1; s <= maxseq && rc == 0; s++) {
		if (s + AHEAD <= maxseq && at[s + AHEAD] != UINT32_MAX) {
			const struct raw_record *f = &rec[at[s + AHEAD]];
			trace_builder_prefetch(b, (int64_t)(f->in ? f->in : f->out));
		}
		if (at[s] == UINT32_MAX)
			info->lost++;
		else
			rc = convert_one(b, info, &rec[at[s]]);
	}
	info->peak_live = trace_builder_peak_live(b);
	trace_builder_finish(b);
	diag_finish(&d);
	info->threads = t->nthreads;
	free(at);
	munmap((void *)map, len);
	return rc;
}

static void set_meta(struct trace *t, const char *key, const char *value)
{
	if (trace_meta_valid(key, value))
		trace_meta_set(t, key, value);
}

/* Writes each process's trace and summary.json; -1 on error (reported). */
static int finalize(const char *out, const char *rawdir, int status)
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

	int rc = 0, width = n >= 1000 ? 4 : n >= 100 ? 3 : n >= 10 ? 2 : 1;
	json_t *summary = json_array();
	fprintf(stderr, "heapbench record: %zu process%s\n", n, n == 1 ? "" : "es");
	fprintf(stderr, "  %-28s %8s %12s %8s %16s  %s\n", "trace", "pid", "ops", "threads",
		"peak live bytes", "command");
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct rawfile *f = &files[i];
		char name[64], file[PATH_MAX], cmd[RAW_CMDLINE_MAX + 1], buf[64];
		program_name(&f->h, name, sizeof name);
		command_text(&f->h, cmd, sizeof cmd);
		int k = snprintf(file, sizeof file, "%s/%0*zu-%s.hbt.zst", out, width, i + 1, name);
		if (k < 0 || (size_t)k >= sizeof file) {
			hb_error("%s: the path is too long", out);
			rc = -1;
			break;
		}
		struct trace *t = trace_new(file);
		struct rec_info info = {0};
		rc = convert(f->path, t, &info);
		if (rc == 0) {
			time_t secs = (time_t)(f->h.start_ns / 1000000000u);
			struct tm tm;
			strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&secs, &tm));
			set_meta(t, "recorder", "heapbench record " HB_VERSION);
			set_meta(t, "recorded", buf);
			set_meta(t, "command", cmd);
			snprintf(buf, sizeof buf, "%" PRIu64, f->h.pid);
			set_meta(t, "pid", buf);
			rc = trace_write(t, file);
		}
		if (rc == 0) {
			const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
			fprintf(stderr,
				"  %-28s %8" PRIu64 " %12" PRIu64 " %8" PRIu64 " %16" PRIu64
				"  %.60s\n",
				base, f->h.pid, info.ops, info.threads, info.peak_live, cmd);
			json_t *o = json_object();
			json_object_set_new(o, "trace", jx_str(base));
			json_object_set_new(o, "pid", jx_u64(f->h.pid));
			json_object_set_new(o, "ppid", jx_u64(f->h.ppid));
			json_object_set_new(o, "command", jx_str(cmd));
			json_object_set_new(o, "recorded", jx_str(trace_meta_get(t, "recorded")));
			json_object_set_new(o, "ops", jx_u64(info.ops));
			json_object_set_new(o, "allocs", jx_u64(info.allocs));
			json_object_set_new(o, "frees", jx_u64(info.frees));
			json_object_set_new(o, "threads", jx_u64(info.threads));
			json_object_set_new(o, "peak_live_bytes", jx_u64(info.peak_live));
			json_object_set_new(o, "frees_of_untraced_blocks",
					    jx_u64(info.unknown_frees));
			json_object_set_new(o, "reallocs_of_untraced_blocks",
					    jx_u64(info.unknown_reallocs));
			json_object_set_new(o, "calls_cut_short", jx_u64(info.lost));
			json_object_set_new(o, "unseen_frees", jx_u64(info.unseen_frees));
			json_array_append_new(summary, o);
		}
		trace_free(t);
	}
	for (size_t i = 0; i < n; i++) {
		unlink(files[i].path);
		free(files[i].path);
	}
	free(files);
	if (rc == 0) {
		char path[PATH_MAX];
		int k = snprintf(path, sizeof path, "%s/summary.json", out);
		json_t *top = json_object();
		json_object_set_new(top, "exit_status", json_integer(status));
		json_object_set_new(top, "processes", summary);
		if (k < 0 || (size_t)k >= sizeof path) {
			hb_error("%s: the path is too long", out);
			rc = -1;
		} else if (out_json(path, top) < 0) {
			rc = -1;
		}
		json_decref(top);
	} else {
		json_decref(summary);
	}
	return rc;
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
		default: fputs(record_usage, stderr); return HB_EXIT_USAGE;
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
	char lib[PATH_MAX];
	if (find_recorder(lib, sizeof lib) < 0) {
		hb_error("record: %s is missing (make builds it next to heapbench)", lib);
		return HB_EXIT_USAGE;
	}
	if (mkdir(out, 0777) < 0 && errno != EEXIST) {
		hb_error("%s: %s", out, strerror(errno));
		return HB_EXIT_USAGE;
	}
	DIR *d = opendir(out);
	if (!d) {
		hb_error("%s: %s", out, strerror(errno));
		return HB_EXIT_USAGE;
	}
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			hb_error("%s: not empty: record into a new directory", out);
			return HB_EXIT_USAGE;
		}
	closedir(d);
	char rawdir[PATH_MAX], absout[PATH_MAX];
	if (!realpath(out, absout)) {
		hb_error("%s: %s", out, strerror(errno));
		return HB_EXIT_USAGE;
	}
	int k = snprintf(rawdir, sizeof rawdir, "%s/.raw", absout);
	if (k < 0 || (size_t)k >= sizeof rawdir || mkdir(rawdir, 0777) < 0) {
		hb_error("%s: %s", rawdir, strerror(errno));
		return HB_EXIT_USAGE;
	}

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
		execvp(argv[optind], argv + optind);
		hb_error("record: cannot run '%s': %s", argv[optind], strerror(errno));
		_exit(127);
	}
	int status = 0;
	if (pid < 0) {
		hb_error("record: cannot fork: %s", strerror(errno));
		status = -1;
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGQUIT, &oldquit, NULL);
	int exit_status = pid < 0               ? HB_EXIT_USAGE
			  : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						: WEXITSTATUS(status);
	out_set_zstd_level(3); /* see out.h */
	int rc = finalize(absout, rawdir, exit_status);
	rmdir(rawdir);
	if (rc < 0)
		return HB_EXIT_USAGE;
	return exit_status;
}
