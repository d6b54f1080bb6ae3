/*
 * backend_spec.c - parsing and checking backend choices (backend_spec.h).
 */
#include "replay/backend_spec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "replay/job.h"
#include "replay/mmbuild.h"

/* mm:PATH is built here once, so that the compiler's errors show at the
 * start; a file that does not compile (or an mm_init that fails) is each
 * of its jobs' status, for a course's run over many students' files. */
static int mm_probe(struct backend_choice *b)
{
	char so[PATH_MAX + 64], why[1024];
	bool cmu;
	const char *path = b->opt[0].value;
	struct replay_config cfg = {.opt = {b->opt[0], b->opt[1]}, .nopt = b->nopt};
	if (mm_object(path, MM_LAB_NONE, mm_bits(&cfg), so, sizeof so, &cmu, why, sizeof why) < 0)
		fprintf(stderr, "heapbench: warning: backend %s: %s; its jobs fail\n", b->spec,
			why);
	const char *base = strrchr(path, '/');
	snprintf(b->version, sizeof b->version, "malloc lab (%s)", base ? base + 1 : path);
	return 0;
}

/* Can the backend be handed to a worker, and start there (its library
 * preloaded or loaded)?  Built-in backends need no asking. */
static int probe(struct backend_choice *b, char *err, size_t len)
{
	struct replay_config base;
	replay_config_init(&base);
	struct replay_config cfg = backend_choice_config(b, &base);
	char why[512];
	/* what a worker cannot be handed is bad usage, found before any job */
	if (job_config_check(&cfg, why, sizeof why) < 0) {
		snprintf(err, len, "backend %s: %s", b->a->name, why);
		return -1;
	}
	if (b->a == &mm_allocator)
		return mm_probe(b);
	if ((b->a->flags & ALLOC_F_SIMULATED) && b->a != &library_allocator) {
		snprintf(b->version, sizeof b->version, "heapbench %s", HB_VERSION);
		return 0;
	}
	if (job_probe(&cfg, why, sizeof why) == 0) {
		snprintf(b->version, sizeof b->version, "%s", why);
		return 0;
	}
	/* a backend that cannot start is its jobs' status: the others run */
	b->fault = xstrdup(why);
	(void)err, (void)len;
	return 0;
}

/* Option names are the backend's list; values are its init's to judge, so
 * a bad value is bad usage (exit 2) rather than a failed job. */
static int check_options(struct backend_choice *b, char *err, size_t len)
{
	struct backend_opts opts = {b->opt, b->nopt};
	char why[ALLOC_ERRLEN];
	if (allocator_check_options(b->a, &opts, why, sizeof why) < 0) {
		snprintf(err, len, "%s", why);
		return -1;
	}
	if ((b->a->flags & ALLOC_F_SIMULATED) && b->a->fini) {
		struct heap *heap = heap_create(0);
		void *st;
		int rc = heap ? b->a->init(&st, heap, &opts, why, sizeof why) : 0;
		if (heap && rc == 0)
			b->a->fini(st);
		heap_destroy(heap);
		if (rc < 0) {
			snprintf(err, len, "backend %s: %s", b->a->name, why);
			return -1;
		}
	}
	return probe(b, err, len);
}

/* preload:PATH and library:PATH: the whole rest is the path */
static int path_backend(const char *spec, const char *path, const struct allocator *a,
			struct backend_choice *b, char *err, size_t len)
{
	b->a = a;
	if (!*path) {
		snprintf(err, len, "backend %s: needs a path, as in %s:/path/to/lib.so", spec,
			 a->name);
		return -1;
	}
	/* a name without a slash is ld.so's to find (preload:libfoo.so.1) */
	if (strchr(path, '/') || a != &preload_allocator) {
		char *abs = realpath(path, NULL);
		if (!abs) {
			snprintf(err, len, "backend %s: %s: %s", spec, path, strerror(errno));
			return -1;
		}
		b->buf = abs;
	} else {
		b->buf = xstrdup(path);
	}
	b->opt[0] = (struct backend_opt){"path", b->buf};
	b->nopt = b->opt[1].key ? 2 : 1; /* mm:PATH:bits=N's word size */
	return probe(b, err, len);
}

/* mm:PATH[:bits=32|64]: the path, and the word size when it is given */
static int mm_backend(const char *spec, struct backend_choice *b, char *err, size_t len)
{
	const char *rest = spec + 3, *bits = strstr(rest, ":bits=");
	while (bits && strstr(bits + 1, ":bits="))
		bits = strstr(bits + 1, ":bits=");
	if (!bits)
		return path_backend(spec, rest, &mm_allocator, b, err, len);
	const char *value = bits + 6;
	if (strcmp(value, "32") && strcmp(value, "64")) {
		snprintf(err, len, "backend %s: bits is 32 or 64, not '%s'", spec, value);
		return -1;
	}
	char *path = xstrdup(rest);
	path[bits - rest] = '\0';
	b->opt[1] = (struct backend_opt){"bits", value[0] == '3' ? "32" : "64"};
	int rc = path_backend(spec, path, &mm_allocator, b, err, len);
	free(path);
	return rc;
}

static const struct allocator *find(const char *name, const char *spec, char *err, size_t len)
{
	const struct allocator *a = allocator_find(name);
	if (a == &preload_allocator || a == &library_allocator || a == &mm_allocator) {
		snprintf(err, len, "backend %s: write %s:PATH", spec, a->name);
		return NULL;
	}
	if (!a) {
		char names[512];
		snprintf(err, len,
			 "unknown backend '%s' (known: %s, preload:PATH, library:PATH, mm:PATH)",
			 name, allocator_names(names, sizeof names));
	}
	return a;
}

int backend_parse(const char *spec, struct backend_choice *b, char *err, size_t len)
{
	memset(b, 0, sizeof *b);
	b->spec = xstrdup(spec);
	if (!strncmp(spec, "preload:", 8))
		return path_backend(spec, spec + 8, &preload_allocator, b, err, len);
	if (!strncmp(spec, "library:", 8))
		return path_backend(spec, spec + 8, &library_allocator, b, err, len);
	if (!strncmp(spec, "mm:", 3))
		return mm_backend(spec, b, err, len);
	char *copy = b->buf = xstrdup(spec), *colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	if (!(b->a = find(copy, spec, err, len)))
		return -1;
	char *save = NULL;
	for (char *kv = colon ? strtok_r(colon + 1, ",", &save) : NULL; kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv || b->nopt == REPLAY_MAX_OPTS) {
			snprintf(err, len,
				 "backend %s: options are key=value, separated by commas, not '%s'",
				 b->a->name, kv);
			return -1;
		}
		*eq = '\0';
		b->opt[b->nopt].key = kv;
		b->opt[b->nopt].value = eq + 1;
		b->nopt++;
	}
	return check_options(b, err, len);
}

int backend_with_options(const char *display, const char *name, const struct backend_opt *opt,
			 size_t nopt, struct backend_choice *b, char *err, size_t len)
{
	memset(b, 0, sizeof *b);
	b->spec = xstrdup(display);
	if (nopt > REPLAY_MAX_OPTS) {
		snprintf(err, len, "backend %s: at most %d options", display, REPLAY_MAX_OPTS);
		return -1;
	}
	/* one buffer for all the strings: key\0value\0key\0value\0... */
	size_t total = 1;
	for (size_t i = 0; i < nopt; i++)
		total += strlen(opt[i].key) + strlen(opt[i].value) + 2;
	char *p = b->buf = xmalloc(total);
	for (size_t i = 0; i < nopt; i++) {
		b->opt[i].key = strcpy(p, opt[i].key);
		p += strlen(p) + 1;
		b->opt[i].value = strcpy(p, opt[i].value);
		p += strlen(p) + 1;
	}
	b->nopt = nopt;
	if (!(b->a = find(name, display, err, len)))
		return -1;
	return check_options(b, err, len);
}

struct replay_config backend_choice_config(const struct backend_choice *b,
					   const struct replay_config *base)
{
	struct replay_config cfg = *base;
	cfg.backend = b->a;
	memcpy(cfg.opt, b->opt, sizeof cfg.opt);
	cfg.nopt = b->nopt;
	return cfg;
}

void backend_heap_limit_note(const struct backend_choice *b, size_t n, uint64_t limit)
{
	char names[512] = "";
	size_t len = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		if (!(b[i].a->flags & ALLOC_F_SIMULATED) && len < sizeof names) {
			len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
						k++ ? ", " : "", b[i].spec);
		}
	if (limit && k)
		hb_error("warning: the heap limit sizes the simulated heap of the built-in "
			 "policies, library: and mm: backends; it does not hold %s (process-wide: "
			 "the memory limit does)",
			 names);
}

void backend_choice_free(struct backend_choice *b)
{
	free(b->fault);
	free(b->spec);
	free(b->buf);
	memset(b, 0, sizeof *b);
}
