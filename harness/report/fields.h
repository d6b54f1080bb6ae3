/*
 * fields.h - the fields of a job result (DESIGN §6), listed once.
 *
 * RES_FIELDS is expanded into the JSON writer (result_json: the keys in
 * this order), the results.csv columns, the cells of the tables a person
 * reads, the reader's field ids (res_num(o, RES_UTILIZATION, &v): a typo is
 * a compile error) and the metrics compare can gate on (compare
 * --max-drop, a config's regression: max_drop:).  Adding a field is one
 * row here plus its measurement in struct replay_result.
 *
 * X(ID, name, type, unit, csv, gate, show, when, known, value):
 *   ID     the reader's id, RES_ID
 *   name   the JSON key and CSV column name (stable: scripts read them)
 *   type   how value becomes JSON: STR (a string), U64, INT, NUM (a real,
 *          null when not finite), JSON (a json_t * from the writer function
 *          named in value)
 *   unit   what the number counts; a FRACTION is shown as a percent
 *   csv    the field's column in results.csv, 1, 2, ...; 0 = not there
 *   gate   how compare gates it (compare.h), NONE = never:
 *            EXACT  lower is worse; any drop fails by default when both runs
 *                   measured the exact simulated heap
 *            FRAG   higher is worse, as the growth of 1 + value (the
 *                   footprint per live byte)
 *            NOISY  lower is worse, and only when the min-max ranges of the
 *                   timed passes do not overlap
 *   show   printf format of the number in a person's table, or NULL
 *   when   the key is present when this holds; an expression of id, r and
 *          the job's phases: always, failed (status not ok), measured (the
 *          checked pass measured the heap), timed (ok with timed passes),
 *          latency (a latency pass ran), threaded (the threaded passes
 *          ran: --threads recorded or --copies N)
 *   known  the value is null, not made up, when this is false
 *   value  the value, from id (struct job_id) and r (struct replay_result)
 */
#ifndef HB_FIELDS_H
#define HB_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* clang-format off */
#define RES_FIELDS(X)                                                                                                                                                               \
	X(TRACE,                  "trace",                  STR,  TEXT,     1,  NONE,  NULL,     always,                 true,                      id->trace)                      \
	X(TRACE_PATH,             "trace_path",             STR,  TEXT,     0,  NONE,  NULL,     always,                 true,                      id->trace_path)                 \
	X(BACKEND,                "backend",                STR,  TEXT,     2,  NONE,  NULL,     always,                 true,                      id->backend)                    \
	X(OPTIONS,                "options",                JSON, TEXT,     0,  NONE,  NULL,     always,                 true,                      options_json(id->cfg))          \
	X(LAB,                    "lab",                    STR,  TEXT,     0,  NONE,  NULL,     id->cfg && id->cfg->lab, true,                     replay_lab_of(id->cfg->lab)->name) \
	X(LAB_WEIGHT,             "lab_weight",             INT,  COUNT,    0,  NONE,  NULL,     id->cfg && id->cfg->lab && r->lab_weight >= 0, true, r->lab_weight) \
	X(OUTPUT_BYTES,           "output_bytes",           U64,  BYTES,    0,  NONE,  NULL,     r->output_bytes > 0,    true,                      r->output_bytes) \
	X(MM_BITS,                "mm_bits",                INT,  COUNT,    0,  NONE,  NULL,     id->cfg && id->cfg->backend == &mm_allocator, true, (int)mm_bits(id->cfg)) \
	X(STATUS,                 "status",                 STR,  TEXT,     3,  NONE,  NULL,     always,                 true,                      replay_status_names[r->status]) \
	X(ERROR,                  "error",                  STR,  TEXT,     19, NONE,  NULL,     failed,                 true,                      r->error)                       \
	X(ERROR_OP,               "error_op",               U64,  COUNT,    0,  NONE,  NULL,     failed,                 r->error_op != UINT64_MAX, r->error_op)                    \
	X(ERROR_LINE,             "error_line",             U64,  COUNT,    0,  NONE,  NULL,     failed,                 r->error_line != 0,        r->error_line)                  \
	X(SIGNAL,                 "signal",                 INT,  COUNT,    0,  NONE,  NULL,     failed && r->signal,    true,                      r->signal)                      \
	X(OPS,                    "ops",                    U64,  COUNT,    4,  NONE,  NULL,     always,                 true,                      r->ops)                         \
	X(ALLOCS,                 "allocs",                 U64,  COUNT,    0,  NONE,  NULL,     always,                 true,                      r->allocs)                      \
	X(FREES,                  "frees",                  U64,  COUNT,    0,  NONE,  NULL,     always,                 true,                      r->frees)                       \
	X(REALLOCS,               "reallocs",               U64,  COUNT,    0,  NONE,  NULL,     always,                 true,                      r->reallocs)                    \
	X(PEAK_LIVE_BYTES,        "peak_live_bytes",        U64,  BYTES,    5,  NONE,  NULL,     measured,               true,                      r->peak_live_bytes)             \
	X(PEAK_LIVE_OP,           "peak_live_op",           U64,  COUNT,    0,  NONE,  NULL,     measured,               true,                      r->peak_live_op)                \
	X(PEAK_FOOTPRINT_BYTES,   "peak_footprint_bytes",   U64,  BYTES,    6,  NONE,  NULL,     measured,               true,                      r->peak_footprint_bytes)        \
	X(FOOTPRINT_AT_PEAK_LIVE, "footprint_at_peak_live", U64,  BYTES,    0,  NONE,  NULL,     measured,               true,                      r->footprint_at_peak_live)      \
	X(FOOTPRINT_SOURCE,       "footprint_source",       STR,  TEXT,     7,  NONE,  NULL,     measured,               true,                      r->footprint_source)            \
	X(ALLOCATOR_STATS,        "allocator_stats",        JSON, BYTES,    0,  NONE,  NULL,     measured && r->nstats,  true,                      stats_json(r))                  \
	X(STATS_SOURCE,           "stats_source",           STR,  TEXT,     0,  NONE,  NULL,     measured && r->have_stats_footprint, true,     r->stats_source)                \
	X(STATS_PEAK_FOOTPRINT,   "stats_peak_footprint_bytes", U64, BYTES, 0,  NONE,  NULL,     measured && r->have_stats_footprint, true,     r->stats_peak_footprint_bytes)  \
	X(STATS_UTILIZATION,      "stats_utilization",      NUM,  FRACTION, 0,  NONE,  NULL,     measured && r->have_stats_footprint, true,     r->stats_utilization)           \
	X(UTILIZATION,            "utilization",            NUM,  FRACTION, 8,  EXACT, "%.1f%%", measured,               r->have_utilization,       r->utilization)                 \
	X(FRAG_PEAK,              "frag_peak",              NUM,  RATIO,    9,  FRAG,  "%.3f",   measured,               r->have_utilization,       r->frag_peak)                   \
	X(FRAG_AT_PEAK_LIVE,      "frag_at_peak_live",      NUM,  RATIO,    10, NONE,  NULL,     measured,               r->have_utilization,       r->frag_at_peak_live)           \
	X(FRAG_MEAN,              "frag_mean",              NUM,  RATIO,    11, NONE,  NULL,     measured,               true,                      r->frag_mean)                   \
	X(INTERNAL_FRAG_BYTES,    "internal_frag_bytes",    U64,  BYTES,    12, NONE,  NULL,     measured,               r->have_usable,            r->internal_frag_bytes)         \
	X(EXTERNAL_FRAG_BYTES,    "external_frag_bytes",    U64,  BYTES,    13, NONE,  NULL,     measured,               r->have_usable,            r->external_frag_bytes)         \
	X(PEAK_RSS_BYTES,         "peak_rss_bytes",         U64,  BYTES,    14, NONE,  NULL,     measured,               true,                      r->peak_rss_bytes)              \
	X(WORKER_PEAK_RSS,        "worker_peak_rss_bytes",  U64,  BYTES,    0,  NONE,  NULL,     r->worker_peak_rss_bytes > 0, true,                 r->worker_peak_rss_bytes)       \
	X(TIMED_PEAK_FOOTPRINT,   "timed_peak_footprint_bytes", U64, BYTES, 0,  NONE,  NULL,     timed && r->have_timed_footprint, true,        r->timed_peak_footprint_bytes)  \
	X(MODE,                   "mode",                   STR,  TEXT,     20, NONE,  NULL,     always,                 true,                      replay_threads_names[r->mode])  \
	X(COPIES,                 "copies",                 INT,  COUNT,    22, NONE,  NULL,     always,                 true,                      r->copies ? r->copies : 1)      \
	X(THREADS,                "threads",                INT,  COUNT,    21, NONE,  NULL,     timed,                  true,                      r->threads)                     \
	X(SERIALIZED,             "serialized",             JSON, TEXT,     0,  NONE,  NULL,     threaded,               true,                      json_boolean(r->serialized))    \
	X(THREADS_ALIVE_PEAK,     "threads_alive_peak",     INT,  COUNT,    0,  NONE,  NULL,     threaded,               true,                      r->threads_alive)               \
	X(CROSS_THREAD_WAITS,     "cross_thread_waits",     U64,  COUNT,    0,  NONE,  NULL,     threaded,               true,                      r->cross_waits)                 \
	X(WAIT_FRACTION,          "wait_fraction",          NUM,  FRACTION, 0,  NONE,  NULL,     threaded && timed,      true,                      r->wait_fraction)               \
	X(PER_THREAD_OPS,         "per_thread_ops",         JSON, COUNT,    0,  NONE,  NULL,     threaded,               true,                      thread_ops_json(r))             \
	X(THREADED_PEAK_FOOTPRINT, "threaded_peak_footprint_bytes", U64, BYTES, 0, NONE, NULL,   threaded && r->have_threaded_footprint, true,  r->threaded_peak_footprint_bytes) \
	X(THREADED_STATS_PEAK,    "threaded_stats_peak_footprint_bytes", U64, BYTES, 0, NONE, NULL, threaded && r->have_threaded_stats, true, r->threaded_stats_peak_footprint_bytes) \
	X(THREADED_PEAK_RSS,      "threaded_peak_rss_bytes", U64, BYTES,   0,  NONE,  NULL,     threaded && r->have_threaded_footprint && !r->serialized, true, r->threaded_peak_rss_bytes) \
	X(PACE,                   "pace",                   NUM,  RATIO,    0,  NONE,  NULL,     r->pace > 0,            true,                      r->pace)                        \
	X(PACED_TIMELINE,         "paced_timeline",         JSON, BYTES,    0,  NONE,  NULL,     threaded && r->ntime,   true,                      paced_timeline_json(r))         \
	X(CHECKED_SECONDS,        "checked_seconds",        NUM,  SECONDS,  0,  NONE,  NULL,     measured && r->checked_seconds > 0, true,      r->checked_seconds)             \
	X(REPEAT,                 "repeat",                 INT,  COUNT,    0,  NONE,  NULL,     timed,                  true,                      r->repeat)                      \
	X(SECONDS,                "seconds",                JSON, SECONDS,  0,  NONE,  NULL,     timed,                  true,                      seconds_json(r))                \
	X(SECONDS_MEDIAN,         "seconds_median",         NUM,  SECONDS,  0,  NONE,  NULL,     timed,                  true,                      r->seconds_median)              \
	X(SECONDS_MIN,            "seconds_min",            NUM,  SECONDS,  17, NONE,  NULL,     timed,                  true,                      r->seconds_min)                 \
	X(SECONDS_MAX,            "seconds_max",            NUM,  SECONDS,  18, NONE,  NULL,     timed,                  true,                      r->seconds_max)                 \
	X(MOPS,                   "mops",                   NUM,  MOPS,     15, NOISY, "%.2f",   timed,                  r->ops != 0,               r->mops)                        \
	X(NS_PER_OP,              "ns_per_op",              NUM,  NS,       16, NONE,  "%.1f",   timed,                  r->ops != 0,               r->ns_per_op)                   \
	X(LATENCY_NS,             "latency_ns",             JSON, NS,       0,  NONE,  NULL,     latency,                true,                      latency_json(r))                \
	X(TIMER_OVERHEAD_NS,      "timer_overhead_ns",      NUM,  NS,       0,  NONE,  NULL,     latency,                true,                      r->timer_overhead_ns)           \
	X(TIMELINE,               "timeline",               JSON, BYTES,    0,  NONE,  NULL,     measured && r->npoints, true,                      timeline_json(r))
/* clang-format on */

/* The percentiles of a latency_ns entry (after its count), in order; each
 * is a member of struct replay_latency. */
#define RES_LATENCY_LIST(X) X(p50) X(p90) X(p99) X(p999) X(max)

#define RES_ENUM_(ID, ...) RES_##ID,
enum res_field { RES_FIELDS(RES_ENUM_) RES_NFIELDS };
#undef RES_ENUM_

enum res_type { RES_TYPE_STR, RES_TYPE_U64, RES_TYPE_INT, RES_TYPE_NUM, RES_TYPE_JSON };
enum res_unit {
	RES_UNIT_TEXT,
	RES_UNIT_COUNT,
	RES_UNIT_BYTES,
	RES_UNIT_SECONDS,
	RES_UNIT_NS,
	RES_UNIT_MOPS,
	RES_UNIT_RATIO,
	RES_UNIT_FRACTION
};
enum res_gate { RES_GATE_NONE, RES_GATE_EXACT, RES_GATE_FRAG, RES_GATE_NOISY };

struct res_field_info {
	const char *name;
	enum res_type type;
	enum res_unit unit;
	unsigned csv; /* column in results.csv, 1-based; 0 = not there */
	enum res_gate gate;
	const char *show; /* printf format for a person's table, or NULL */
};
extern const struct res_field_info res_fields[RES_NFIELDS];

/* The names of the fields compare can gate on, in table order, NULL-terminated
 * (a config's max_drop keys). */
extern const char *const res_gate_names[];
extern const char *const res_latency_names[]; /* RES_LATENCY_LIST, NULL-terminated */

/* The field named name, or -1. */
int res_field_find(const char *name);

/* A job object's field: its value, or NULL (also for a NULL object). */
const json_t *res_get(const json_t *o, enum res_field f);
/* A string field, or "" when absent or not a string. */
const char *res_str(const json_t *o, enum res_field f);
/* How a job replayed: its copies (1 when absent: results from before
 * --copies), and whether its threads ran as recorded (absent: serial). */
unsigned res_copies(const json_t *o);
bool res_recorded(const json_t *o);
/* Whether a job object's status is ok (false for a NULL object). */
bool res_ok(const json_t *o);
/* A numeric field into *v; false when absent, null or not finite. */
bool res_num(const json_t *o, enum res_field f, double *v);
/* v as the field's cell in a person's table (its show format; a FRACTION
 * as a percent). */
void res_show(char *buf, size_t len, enum res_field f, double v);
/* The field's cell from a job object: res_show, or "-" when it has none. */
void res_cell(char *buf, size_t len, const json_t *o, enum res_field f);

#endif
