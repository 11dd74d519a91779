/* Admission of connections to an RPC port: at most `max_total` open at
 * once, and at most `max_per_address` from one client address, so that one
 * client cannot take the whole port. Runs at accept and at close only,
 * never per request; one mutex over all I/O threads.
 *
 * The counts per address live in an open-addressing table (linear probing,
 * backward-shift deletion: no tombstones) sized for every connection coming
 * from a different address, so it never grows or fills. */
#include "rpc/admit.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

struct kumo__rpc_admit_slot {
    char peer[KUMO_RPC_ADMIT_PEER_MAX];
    int n; /* 0 = empty */
};

static size_t hash_peer(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return (size_t)h;
}

void kumo__rpc_admit_init(struct kumo__rpc_admit *a, int max_total, int max_per_address)
{
    memset(a, 0, sizeof(*a));
    a->max_total = max_total > 0 ? max_total : 1;
    a->max_per_address =
        max_per_address > 0 && max_per_address < a->max_total ? max_per_address : a->max_total;
    pthread_mutex_init(&a->mu, NULL);
    if (a->max_per_address >= a->max_total)
        return; /* no per-address limit: no table */
    /* At most max_total addresses at once: twice that keeps probes short. */
    size_t cap = 16;
    while (cap < 2 * (size_t)a->max_total)
        cap *= 2;
    a->slots = kumo_calloc(cap, sizeof(*a->slots));
    a->mask = cap - 1;
}

void kumo__rpc_admit_free(struct kumo__rpc_admit *a)
{
    kumo_free(a->slots);
    a->slots = NULL;
    pthread_mutex_destroy(&a->mu);
}

/* The slot of `peer`, or the empty slot where it belongs. */
static struct kumo__rpc_admit_slot *find(struct kumo__rpc_admit *a, const char *peer)
{
    size_t i = hash_peer(peer) & a->mask;
    while (a->slots[i].n != 0 && strcmp(a->slots[i].peer, peer) != 0)
        i = (i + 1) & a->mask;
    return &a->slots[i];
}

/* Empties slot `s` and shifts later members of its probe run back, so that
 * every entry stays reachable from its home slot. */
static void remove_slot(struct kumo__rpc_admit *a, struct kumo__rpc_admit_slot *s)
{
    size_t hole = (size_t)(s - a->slots);
    a->slots[hole].n = 0;
    for (size_t i = (hole + 1) & a->mask; a->slots[i].n != 0; i = (i + 1) & a->mask) {
        size_t home = hash_peer(a->slots[i].peer) & a->mask;
        /* Move it into the hole unless its home lies cyclically in (hole, i]. */
        int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays)
            continue;
        a->slots[hole] = a->slots[i];
        a->slots[i].n = 0;
        hole = i;
    }
}

enum kumo__rpc_admit_result kumo__rpc_admit_take(struct kumo__rpc_admit *a, const char *peer)
{
    enum kumo__rpc_admit_result r = KUMO_ADMIT_OK;
    pthread_mutex_lock(&a->mu);
    if (a->open >= a->max_total) {
        r = KUMO_ADMIT_PORT_FULL;
    } else if (a->slots && peer[0]) {
        struct kumo__rpc_admit_slot *s = find(a, peer);
        if (s->n >= a->max_per_address) {
            r = KUMO_ADMIT_ADDRESS_FULL;
        } else {
            if (s->n == 0) {
                size_t len = strlen(peer);
                if (len >= sizeof(s->peer))
                    len = sizeof(s->peer) - 1;
                memcpy(s->peer, peer, len);
                s->peer[len] = '\0';
            }
            s->n++;
        }
    }
    if (r == KUMO_ADMIT_OK)
        a->open++;
    pthread_mutex_unlock(&a->mu);
    return r;
}

void kumo__rpc_admit_release(struct kumo__rpc_admit *a, const char *peer)
{
    pthread_mutex_lock(&a->mu);
    a->open--;
    if (a->slots && peer[0]) {
        struct kumo__rpc_admit_slot *s = find(a, peer);
        if (s->n > 0 && --s->n == 0)
            remove_slot(a, s);
    }
    pthread_mutex_unlock(&a->mu);
}

int kumo__rpc_admit_open(struct kumo__rpc_admit *a, const char *peer)
{
    pthread_mutex_lock(&a->mu);
    int n = a->open;
    if (peer) {
        n = 0;
        if (a->slots && peer[0])
            n = find(a, peer)->n;
    }
    pthread_mutex_unlock(&a->mu);
    return n;
}
