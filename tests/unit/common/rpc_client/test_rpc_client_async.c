/* Asynchronous calls of common/rpc_client (rpc_client_fixture.h):
 * kumo_rpc_client_call_async against grpcio and the raw HTTP/2 peer (the
 * answer, refusals, deadlines on the I/O thread, free with calls pending) and
 * kumo_rpc_client_defer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "base/arena.h"
#include "rpc_client_fixture.h"

/* ---- asynchronous calls ---- */

struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int calls; /* how often `done` ran */
    kumo_code code;
    ProtobufCMessage *resp;
    struct kumo_rpc_status st;
    pthread_t thread;
    int64_t at;
};

static void outcome_init(struct outcome *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cond, NULL);
}

static void on_done(void *arg, kumo_code code, ProtobufCMessage *resp, struct kumo_rpc_status *st)
{
    struct outcome *o = arg;
    pthread_mutex_lock(&o->mu);
    o->calls++;
    o->code = code;
    o->resp = resp;
    o->st = *st;
    o->thread = pthread_self();
    o->at = kumo_now_ns();
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->mu);
}

/* Waits up to 5 s for `done`; returns how often it ran. */
static int outcome_wait(struct outcome *o)
{
    pthread_mutex_lock(&o->mu);
    for (int i = 0; i < 500 && o->calls == 0; i++) {
        pthread_mutex_unlock(&o->mu);
        usleep(10000);
        pthread_mutex_lock(&o->mu);
    }
    int n = o->calls;
    pthread_mutex_unlock(&o->mu);
    return n;
}

static void test_rpc_client_async(void **state)
{
    (void)state;
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    struct kumo_arena *arena = kumo_arena_new();
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "async hello";
    struct outcome o;
    outcome_init(&o);
    struct kumo_rpc_status st = {KUMO_CODE_UNKNOWN, NULL, 0};
    struct kumo_rpc_call_options opts = {.deadline = kumo_now_ns() + 5000 * MS,
                                         .request_id = "req-async"};
    assert_int_equal(kumo_rpc_client_call_async(
                         c, ECHO_PATH, &req.base, &kumo__test__v1__echo_response__descriptor,
                         kumo_arena_allocator(arena), &opts, on_done, &o, &st),
                     KUMO_CODE_OK);
    assert_int_equal(outcome_wait(&o), 1);
    assert_int_equal(o.code, KUMO_CODE_OK);
    assert_int_equal(o.st.code, KUMO_CODE_OK);
    assert_null(o.st.message);
    Kumo__Test__V1__EchoResponse *r = (void *)o.resp;
    assert_non_null(r);
    assert_string_equal(r->message, "async hello");
    assert_string_equal(header_of(r, "x-request-id"), "req-async");
    assert_true(kumo_arena_used(arena) > 0); /* unpacked with the caller's allocator */
    assert_false(pthread_equal(o.thread, pthread_self())); /* on the client's I/O thread */

    /* Refused at once: `done` is never called, the status says why. */
    struct outcome o2;
    outcome_init(&o2);
    assert_int_equal(kumo_rpc_client_call_async(c, "no-slash", &req.base,
                                                &kumo__test__v1__echo_response__descriptor, NULL,
                                                NULL, on_done, &o2, &st),
                     KUMO_CODE_INVALID_ARGUMENT);
    assert_non_null(st.message);
    kumo_rpc_status_clear(&st);
    struct kumo_rpc_call_options past = {.deadline = kumo_now_ns() - 1};
    assert_int_equal(kumo_rpc_client_call_async(c, ECHO_PATH, &req.base,
                                                &kumo__test__v1__echo_response__descriptor, NULL,
                                                &past, on_done, &o2, &st),
                     KUMO_CODE_DEADLINE_EXCEEDED);
    kumo_rpc_status_clear(&st);
    assert_int_equal(kumo_rpc_client_call_async(c, ECHO_PATH, &req.base,
                                                &kumo__test__v1__echo_response__descriptor, NULL,
                                                NULL, NULL, NULL, &st),
                     KUMO_CODE_INVALID_ARGUMENT);
    kumo_rpc_status_clear(&st);
    usleep(50000);
    assert_int_equal(o2.calls, 0);
    kumo_arena_free(arena);
    kumo_rpc_client_free(c);
}

static void test_rpc_client_async_deadline_and_free(void **state)
{
    struct peer p;
    const char *args[] = {"--raw", NULL};
    (void)state;
    assert_int_equal(peer_start(&p, 0, args), 0);
    struct kumo_rpc_client *c = client_raw(&p);
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;

    /* The deadline holds without a waiting caller: the I/O thread's timer. */
    struct outcome o;
    outcome_init(&o);
    int64_t t0 = kumo_now_ns();
    struct kumo_rpc_call_options opts = {.deadline = t0 + 200 * MS};
    assert_int_equal(kumo_rpc_client_call_async(c, "/raw.Svc/Hang", &req.base,
                                                &kumo__test__v1__echo_response__descriptor, NULL,
                                                &opts, on_done, &o, NULL),
                     KUMO_CODE_OK);
    assert_int_equal(outcome_wait(&o), 1);
    assert_int_equal(o.code, KUMO_CODE_DEADLINE_EXCEEDED);
    assert_null(o.resp);
    assert_true(o.at - t0 >= 195 * MS && o.at - t0 < 1000 * MS);
    kumo_rpc_status_clear(&o.st);

    /* Freeing the client fails a pending call: `done` runs before free
     * returns, once. */
    struct outcome o2;
    outcome_init(&o2);
    assert_int_equal(kumo_rpc_client_call_async(c, "/raw.Svc/Hang", &req.base,
                                                &kumo__test__v1__echo_response__descriptor, NULL,
                                                NULL, on_done, &o2, NULL),
                     KUMO_CODE_OK);
    usleep(200000);
    kumo_rpc_client_free(c);
    assert_int_equal(o2.calls, 1);
    assert_int_equal(o2.code, KUMO_CODE_UNAVAILABLE);
    kumo_rpc_status_clear(&o2.st);
    peer_stop(&p);
}

/* kumo_rpc_client_defer: callbacks share one deferred node; it runs on the
 * I/O thread after them, never inside one, and once per deferral. */
struct defer_state {
    pthread_mutex_t mu;
    struct kumo_rpc_deferred node;
    int done, queued, runs, in_cb, bad;
    pthread_t cb_thread, run_thread;
};

static void defer_run(void *arg)
{
    struct defer_state *d = arg;
    pthread_mutex_lock(&d->mu);
    if (d->in_cb || !d->queued)
        d->bad++;
    d->queued = 0;
    d->runs++;
    d->run_thread = pthread_self();
    pthread_mutex_unlock(&d->mu);
}

static void defer_done(void *arg, kumo_code code, ProtobufCMessage *resp,
                       struct kumo_rpc_status *st)
{
    (void)resp;
    struct defer_state *d = arg;
    pthread_mutex_lock(&d->mu);
    d->in_cb = 1;
    if (code != KUMO_CODE_OK)
        d->bad++;
    d->done++;
    d->cb_thread = pthread_self();
    if (!d->queued) {
        d->queued = 1;
        kumo_rpc_client_defer(&d->node);
    }
    d->in_cb = 0;
    pthread_mutex_unlock(&d->mu);
    kumo_rpc_status_clear(st);
}

static void test_rpc_client_async_defer(void **state)
{
    (void)state;
    struct kumo_rpc_client *c = client_for(grpc_target, 0);
    struct kumo_arena *arena = kumo_arena_new();
    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "deferred";
    struct defer_state d;
    memset(&d, 0, sizeof d);
    pthread_mutex_init(&d.mu, NULL);
    d.node.fn = defer_run;
    d.node.arg = &d;
    enum { N = 50 };
    for (int i = 0; i < N; i++)
        assert_int_equal(kumo_rpc_client_call_async(
                             c, ECHO_PATH, &req.base, &kumo__test__v1__echo_response__descriptor,
                             kumo_arena_allocator(arena), NULL, defer_done, &d, NULL),
                         KUMO_CODE_OK);
    int done = 0, queued = 1;
    for (int i = 0; i < 500 && (done < N || queued); i++) {
        usleep(10000);
        pthread_mutex_lock(&d.mu);
        done = d.done;
        queued = d.queued;
        pthread_mutex_unlock(&d.mu);
    }
    assert_int_equal(done, N);
    assert_int_equal(queued, 0); /* the last deferral ran */
    assert_int_equal(d.bad, 0);
    assert_true(d.runs >= 1 && d.runs <= N);
    assert_true(pthread_equal(d.run_thread, d.cb_thread)); /* the I/O thread */
    assert_false(pthread_equal(d.run_thread, pthread_self()));
    print_message("%d answers, %d deferred runs\n", N, d.runs);
    kumo_rpc_client_free(c);
    kumo_arena_free(arena);
    pthread_mutex_destroy(&d.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_client_async),
        cmocka_unit_test(test_rpc_client_async_deadline_and_free),
        cmocka_unit_test(test_rpc_client_async_defer),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
