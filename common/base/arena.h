/* A per-request arena (h2o style): many small allocations, one free.
 * Protobuf messages of a request are decoded into it through the
 * ProtobufCAllocator it exposes, and everything goes when the stream closes.
 * Not thread-safe: one arena belongs to one request at a time. */
#ifndef KUMO_ARENA_H
#define KUMO_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct kumo_arena;

/* Creates an empty arena. Never fails (allocation failure aborts). */
struct kumo_arena *kumo_arena_new(void);
/* Returns `size` bytes aligned for any type, valid until the arena is freed
 * or reset. */
void *kumo_arena_alloc(struct kumo_arena *a, size_t size);
/* Returns `size` zeroed bytes. */
void *kumo_arena_calloc(struct kumo_arena *a, size_t size);
/* Copies `len` bytes plus a NUL terminator into the arena. */
char *kumo_arena_strndup(struct kumo_arena *a, const char *s, size_t len);
char *kumo_arena_strdup(struct kumo_arena *a, const char *s);
/* printf-formatted text in arena memory (NUL-terminated; "" when the format
 * fails). */
char *kumo_arena_vsprintf(struct kumo_arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Grows an arena-backed array: returns an array of twice *cap elements (or
 * `first` when *cap is 0) holding the `used` elements of `old`, and updates
 * *cap. The old array is simply abandoned to the arena. */
void *kumo_arena_grow(struct kumo_arena *a, const void *old, size_t used, size_t *cap,
                      size_t elem_size, size_t first);
/* A byte buffer whose storage comes from an arena: it grows by doubling and
 * abandons old storage to the arena, so it is never freed on its own. For
 * per-request bodies, which die with their request anyway. */
struct kumo_arena_buf {
    uint8_t *data;
    size_t len, cap;
};

/* Makes room for `extra` more bytes. */
void kumo_arena_buf_reserve(struct kumo_arena *a, struct kumo_arena_buf *b, size_t extra);
/* Appends `len` bytes. */
void kumo_arena_buf_append(struct kumo_arena *a, struct kumo_arena_buf *b, const void *data,
                           size_t len);
/* Releases everything but the first block, for reuse. */
void kumo_arena_reset(struct kumo_arena *a);
/* Frees the arena and all memory handed out by it. NULL is ignored. */
void kumo_arena_free(struct kumo_arena *a);
/* Bytes handed out since creation or the last reset. */
size_t kumo_arena_used(const struct kumo_arena *a);
/* A ProtobufCAllocator whose alloc draws from the arena and whose free does
 * nothing. Owned by the arena. */
ProtobufCAllocator *kumo_arena_allocator(struct kumo_arena *a);

#endif
