/*
 * plot.h - comparison charts of a run's job results, drawn by gnuplot.
 *
 * Each chart is a gnuplot script (NAME.gp) and its data (NAME.dat), kept in
 * the chart directory, which the script renders to NAME.png (pngcairo) and
 * NAME.svg: `cd DIR && gnuplot NAME.gp` redraws it after a restyle.
 *   throughput     grouped bars per trace, a bar per backend, Mops/s on a
 *                  log scale, the min-max of the timed passes as error bars
 *   utilization    grouped bars, 0-100 %
 *   fragmentation  per backend, the footprint at the peak of live bytes
 *                  split into live, internal and external fragmentation
 *                  (mean shares over the traces), stacked
 *   timeline-T     per trace: live bytes and each backend's footprint over
 *                  the ops (the checked pass's 2,000-point heap profile)
 *   latency-T      per trace with a latency pass: p50 ... max per backend,
 *                  a panel per op kind
 * A backend has the same colour in every chart (its place in the results).
 */
#ifndef HB_PLOT_H
#define HB_PLOT_H

#include <jansson.h>

/* The charts by name (a config's plots:), each a bit of plot_results's
 * `which`. */
#define PLOT_CHART_LIST(X)                                                                         \
	X(PLOT_THROUGHPUT, "throughput")                                                           \
	X(PLOT_UTILIZATION, "utilization")                                                         \
	X(PLOT_FRAGMENTATION, "fragmentation")                                                     \
	X(PLOT_TIMELINE, "timeline") X(PLOT_LATENCY, "latency") X(PLOT_SCALING, "scaling")

#define PLOT_INDEX_(bit, name) bit##_INDEX,
enum { PLOT_CHART_LIST(PLOT_INDEX_) PLOT_NCHARTS };
#undef PLOT_INDEX_
#define PLOT_BIT_(bit, name) bit = 1u << bit##_INDEX,
enum { PLOT_CHART_LIST(PLOT_BIT_) PLOT_ALL = (1u << PLOT_NCHARTS) - 1 };
#undef PLOT_BIT_
extern const char *const plot_chart_names[PLOT_NCHARTS + 1]; /* by bit, NULL-terminated */

enum { PLOT_OK = 0, PLOT_FAILED = 1, PLOT_NO_GNUPLOT = 2 };

/* Writes the charts in `which` (PLOT_* bits) for the job objects
 * in `all` into dir (created).  suite names the run in the titles.
 * PLOT_OK, PLOT_FAILED (gnuplot's error reported) or PLOT_NO_GNUPLOT (the
 * scripts and data are written; a message says how to install gnuplot). */
int plot_results(const json_t *all, const char *suite, const char *dir, unsigned which);

/* heapbench plot: every chart of the run whose results (a run directory or
 * its results.jsonl) are given, into out (default RUN/charts), titled by
 * the suite's name (env.json's, else the directory's).  The exit status:
 * 0 drawn, 1 gnuplot failed or is missing, 2 bad input (reported). */
int plot_run(const char *results, const char *out);

#endif
