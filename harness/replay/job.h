/*
 * job.h - running one job in a worker process.
 *
 * The worker is heapbench itself, re-executed (`heapbench __worker ...`), so
 * that it starts with a fresh malloc state (and, for preloaded allocators,
 * its own malloc).  Its argv holds descriptor numbers only.  It reads the
 * trace from an inherited descriptor holding an uncompressed .hbt image
 * (mapped, not copied), and shares a memory file with the parent (job.c's
 * struct job_page): in it the parent puts the job's struct replay_config,
 * its strings copied, and the worker writes its struct replay_result: the
 * parent sees the progress of a pass while it runs, and everything the
 * worker had finished if it dies.
 *
 * The parent enforces the job's limits (watch.h: wall time, status
 * timeout; physical memory, status oom), turns a death by signal into
 * status crash, with the signal, the pass, the last op index reached and
 * the last line the worker wrote to stderr (glibc's "free(): invalid
 * pointer", say), and checks the result page before it reads it
 * (jobcheck.c).  When a job ends, whatever its worker started ends too.
 */
#ifndef HB_JOB_H
#define HB_JOB_H

#include <signal.h>

#include "replay/replay.h"

/* What a job may take; 0 in either is no limit. */
struct job_limits {
	double timeout;  /* seconds of wall time */
	uint64_t memory; /* bytes of the worker's physical memory (watch.c) */
};

/* The timeout when none is given (seconds); HEAPBENCH_TIMEOUT sets another. */
#define JOB_DEFAULT_TIMEOUT 600

/* The limits when none are given: JOB_DEFAULT_TIMEOUT, and half the memory
 * the kernel says is available now (MemAvailable); the environment's
 * HEAPBENCH_TIMEOUT and HEAPBENCH_MEMORY_LIMIT set other defaults. */
void job_limits_default(struct job_limits *l);

/* Runs the job described by cfg on the trace in hbt_fd (an uncompressed
 * .hbt image; t is the same trace, for line numbers) within lim.  Fills
 * *r; returns 0 if status is ok. */
int job_run(const struct trace *t, int hbt_fd, const struct replay_config *cfg,
	    const struct job_limits *lim, struct replay_result *r);

/* A job that is not run because its backend could not start (the probe's
 * why): its error result, as job_run would fill it. */
void job_refuse(const struct trace *t, const struct replay_config *cfg, const char *why,
		struct replay_result *r);

/* For a SIGINT or SIGTERM handler: the running worker is killed and no
 * further one starts until the signal is handled (async-signal-safe).
 * job_interrupted says which signal came, or 0. */
void job_interrupt(int sig);
int job_interrupted(void);

/* Has the n signals of sigs call job_interrupt (their old actions into
 * old, n of them), and puts those back. */
void job_signals_catch(const int *sigs, size_t n, struct sigaction *old);
void job_signals_restore(const int *sigs, size_t n, const struct sigaction *old);

/* An fd holding t as an uncompressed .hbt image: the file itself when it is
 * one, else a memory file.  -1 on error (reported). */
int job_trace_fd(const struct trace *t);

/* Starts cfg's backend in a worker (its library preloaded or loaded) and
 * asks its version: 0 and the version in out, or -1 and why not. */
int job_probe(const struct replay_config *cfg, char *out, size_t len);

/* Whether cfg fits the page a worker gets (the backend's name, each
 * option's name and value in buffers of fixed size): 0, or -1 and why not
 * in err.  backend_parse asks before any job starts. */
int job_config_check(const struct replay_config *cfg, char *err, size_t len);

/* `heapbench __worker`: the worker's main. */
int job_worker_main(int argc, char **argv);

#endif
