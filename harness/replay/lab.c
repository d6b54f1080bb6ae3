/*
 * lab.c - the malloc-lab presets (--lab, config `lab:`; lab.h,
 * docs/malloclab.md): what each handout's driver requires of every block
 * and of the heap.
 */
#include "replay/lab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

/* DEFAULT_TRACEFILES of each handout's config.h */
static const char *const traces_2002[] = {
	"amptjp-bal.rep",     "cccp-bal.rep",    "cp-decl-bal.rep",  "expr-bal.rep",
	"coalescing-bal.rep", "random-bal.rep",  "random2-bal.rep",  "binary-bal.rep",
	"binary2-bal.rep",    "realloc-bal.rep", "realloc2-bal.rep", NULL};
static const char *const traces_2020[] = {
	"syn-array-short.rep",   "syn-struct-short.rep", "syn-string-short.rep",
	"syn-mix-short.rep",     "ngram-fox1.rep",       "syn-mix-realloc.rep",
	"bdd-aa4.rep",           "bdd-aa32.rep",         "bdd-ma4.rep",
	"bdd-nq7.rep",           "cbit-abs.rep",         "cbit-parity.rep",
	"cbit-satadd.rep",       "cbit-xyz.rep",         "ngram-gulliver1.rep",
	"ngram-gulliver2.rep",   "ngram-moby1.rep",      "ngram-shake1.rep",
	"syn-array.rep",         "syn-mix.rep",          "syn-string.rep",
	"syn-struct.rep",        "syn-array-scaled.rep", "syn-string-scaled.rep",
	"syn-struct-scaled.rep", "syn-mix-scaled.rep",   NULL};

const struct replay_lab replay_labs[] = {
	/* CS:APP, 2002 (config.h): ALIGNMENT 8, MAX_HEAP 20*(1<<20) */
	{"csapp2002", MM_LAB_CSAPP2002, 8, (uint64_t)20 << 20, traces_2002},
	/* CMU 15-213's 64-bit handouts of 16-byte alignment, with the
	 * constants of Fall 2020's (the one at hand): ALIGNMENT 16,
	 * MAX_DENSE_HEAP 100*(1<<20) */
	{"cmu2016", MM_LAB_CMU2016, 16, (uint64_t)100 << 20, traces_2020},
	{NULL, 0, 0, 0, NULL},
};

char **replay_lab_paths(unsigned lab, char *const *paths, int n, int *count)
{
	const struct replay_lab *l = replay_lab_of(lab);
	size_t cap = (size_t)n + 1, k = 0;
	char **out = xcalloc(cap, sizeof *out);
	for (int i = 0; i < n; i++) {
		struct stat st;
		bool dir = l && stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode);
		for (size_t t = 0; dir ? l->traces[t] != NULL : t == 0; t++) {
			if (k + 1 >= cap)
				out = xrealloc(out, (cap *= 2) * sizeof *out);
			if (!dir) {
				out[k++] = xstrdup(paths[i]);
				continue;
			}
			size_t len = strlen(paths[i]) + strlen(l->traces[t]) + 2;
			out[k] = xmalloc(len);
			snprintf(out[k++], len, "%s/%s", paths[i], l->traces[t]);
		}
	}
	out[k] = NULL;
	*count = (int)k;
	return out;
}

const struct replay_lab *replay_lab_find(const char *name)
{
	for (const struct replay_lab *l = replay_labs; l->name; l++)
		if (!strcmp(l->name, name))
			return l;
	return NULL;
}

const struct replay_lab *replay_lab_of(unsigned lab)
{
	for (const struct replay_lab *l = replay_labs; l->name; l++)
		if (l->lab == lab)
			return l;
	return NULL;
}

int replay_lab_weight(const struct trace *t, unsigned lab)
{
	const char *hdr = lab == MM_LAB_CMU2016 ? trace_meta_get(t, "rep-header") : NULL;
	char *end = NULL;
	unsigned long w = hdr ? strtoul(hdr, &end, 10) : 4;
	return w <= 3 && end != hdr ? (int)w : -1;
}

bool replay_lab_set(struct replay_config *cfg, const char *name)
{
	const struct replay_lab *l = replay_lab_find(name);
	if (!l)
		return false;
	cfg->lab = l->lab;
	cfg->alignment = l->alignment;
	cfg->align_strict = true;
	cfg->heap_limit = l->heap_limit;
	return true;
}
