/*
 * session.h - one `heapbench record`, around the program it runs: finding
 * the preload library, preparing the output directory, and afterwards
 * turning every process's raw log into a trace (convert.h) with the table
 * and summary.json (docs in cli/cmd_record.c's usage).
 */
#ifndef HB_RECORDER_SESSION_H
#define HB_RECORDER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The path of libheapbench-record.so next to this binary, into out; -1 if
 * it is missing (not reported: out holds the path looked for, if any). */
int recorder_find_library(char *out, size_t len);

/* How the recorder should order calls across threads, for its
 * HEAPBENCH_RECORD_ORDER (raw.h): "ticks" where the time-stamp counter is
 * invariant and the kernel's clock (so in step across CPUs), else "seq". */
const char *recorder_order(void);

/* Makes OUT ready: created, or existing and empty; absout (PATH_MAX bytes)
 * gets its absolute path and rawdir (len bytes) OUT/.raw, created, where
 * the recorder writes.  0 or -1 (reported). */
int recorder_prepare(const char *out, char *absout, char *rawdir, size_t len);

/* Waits for the program pid (its wait status into *status) and meanwhile
 * (live) converts the raw logs in rawdir as they are written, on a CPU
 * the program leaves idle, so that little is left to do once it ends.
 * The result is for recorder_finish. */
struct recorder_follow;
struct recorder_follow *recorder_follow(const char *rawdir, pid_t pid, int *status, bool live);

/* Converts every raw log in rawdir into a trace in out (finishing what fl,
 * which it frees, has begun), prints the table of processes on stderr and
 * writes out/summary.json with the program's exit status and the seconds
 * all this took after the program ended (convert_seconds); the logs are
 * removed.  0 or -1 (reported). */
int recorder_finish(const char *out, const char *rawdir, int status, struct recorder_follow *fl);

#endif
