/* The health registry: a small table of service name -> serving flag behind a
 * mutex. Servers expose a handful of services, so a linear scan beats any
 * index; the lock is held only for the scan. */
#include "rpc/health.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "grpc/health/v1/health.pb-c.h"

struct health_entry {
    char *service; /* owned */
    int serving;
};

struct kumo_health {
    pthread_mutex_t lock; /* guards entries, n_entries, cap_entries */
    struct health_entry *entries;
    size_t n_entries;
    size_t cap_entries;
    struct kumo_rpc_service service; /* filled by kumo_health_service */
    void (*on_change)(void *ud);     /* kumo_health_on_change */
    void *on_change_ud;
};

/* Caller holds the lock. */
static struct health_entry *find_entry(struct kumo_health *h, const char *service)
{
    for (size_t i = 0; i < h->n_entries; i++)
        if (strcmp(h->entries[i].service, service) == 0)
            return &h->entries[i];
    return NULL;
}

/* Caller holds the lock. */
static struct health_entry *add_entry(struct kumo_health *h, const char *service)
{
    if (h->n_entries == h->cap_entries) {
        h->cap_entries = h->cap_entries ? h->cap_entries * 2 : 4;
        h->entries = kumo_realloc(h->entries, h->cap_entries * sizeof(*h->entries));
    }
    struct health_entry *e = &h->entries[h->n_entries++];
    e->service = kumo_strdup(service);
    e->serving = 0;
    return e;
}

int kumo_health_new(struct kumo_health **out)
{
    struct kumo_health *h = kumo_calloc(1, sizeof(*h));
    int err = pthread_mutex_init(&h->lock, NULL);
    if (err != 0) {
        kumo_free(h);
        return -err;
    }
    add_entry(h, "")->serving = 1;
    *out = h;
    return 0;
}

void kumo_health_set(struct kumo_health *h, const char *service, int serving)
{
    if (service == NULL)
        service = "";
    pthread_mutex_lock(&h->lock);
    struct health_entry *e = find_entry(h, service);
    int changed = e == NULL || e->serving != (serving != 0);
    if (e == NULL)
        e = add_entry(h, service);
    e->serving = serving != 0;
    void (*fn)(void *) = h->on_change;
    void *ud = h->on_change_ud;
    pthread_mutex_unlock(&h->lock);
    if (changed && fn)
        fn(ud);
}

void kumo_health_on_change(struct kumo_health *h, void (*fn)(void *ud), void *ud)
{
    pthread_mutex_lock(&h->lock);
    h->on_change = fn;
    h->on_change_ud = ud;
    pthread_mutex_unlock(&h->lock);
}

kumo_code kumo_health_check(struct kumo_health *h, const char *service, int *status)
{
    if (service == NULL)
        service = "";
    kumo_code code = KUMO_CODE_NOT_FOUND;
    pthread_mutex_lock(&h->lock);
    const struct health_entry *e = find_entry(h, service);
    if (e != NULL) {
        *status = e->serving ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                             : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
        code = KUMO_CODE_OK;
    }
    pthread_mutex_unlock(&h->lock);
    return code;
}

struct kumo_rpc_service *kumo__health_service_slot(struct kumo_health *h)
{
    return &h->service;
}

void kumo_health_free(struct kumo_health *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n_entries; i++)
        kumo_free(h->entries[i].service);
    kumo_free(h->entries);
    pthread_mutex_destroy(&h->lock);
    kumo_free(h);
}
