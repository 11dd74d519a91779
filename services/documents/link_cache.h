/* Links kumo-storage signed, kept for reuse by what they grant.
 *
 * kumo-storage alone decides what a link may do (which object, served with
 * which headers, until when) and signs every one; this cache only hands a
 * link it signed out again to a request for exactly the same grant (the
 * caller's key holds everything the link grants), until a reuse deadline the
 * caller sets below the link's expiry. Bounded: a fixed number of slots, one
 * per hash value, the newer entry replacing the older. Thread-safe. Used for
 * download links (get_document.c) and thumbnails (thumbnail_url.c). */
#ifndef KUMO_DOCS_LINK_CACHE_H
#define KUMO_DOCS_LINK_CACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "rpc/rpc.h"

#define DOCS_LINK_URL_MAX 4096

struct docs_link_slot {
    char *key; /* kumo_malloc'd; NULL: empty */
    size_t key_len;
    char *url;
    int64_t expire_s; /* the link's expire_time */
    int32_t expire_ns;
    int64_t reuse_until_ms; /* wall clock */
};

struct docs_link_cache {
    pthread_mutex_t mu;
    struct docs_link_slot *slots;
    size_t n_slots;
};

/* Defines a static cache `name` of n_slots slots. */
#define DOCS_LINK_CACHE(name, n_slots)                                                             \
    static struct docs_link_slot name##_slots[n_slots];                                            \
    static struct docs_link_cache name = {PTHREAD_MUTEX_INITIALIZER, name##_slots, n_slots}

/* Wall-clock milliseconds (the clock links expire by). */
int64_t docs_link_now_ms(void);

/* The link kept for key[0..key_len) if its reuse deadline has not passed:
 * copies it into the call's memory, sets *url and *expire, returns 1;
 * otherwise returns 0. */
int docs_link_cache_get(struct docs_link_cache *lc, struct kumo_rpc_call *call, const void *key,
                        size_t key_len, char **url, Google__Protobuf__Timestamp **expire);

/* Keeps `url` (expiring at *expire) for key[0..key_len), reusable until
 * reuse_until_ms. Nothing is kept for an empty or over-long URL or without
 * an expiry. */
void docs_link_cache_put(struct docs_link_cache *lc, const void *key, size_t key_len,
                         const char *url, const Google__Protobuf__Timestamp *expire,
                         int64_t reuse_until_ms);

#endif
