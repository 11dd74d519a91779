/* A digest computed on a helper thread. A large upload needs MD5 (its ETag)
 * and SHA-256 of every byte; done one after the other on the connection's
 * thread they cost more CPU time than receiving and writing the body, so
 * past a few MiB the MD5 moves to a thread of its own, fed through a
 * bounded ring (OFFLOAD_RING bytes: memory stays bounded whatever the
 * size; a slow hasher makes the connection wait, which slows the client
 * through TCP flow control). */
#include <string.h>

#include "base/alloc.h"
#include "local.h"

#define OFFLOAD_RING (1024 * 1024)

struct stg__offload {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t has_data, has_space;
    uint8_t *ring;
    size_t head, tail, used; /* write position, read position, bytes queued */
    int done;
    EVP_MD_CTX *ctx;
};

static void *hash_loop(void *arg)
{
    struct stg__offload *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        while (o->used == 0 && !o->done)
            pthread_cond_wait(&o->has_data, &o->mu);
        if (o->used == 0) {
            pthread_mutex_unlock(&o->mu);
            return NULL;
        }
        size_t n = o->used < OFFLOAD_RING - o->tail ? o->used : OFFLOAD_RING - o->tail;
        const uint8_t *p = o->ring + o->tail;
        pthread_mutex_unlock(&o->mu);
        /* The producer never writes into [tail, tail + n) until it is
         * released below. */
        EVP_DigestUpdate(o->ctx, p, n);
        pthread_mutex_lock(&o->mu);
        o->tail = (o->tail + n) % OFFLOAD_RING;
        o->used -= n;
        pthread_cond_signal(&o->has_space);
        pthread_mutex_unlock(&o->mu);
    }
}

int stg__offload_start(struct stg__offload **out, EVP_MD_CTX *ctx)
{
    struct stg__offload *o = kumo_calloc(1, sizeof *o);
    o->ring = kumo_malloc(OFFLOAD_RING);
    o->ctx = ctx;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->has_data, NULL);
    pthread_cond_init(&o->has_space, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    int rc = pthread_create(&o->thread, &attr, hash_loop, o);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&o->mu);
        pthread_cond_destroy(&o->has_data);
        pthread_cond_destroy(&o->has_space);
        kumo_free(o->ring);
        kumo_free(o);
        return -rc;
    }
    *out = o;
    return 0;
}

void stg__offload_feed(struct stg__offload *o, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        pthread_mutex_lock(&o->mu);
        while (o->used == OFFLOAD_RING)
            pthread_cond_wait(&o->has_space, &o->mu);
        size_t space = OFFLOAD_RING - o->used;
        size_t contig = OFFLOAD_RING - o->head;
        size_t k = n < space ? n : space;
        if (k > contig)
            k = contig;
        size_t at = o->head;
        pthread_mutex_unlock(&o->mu);
        memcpy(o->ring + at, p, k); /* free space: the hasher is not reading it */
        pthread_mutex_lock(&o->mu);
        o->head = (o->head + k) % OFFLOAD_RING;
        o->used += k;
        pthread_cond_signal(&o->has_data);
        pthread_mutex_unlock(&o->mu);
        p += k;
        n -= k;
    }
}

EVP_MD_CTX *stg__offload_finish(struct stg__offload *o)
{
    pthread_mutex_lock(&o->mu);
    o->done = 1;
    pthread_cond_signal(&o->has_data);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    EVP_MD_CTX *ctx = o->ctx;
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->has_data);
    pthread_cond_destroy(&o->has_space);
    kumo_free(o->ring);
    kumo_free(o);
    return ctx;
}
