#include "base/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "kumo: out of memory allocating %zu bytes\n", size);
    abort();
}

void *kumo_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *kumo_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size);
    return p;
}

void *kumo_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

char *kumo_strdup(const char *s)
{
    return kumo_strndup(s, strlen(s));
}

char *kumo_strndup(const char *s, size_t n)
{
    char *p = kumo_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void kumo_free(void *ptr)
{
    free(ptr);
}
