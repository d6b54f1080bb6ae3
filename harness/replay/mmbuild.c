/*
 * mmbuild.c - a student's mm.c built into the object mm:PATH loads
 * (mmbuild.h, docs/malloclab.md).
 *
 * The file is compiled as the handouts' Makefiles do (-O2), as a shared
 * object, with -DDRIVER (the later handouts' mm.c maps malloc to mm_malloc
 * under it), against heapbench's memlib.h, mm.h and config.h: the
 * student's own headers win, since `#include "mm.h"` looks in the
 * including file's directory first.  heapbench's headers are part of the
 * binary (.incbin), written next to the objects, so that an installed
 * heapbench needs no source tree.
 *
 * Objects are kept by a key over everything that goes into them (the
 * file, the headers next to it, heapbench's headers, the flags), in
 * build/mm/ next to a heapbench run from its build tree, else in
 * $XDG_CACHE_HOME/heapbench/mm: a worker per job finds the object its
 * parent built, and workers that build at once each rename a whole object
 * into place.  A failed build leaves the compiler's output there
 * (KEY.log) and fails the job with its first error.
 */
#include "replay/mmbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocator.h"
#include "base/util.h"

/* The longest name of a file in the objects' directory. */
#define MM_PATH (PATH_MAX + 64)

/* heapbench's headers, each NUL-terminated */
__asm__(".pushsection .rodata\n"
	"hb_mm_memlib_h: .incbin \"allocators/malloclab/memlib.h\"\n.byte 0\n"
	"hb_mm_mm_h: .incbin \"allocators/malloclab/mm.h\"\n.byte 0\n"
	"hb_mm_config_h: .incbin \"allocators/malloclab/config.h\"\n.byte 0\n"
	".popsection\n");
extern const char hb_mm_memlib_h[] __asm__("hb_mm_memlib_h");
extern const char hb_mm_mm_h[] __asm__("hb_mm_mm_h");
extern const char hb_mm_config_h[] __asm__("hb_mm_config_h");

static const struct {
	const char *name, *text;
} headers[] = {
	{"memlib.h", hb_mm_memlib_h},
	{"mm.h", hb_mm_mm_h},
	{"config.h", hb_mm_config_h},
};
#define NHEADERS (sizeof headers / sizeof headers[0])

/* Where objects go: build/mm next to this binary when it is writable (a
 * build tree), else the user's cache. */
static int objects_dir(char *out, size_t len)
{
	char exe[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		snprintf(out, len, "%s/mm", exe);
		if (access(exe, W_OK) == 0 && mkdirs(out) == 0)
			return 0;
	}
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int k = x && *x         ? snprintf(out, len, "%s/heapbench/mm", x)
		: home && *home ? snprintf(out, len, "%s/.cache/heapbench/mm", home)
				: -1;
	return k > 0 && (size_t)k < len && mkdirs(out) == 0 ? 0 : -1;
}

/* Whether the later handouts' convention is the file's: a line of the
 * source or of its mm.h declaring `bool mm_init`. */
static bool says_bool_init(const char *text)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *e = strchr(l, '\n'), *init = strstr(l, "mm_init");
		const char *b = strstr(l, "bool");
		if (init && b && b < init && (!e || init < e))
			return true;
	}
	return false;
}

/* Runs argv with its output into logfd: its exit status, or -1. */
static int run_compiler(char *const *argv, int logfd)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(logfd, 1);
		dup2(logfd, 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot run the C compiler %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first line of log that says "error" (or its first line). */
static void first_error(const char *log, char *out, size_t len)
{
	const char *l = strstr(log, "error");
	while (l && l > log && l[-1] != '\n')
		l--;
	if (!l)
		l = log;
	size_t n = strcspn(l, "\n");
	snprintf(out, len, "%.*s", (int)(n < 400 ? n : 400), l);
}

/* Whether the later handouts' convention is the file's: it, or the mm.h
 * next to it, declares `bool mm_init`. */
static bool file_says_cmu(const char *src, const char *dir)
{
	char path[PATH_MAX + 16];
	size_t n;
	snprintf(path, sizeof path, "%s/mm.h", dir);
	char *own = read_whole_file(path, &n);
	bool cmu = says_bool_init(src) || (own && says_bool_init(own));
	free(own);
	return cmu;
}

/* The key of the build: the file, its directory's headers, ours, flags. */
static uint64_t build_key(const char *src, size_t srclen, const char *dir, const char *flags)
{
	uint64_t h = fnv1a(FNV1A_BASIS, src, srclen + 1);
	h = fnv1a(h, flags, strlen(flags) + 1);
	for (size_t i = 0; i < NHEADERS; i++) {
		char path[PATH_MAX + 16];
		size_t n;
		snprintf(path, sizeof path, "%s/%s", dir, headers[i].name);
		char *own = read_whole_file(path, &n);
		h = own ? fnv1a(h, own, n + 1)
			: fnv1a(h, headers[i].text, strlen(headers[i].text) + 1);
		free(own);
	}
	return h;
}

/* Writes heapbench's headers into inc (once per key). */
static int write_headers(const char *inc)
{
	if (mkdirs(inc) < 0)
		return -1;
	for (size_t i = 0; i < NHEADERS; i++) {
		char path[MM_PATH + 32];
		snprintf(path, sizeof path, "%s/%s", inc, headers[i].name);
		FILE *f = fopen(path, "w");
		if (!f || fputs(headers[i].text, f) < 0 || fclose(f) != 0)
			return -1;
	}
	return 0;
}

/* Compiles src into so (by way of a temporary name) with the flags (at
 * most 3); -1 with err. */
static int compile(const char *src, const char *so, const char *inc, const char *logpath,
		   const char *const *flags, char *err, size_t errlen)
{
	char tmp[MM_PATH + 32], incflag[MM_PATH + 8];
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", so, (int)getpid());
	snprintf(incflag, sizeof incflag, "-I%s", inc);
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
	const char *argv[16] = {cc, "-std=gnu11", "-O2", "-g", "-fPIC", "-shared", "-DDRIVER"};
	size_t n = 7;
	for (size_t i = 0; flags[i] && i < 3; i++)
		argv[n++] = flags[i];
	argv[n++] = incflag;
	argv[n++] = "-o";
	argv[n++] = tmp;
	argv[n++] = src;
	argv[n] = NULL;
	int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (logfd < 0) {
		snprintf(err, errlen, "%s: %s", logpath, strerror(errno));
		return -1;
	}
	int rc = run_compiler((char *const *)argv, logfd);
	close(logfd);
	if (rc == 0 && rename(tmp, so) == 0)
		return 0;
	unlink(tmp);
	size_t loglen;
	char *log = read_whole_file(logpath, &loglen), first[512];
	first_error(log ? log : "", first, sizeof first);
	free(log);
	snprintf(err, errlen, "%s does not compile%s: %s (the compiler's output: %s)", src,
		 flags[1] ? " with -m32" : "", first, logpath);
	return -1;
}

unsigned mm_bits(const struct replay_config *cfg)
{
	struct backend_opts opts = {cfg->opt, cfg->nopt};
	const char *bits = backend_opt_get(&opts, "bits");
	if (bits)
		return !strcmp(bits, "32") ? 32 : 64;
	return cfg->lab == MM_LAB_CSAPP2002 ? 32 : 64;
}

int mm_object(const char *path, unsigned lab, unsigned bits, char *so, size_t solen, bool *cmu,
	      char *err, size_t errlen)
{
	*cmu = lab == MM_LAB_CMU2016;
	size_t n = strlen(path);
	if (n < 2 || strcmp(path + n - 2, ".c")) { /* a built object: loaded as it is */
		snprintf(so, solen, "%s", path);
		return 0;
	}
	size_t srclen;
	char *src = read_whole_file(path, &srclen), dir[PATH_MAX], objdir[PATH_MAX];
	if (!src) {
		snprintf(err, errlen, "%s: %s", path, hb_strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if (!lab)
		*cmu = file_says_cmu(src, dir);
	/* heapbench's mm.h and config.h follow the handout: the 2002 one's,
	 * or the later ones' (bool mm_init, mm_calloc, mm_checkheap) */
	const char *flags[] = {lab == MM_LAB_CSAPP2002 ? "-DHB_LAB_CSAPP2002"
			       : *cmu                  ? "-DHB_LAB_CMU2016"
						       : "-DHB_LAB_DEFAULT",
			       bits == 32 ? "-m32" : NULL, NULL};
	char flagtext[64];
	snprintf(flagtext, sizeof flagtext, "%s %s", flags[0], flags[1] ? flags[1] : "");
	uint64_t key = build_key(src, srclen, dir, flagtext);
	free(src);
	if (objects_dir(objdir, sizeof objdir) < 0) {
		snprintf(err, errlen, "no directory to build %s in (build/mm or ~/.cache)", path);
		return -1;
	}
	char inc[MM_PATH], logpath[MM_PATH];
	snprintf(inc, sizeof inc, "%s/include-%016llx", objdir, (unsigned long long)key);
	snprintf(logpath, sizeof logpath, "%s/%016llx.log", objdir, (unsigned long long)key);
	int k = snprintf(so, solen, "%s/%016llx.so", objdir, (unsigned long long)key);
	if (k < 0 || (size_t)k >= solen) {
		snprintf(err, errlen, "%s: the build directory's name is too long", path);
		return -1;
	}
	if (access(so, R_OK) == 0)
		return 0;
	if (write_headers(inc) < 0) {
		snprintf(err, errlen, "%s: %s", inc, strerror(errno));
		return -1;
	}
	return compile(path, so, inc, logpath, flags, err, errlen);
}
