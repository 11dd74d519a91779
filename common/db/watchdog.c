/* Database calls bounded by the caller's deadline.
 *
 * libmariadb's timeouts are per connection and fixed when it connects
 * (KUMO_DB_IO_TIMEOUT, 30 s): a hung server would hold a request far past
 * its own budget. So every blocking call on a connection lent with a
 * deadline is "guarded": a watchdog thread per pool waits for the earliest
 * guarded deadline and, when it passes, shuts the connection's socket down.
 * The blocked read fails at once, the call reports deadline_exceeded, and
 * the connection (its protocol state now unknown) is discarded on release.
 * Nothing is killed on the server: a statement that was running finishes or
 * rolls back there on its own, as after any lost connection. */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>

#include "db/internal.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *watchdog(void *arg)
{
    struct kumo_db *db = arg;
    pthread_mutex_lock(&db->guard_mu);
    while (!db->guard_stop) {
        int64_t now = mono_ns(), next = 0;
        for (struct kumo_db_conn *c = db->guarded; c; c = c->guard_next) {
            if (c->guard_fired)
                continue;
            if (c->deadline_ns <= now) {
                /* The blocked call returns with CR_SERVER_LOST at once. */
                c->guard_fired = 1;
                shutdown(mysql_get_socket(c->m), SHUT_RDWR);
            } else if (next == 0 || c->deadline_ns < next) {
                next = c->deadline_ns;
            }
        }
        db->guard_wakes_at = next;
        if (next == 0) {
            pthread_cond_wait(&db->guard_cv, &db->guard_mu);
        } else {
            struct timespec ts = {(time_t)(next / 1000000000LL), (long)(next % 1000000000LL)};
            pthread_cond_timedwait(&db->guard_cv, &db->guard_mu, &ts);
        }
    }
    pthread_mutex_unlock(&db->guard_mu);
    return NULL;
}

int kumo__db_watchdog_start(struct kumo_db *db)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&db->guard_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&db->guard_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&db->guard_thread, NULL, watchdog, db);
    if (rc != 0) {
        pthread_cond_destroy(&db->guard_cv);
        pthread_mutex_destroy(&db->guard_mu);
        return -rc;
    }
    db->guard_started = 1;
    return 0;
}

void kumo__db_watchdog_stop(struct kumo_db *db)
{
    if (!db->guard_started)
        return;
    pthread_mutex_lock(&db->guard_mu);
    db->guard_stop = 1;
    pthread_cond_signal(&db->guard_cv);
    pthread_mutex_unlock(&db->guard_mu);
    pthread_join(db->guard_thread, NULL);
    pthread_cond_destroy(&db->guard_cv);
    pthread_mutex_destroy(&db->guard_mu);
    db->guard_started = 0;
}

void kumo__db_guard_begin(struct kumo_db_conn *c)
{
    struct kumo_db *db = c->db;
    if (c->deadline_ns == 0 || !db->guard_started || c->guarded)
        return;
    pthread_mutex_lock(&db->guard_mu);
    c->guarded = 1;
    c->guard_next = db->guarded;
    db->guarded = c;
    /* The watchdog must wake by the earliest deadline: told only when this
     * one comes before its next wake-up (which may be for a call that has
     * ended since; it then looks again). */
    if (db->guard_wakes_at == 0 || c->deadline_ns < db->guard_wakes_at) {
        db->guard_wakes_at = c->deadline_ns;
        pthread_cond_signal(&db->guard_cv);
    }
    pthread_mutex_unlock(&db->guard_mu);
}

int kumo__db_guard_end(struct kumo_db_conn *c)
{
    struct kumo_db *db = c->db;
    if (!c->guarded)
        return 0;
    pthread_mutex_lock(&db->guard_mu);
    for (struct kumo_db_conn **pp = &db->guarded; *pp; pp = &(*pp)->guard_next) {
        if (*pp == c) {
            *pp = c->guard_next;
            break;
        }
    }
    c->guarded = 0;
    c->guard_next = NULL;
    int fired = c->guard_fired;
    pthread_mutex_unlock(&db->guard_mu);
    if (fired)
        c->poisoned = 1; /* its socket is shut: never lent again */
    return fired;
}
