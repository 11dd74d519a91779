/* http/http_put.c against a one-shot HTTP/1.1 server on a loopback socket:
 * the body and headers arrive as given (no Expect, no Content-Type added),
 * the ETag is kept, non-2xx and refused connections fail with a reason. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/errors.h"
#include "http/http_put.h"

struct server {
    int fd;
    int port;
    const char *answer; /* the whole response */
    char request[8192]; /* what arrived: head and body */
    size_t len;
};

static void *serve_once(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    /* Read the head, then Content-Length bytes of body. */
    size_t want = 0;
    for (;;) {
        ssize_t n = read(c, s->request + s->len, sizeof s->request - 1 - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
        s->request[s->len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        if (end && !want) {
            const char *cl = strstr(s->request, "Content-Length: ");
            want = (size_t)(end + 4 - s->request) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        }
        if (want && s->len >= want)
            break;
    }
    if (write(c, s->answer, strlen(s->answer)) < 0)
        perror("write");
    close(c);
    return NULL;
}

static void server_start(struct server *s, const char *answer, pthread_t *t)
{
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(listen(s->fd, 1), 0);
    assert_int_equal(pthread_create(t, NULL, serve_once, s), 0);
}

static void server_join(struct server *s, pthread_t t)
{
    pthread_join(t, NULL);
    close(s->fd);
}

static void test_put_ok(void **state)
{
    (void)state;
    struct server s;
    pthread_t t;
    server_start(&s,
                 "HTTP/1.1 200 OK\r\nETag: \"abc123\"\r\nContent-Length: 2\r\nConnection: "
                 "close\r\n\r\nok",
                 &t);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bucket/key?X-Amz-Signature=00", s.port);
    struct kumo_http_header h[] = {{"content-type", "application/pdf"},
                                   {"x-amz-checksum-sha256", "AAAA"}};
    struct kumo_http_put_answer ans;
    struct kumo_buf err = KUMO_BUF_INIT;
    struct kumo_http_put_req rq = {url, h, 2, "hello world", 11, 5000, NULL, "test"};
    int rc = kumo_http_put(&rq, &ans, &err);
    server_join(&s, t);
    assert_int_equal(rc, 0);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.etag, "\"abc123\"");
    assert_non_null(strstr(s.request, "PUT /bucket/key?X-Amz-Signature=00 HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "\r\ncontent-type: application/pdf\r\n"));
    assert_non_null(strstr(s.request, "\r\nx-amz-checksum-sha256: AAAA\r\n"));
    assert_non_null(strstr(s.request, "\r\nContent-Length: 11\r\n"));
    assert_null(strstr(s.request, "Expect:"));
    assert_true(s.len >= 11 && memcmp(s.request + s.len - 11, "hello world", 11) == 0);
    kumo_buf_free(&err);
}

static void test_put_refused_status(void **state)
{
    (void)state;
    struct server s;
    pthread_t t;
    server_start(&s, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                 &t);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/k", s.port);
    struct kumo_http_put_answer ans;
    struct kumo_buf err = KUMO_BUF_INIT;
    struct kumo_http_put_req rq = {url, NULL, 0, "x", 1, 5000, NULL, "storing"};
    int rc = kumo_http_put(&rq, &ans, &err);
    server_join(&s, t);
    assert_int_equal(rc, KUMO_ERR_IO);
    assert_int_equal(ans.status, 403);
    assert_string_equal(ans.etag, "");
    kumo_buf_append_byte(&err, 0);
    assert_string_equal((const char *)err.data, "storing: HTTP 403");
    kumo_buf_free(&err);
}

static void test_put_no_server(void **state)
{
    (void)state;
    /* A port nothing listens on: bind one, close it, use it. */
    struct server s;
    pthread_t t;
    server_start(&s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", &t);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/k", s.port);
    struct kumo_http_put_req rq = {url, NULL, 0, "", 0, 5000, NULL, NULL};
    assert_int_equal(kumo_http_put(&rq, NULL, NULL), 0);
    server_join(&s, t);
    struct kumo_buf err = KUMO_BUF_INIT;
    rq.what = "storing";
    assert_int_equal(kumo_http_put(&rq, NULL, &err), KUMO_ERR_IO);
    assert_true(err.len > strlen("storing: "));
    kumo_buf_free(&err);
    /* Other schemes are refused. */
    rq.url = "file:///etc/passwd";
    assert_int_equal(kumo_http_put(&rq, NULL, NULL), KUMO_ERR_IO);
}

/* connect_to: the connection goes elsewhere, the Host header stays the
 * URL's (what a presigned URL signs). */
static void test_put_connect_to(void **state)
{
    (void)state;
    struct server s;
    pthread_t t;
    server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", &t);
    char via[64];
    snprintf(via, sizeof via, "127.0.0.1:%d", s.port);
    struct kumo_http_put_req rq = {
        "http://data.kumo.example:7104/b/k", NULL, 0, "abc", 3, 5000, via, "storing"};
    struct kumo_http_put_answer ans;
    assert_int_equal(kumo_http_put(&rq, &ans, NULL), 0);
    server_join(&s, t);
    assert_int_equal(ans.status, 200);
    assert_non_null(strstr(s.request, "\r\nHost: data.kumo.example:7104\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_ok),
        cmocka_unit_test(test_put_refused_status),
        cmocka_unit_test(test_put_no_server),
        cmocka_unit_test(test_put_connect_to),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
