#include "base/arena.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

#define ARENA_BLOCK_SIZE 4096
#define ARENA_ALIGN      alignof(max_align_t)

struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct kumo_arena {
    struct arena_block *head; /* current block; older ones follow */
    size_t used_total;
    ProtobufCAllocator allocator;
};

static void *pb_alloc(void *allocator_data, size_t size)
{
    return kumo_arena_alloc(allocator_data, size);
}

static void pb_free(void *allocator_data, void *pointer)
{
    (void)allocator_data;
    (void)pointer; /* released with the arena */
}

/* Standard blocks freed by a thread are kept for its next arenas, up to
 * BLOCK_CACHE_MAX: an arena per request would otherwise malloc and free a
 * 4 KiB block per request, a size past glibc's per-thread cache whose
 * malloc consolidates the fast bins every time (malloc_consolidate under
 * kumo_arena_new in perf profiles of kumo-bff's GETs). Sanitizer builds
 * keep no cache, so that a use after free of arena memory is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define BLOCK_CACHE_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BLOCK_CACHE_MAX 0
#endif
#endif
#ifndef BLOCK_CACHE_MAX
#define BLOCK_CACHE_MAX 8
#endif

#if BLOCK_CACHE_MAX > 0
struct block_cache {
    struct arena_block *head;
    unsigned n;
};
static _Thread_local struct block_cache block_cache;
static pthread_key_t block_cache_key;
static pthread_once_t block_cache_once = PTHREAD_ONCE_INIT;

/* Frees a thread's cached blocks when it exits. */
static void block_cache_drop(void *arg)
{
    struct block_cache *bc = arg;
    while (bc->head) {
        struct arena_block *next = bc->head->next;
        kumo_free(bc->head);
        bc->head = next;
    }
    bc->n = 0;
}

static void block_cache_key_new(void)
{
    (void)pthread_key_create(&block_cache_key, block_cache_drop);
}
#endif

static struct arena_block *block_new(size_t size)
{
#if BLOCK_CACHE_MAX > 0
    if (size == ARENA_BLOCK_SIZE && block_cache.head) {
        struct arena_block *b = block_cache.head;
        block_cache.head = b->next;
        block_cache.n--;
        b->next = NULL;
        b->used = 0;
        return b;
    }
#endif
    struct arena_block *b = kumo_malloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct kumo_arena *kumo_arena_new(void)
{
    struct kumo_arena *a = kumo_malloc(sizeof(*a));
    a->head = block_new(ARENA_BLOCK_SIZE);
    a->used_total = 0;
    a->allocator.alloc = pb_alloc;
    a->allocator.free = pb_free;
    a->allocator.allocator_data = a;
    return a;
}

void *kumo_arena_alloc(struct kumo_arena *a, size_t size)
{
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (rounded < size)
        rounded = size; /* overflow: block_new below aborts on huge sizes */
    struct arena_block *b = a->head;
    if (b->size - b->used < rounded) {
        if (rounded > ARENA_BLOCK_SIZE / 4) {
            /* A big allocation gets its own block, kept behind the head so
             * the head's free space is not wasted. */
            struct arena_block *big = block_new(rounded);
            big->used = rounded;
            big->next = b->next;
            b->next = big;
            a->used_total += rounded;
            return big->data;
        }
        b = block_new(ARENA_BLOCK_SIZE);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += rounded;
    a->used_total += rounded;
    return p;
}

void *kumo_arena_calloc(struct kumo_arena *a, size_t size)
{
    void *p = kumo_arena_alloc(a, size);
    memset(p, 0, size);
    return p;
}

char *kumo_arena_strndup(struct kumo_arena *a, const char *s, size_t len)
{
    char *p = kumo_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *kumo_arena_strdup(struct kumo_arena *a, const char *s)
{
    return kumo_arena_strndup(a, s, strlen(s));
}

void *kumo_arena_grow(struct kumo_arena *a, const void *old, size_t used, size_t *cap,
                      size_t elem_size, size_t first)
{
    size_t n = *cap ? *cap * 2 : first;
    void *p = kumo_arena_alloc(a, n * elem_size);
    if (used)
        memcpy(p, old, used * elem_size);
    *cap = n;
    return p;
}

void kumo_arena_buf_reserve(struct kumo_arena *a, struct kumo_arena_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = kumo_arena_alloc(a, cap);
    if (b->len)
        memcpy(p, b->data, b->len);
    b->data = p;
    b->cap = cap;
}

void kumo_arena_buf_append(struct kumo_arena *a, struct kumo_arena_buf *b, const void *data,
                           size_t len)
{
    kumo_arena_buf_reserve(a, b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Gives a block back: into this thread's cache when it is a standard
 * block and the cache has room, else to the allocator. */
static void block_free(struct arena_block *b)
{
#if BLOCK_CACHE_MAX > 0
    if (b->size == ARENA_BLOCK_SIZE && block_cache.n < BLOCK_CACHE_MAX) {
        if (block_cache.n == 0) {
            /* The key's destructor frees the cache at thread exit; it is
             * set again after each time the cache empties, which is cheap. */
            pthread_once(&block_cache_once, block_cache_key_new);
            (void)pthread_setspecific(block_cache_key, &block_cache);
        }
        b->next = block_cache.head;
        block_cache.head = b;
        block_cache.n++;
        return;
    }
#endif
    kumo_free(b);
}

static void free_chain(struct arena_block *b)
{
    while (b) {
        struct arena_block *next = b->next;
        block_free(b);
        b = next;
    }
}

void kumo_arena_reset(struct kumo_arena *a)
{
    /* Keep the oldest standard block: walk to the tail. */
    struct arena_block *b = a->head, *keep = NULL, *prev = NULL;
    for (; b; prev = b, b = b->next) {
        if (b->size == ARENA_BLOCK_SIZE)
            keep = b;
    }
    (void)prev;
    struct arena_block *it = a->head;
    while (it) {
        struct arena_block *next = it->next;
        if (it != keep)
            block_free(it);
        it = next;
    }
    if (keep == NULL)
        keep = block_new(ARENA_BLOCK_SIZE);
    keep->next = NULL;
    keep->used = 0;
    a->head = keep;
    a->used_total = 0;
}

void kumo_arena_free(struct kumo_arena *a)
{
    if (a == NULL)
        return;
    free_chain(a->head);
    kumo_free(a);
}

size_t kumo_arena_used(const struct kumo_arena *a)
{
    return a->used_total;
}

ProtobufCAllocator *kumo_arena_allocator(struct kumo_arena *a)
{
    return &a->allocator;
}

char *kumo_arena_vsprintf(struct kumo_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return kumo_arena_strndup(a, "", 0);
    char *s = kumo_arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}
