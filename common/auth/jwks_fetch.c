#include "auth/jwks_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "http/http_get.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/worker.h"

#define FIRST_RETRY_MS 500

static int read_file(const char *path, struct kumo_buf *body, struct kumo_buf *err)
{
    int rc = kumo_buf_read_file(body, path, KUMO_JWT_MAX_JWKS_LEN);
    if (rc == KUMO_ERR_TOO_LARGE)
        return kumo_buf_error(err, rc, "jwks: document too large", NULL);
    if (rc != 0)
        return kumo_buf_error(err, KUMO_ERR_IO, "jwks: cannot read the file", strerror(-rc));
    return 0;
}

int kumo_jwks_load(const char *source, const struct kumo_jwks_fetch_opts *o,
                   struct kumo_jwt_keyset **out, struct kumo_buf *err)
{
    if (source == NULL || *source == '\0' || out == NULL)
        return kumo_buf_error(err, KUMO_ERR_INVALID, "jwks: no source", NULL);
    struct kumo_buf body = KUMO_BUF_INIT;
    int rc;
    if (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0) {
        struct kumo_http_get_opts g = {o ? o->ca_file : NULL, o ? o->timeout_ms : 0,
                                       KUMO_JWT_MAX_JWKS_LEN};
        rc = kumo_http_get(source, &g, &body, "jwks", err);
    } else
        rc = read_file(strncmp(source, "file:", 5) == 0 ? source + 5 : source, &body, err);
    if (rc == 0) {
        const char *why = NULL;
        rc = kumo_jwt_keyset_from_jwks(out, body.data ? (const char *)body.data : "", body.len,
                                       &why);
        if (rc != 0)
            kumo_buf_error(err, rc, "jwks: unusable document", why);
    }
    kumo_buf_free(&body);
    return rc;
}

/* ---- refresher ---- */

struct kumo_jwks_refresher {
    struct kumo_jwt_verifier *v;
    char *source;
    struct kumo_jwks_fetch_opts opts;
    char *ca_file;
    int64_t interval_ms, retry_ms;
    struct kumo_worker *worker;
    atomic_ulong loads;
};

/* Refresh failures page (KumoJwksRefreshFailing): the kept keys go stale
 * at the next signing-key rotation and every token is then refused. */
static void count_refresh(const char *outcome)
{
    kumo_metrics_counter_addl("kumo_jwks_refresh_total", "JWKS refreshes, by outcome.",
                              (const char *[]){"outcome", outcome, NULL}, 1);
}

/* One refresh; the next after the interval, or sooner (backing off) after
 * a failure. */
static int64_t refresh_step(void *arg)
{
    struct kumo_jwks_refresher *r = arg;
    struct kumo_jwt_keyset *ks = NULL;
    struct kumo_buf err = KUMO_BUF_INIT;
    int64_t wait;
    if (kumo_jwks_load(r->source, &r->opts, &ks, &err) == 0) {
        kumo_jwt_verifier_set_keys(r->v, ks);
        atomic_fetch_add(&r->loads, 1);
        count_refresh("ok");
        kumo_metrics_gauge_set("kumo_jwks_last_success_timestamp_seconds",
                               "When the JWKS was last fetched successfully (Unix time).",
                               (int64_t)time(NULL));
        r->retry_ms = FIRST_RETRY_MS;
        wait = r->interval_ms;
    } else {
        kumo_log(KUMO_LOG_WARN, NULL, "jwks: refresh failed; keeping the current keys", "error",
                 err.data ? (const char *)err.data : "", NULL);
        count_refresh("error");
        wait = r->retry_ms;
        r->retry_ms = r->retry_ms * 2 > r->interval_ms ? r->interval_ms : r->retry_ms * 2;
    }
    kumo_buf_free(&err);
    return wait;
}

int kumo_jwks_refresher_start(struct kumo_jwks_refresher **out, struct kumo_jwt_verifier *v,
                              const char *source, int64_t interval_ms,
                              const struct kumo_jwks_fetch_opts *o)
{
    if (out == NULL || v == NULL || source == NULL || *source == '\0' || interval_ms < 1000)
        return KUMO_ERR_INVALID;
    struct kumo_jwks_refresher *r = kumo_calloc(1, sizeof *r);
    r->v = v;
    r->source = kumo_strdup(source);
    if (o) {
        r->opts = *o;
        r->ca_file = o->ca_file ? kumo_strdup(o->ca_file) : NULL;
        r->opts.ca_file = r->ca_file;
    }
    r->interval_ms = interval_ms;
    r->retry_ms = FIRST_RETRY_MS;
    atomic_init(&r->loads, 0);
    r->worker = kumo_worker_start(refresh_step, r);
    if (r->worker == NULL) {
        kumo_free(r->source);
        kumo_free(r->ca_file);
        kumo_free(r);
        return -EAGAIN;
    }
    *out = r;
    return 0;
}

unsigned long kumo_jwks_refresher_loads(struct kumo_jwks_refresher *r)
{
    return atomic_load(&r->loads);
}

void kumo_jwks_refresher_stop(struct kumo_jwks_refresher *r)
{
    if (r == NULL)
        return;
    kumo_worker_stop(r->worker);
    kumo_free(r->source);
    kumo_free(r->ca_file);
    kumo_free(r);
}
