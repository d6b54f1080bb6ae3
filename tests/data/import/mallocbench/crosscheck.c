/* crosscheck.c - unpacks malloc-bench Tracefiles (decompressed) with protobuf-c code
 * generated from harness/trace/mallocbench.proto and counts the ops by kind:
 * checks that gen.py encodes the real schema.  Build: protoc-c --c_out=. \
 * --proto_path=harness/trace mallocbench.proto; cc crosscheck.c
 * mallocbench.pb-c.c -lprotobuf-c.  Run on zcat output. */
#include <stdio.h>
#include <stdlib.h>
#include "mallocbench.pb-c.h"
int main(int argc, char **argv) {
	for (int a = 1; a < argc; a++) {
		FILE *f = fopen(argv[a], "rb"); static unsigned char buf[1 << 20]; size_t n = fread(buf, 1, sizeof buf, f); fclose(f);
		Bench__Proto__Tracefile *t = bench__proto__tracefile__unpack(NULL, n, buf);
		if (!t) { printf("%s: unpack failed\n", argv[a]); continue; }
		int k[5] = {0};
		for (size_t i = 0; i < t->n_lines; i++) k[t->lines[i]->op_case]++;
		printf("%s: %zu lines malloc %d free %d realloc %d calloc %d max_sim %d/%llu\n", argv[a], t->n_lines, k[1], k[2], k[3], k[4],
		       t->has_max_simultaneous_allocs, (unsigned long long)t->max_simultaneous_allocs);
		bench__proto__tracefile__free_unpacked(t, NULL);
	}
}
