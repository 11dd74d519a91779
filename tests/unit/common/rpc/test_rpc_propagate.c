/* Tests of common/rpc/propagate.c through two real servers: A's handler
 * calls B with the propagated context; B's Echo reports what it received. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "echo_service.h"
#include "kumo/test/v1/echo.pb-c.h"
#include "base/trace.h"
#include "rpc/propagate.h"
#include "rpc/server.h"

static struct kumo_rpc_client *to_b;

/* A's Echo: relays to B, passing the context on, and returns B's answer. */
static kumo_code relay(struct kumo_rpc_call *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response)
{
    struct kumo_rpc_call_options opts;
    kumo_rpc_propagate(call, 1, &opts);
    struct kumo_rpc_status st = {0};
    kumo_code code = kumo_rpc_client_call(to_b, "/kumo.test.v1.EchoService/Echo", request,
                                          &kumo__test__v1__echo_response__descriptor,
                                          kumo_rpc_call_allocator(call), &opts, response, &st);
    if (code != KUMO_CODE_OK)
        code = kumo_rpc_call_error(call, code, "relay: %s", st.message ? st.message : "");
    kumo_rpc_status_clear(&st);
    return code;
}

/* Spans the servers end (base/trace.h exporter). */
static pthread_mutex_t spans_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kumo_trace spans[8];
static char span_names[8][64];
static size_t n_spans;

static void collect_span(const struct kumo_span_end *e)
{
    pthread_mutex_lock(&spans_mu);
    if (n_spans < 8) {
        spans[n_spans] = *e->span;
        snprintf(span_names[n_spans], sizeof span_names[0], "%s %s %s", e->kind, e->name,
                 e->status);
        assert_true(e->end_ns >= e->start_ns);
        n_spans++;
    }
    pthread_mutex_unlock(&spans_mu);
}

static const struct kumo_rpc_method relay_methods[] = {{"Echo", relay, KUMO_RPC_BLOCKING}};

static void test_rpc_propagate_deadline_request_id_auth(void **state)
{
    (void)state;
    kumo_trace_set_exporter(collect_span);
    struct kumo_rpc_server *a, *b;
    struct kumo_rpc_server_config cfg = {.port = 0};
    assert_int_equal(kumo_rpc_server_new(&b, &cfg), 0);
    assert_int_equal(kumo_rpc_server_add_service(b, &kumo_test_echo_service), 0);
    assert_int_equal(kumo_rpc_server_start(b), 0);
    assert_int_equal(kumo_rpc_server_new(&a, &cfg), 0);
    struct kumo_rpc_service relay_svc = {&kumo__test__v1__echo_service__descriptor, relay_methods,
                                         1, NULL};
    assert_int_equal(kumo_rpc_server_add_service(a, &relay_svc), 0);
    assert_int_equal(kumo_rpc_server_start(a), 0);

    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", kumo_rpc_server_port(b));
    struct kumo_rpc_client_config cb = {.target = target};
    assert_int_equal(kumo_rpc_client_new(&to_b, &cb), 0);
    snprintf(target, sizeof(target), "127.0.0.1:%d", kumo_rpc_server_port(a));
    struct kumo_rpc_client_config ca = {.target = target};
    struct kumo_rpc_client *to_a;
    assert_int_equal(kumo_rpc_client_new(&to_a, &ca), 0);

    Kumo__Test__V1__EchoRequest req = KUMO__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "via-a";
    char *names[] = {"authorization", "traceparent", "tracestate"};
    req.echo_headers = names;
    req.n_echo_headers = 3;
    struct kumo_trace client_span;
    assert_int_equal(kumo_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                      "vendor=x1", &client_span),
                     0);
    struct kumo_rpc_call_options opts = {.deadline = kumo_now_ns() + 2000000000LL,
                                         .request_id = "req-123",
                                         .authorization = "Bearer t0ken",
                                         .trace = &client_span};
    ProtobufCMessage *out = NULL;
    struct kumo_rpc_status st = {0};
    assert_int_equal(kumo_rpc_client_call(to_a, "/kumo.test.v1.EchoService/Echo", &req.base,
                                          &kumo__test__v1__echo_response__descriptor, NULL, &opts,
                                          &out, &st),
                     KUMO_CODE_OK);
    Kumo__Test__V1__EchoResponse *resp = (Kumo__Test__V1__EchoResponse *)out;
    assert_string_equal(resp->message, "via-a");
    assert_string_equal(resp->request_id, "req-123");
    assert_true(resp->deadline_ms > 1000 && resp->deadline_ms < 2000);
    assert_int_equal(resp->n_headers, 3);
    assert_string_equal(resp->headers[0]->value, "Bearer t0ken");
    /* B sees the same trace, with A's server span (a child of the client's
     * span, so not the client's span id) as its parent, and the tracestate
     * passed on as is. */
    struct kumo_trace at_b;
    assert_int_equal(kumo_trace_parse(resp->headers[1]->value, resp->headers[2]->value, &at_b), 0);
    assert_string_equal(at_b.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_not_equal(at_b.span_id, "00f067aa0ba902b7");
    assert_int_equal(at_b.flags, 1);
    assert_string_equal(at_b.tracestate, "vendor=x1");
    /* Two server spans ended, B's (the child) first: B's parent is A's span,
     * A's parent the client's span, one trace. */
    pthread_mutex_lock(&spans_mu);
    assert_int_equal(n_spans, 2);
    assert_string_equal(span_names[0], "server /kumo.test.v1.EchoService/Echo ok");
    assert_string_equal(spans[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(spans[1].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(spans[0].parent_span_id, spans[1].span_id);
    assert_string_equal(spans[1].parent_span_id, "00f067aa0ba902b7");
    assert_string_equal(spans[1].span_id, at_b.span_id); /* what B received */
    pthread_mutex_unlock(&spans_mu);
    kumo_trace_set_exporter(NULL);
    protobuf_c_message_free_unpacked(out, NULL);

    kumo_rpc_client_free(to_a);
    kumo_rpc_server_shutdown(a);
    kumo_rpc_server_wait(a);
    kumo_rpc_server_free(a);
    kumo_rpc_client_free(to_b);
    kumo_rpc_server_shutdown(b);
    kumo_rpc_server_wait(b);
    kumo_rpc_server_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_propagate_deadline_request_id_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
