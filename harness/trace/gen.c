/*
 * gen.c - synthetic traces with program-like shapes (gen.h).
 *
 * The generator steers the number of live blocks toward a target profile
 * target(i) over the op index: below the target it mostly allocates, above
 * it mostly frees, so the profile has the intended shape plus the churn of
 * a real program.  Randomness is xoshiro256** seeded by splitmix64; all
 * choices use integer arithmetic except the exponential size draw.
 */
#include "trace/gen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/builder.h"

const char *const trace_gen_patterns[] = {
	"ramp", "peak", "plateau", "random-uniform", "random-exponential", NULL,
};

enum pattern { P_RAMP, P_PEAK, P_PLATEAU, P_UNIFORM, P_EXPONENTIAL };

/* ---- Random numbers ----------------------------------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-32 here). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* True with probability pct/100. */
static int rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

/* ---- Sizes -------------------------------------------------------------- */

/* Uniform within a power-of-two range [2^lo, 2^hi): exponent, then offset. */
static uint64_t size_log_uniform(struct rng *r, unsigned lo, unsigned hi)
{
	unsigned e = lo + (unsigned)rng_below(r, hi - lo);
	return ((uint64_t)1 << e) + rng_below(r, (uint64_t)1 << e);
}

/* Program-like: 60% 8..127 B, 30% 128 B..4 KiB, 9% 4..64 KiB, 1% 64 KiB..1 MiB. */
static uint64_t size_program(struct rng *r)
{
	unsigned c = (unsigned)rng_below(r, 100);
	if (c < 60)
		return size_log_uniform(r, 3, 7);
	if (c < 90)
		return size_log_uniform(r, 7, 12);
	if (c < 99)
		return size_log_uniform(r, 12, 16);
	return size_log_uniform(r, 16, 20);
}

static uint64_t size_draw(struct rng *r, enum pattern p)
{
	if (p == P_UNIFORM)
		return 1 + rng_below(r, 2048);
	if (p == P_EXPONENTIAL) {
		/* inverse CDF; u in (0, 1] so log() is finite */
		double u = (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;
		return 1 + (uint64_t)(-256.0 * log(u));
	}
	return size_program(r);
}

/* ---- Profile ------------------------------------------------------------ */

/* Target live blocks at op i of n, peaking at `peak`. */
static uint64_t target(enum pattern p, uint64_t i, uint64_t n, uint64_t peak)
{
	switch (p) {
	case P_RAMP: return peak * i / n;
	case P_PEAK: {
		/* 4 phases: rise over 70% of a phase, fall to 10% in the rest */
		uint64_t len = n / 4 ? n / 4 : 1, pos = i % len, rise = len * 7 / 10;
		if (pos < rise)
			return peak / 10 + (peak - peak / 10) * pos / (rise ? rise : 1);
		return peak - (peak - peak / 10) * (pos - rise) / (len - rise ? len - rise : 1);
	}
	case P_PLATEAU: {
		uint64_t rise = n / 10 ? n / 10 : 1;
		return i < rise ? peak * i / rise : peak;
	}
	default: return peak / 2;
	}
}

/* ---- Generator ---------------------------------------------------------- */

struct live {
	int64_t id;
	uint64_t size;
};

struct trace *trace_generate(const char *pattern, uint64_t nops, uint64_t seed)
{
	return trace_generate_live(pattern, nops, seed, 0);
}

struct trace *trace_generate_live(const char *pattern, uint64_t nops, uint64_t seed,
				  uint64_t peak_live)
{
	int p = -1;
	for (int i = 0; trace_gen_patterns[i]; i++)
		if (!strcmp(pattern, trace_gen_patterns[i]))
			p = i;
	if (p < 0) {
		hb_error("unknown pattern '%s' (known: ramp, peak, plateau, random-uniform, "
			 "random-exponential)",
			 pattern);
		return NULL;
	}

	struct rng r;
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r.s[i] = splitmix64(&x);

	char desc[160];
	int n = snprintf(desc, sizeof desc,
			 "heapbench trace gen --pattern %s --ops %" PRIu64 " --seed %" PRIu64,
			 pattern, nops, seed);
	if (peak_live)
		snprintf(desc + n, sizeof desc - (size_t)n, " --live %" PRIu64, peak_live);
	struct trace *t = trace_new("");
	trace_meta_set(t, "generator", desc);

	struct diag d;
	diag_init(&d, "trace gen", false);
	struct trace_builder *b = trace_builder_new(t, &d);
	t->has_lines = false;
	struct live *live = NULL;
	size_t nlive = 0, caplive = 0;
	uint64_t peak = peak_live ? peak_live : nops / 16 > 16 ? nops / 16 : 16, next_id = 0;
	bool program = p <= P_PLATEAU;

	for (uint64_t i = 0; i < nops; i++) {
		uint64_t goal = target((enum pattern)p, i, nops, peak);
		unsigned alloc_pct = nlive < goal ? 85 : 15;
		struct trace_srcop op = {.opno = i};
		if (nlive && program && rng_pct(&r, 4)) {
			/* realloc to 1/2 .. 2x, as growing buffers do */
			struct live *l = &live[rng_below(&r, nlive)];
			op.kind = 'r';
			op.id = l->id;
			op.size = l->size * (4 + rng_below(&r, 13)) / 8 + 1;
			l->size = op.size;
		} else if (!nlive || rng_pct(&r, alloc_pct)) {
			op.kind = 'a';
			op.id = (int64_t)next_id++;
			op.size = size_draw(&r, (enum pattern)p);
			if (program && rng_pct(&r, 6)) {
				op.kind = 'c';
				op.arg = 1 + rng_below(&r, 16);
				op.size = op.size / op.arg + 1;
			} else if (program && rng_pct(&r, 4)) {
				static const uint64_t aligns[] = {32, 64, 64, 128, 4096};
				op.kind = 'm';
				op.arg = aligns[rng_below(&r, HB_ARRAY_LEN(aligns))];
			}
			xgrow((void **)&live, &caplive, nlive + 1, sizeof *live);
			live[nlive++] =
				(struct live){op.id, op.kind == 'c' ? op.arg * op.size : op.size};
		} else {
			/* mostly short-lived blocks (among the 16 newest), some old */
			size_t k =
				program && rng_pct(&r, 60)
					? nlive - 1 - (size_t)rng_below(&r, nlive < 16 ? nlive : 16)
					: (size_t)rng_below(&r, nlive);
			op.kind = 'f';
			op.id = live[k].id;
			live[k] = live[--nlive];
		}
		if (trace_builder_add(b, &op) < 0)
			abort(); /* the generator only makes valid ops */
	}
	trace_builder_finish(b);
	trace_meta_del(t, "ids"); /* our ids are arbitrary: write canonical ones */
	free(live);
	return t;
}
