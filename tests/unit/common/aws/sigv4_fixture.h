/* Fixture shared by test_sigv4_sign.c and test_sigv4_verify.c: the fixed
 * clock, keys (permanent, with a session token, expired) and their lookup, and
 * helpers that verify a request with the S3 flavor and check the reason.
 * Static (inline) definitions: each binary includes it once, after cmocka.h. */
#ifndef KUMO_SIGV4_FIXTURE_H
#define KUMO_SIGV4_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "aws/sigv4.h"

#define T0     1440938160 /* 2015-08-30T12:36:00Z */
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN  "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+tok/en=="
#define HOST   "127.0.0.1:9000"

static struct kumo_aws_credentials keys[] = {
    {(char *)"AKIDEXAMPLE", (char *)SECRET, NULL, 0},
    {(char *)"ASIATEMP", (char *)"temp/secret+key", (char *)TOKEN, 0},
    {(char *)"AKIDEXPIRED", (char *)"old", NULL, T0 - 1},
};

static inline const struct kumo_aws_credentials *lookup(void *ctx, const char *akid)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].access_key_id, akid) == 0)
            return &keys[i];
    return NULL;
}

/* ---- helpers ---- */

static struct kumo_sigv4_verifier s3_verifier = {"us-east-1", "s3", KUMO_SIGV4_S3, lookup, NULL};

/* Verifies "path?query" with headers; returns the reason, *res kept. */
static inline enum kumo_sigv4_reason verify_full(const struct kumo_sigv4_verifier *v,
                                                 const char *method, const char *target,
                                                 const struct kumo_sigv4_kv *h, size_t nh,
                                                 time_t now, struct kumo_sigv4_verify_result *res)
{
    const char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    struct kumo_sigv4_verify_request req = {
        method, strlen(method), target, pl, q ? q + 1 : NULL, q ? strlen(q + 1) : 0, h, nh, NULL};
    return kumo_sigv4_verify(v, &req, now, res);
}

static inline enum kumo_sigv4_reason verify_s3(const char *method, const char *target,
                                               const struct kumo_sigv4_kv *h, size_t nh, time_t now)
{
    struct kumo_sigv4_verify_result res;
    enum kumo_sigv4_reason r = verify_full(&s3_verifier, method, target, h, nh, now, &res);
    assert_int_equal(res.reason, r);
    if (r != KUMO_SIGV4_OK)
        assert_non_null(res.message);
    kumo_sigv4_verify_result_free(&res);
    return r;
}

#define KV(n, v) kumo_sigv4_kv_str(n, v)

static inline void expect_reason(enum kumo_sigv4_reason got, enum kumo_sigv4_reason want,
                                 const char *what)
{
    if (got != want)
        fail_msg("%s: got %s, want %s", what, kumo_sigv4_reason_name(got),
                 kumo_sigv4_reason_name(want));
}

#endif
