/*
 * mm.h - the interface of the later (64-bit, 16-byte) CMU handouts, as
 * heapbench's explicit-list test allocator (mm.c) declares it: bool
 * mm_init and mm_checkheap, and mm_* names under -DDRIVER.
 */
#include <stdbool.h>
#include <stddef.h>

bool mm_init(void);
bool mm_checkheap(int lineno);
#ifdef DRIVER
void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);
void *mm_calloc(size_t nmemb, size_t size);
#else
void *malloc(size_t size);
void free(void *ptr);
void *realloc(void *ptr, size_t size);
void *calloc(size_t nmemb, size_t size);
#endif
