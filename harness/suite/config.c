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
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "report/results.h"

const char *const config_plot_names[] = {"throughput", "utilization", "fragmentation",
					 "timeline",   "latency",     NULL};

struct ctx {
	const char *path;
	yaml_document_t doc;
	struct config *c;
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
		return at(x, k, "%s: unknown key '%s' (did you mean '%s'?)", where, s, near);
	char list[512];
	size_t n = 0;
	list[0] = '\0';
	for (int i = 0; known[i] && n < sizeof list; i++)
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", known[i]);
	return at(x, k, "%s: unknown key '%s' (known: %s)", where, s, list);
}

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
			  (unsigned long long)max, scalar(n));
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
			  scalar(n));
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
	return at(x, n, "%s: expected true or false, got '%s'", key, scalar(n));
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
	return at(x, n, "%s: expected one of %s, got '%s'", key, list, scalar(n));
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
	if (!name) {
		trace_short_name(path, shortname, sizeof shortname);
		name = shortname;
	}
	for (size_t i = 0; i < c->ntraces; i++)
		if (!strcmp(c->traces[i].name, name))
			return at(x, n,
				  "trace name '%s' is used twice (also line %u); give one a name: "
				  "{path: ..., name: ...}",
				  name, c->traces[i].line);
	c->traces = xrealloc(c->traces, (c->ntraces + 1) * sizeof *c->traces);
	c->traces[c->ntraces++] = (struct config_trace){xstrdup(path), xstrdup(name),
							(unsigned)n->start_mark.line + 1,
							(unsigned)n->start_mark.column + 1};
	return 0;
}

static int one_trace(const struct ctx *x, const yaml_node_t *item)
{
	const char *path = NULL, *name = NULL;
	const yaml_node_t *pnode = item;
	if (item->type == YAML_MAPPING_NODE) {
		static const char *const keys[] = {"path", "name", NULL};
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
		     p < item->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
			int i = known_key(x, k, "traces", keys);
			if (i < 0 || want(x, v, YAML_SCALAR_NODE, i ? "name" : "path") < 0)
				return -1;
			if (i == 0)
				path = scalar(v), pnode = v;
			else
				name = scalar(v);
		}
		if (!path)
			return at(x, item, "traces: an entry needs a path");
	} else if (want(x, item, YAML_SCALAR_NODE, "traces") < 0) {
		return -1;
	} else {
		path = scalar(item);
	}
	if (!has_glob(path)) {
		struct stat st;
		if (stat(path, &st) < 0)
			return at(x, pnode, "traces: %s: %s", path, strerror(errno));
		return add_trace(x, pnode, path, name);
	}
	glob_t g;
	int rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
		globfree(&g);
		return at(x, pnode, "traces: no file matches '%s'", path);
	}
	if (rc != 0) {
		globfree(&g);
		return at(x, pnode, "traces: cannot expand '%s'", path);
	}
	if (name && g.gl_pathc > 1) {
		globfree(&g);
		return at(x, pnode, "traces: '%s' matches %zu files, but a name names one", path,
			  (size_t)g.gl_pathc);
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
	for (size_t i = 0; i < c->nbackends; i++)
		if (!strcmp(c->backends[i].spec, b->spec)) {
			at(x, n,
			   "backend name '%s' is used twice; give one a name: {name: ..., backend: "
			   "...}",
			   b->spec);
			backend_choice_free(b);
			return -1;
		}
	c->backends = xrealloc(c->backends, (c->nbackends + 1) * sizeof *c->backends);
	c->backends[c->nbackends++] = *b;
	return 0;
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
	static const char *const keys[] = {"name",    "backend", "options",
					   "preload", "library", NULL};
	const char *v[5] = {NULL};
	const yaml_node_t *opts = NULL, *which = NULL;
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(x, p->key), *val = node(x, p->value);
		int i = known_key(x, k, "backends", keys);
		if (i < 0)
			return -1;
		if (i == 2) {
			if (want(x, val, YAML_MAPPING_NODE, "options") < 0)
				return -1;
			opts = val;
			continue;
		}
		if (want(x, val, YAML_SCALAR_NODE, keys[i]) < 0)
			return -1;
		if (i != 0) {
			if (which)
				return at(x, k,
					  "backends: give one of backend, preload and library");
			which = k;
		}
		v[i] = scalar(val);
	}
	if (!which)
		return at(x, item, "backends: an entry needs backend, preload or library");
	if (opts && !v[1])
		return at(x, opts, "options: only for a built-in or named backend (backend: ...)");
	char spec[4200];
	if (v[3] || v[4]) {
		snprintf(spec, sizeof spec, "%s:%s", v[3] ? "preload" : "library",
			 v[3] ? v[3] : v[4]);
		int rc = backend_parse(spec, &b, err, sizeof err);
		if (rc == 0 && v[0]) {
			free(b.spec);
			b.spec = xstrdup(v[0]);
		}
		return add_backend(x, item, &b, rc, err);
	}
	struct backend_opt o[REPLAY_MAX_OPTS];
	size_t no = 0;
	size_t n = snprintf(spec, sizeof spec, "%s", v[1]);
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
	int rc = backend_with_options(v[0] ? v[0] : spec, v[1], o, no, &b, err, sizeof err);
	return add_backend(x, opts && rc < 0 && strstr(err, "option") ? opts : item, &b, rc, err);
}

/* ---- regression -------------------------------------------------------------------- */

static int regression(const struct ctx *x, const yaml_node_t *n)
{
	static const char *const keys[] = {"baseline", "max_drop", "fail_on", NULL};
	static const char *const metrics[] = {"utilization", "frag_peak", "mops", NULL};
	struct config *c = x->c;
	if (want(x, n, YAML_MAPPING_NODE, "regression") < 0)
		return -1;
	c->has_regression = true;
	c->fail_on = (1u << JOB_ERROR) | (1u << JOB_CRASH) | (1u << JOB_TIMEOUT) | (1u << JOB_OOM);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
		int i = known_key(x, k, "regression", keys);
		if (i < 0)
			return -1;
		if (i == 0 && get_string(x, v, "baseline", &c->baseline) < 0)
			return -1;
		if (i == 1) {
			if (want(x, v, YAML_MAPPING_NODE, "max_drop") < 0)
				return -1;
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top; q++) {
				yaml_node_t *mk = node(x, q->key), *mv = node(x, q->value);
				int m = known_key(x, mk, "max_drop", metrics);
				double f;
				if (m < 0 || get_number(x, mv, metrics[m], 0, 1, &f) < 0)
					return -1;
				c->drops = xrealloc(c->drops, (c->ndrops + 1) * sizeof *c->drops);
				c->drops[c->ndrops++] =
					(struct config_drop){xstrdup(metrics[m]), f};
			}
		}
		if (i == 2) {
			if (want(x, v, YAML_SEQUENCE_NODE, "fail_on") < 0)
				return -1;
			c->fail_on = 0;
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				int s = get_choice(x, node(x, *it), "fail_on", replay_status_names);
				if (s < 0)
					return -1;
				c->fail_on |= 1u << s;
			}
		}
	}
	if (!c->baseline)
		return at(x, n, "regression: needs a baseline (a results.jsonl or run directory)");
	return 0;
}

/* ---- The document ------------------------------------------------------------------- */

static int top(struct ctx *x, const yaml_node_t *root)
{
	static const char *const keys[] = {"name",         "traces",     "backends", "repeat",
					   "check",        "heap_check", "latency",  "timeout",
					   "heap_limit",   "output",     "plots",    "regression",
					   "sample_every", "align",      NULL};
	struct config *c = x->c;
	if (root->type != YAML_MAPPING_NODE)
		return at(x, root,
			  "a config is a mapping of keys (name, traces, backends, ...), not %s",
			  type_name(root));
	const yaml_node_t *tr = NULL, *be = NULL;
	uint64_t v;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(x, p->key), *val = node(x, p->value);
		int i = known_key(x, k, "config", keys);
		int rc = 0;
		switch (i) {
		case -1: return -1;
		case 0: rc = get_string(x, val, "name", &c->name); break;
		case 1: tr = val; break;
		case 2: be = val; break;
		case 3:
			rc = get_uint(x, val, "repeat", REPLAY_MAX_REPEAT, &v);
			c->base.repeat = (unsigned)v;
			break;
		case 4:
			rc = get_choice(x, val, "check", replay_check_names);
			c->base.check = (enum replay_check)rc;
			break;
		case 5:
			rc = get_uint(x, val, "heap_check", UINT64_MAX / 2,
				      &c->base.heap_check_every);
			break;
		case 6: rc = get_bool(x, val, "latency", &c->base.latency); break;
		case 7: rc = get_number(x, val, "timeout", 0, 1e6, &c->timeout); break;
		case 8:
			if (want(x, val, YAML_SCALAR_NODE, "heap_limit") < 0 ||
			    parse_size(scalar(val), &c->base.heap_limit) < 0)
				rc = at(x, val,
					"heap_limit: expected a size like 512MiB or 4GiB, got '%s'",
					scalar(val) ? scalar(val) : type_name(val));
			break;
		case 9: rc = get_string(x, val, "output", &c->output); break;
		case 10:
			if (want(x, val, YAML_SEQUENCE_NODE, "plots") < 0)
				return -1;
			c->plots = 0;
			for (yaml_node_item_t *it = val->data.sequence.items.start;
			     it < val->data.sequence.items.top && rc >= 0; it++) {
				rc = get_choice(x, node(x, *it), "plots", config_plot_names);
				if (rc >= 0)
					c->plots |= 1u << rc;
			}
			break;
		case 11: rc = regression(x, val); break;
		case 12:
			rc = get_uint(x, val, "sample_every", UINT64_MAX / 2,
				      &c->base.sample_every);
			if (rc == 0 && !c->base.sample_every)
				rc = at(x, val, "sample_every: must be at least 1");
			break;
		case 13:
			rc = get_uint(x, val, "align", 4096, &v);
			if (rc == 0 && (!v || (v & (v - 1))))
				rc = at(x, val, "align: expected a power of two up to 4096");
			c->base.alignment = (unsigned)v;
			break;
		}
		if (rc < 0)
			return -1;
	}
	if (!tr)
		return at(x, root, "config: needs traces (a list of paths or globs)");
	if (!be)
		return at(x, root, "config: needs backends (a list of names)");
	if (want(x, tr, YAML_SEQUENCE_NODE, "traces") < 0 ||
	    want(x, be, YAML_SEQUENCE_NODE, "backends") < 0)
		return -1;
	if (tr->data.sequence.items.start == tr->data.sequence.items.top)
		return at(x, tr, "traces: the list is empty");
	if (be->data.sequence.items.start == be->data.sequence.items.top)
		return at(x, be, "backends: the list is empty");
	for (yaml_node_item_t *it = tr->data.sequence.items.start; it < tr->data.sequence.items.top;
	     it++)
		if (one_trace(x, node(x, *it)) < 0)
			return -1;
	for (yaml_node_item_t *it = be->data.sequence.items.start; it < be->data.sequence.items.top;
	     it++)
		if (one_backend(x, node(x, *it)) < 0)
			return -1;
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	buf_append(&b, "", 1);
	*len = b.len - 1;
	return b.data;
}

struct config *config_load(const char *path)
{
	size_t len = 0;
	char *text = read_file(path, &len);
	if (!text) {
		hb_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	c->text = text;
	replay_config_init(&c->base);
	c->plots = PLOT_ALL;
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
	yaml_parser_delete(&parser);
	yaml_node_t *root = yaml_document_get_root_node(&x.doc);
	int rc = root ? top(&x, root) : (hb_error("%s: the config is empty", path), -1);
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
	for (size_t i = 0; i < c->ndrops; i++)
		free(c->drops[i].metric);
	free(c->drops);
	free(c->traces);
	free(c->backends);
	free(c->path);
	free(c->name);
	free(c->text);
	free(c->output);
	free(c->baseline);
	free(c);
}
