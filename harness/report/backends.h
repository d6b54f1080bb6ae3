/*
 * backends.h - `heapbench list`: the table (or JSON Lines) of every backend
 * in the registry, whether it can run here and why not, and its version.
 */
#ifndef HB_BACKENDS_H
#define HB_BACKENDS_H

#include <stdbool.h>
#include <stdio.h>

/* Probes every backend and prints the list to out: a table, or one JSON
 * object per backend when json. */
void backends_print(FILE *out, bool json);

#endif
