/*
 * config.c - reading a suite's YAML (config.h).
 *
 * libyaml loads the whole document (nodes carry their line and column);
 * then one walk checks every key, type and value against the schema and
 * fills struct config.  The first mistake is reported and ends the load.
 */
#include "suite/config.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "replay/lab.h"
#include "report/fields.h"
#include "report/plot.h"
#include "report/results.h"

struct ctx {
	const char *path;
	yaml_document_t doc;
	struct config *c;
	const yaml_node_t *traces, *backends; /* the lists, read last */
};

static int at(const struct ctx *x, const yaml_node_t *n, const char *fmt, ...) HB_PRINTF(3, 4);

/* "heapbench: FILE:LINE:COLUMN: message"; always -1 */
static int at(const struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	hb_error("%s:%zu:%zu: %s", x->path, n->start_mark.line + 1, n->start_mark.column + 1, msg);
	return -1;
}

static yaml_node_t *node(const struct ctx *x, int i)
{
	return yaml_document_get_node((yaml_document_t *)&x->doc, i);
}

static const char *type_name(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE     ? "a value"
	       : n->type == YAML_SEQUENCE_NODE ? "a list"
					       : "a mapping";
}

static const char *scalar(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want(const struct ctx *x, const yaml_node_t *n, yaml_node_type_t t, const char *key)
{
	if (n->type == t)
		return 0;
	return at(x, n, "%s: expected %s, got %s", key,
		  t == YAML_SCALAR_NODE     ? "a value"
		  : t == YAML_SEQUENCE_NODE ? "a list"
					    : "a mapping",
		  type_name(n));
}

/* ---- Keys ------------------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Index of key in known, or -1 after an error suggesting the nearest. */
static int known_key(const struct ctx *x, const yaml_node_t *k, const char *where,
		     const char *const *known)
{
	const char *s = scalar(k);
	if (!s)
		return at(x, k, "%s: keys are names, not %s", where, type_name(k));
	const char *near = NULL;
	size_t best = 99;
	for (int i = 0; known[i]; i++) {
		if (!strcmp(s, known[i]))
			return i;
		size_t d = edit_distance(s, known[i]);
		if (d < best)
			best = d, near = known[i];
	}
	if (near && best <= 2 + strlen(s) / 4)
		return at(x, k, "%s: unknown key '%s' (did you mean '%s'?)", where, hb_quote(s),
			  near);
	char list[512];
	size_t n = 0;
	list[0] = '\0';
	for (int i = 0; known[i] && n < sizeof list; i++)
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", known[i]);
	return at(x, k, "%s: unknown key '%s' (known: %s)", where, hb_quote(s), list);
}

/* A mapping's keys are a table of rows X(name, set): the names (for
 * known_key) and, at the same index, the function that takes its value. */
#define KEY_NAME_(name, set) name,
#define KEY_SET_(name, set)  set,

/* ---- Values --------------------------------------------------------------------- */

static int get_string(const struct ctx *x, const yaml_node_t *n, const char *key, char **out)
{
	if (want(x, n, YAML_SCALAR_NODE, key) < 0)
		return -1;
	if (!*scalar(n))
		return at(x, n, "%s: must not be empty", key);
	free(*out);
	*out = xstrdup(scalar(n));
	return 0;
}

static int get_uint(const struct ctx *x, const yaml_node_t *n, const char *key, uint64_t max,
		    uint64_t *out)
{
	if (want(x, n, YAML_SCALAR_NODE, key) < 0)
		return -1;
	uint64_t v;
	if (parse_u64(scalar(n), &v) < 0 || v > max)
		return at(x, n, "%s: expected a whole number from 0 to %llu, got '%s'", key,
			  (unsigned long long)max, hb_quote(scalar(n)));
	*out = v;
	return 0;
}

static int get_number(const struct ctx *x, const yaml_node_t *n, const char *key, double lo,
		      double hi, double *out)
{
	if (want(x, n, YAML_SCALAR_NODE, key) < 0)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(scalar(n), &end);
	if (end == scalar(n) || *end || errno || !isfinite(v) || v < lo || v > hi)
		return at(x, n, "%s: expected a number from %g to %g, got '%s'", key, lo, hi,
			  hb_quote(scalar(n)));
	*out = v;
	return 0;
}

static int get_bool(const struct ctx *x, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "True", "TRUE", NULL};
	static const char *const no[] = {"false", "no", "off", "False", "FALSE", NULL};
	if (want(x, n, YAML_SCALAR_NODE, key) < 0)
		return -1;
	for (int i = 0; yes[i]; i++)
		if (!strcmp(scalar(n), yes[i]))
			return *out = true, 0;
	for (int i = 0; no[i]; i++)
		if (!strcmp(scalar(n), no[i]))
			return *out = false, 0;
	return at(x, n, "%s: expected true or false, got '%s'", key, hb_quote(scalar(n)));
}

/* One of names (NULL-terminated): its index, or -1 after an error. */
static int get_choice(const struct ctx *x, const yaml_node_t *n, const char *key,
		      const char *const *names)
{
	if (want(x, n, YAML_SCALAR_NODE, key) < 0)
		return -1;
	char list[256];
	size_t len = 0;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(scalar(n), names[i]))
			return i;
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
					names[i]);
	}
	return at(x, n, "%s: expected one of %s, got '%s'", key, list, hb_quote(scalar(n)));
}

/* A list of names (NULL-terminated): the bit of each, set in *bits (which
 * it replaces); -1 after an error. */
static int get_choices(const struct ctx *x, const yaml_node_t *n, const char *key,
		       const char *const *names, unsigned *bits)
{
	if (want(x, n, YAML_SEQUENCE_NODE, key) < 0)
		return -1;
	*bits = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		int i = get_choice(x, node(x, *it), key, names);
		if (i < 0)
			return -1;
		*bits |= 1u << i;
	}
	return 0;
}

/* ---- traces ---------------------------------------------------------------------- */

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int add_trace(const struct ctx *x, const yaml_node_t *n, const char *path, const char *name)
{
	struct config *c = x->c;
	char shortname[256];
	struct stat st;
	if (stat(path, &st) < 0)
		return at(x, n, "traces: %s: %s", hb_quote(path), strerror(errno));
	if (!S_ISREG(st.st_mode))
		return at(x, n, "traces: %s: %s", hb_quote(path),
			  hb_strerror(S_ISDIR(st.st_mode) ? EISDIR : HB_ENOTREG));
	if (name && strlen(name) > CONFIG_NAME_MAX)
		return at(x, n, "traces: a name of %zu bytes, more than %d", strlen(name),
			  CONFIG_NAME_MAX);
	if (!name) {
		trace_short_name(path, shortname, sizeof shortname);
		name = shortname;
	}
	c->traces = xrealloc(c->traces, (c->ntraces + 1) * sizeof *c->traces);
	c->traces[c->ntraces++] = (struct config_trace){xstrdup(path), xstrdup(name),
							(unsigned)n->start_mark.line + 1,
							(unsigned)n->start_mark.column + 1};
	return 0;
}

static int by_name_then_index(const void *a, const void *b, void *arg)
{
	const struct config_trace *t = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(t[i].name, t[j].name);
	return c ? c : (i > j) - (i < j);
}

/* Every trace name once: sorted, so 100 k traces take no time.  The
 * mistake told is the first a reader meets: the earliest second use. */
static int traces_named_once(const struct ctx *x)
{
	const struct config *c = x->c;
	size_t *order = xcalloc(c->ntraces + 1, sizeof *order), worst = SIZE_MAX, first = 0;
	for (size_t i = 0; i < c->ntraces; i++)
		order[i] = i;
	qsort_r(order, c->ntraces, sizeof *order, by_name_then_index, c->traces);
	/* a run of one name starts with its earliest use */
	for (size_t k = 1, run = 0; k < c->ntraces; k++) {
		if (strcmp(c->traces[order[k]].name, c->traces[order[k - 1]].name))
			run = k;
		else if (worst == SIZE_MAX || order[k] < worst)
			worst = order[k], first = order[run];
	}
	free(order);
	if (worst == SIZE_MAX)
		return 0;
	const struct config_trace *t = &c->traces[worst];
	hb_error("%s:%u:%u: trace name '%s' is used twice (also line %u); give one a name: "
		 "{path: ..., name: ...}",
		 x->path, t->line, t->column, hb_quote(t->name), c->traces[first].line);
	return -1;
}

/* A trace entry's keys, each a row: its name and what it sets. */
struct trace_entry {
	const char *path, *name;
	const yaml_node_t *pnode; /* where the path is written */
};

static int tr_path(const struct ctx *x, const char *key, const yaml_node_t *v,
		   struct trace_entry *e)
{
	if (want(x, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	e->path = scalar(v), e->pnode = v;
	return 0;
}

static int tr_name(const struct ctx *x, const char *key, const yaml_node_t *v,
		   struct trace_entry *e)
{
	if (want(x, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	e->name = scalar(v);
	return 0;
}

#define TRACE_KEYS(X) X("path", tr_path) X("name", tr_name)
static const char *const trace_keys[] = {TRACE_KEYS(KEY_NAME_) NULL};
static int (*const trace_sets[])(const struct ctx *, const char *, const yaml_node_t *,
				 struct trace_entry *) = {TRACE_KEYS(KEY_SET_)};

static int one_trace(const struct ctx *x, const yaml_node_t *item)
{
	struct trace_entry e = {.pnode = item};
	if (item->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
		     p < item->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
			int i = known_key(x, k, "traces", trace_keys);
			if (i < 0 || trace_sets[i](x, trace_keys[i], v, &e) < 0)
				return -1;
		}
		if (!e.path)
			return at(x, item, "traces: an entry needs a path");
	} else if (want(x, item, YAML_SCALAR_NODE, "traces") < 0) {
		return -1;
	} else {
		e.path = scalar(item);
	}
	const char *path = e.path, *name = e.name;
	const yaml_node_t *pnode = e.pnode;
	if (!has_glob(path))
		return add_trace(x, pnode, path, name);
	glob_t g;
	int rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
		globfree(&g);
		return at(x, pnode, "traces: no file matches '%s'", hb_quote(path));
	}
	if (rc != 0) {
		globfree(&g);
		return at(x, pnode, "traces: cannot expand '%s'", hb_quote(path));
	}
	if (name && g.gl_pathc > 1) {
		globfree(&g);
		return at(x, pnode, "traces: '%s' matches %zu files, but a name names one",
			  hb_quote(path), (size_t)g.gl_pathc);
	}
	for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
		rc = add_trace(x, pnode, g.gl_pathv[i], name);
	globfree(&g);
	return rc;
}

/* ---- backends --------------------------------------------------------------------- */

static int add_backend(const struct ctx *x, const yaml_node_t *n, struct backend_choice *b, int rc,
		       const char *err)
{
	struct config *c = x->c;
	if (rc < 0) {
		backend_choice_free(b);
		return at(x, n, "%s", err);
	}
	if (b->fault)
		at(x, n, "warning: backend %s cannot start here, its jobs fail: %s", b->spec,
		   b->fault);
	for (size_t i = 0; i < c->nbackends; i++)
		if (!strcmp(c->backends[i].spec, b->spec)) {
			at(x, n,
			   "backend name '%s' is used twice; give one a name: {name: ..., backend: "
			   "...}",
			   hb_quote(b->spec));
			backend_choice_free(b);
			return -1;
		}
	c->backends = xrealloc(c->backends, (c->nbackends + 1) * sizeof *c->backends);
	c->backends[c->nbackends++] = *b;
	return 0;
}

/* A backend entry's keys, each a row: its name and what it sets. */
struct backend_entry {
	const char *name, *backend, *preload, *library;
	const yaml_node_t *options;
	const yaml_node_t *which; /* the key naming the backend */
};

static int be_name(const struct ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		   struct backend_entry *e)
{
	if (want(x, v, YAML_SCALAR_NODE, scalar(k)) < 0)
		return -1;
	if (strlen(scalar(v)) > CONFIG_NAME_MAX)
		return at(x, v, "name: %zu bytes long, more than the %d it may have",
			  strlen(scalar(v)), CONFIG_NAME_MAX);
	e->name = scalar(v);
	return 0;
}

static int be_options(const struct ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		      struct backend_entry *e)
{
	if (want(x, v, YAML_MAPPING_NODE, scalar(k)) < 0)
		return -1;
	e->options = v;
	return 0;
}

/* backend, preload and library: one of them names the backend */
static int be_source(const struct ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		     struct backend_entry *e, const char **slot)
{
	if (want(x, v, YAML_SCALAR_NODE, scalar(k)) < 0)
		return -1;
	if (e->which)
		return at(x, k, "backends: give one of backend, preload and library");
	e->which = k;
	*slot = scalar(v);
	return 0;
}

static int be_backend(const struct ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		      struct backend_entry *e)
{
	return be_source(x, k, v, e, &e->backend);
}

static int be_preload(const struct ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		      struct backend_entry *e)
{
	return be_source(x, k, v, e, &e->preload);
}

static int be_library(const struct ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		      struct backend_entry *e)
{
	return be_source(x, k, v, e, &e->library);
}

#define BACKEND_KEYS(X)                                                                            \
	X("name", be_name)                                                                         \
	X("backend", be_backend)                                                                   \
	X("options", be_options) X("preload", be_preload) X("library", be_library)
static const char *const backend_keys[] = {BACKEND_KEYS(KEY_NAME_) NULL};
static int (*const backend_sets[])(const struct ctx *, const yaml_node_t *, const yaml_node_t *,
				   struct backend_entry *) = {BACKEND_KEYS(KEY_SET_)};

/* preload: or library: as the spec backend_parse reads */
static int backend_of_path(const struct ctx *x, const yaml_node_t *item,
			   const struct backend_entry *e)
{
	struct backend_choice b;
	char err[ALLOC_ERRLEN + 512], spec[4200];
	snprintf(spec, sizeof spec, "%s:%s", e->preload ? "preload" : "library",
		 e->preload ? e->preload : e->library);
	int rc = backend_parse(spec, &b, err, sizeof err);
	if (rc == 0 && e->name) {
		free(b.spec);
		b.spec = xstrdup(e->name);
	}
	return add_backend(x, item, &b, rc, err);
}

static int one_backend(const struct ctx *x, const yaml_node_t *item)
{
	struct backend_choice b;
	char err[ALLOC_ERRLEN + 512];
	if (item->type == YAML_SCALAR_NODE) {
		int rc = backend_parse(scalar(item), &b, err, sizeof err);
		return add_backend(x, item, &b, rc, err);
	}
	if (want(x, item, YAML_MAPPING_NODE, "backends") < 0)
		return -1;
	struct backend_entry e = {0};
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(x, p->key), *val = node(x, p->value);
		int i = known_key(x, k, "backends", backend_keys);
		if (i < 0 || backend_sets[i](x, k, val, &e) < 0)
			return -1;
	}
	if (!e.which)
		return at(x, item, "backends: an entry needs backend, preload or library");
	const yaml_node_t *opts = e.options;
	if (opts && !e.backend)
		return at(x, opts, "options: only for a built-in or named backend (backend: ...)");
	if (e.preload || e.library)
		return backend_of_path(x, item, &e);
	char spec[4200];
	struct backend_opt o[REPLAY_MAX_OPTS];
	size_t no = 0;
	size_t n = snprintf(spec, sizeof spec, "%s", e.backend);
	if (opts)
		for (yaml_node_pair_t *p = opts->data.mapping.pairs.start;
		     p < opts->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(x, p->key), *val = node(x, p->value);
			if (want(x, k, YAML_SCALAR_NODE, "options") < 0 ||
			    want(x, val, YAML_SCALAR_NODE, scalar(k)) < 0)
				return -1;
			if (no == REPLAY_MAX_OPTS)
				return at(x, k, "options: at most %d", REPLAY_MAX_OPTS);
			o[no++] = (struct backend_opt){scalar(k), scalar(val)};
			if (n < sizeof spec)
				n += (size_t)snprintf(spec + n, sizeof spec - n, "%s%s=%s",
						      no == 1 ? ":" : ",", scalar(k), scalar(val));
		}
	int rc =
		backend_with_options(e.name ? e.name : spec, e.backend, o, no, &b, err, sizeof err);
	return add_backend(x, opts && rc < 0 && strstr(err, "option") ? opts : item, &b, rc, err);
}

/* ---- regression -------------------------------------------------------------------- */

static int rg_baseline(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_string(x, v, key, &x->c->baseline);
}

/* {metric: fraction}: the fields compare can gate on (fields.h) */
static int rg_max_drop(struct ctx *x, const char *key, const yaml_node_t *v)
{
	if (want(x, v, YAML_MAPPING_NODE, key) < 0)
		return -1;
	for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *mk = node(x, q->key), *mv = node(x, q->value);
		int m = known_key(x, mk, key, res_gate_names);
		double f;
		if (m < 0 || get_number(x, mv, res_gate_names[m], 0, 1, &f) < 0)
			return -1;
		x->c->max_drop[res_field_find(res_gate_names[m])] = f;
	}
	return 0;
}

static int rg_fail_on(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_choices(x, v, key, replay_status_names, &x->c->fail_on);
}

#define REGRESSION_KEYS(X)                                                                         \
	X("baseline", rg_baseline) X("max_drop", rg_max_drop) X("fail_on", rg_fail_on)
static const char *const regression_keys[] = {REGRESSION_KEYS(KEY_NAME_) NULL};
static int (*const regression_sets[])(struct ctx *, const char *,
				      const yaml_node_t *) = {REGRESSION_KEYS(KEY_SET_)};

static int regression(struct ctx *x, const char *key, const yaml_node_t *n)
{
	struct config *c = x->c;
	if (want(x, n, YAML_MAPPING_NODE, key) < 0)
		return -1;
	c->has_regression = true;
	c->fail_on = (1u << JOB_ERROR) | (1u << JOB_CRASH) | (1u << JOB_TIMEOUT) | (1u << JOB_OOM);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
		int i = known_key(x, k, key, regression_keys);
		if (i < 0 || regression_sets[i](x, regression_keys[i], v) < 0)
			return -1;
	}
	if (!c->baseline)
		return at(x, n, "regression: needs a baseline (a results.jsonl or run directory)");
	return 0;
}

/* ---- The document's knobs: one function each --------------------------------------- */

/* A string no longer than max bytes (it becomes a file name, a title). */
static int get_short_string(const struct ctx *x, const yaml_node_t *n, const char *key, size_t max,
			    char **out)
{
	if (get_string(x, n, key, out) < 0)
		return -1;
	if (strlen(*out) > max)
		return at(x, n, "%s: %zu bytes long, more than the %zu it may have", key,
			  strlen(*out), max);
	return 0;
}

static int top_name(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_short_string(x, v, key, CONFIG_NAME_MAX, &x->c->name);
}

static int top_traces(struct ctx *x, const char *key, const yaml_node_t *v)
{
	(void)key;
	x->traces = v; /* read once the whole document is checked */
	return 0;
}

static int top_backends(struct ctx *x, const char *key, const yaml_node_t *v)
{
	(void)key;
	x->backends = v;
	return 0;
}

static int top_repeat(struct ctx *x, const char *key, const yaml_node_t *v)
{
	uint64_t n;
	if (get_uint(x, v, key, REPLAY_MAX_REPEAT, &n) < 0)
		return -1;
	x->c->base.repeat = (unsigned)n;
	return 0;
}

static int top_check(struct ctx *x, const char *key, const yaml_node_t *v)
{
	int i = get_choice(x, v, key, replay_check_names);
	if (i < 0)
		return -1;
	x->c->base.check = (enum replay_check)i;
	return 0;
}

static int top_threads(struct ctx *x, const char *key, const yaml_node_t *v)
{
	int i = get_choice(x, v, key, replay_threads_names);
	if (i < 0)
		return -1;
	x->c->base.threads = (enum replay_threads)i;
	return 0;
}

static int top_pace(struct ctx *x, const char *key, const yaml_node_t *v)
{
	if (want(x, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	if (replay_parse_pace(scalar(v), &x->c->base.pace) < 0)
		return at(x, v, "%s: expected recorded or a factor like 10x, got '%s'", key,
			  hb_quote(scalar(v)));
	return 0;
}

/* One value of copies: at least 1. */
static int copies_value(struct ctx *x, const char *key, const yaml_node_t *n)
{
	uint64_t k;
	if (get_uint(x, n, key, REPLAY_MAX_COPIES, &k) < 0)
		return -1;
	if (!k)
		return at(x, n, "%s: at least 1 copy", key);
	x->c->copies[x->c->ncopies++] = (unsigned)k;
	return 0;
}

/* copies: 2, or a sweep: copies: [1, 2, 4] (a job per value). */
static int top_copies(struct ctx *x, const char *key, const yaml_node_t *v)
{
	x->c->ncopies = 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return copies_value(x, key, v);
	const yaml_node_item_t *it = v->data.sequence.items.start,
			       *end = v->data.sequence.items.top;
	if (it == end || end - it > CONFIG_MAX_COPIES)
		return at(x, v, "%s: expected 1 to %d numbers of copies", key, CONFIG_MAX_COPIES);
	for (; it < end; it++)
		if (copies_value(x, key, node(x, *it)) < 0)
			return -1;
	return 0;
}

static int top_heap_check(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_uint(x, v, key, UINT64_MAX / 2, &x->c->base.heap_check_every);
}

static int top_latency(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_bool(x, v, key, &x->c->base.latency);
}

static int top_timeout(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_number(x, v, key, 0, 1e6, &x->c->limits.timeout);
}

/* A size like 512MiB (parse_size: 64 bits at most). */
static int get_size(const struct ctx *x, const yaml_node_t *v, const char *key, const char *note,
		    uint64_t *out)
{
	if (want(x, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	if (parse_size(scalar(v), out) < 0)
		return at(x, v, "%s: expected a size like 512MiB or 4GiB%s, got '%s'", key, note,
			  hb_quote(scalar(v)));
	return 0;
}

static int top_memory_limit(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_size(x, v, key, " (0: none)", &x->c->limits.memory);
}

static int top_heap_limit(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_size(x, v, key, "", &x->c->base.heap_limit);
}

static int top_output(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_short_string(x, v, key, PATH_MAX - 256, &x->c->output);
}

static int top_plots(struct ctx *x, const char *key, const yaml_node_t *v)
{
	return get_choices(x, v, key, plot_chart_names, &x->c->plots);
}

static int top_sample_every(struct ctx *x, const char *key, const yaml_node_t *v)
{
	if (get_uint(x, v, key, UINT64_MAX / 2, &x->c->base.sample_every) < 0)
		return -1;
	if (!x->c->base.sample_every)
		return at(x, v, "%s: must be at least 1", key);
	return 0;
}

static int top_align(struct ctx *x, const char *key, const yaml_node_t *v)
{
	uint64_t n;
	if (get_uint(x, v, key, 4096, &n) < 0)
		return -1;
	if (!n || (n & (n - 1)))
		return at(x, v, "%s: expected a power of two up to 4096", key);
	x->c->base.alignment = (unsigned)n;
	x->c->base.align_strict = false;
	return 0;
}

static int top_align_strict(struct ctx *x, const char *key, const yaml_node_t *v)
{
	if (top_align(x, key, v) < 0)
		return -1;
	x->c->base.align_strict = true;
	return 0;
}

/* A malloc-lab handout's rules (lab.c); read before the other keys, so
 * that align, align_strict and heap_limit, wherever they are written,
 * change what it presets. */
static int top_lab(struct ctx *x, const char *key, const yaml_node_t *v)
{
	if (want(x, v, YAML_SCALAR_NODE, key) < 0)
		return -1;
	if (!replay_lab_set(&x->c->base, scalar(v)))
		return at(x, v, "%s: expected csapp2002 or cmu2016, got '%s'", key,
			  hb_quote(scalar(v)));
	return 0;
}

/* The order is the order of "known: ..." in an unknown key's message. */
#define TOP_KEYS(X)                                                                                \
	X("name", top_name)                                                                        \
	X("traces", top_traces)                                                                    \
	X("backends", top_backends)                                                                \
	X("repeat", top_repeat)                                                                    \
	X("check", top_check)                                                                      \
	X("heap_check", top_heap_check)                                                            \
	X("latency", top_latency)                                                                  \
	X("timeout", top_timeout)                                                                  \
	X("memory_limit", top_memory_limit)                                                        \
	X("heap_limit", top_heap_limit)                                                            \
	X("output", top_output)                                                                    \
	X("plots", top_plots)                                                                      \
	X("regression", regression)                                                                \
	X("sample_every", top_sample_every)                                                        \
	X("align", top_align)                                                                      \
	X("align_strict", top_align_strict)                                                        \
	X("lab", top_lab)                                                                          \
	X("threads", top_threads)                                                                  \
	X("copies", top_copies)                                                                    \
	X("pace", top_pace)
static const char *const top_keys[] = {TOP_KEYS(KEY_NAME_) NULL};
static int (*const top_sets[])(struct ctx *, const char *,
			       const yaml_node_t *) = {TOP_KEYS(KEY_SET_)};

/* ---- The document ------------------------------------------------------------------- */

struct key_at {
	const char *key;
	const yaml_node_t *node;
};

static int by_key_then_place(const void *a, const void *b)
{
	const struct key_at *p = a, *q = b;
	int c = strcmp(p->key, q->key);
	if (c)
		return c;
	size_t i = p->node->start_mark.index, j = q->node->start_mark.index;
	return (i > j) - (i < j);
}

/* A key written twice in one mapping, anywhere in the document: the second
 * is the mistake (YAML says keys are unique; libyaml keeps both). */
static int keys_once(const struct ctx *x)
{
	for (yaml_node_t *m = x->doc.nodes.start; m < x->doc.nodes.top; m++) {
		if (m->type != YAML_MAPPING_NODE)
			continue;
		size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start), k = 0;
		if (n < 2)
			continue;
		struct key_at *keys = xcalloc(n, sizeof *keys);
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *key = node(x, p->key);
			if (key->type == YAML_SCALAR_NODE)
				keys[k++] = (struct key_at){scalar(key), key};
		}
		qsort(keys, k, sizeof *keys, by_key_then_place);
		const struct key_at *dup = NULL, *was = NULL;
		for (size_t i = 1; i < k; i++)
			if (!strcmp(keys[i].key, keys[i - 1].key) &&
			    (!dup || keys[i].node->start_mark.index < dup->node->start_mark.index))
				dup = &keys[i], was = &keys[i - 1];
		int rc = dup ? at(x, dup->node, "duplicate key '%s' (also line %zu)",
				  hb_quote(dup->key), was->node->start_mark.line + 1)
			     : 0;
		free(keys);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Every item of a list through one(). */
static int each_item(const struct ctx *x, const yaml_node_t *list,
		     int (*one)(const struct ctx *, const yaml_node_t *))
{
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++)
		if (one(x, node(x, *it)) < 0)
			return -1;
	return 0;
}

static int top(struct ctx *x, const yaml_node_t *root)
{
	if (root->type != YAML_MAPPING_NODE)
		return at(x, root,
			  "a config is a mapping of keys (name, traces, backends, ...), not %s",
			  type_name(root));
	for (int lab_pass = 1; lab_pass >= 0; lab_pass--)
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(x, p->key), *val = node(x, p->value);
			bool lab = k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), "lab");
			if (lab != lab_pass)
				continue;
			int i = known_key(x, k, "config", top_keys);
			if (i < 0 || top_sets[i](x, top_keys[i], val) < 0)
				return -1;
		}
	if (!x->traces)
		return at(x, root, "config: needs traces (a list of paths or globs)");
	if (!x->backends)
		return at(x, root, "config: needs backends (a list of names)");
	if (want(x, x->traces, YAML_SEQUENCE_NODE, "traces") < 0 ||
	    want(x, x->backends, YAML_SEQUENCE_NODE, "backends") < 0)
		return -1;
	if (x->traces->data.sequence.items.start == x->traces->data.sequence.items.top)
		return at(x, x->traces, "traces: the list is empty");
	if (x->backends->data.sequence.items.start == x->backends->data.sequence.items.top)
		return at(x, x->backends, "backends: the list is empty");
	if (each_item(x, x->traces, one_trace) < 0 || traces_named_once(x) < 0)
		return -1;
	return each_item(x, x->backends, one_backend);
}

/* Nothing after the first document but the end: a second one (after
 * ---) would be ignored, so it is a mistake, as is a YAML error there. */
static int more_documents(const struct ctx *x, yaml_parser_t *parser)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next)) {
		hb_error("%s:%zu:%zu: %s", x->path, parser->problem_mark.line + 1,
			 parser->problem_mark.column + 1,
			 parser->problem ? parser->problem : "bad YAML");
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&next);
	int rc = 0;
	if (root)
		rc = at(x, root,
			"a second YAML document: a config is one document (remove the ---)");
	yaml_document_delete(&next);
	return rc;
}

struct config *config_load(const char *path)
{
	size_t len = 0;
	char *text = read_whole_file(path, &len);
	if (!text) {
		hb_error("%s: %s", path, hb_strerror(errno));
		return NULL;
	}
	struct config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	c->text = text;
	replay_config_init(&c->base);
	job_limits_default(&c->limits);
	c->plots = PLOT_ALL;
	for (int f = 0; f < RES_NFIELDS; f++)
		c->max_drop[f] = -1;
	struct ctx x = {.path = path, .c = c};
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &x.doc)) {
		hb_error("%s:%zu:%zu: %s%s%s", path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "bad YAML", parser.context ? " " : "",
			 parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		config_free(c);
		return NULL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&x.doc);
	int rc = root ? more_documents(&x, &parser)
		      : (hb_error("%s: the config is empty", path), -1);
	yaml_parser_delete(&parser);
	if (rc == 0)
		rc = keys_once(&x);
	if (rc == 0)
		rc = top(&x, root);
	yaml_document_delete(&x.doc);
	if (rc < 0) {
		config_free(c);
		return NULL;
	}
	if (!c->name) {
		char base[256];
		trace_short_name(path, base, sizeof base);
		char *dot = strrchr(base, '.');
		if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
			*dot = '\0';
		c->name = xstrdup(base);
	}
	if (!c->output) {
		size_t n = strlen(c->name) + 16;
		c->output = xmalloc(n);
		snprintf(c->output, n, "results/%s", c->name);
	}
	return c;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntraces; i++) {
		free(c->traces[i].path);
		free(c->traces[i].name);
	}
	for (size_t i = 0; i < c->nbackends; i++)
		backend_choice_free(&c->backends[i]);
	free(c->traces);
	free(c->backends);
	free(c->path);
	free(c->name);
	free(c->text);
	free(c->output);
	free(c->baseline);
	free(c);
}
