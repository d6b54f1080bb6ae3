/*
 * replay.h - one job: a trace replayed against one backend.
 *
 * A job runs, in order (DESIGN §5):
 *   1. the checked pass: every op is checked (alignment, bounds, overlap
 *      with live blocks, payload pattern, realloc contents, calloc zeroes,
 *      the backend's own check every K ops) and measured (live bytes,
 *      footprint, fragmentation, a downsampled timeline);
 *   2. `repeat` timed passes, each on a fresh backend state, with nothing
 *      in the loop but the call and the id table;
 *   3. optionally a latency pass: each op timed into log-scaled histograms.
 *
 * The result is a plain struct with no pointers, so a worker process can
 * fill it in shared memory while its parent watches (job.h), and its layout
 * is the same on i386 and x86-64, so that the worker can be a 32-bit one
 * (mm:PATH:bits=32).
 */
#ifndef HB_REPLAY_H
#define HB_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "allocator.h"
#include "trace/trace.h"

#define REPLAY_MAX_REPEAT      100
#define REPLAY_MAX_COPIES      256
#define REPLAY_MAX_OPTS        16
#define REPLAY_TIMELINE_POINTS 2000
#define REPLAY_ERRLEN          512

/* What the checked pass verifies (--check, a config's check:), by name. */
#define REPLAY_CHECK_LIST(X) X(CHECK_OFF, "off") X(CHECK_FAST, "fast") X(CHECK_FULL, "full")
/* How a job ended (a result's status, a config's fail_on), by name. */
#define REPLAY_STATUS_LIST(X)                                                                      \
	X(JOB_OK, "ok")                                                                            \
	X(JOB_ERROR, "error") X(JOB_CRASH, "crash") X(JOB_TIMEOUT, "timeout") X(JOB_OOM, "oom")

/* How the timed passes run the trace's threads (--threads, threads:). */
#define REPLAY_THREADS_LIST(X) X(THREADS_SERIAL, "serial") X(THREADS_RECORDED, "recorded")

#define REPLAY_ENUM_(e, name) e,
enum replay_check { REPLAY_CHECK_LIST(REPLAY_ENUM_) CHECK_NLEVELS };
enum replay_threads { REPLAY_THREADS_LIST(REPLAY_ENUM_) THREADS_NMODES };
enum replay_status { REPLAY_STATUS_LIST(REPLAY_ENUM_) JOB_NSTATUS };
#undef REPLAY_ENUM_
/* The names by value, each list ending in NULL. */
extern const char *const replay_check_names[CHECK_NLEVELS + 1];
extern const char *const replay_status_names[JOB_NSTATUS + 1];
extern const char *const replay_threads_names[THREADS_NMODES + 1];
/* --pace's value: "recorded" (1) or "Kx" (K > 0: the recorded gaps
 * divided by K) into *factor; -1 if it is neither. */
int replay_parse_pace(const char *s, double *factor);
/* The index of s in a NULL-terminated name list, or -1. */
int replay_name_find(const char *const *names, const char *s);
/* Where a worker is, besides timed pass 1..repeat. */
enum {
	REPLAY_PASS_CHECKED = 0,
	REPLAY_PASS_LATENCY = -1,
	REPLAY_PASS_CLEANUP = -2,  /* freeing what is live after the checked pass */
	REPLAY_PASS_START = -3,    /* loading the trace, before the checked pass */
	REPLAY_PASS_THREADED = -4, /* the checked threaded pass (--threads recorded) */
};

/* Bytes checked at each end of a block by --check fast. */
#define REPLAY_FAST_BYTES 64

struct replay_config {
	const struct allocator *backend;
	struct backend_opt opt[REPLAY_MAX_OPTS];
	size_t nopt;
	enum replay_check check;
	uint64_t heap_check_every; /* backend check every K ops; 0 = never */
	unsigned repeat;           /* timed passes */
	bool latency;
	uint64_t heap_limit;         /* simulated heap limit in bytes; 0 = none */
	unsigned alignment;          /* a block's minimum alignment (16), or the largest
					power of two dividing its size if smaller */
	uint64_t sample_every;       /* process-wide backends: footprint and stats every K ops */
	enum replay_threads threads; /* serial (default), or each trace thread its own */
	unsigned copies;             /* copies of the trace replayed at once; 0: not
					asked (one, on the serial timed passes) */
	double pace;                 /* > 0: the recorded gaps between ops divided
					by this (1: as recorded); 0: full speed */
	bool align_strict;           /* every block aligned to `alignment` (--align-strict) */
	unsigned lab;                /* enum mm_lab: the malloc-lab handout (--lab) */
};

/* Before a result's member of 8 bytes: aligned to 8 on every ABI (i386
 * aligns uint64_t and double to 4 inside a struct), so that the 64-bit
 * parent and a 32-bit worker read the same layout (tests/unit/layout.c). */
#define REPLAY_WIRE _Alignas(8)

/* One point of a paced pass's footprint in time: the highest reading of
 * a window of time_stride ns starting at ns. */
struct replay_time_point {
	REPLAY_WIRE uint64_t ns, footprint;
};

/* One point of the heap profile: maxima over a window of ops. */
struct replay_point {
	REPLAY_WIRE uint64_t op, live, footprint;
};

struct replay_latency {
	REPLAY_WIRE uint64_t count;
	REPLAY_WIRE double p50, p90, p99, p999, max; /* ns */
};

struct replay_result {
	enum replay_status status;
	char error[REPLAY_ERRLEN];
	REPLAY_WIRE uint64_t error_op;          /* UINT64_MAX when not known */
	REPLAY_WIRE uint64_t error_line;        /* 0 when the trace has no lines */
	int signal;                             /* for JOB_CRASH */
	REPLAY_WIRE volatile uint64_t progress; /* ops done in the current pass (worker) */
	volatile int pass;                      /* REPLAY_PASS_*, or 1..repeat: timed pass */
	volatile bool finished;                 /* the worker got to the end of the job */

	REPLAY_WIRE uint64_t ops, allocs, frees, reallocs;
	REPLAY_WIRE uint64_t peak_live_bytes, peak_live_op;
	REPLAY_WIRE uint64_t peak_footprint_bytes;
	REPLAY_WIRE uint64_t footprint_at_peak_live;
	char footprint_source[48];
	/* the allocator's own figures at the footprint's peak (alloc_stats) */
	unsigned nstats;
	struct {
		char name[48];
		REPLAY_WIRE uint64_t value;
	} stats[ALLOC_STATS_EXTRA];
	bool have_utilization; /* peak live and peak footprint are both > 0 */
	REPLAY_WIRE double utilization, frag_peak, frag_at_peak_live, frag_mean;
	REPLAY_WIRE uint64_t internal_frag_bytes, external_frag_bytes;
	bool have_usable; /* the backend reports usable sizes */
	REPLAY_WIRE uint64_t peak_rss_bytes;
	/* process-wide backends with accounting: its footprint's peak */
	char stats_source[48];
	bool have_stats_footprint;
	REPLAY_WIRE uint64_t stats_peak_footprint_bytes;
	REPLAY_WIRE double stats_utilization;

	/* process-wide backends: the footprint at full replay speed (the
	 * untimed pass before the timed ones, pass_timed.c) */
	bool have_timed_footprint;
	REPLAY_WIRE uint64_t timed_peak_footprint_bytes;

	/* --threads recorded (pass_threads.c): the timed passes ran each trace
	 * thread on an OS thread of its own */
	enum replay_threads mode;
	unsigned copies;                  /* copies of the trace at once (--copies) */
	unsigned threads;                 /* OS threads of a timed pass (1: serial) */
	unsigned threads_alive;           /* most of them alive at once */
	bool serialized;                  /* the backend's calls ran behind one lock */
	REPLAY_WIRE uint64_t cross_waits; /* ops that wait for an op of another thread */
	REPLAY_WIRE double wait_fraction; /* of the threads' lifetimes, spent waiting */
	REPLAY_WIRE uint64_t thread_ops_min, thread_ops_median, thread_ops_max;
	bool have_threaded_footprint;
	REPLAY_WIRE uint64_t threaded_peak_footprint_bytes; /* in the checked threaded pass */
	bool have_threaded_stats;                           /* ... and the backend's own figure */
	REPLAY_WIRE double pace;                            /* --pace's factor; 0: none */
	unsigned ntime;                                     /* --pace: the footprint in time */
	REPLAY_WIRE uint64_t time_stride;
	struct replay_time_point time_timeline[REPLAY_TIMELINE_POINTS];
	REPLAY_WIRE uint64_t threaded_stats_peak_footprint_bytes;
	REPLAY_WIRE uint64_t threaded_peak_rss_bytes; /* its resident set's peak growth */

	/* the checked pass's own time: its start (fresh state, baselines), its
	 * loop over the ops with every check and measurement, and the check of
	 * the blocks live at the end; not the cleanup after it */
	REPLAY_WIRE double checked_seconds;

	unsigned repeat;
	REPLAY_WIRE double seconds[REPLAY_MAX_REPEAT];
	REPLAY_WIRE double seconds_median, seconds_min, seconds_max;
	REPLAY_WIRE double mops, ns_per_op;

	bool have_latency;
	REPLAY_WIRE double timer_overhead_ns;
	struct replay_latency latency[TRACE_NKINDS];

	unsigned npoints;
	struct replay_point timeline[REPLAY_TIMELINE_POINTS + 2];

	/* under --lab cmu2016: the trace's weight in its .rep header (0
	 * ignored, 1 util and throughput, 2 util, 3 throughput), set by the
	 * parent; -1: none */
	int lab_weight;
	/* bytes the worker wrote to its stdout and stderr (the backend's
	 * chatter): only the last 4 KiB are kept, for the error of a job
	 * that fails; set by the parent */
	REPLAY_WIRE uint64_t output_bytes;
	/* the worker process's largest resident set (wait4's ru_maxrss: its
	 * trace's mapped pages included), set by the parent; 0: unknown */
	REPLAY_WIRE uint64_t worker_peak_rss_bytes;
};

/* The defaults of every knob (what replay and a config start from):
 * check full, repeat 5, alignment 16, sample_every 128, serial, no
 * copies; no backend. */
void replay_config_init(struct replay_config *cfg);

/* Runs the whole job in this process, filling r (which the caller zeroed).
 * Returns 0 when status is JOB_OK.  Never calls malloc while a pass runs. */
int replay_run(const struct trace *t, const struct replay_config *cfg, struct replay_result *r);

#endif
