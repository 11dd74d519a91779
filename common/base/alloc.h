/* Allocation wrappers: every allocation in kumo goes through these.
 * An allocation failure aborts the process (after a message on stderr), so
 * callers never check for NULL. */
#ifndef KUMO_ALLOC_H
#define KUMO_ALLOC_H

#include <stddef.h>

/* Returns a block of at least `size` bytes (size 0 allowed); never NULL. */
void *kumo_malloc(size_t size);
/* Returns `n * size` zeroed bytes; aborts on overflow or failure. */
void *kumo_calloc(size_t n, size_t size);
/* Resizes `ptr` (may be NULL) to `size` bytes; never NULL. */
void *kumo_realloc(void *ptr, size_t size);
/* Returns a malloc'd copy of the NUL-terminated `s`. */
char *kumo_strdup(const char *s);
/* Returns a malloc'd, NUL-terminated copy of the first `n` bytes of `s`. */
char *kumo_strndup(const char *s, size_t n);
/* Frees a block from the functions above; NULL is ignored. */
void kumo_free(void *ptr);

#endif
