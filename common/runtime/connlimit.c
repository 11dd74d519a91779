/* Connection limits with idle-first eviction (connlimit.h). Every slot is
 * on one list; counting one address's connections and finding the
 * longest-idle one are linear scans under one mutex: a listener holds at
 * most a few thousand connections and admits them one at a time, so a
 * scan costs microseconds, and no hash table has to be kept consistent
 * with eviction. */
#include "runtime/connlimit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"

#define PEER_MAX 64

struct kumo_connlimit_slot {
    char peer[PEER_MAX];
    int fd;          /* our dup of the socket (-1: none) */
    int idle;        /* waiting for a request */
    int counted;     /* 0 once evicted: it no longer takes room */
    int64_t idle_ns; /* kumo_now_ns when it became idle */
    struct kumo_connlimit_slot *prev, *next;
};

/* Memory after a flood: connections free what they held when they close,
 * but glibc keeps the freed pages in the I/O threads' arenas (a kumo-users
 * RPC port flooded with 1000 idle connections kept +11 MB after they all
 * closed; malloc_trim(0) gave 9 MB back). So once the connections alive
 * fall to a quarter of their high-water mark, and that mark was a flood
 * (TRIM_MIN or more), the free pages go back to the kernel, once. */
#define TRIM_MIN 64

struct kumo_connlimit {
    pthread_mutex_t mu;
    int max_total, max_per_address;
    int open;            /* counted slots */
    int slots, slots_hw; /* slots alive (evicted ones until released), and their high-water mark */
    /* Counters: bumped under mu, read without it. */
    atomic_long evicted, refused, trims;
    struct kumo_connlimit_slot *all;
};

int kumo_connlimit_new(struct kumo_connlimit **out, int max_total, int max_per_address)
{
    if (max_total < 1)
        return -1;
    struct kumo_connlimit *l = kumo_calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->max_total = max_total;
    l->max_per_address = max_per_address <= 0 || max_per_address >= max_total ? 0 : max_per_address;
    *out = l;
    return 0;
}

void kumo_connlimit_free(struct kumo_connlimit *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    kumo_free(l);
}

static int count_locked(struct kumo_connlimit *l, const char *peer)
{
    if (!peer)
        return l->open;
    int n = 0;
    for (struct kumo_connlimit_slot *s = l->all; s; s = s->next)
        n += s->counted && strcmp(s->peer, peer) == 0;
    return n;
}

/* Shuts down the longest-idle counted connection (from `peer`, or any
 * when NULL). Returns 1, or 0 when none is idle. */
static int evict_locked(struct kumo_connlimit *l, const char *peer)
{
    struct kumo_connlimit_slot *best = NULL;
    for (struct kumo_connlimit_slot *s = l->all; s; s = s->next) {
        if (!s->counted || !s->idle || (peer && strcmp(s->peer, peer) != 0))
            continue;
        if (!best || s->idle_ns < best->idle_ns)
            best = s;
    }
    if (!best)
        return 0;
    if (best->fd >= 0)
        shutdown(best->fd, SHUT_RDWR);
    best->counted = 0;
    l->open--;
    l->evicted++;
    return 1;
}

struct kumo_connlimit_slot *kumo_connlimit_admit(struct kumo_connlimit *l, const char *peer, int fd)
{
    const char *p = peer && *peer ? peer : NULL;
    pthread_mutex_lock(&l->mu);
    int ok = 1;
    if (p && l->max_per_address && count_locked(l, p) >= l->max_per_address)
        ok = evict_locked(l, p);
    if (ok && l->open >= l->max_total)
        ok = evict_locked(l, NULL);
    if (!ok) {
        l->refused++;
        pthread_mutex_unlock(&l->mu);
        return NULL;
    }
    struct kumo_connlimit_slot *s = kumo_calloc(1, sizeof *s);
    if (p)
        snprintf(s->peer, sizeof s->peer, "%s", p);
    s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    s->idle = 1;
    s->idle_ns = kumo_now_ns();
    s->counted = 1;
    s->next = l->all;
    if (l->all)
        l->all->prev = s;
    l->all = s;
    l->open++;
    if (++l->slots > l->slots_hw)
        l->slots_hw = l->slots;
    pthread_mutex_unlock(&l->mu);
    return s;
}

struct kumo_connlimit_slot *kumo_connlimit_admit_addr(struct kumo_connlimit *l,
                                                      const struct sockaddr *sa, int fd)
{
    char peer[PEER_MAX] = "";
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], peer, sizeof peer);
        else
            inet_ntop(AF_INET6, a6, peer, sizeof peer);
    }
    return kumo_connlimit_admit(l, peer, fd);
}

void kumo_connlimit_set_idle(struct kumo_connlimit *l, struct kumo_connlimit_slot *s, int idle)
{
    if (!s)
        return;
    pthread_mutex_lock(&l->mu);
    if (idle && !s->idle)
        s->idle_ns = kumo_now_ns();
    s->idle = idle;
    pthread_mutex_unlock(&l->mu);
}

int kumo_connlimit_close_idle(struct kumo_connlimit *l, int64_t min_idle_ns)
{
    int n = 0;
    int64_t now = kumo_now_ns();
    pthread_mutex_lock(&l->mu);
    for (struct kumo_connlimit_slot *s = l->all; s; s = s->next) {
        if (!s->counted || !s->idle || now - s->idle_ns < min_idle_ns)
            continue;
        if (s->fd >= 0)
            shutdown(s->fd, SHUT_RDWR);
        s->counted = 0;
        l->open--;
        n++;
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

void kumo_connlimit_release(struct kumo_connlimit *l, struct kumo_connlimit_slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&l->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        l->all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->counted)
        l->open--;
    int trim = 0;
    if (--l->slots <= l->slots_hw / 4 && l->slots_hw >= TRIM_MIN) {
        l->slots_hw = l->slots;
        l->trims++;
        trim = 1;
    }
    pthread_mutex_unlock(&l->mu);
    if (s->fd >= 0)
        close(s->fd);
    kumo_free(s);
    if (trim)
        malloc_trim(0);
}

long kumo_connlimit_trims(struct kumo_connlimit *l)
{
    return atomic_load(&l->trims);
}

int kumo_connlimit_count(struct kumo_connlimit *l, const char *peer)
{
    pthread_mutex_lock(&l->mu);
    int n = count_locked(l, peer);
    pthread_mutex_unlock(&l->mu);
    return n;
}

long kumo_connlimit_evicted(struct kumo_connlimit *l)
{
    return atomic_load(&l->evicted);
}

long kumo_connlimit_refused(struct kumo_connlimit *l)
{
    return atomic_load(&l->refused);
}
