/* The readiness probes' thread (runtime/probes.h). */
#include "runtime/probes.h"

#include <stdatomic.h>
#include <stdio.h>

#include "base/alloc.h"
#include "runtime/worker.h"

#define PROBES_MAX 8

struct probe {
    struct kumo_probes *set;
    kumo_probe_fn fn;
    void *ud;
    const char *failure;
    atomic_int ok; /* last outcome, read by the admin thread */
};

struct kumo_probes {
    struct probe probes[PROBES_MAX];
    int n;
    int64_t interval_ms;
    struct kumo_worker *worker;
};

int kumo_probes_new(struct kumo_probes **out, int64_t interval_ms)
{
    if (interval_ms <= 0)
        return -1;
    struct kumo_probes *p = kumo_calloc(1, sizeof *p);
    p->interval_ms = interval_ms;
    *out = p;
    return 0;
}

static int check(void *ud, char *err, size_t errlen)
{
    struct probe *pr = ud;
    if (atomic_load(&pr->ok))
        return 0;
    snprintf(err, errlen, "%s", pr->failure);
    return 1;
}

int kumo_probes_add(struct kumo_probes *p, struct kumo_admin *admin, const char *name,
                    kumo_probe_fn fn, void *ud, const char *failure)
{
    if (p->worker || p->n == PROBES_MAX)
        return -1;
    struct probe *pr = &p->probes[p->n++];
    pr->set = p;
    pr->fn = fn;
    pr->ud = ud;
    pr->failure = failure;
    atomic_init(&pr->ok, 0);
    if (admin)
        kumo_admin_add_check(admin, name, check, pr);
    return 0;
}

int kumo_probes_last(struct kumo_probes *p, int i)
{
    if (i < 0 || i >= p->n)
        return 0;
    return atomic_load(&p->probes[i].ok);
}

static int64_t run(void *arg)
{
    struct kumo_probes *p = arg;
    for (int i = 0; i < p->n; i++)
        atomic_store(&p->probes[i].ok, p->probes[i].fn(p->probes[i].ud) ? 1 : 0);
    return p->interval_ms;
}

int kumo_probes_start(struct kumo_probes *p)
{
    if (p->worker)
        return -1;
    p->worker = kumo_worker_start(run, p);
    return p->worker ? 0 : -1;
}

void kumo_probes_free(struct kumo_probes *p)
{
    if (p == NULL)
        return;
    kumo_worker_stop(p->worker);
    kumo_free(p);
}
