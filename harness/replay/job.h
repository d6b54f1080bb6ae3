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
 * The parent enforces the timeout (SIGKILL, status timeout) and turns a
 * death by signal into status crash, with the signal, the pass, the last
 * op index reached and the last line the worker wrote to stderr (glibc's
 * "free(): invalid pointer", say).
 */
#ifndef HB_JOB_H
#define HB_JOB_H

#include "replay/replay.h"

/* Runs the job described by cfg on the trace in hbt_fd (an uncompressed
 * .hbt image; t is the same trace, for line numbers), waiting at most
 * timeout seconds (0 = no limit).  Fills *r; returns 0 if status is ok. */
int job_run(const struct trace *t, int hbt_fd, const struct replay_config *cfg, double timeout,
	    struct replay_result *r);

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
