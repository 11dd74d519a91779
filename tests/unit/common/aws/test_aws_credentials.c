/* Tests of common/aws_credentials against local fakes of STS (HTTPS, a
 * throwaway CA) and of the container credentials endpoint, both speaking the
 * documented protocols (tests/unit/common/aws/aws_fakes.py), plus the response
 * parsers on their own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "aws/credentials.h"
#include "base/buf.h"
#include "base/errors.h"
#include "runtime/log.h"

#define ROLE_ARN "arn:aws:iam::123456789012:role/kumo-users"

static char dir[64];
static char fakes_script[4096];
static pid_t fake_pid;
static int fake_in = -1;
static FILE *fake_out;
static int sts_port, container_port;
static time_t clock_offset;

/* ---- fakes ---- */

static time_t test_clock(void *ctx)
{
    (void)ctx;
    return time(NULL) + clock_offset;
}

static void path_in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static int run(const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd %s && %s >/dev/null 2>&1", dir, cmd);
    return system(full);
}

static int make_certs(void)
{
    static const char *const cmds[] = {
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=kumo-aws-test-ca",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other.key -out other.pem -days 2 -subj /CN=kumo-other-ca",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout server.key -out server.csr -subj /CN=sts.test",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf",
    };
    char ext[128];
    path_in_dir(ext, sizeof ext, "ext.cnf");
    FILE *f = fopen(ext, "w");
    if (f == NULL)
        return -1;
    fputs("subjectAltName=IP:127.0.0.1\n", f);
    fclose(f);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (run(cmds[i]) != 0)
            return -1;
    return 0;
}

static int start_fakes(void)
{
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    snprintf(fakes_script, sizeof fakes_script, "%.*s/aws_fakes.py", slash ? (int)(slash - src) : 1,
             slash ? src : ".");
    char cert[128], key[128];
    path_in_dir(cert, sizeof cert, "server.pem");
    path_in_dir(key, sizeof key, "server.key");
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    fake_pid = fork();
    if (fake_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl("/usr/bin/python3", "python3", fakes_script, "--cert", cert, "--key", key,
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fake_in = in[1];
    fake_out = fdopen(out[0], "r");
    struct pollfd pfd = {out[0], POLLIN, 0};
    if (poll(&pfd, 1, 20000) <= 0)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int ok = getline(&line, &cap, fake_out) > 0 &&
             sscanf(line, "READY %d %d", &sts_port, &container_port) == 2;
    free(line);
    return ok ? 0 : -1;
}

/* Sends one command; returns its one-line answer (caller frees). */
static char *fake(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n] = '\n';
    assert_int_equal(write(fake_in, line, (size_t)n + 1), n + 1);
    char *reply = NULL;
    size_t cap = 0;
    assert_true(getline(&reply, &cap, fake_out) > 0);
    return reply;
}

/* Sends a control command the fake must acknowledge. */
static void cmd(const char *line)
{
    char *r = fake("%s", line);
    assert_string_equal(r, "ok\n");
    free(r);
}

static json_t *stats(void)
{
    char *r = fake("stats");
    json_t *j = json_loads(r, 0, NULL);
    free(r);
    assert_non_null(j);
    return j;
}

static long stat_int(const char *key)
{
    json_t *j = stats();
    long v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

static void expect_stat_str(const char *key, const char *want)
{
    json_t *j = stats();
    const char *got = json_string_value(json_object_get(j, key));
    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("fake saw %s=%s, want %s", key, got ? got : "(none)", want);
    json_decref(j);
}

static void write_file(const char *name, const char *content)
{
    char p[128];
    path_in_dir(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "KUMO_AWS_STS_ENDPOINT",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
};

static int reset_state(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    clock_offset = 0;
    cmd("reset");
    cmd("sts ok");
    cmd("container ok");
    cmd("expect-token");
    cmd("expect-auth");
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kumo-aws-creds-XXXXXX");
    if (mkdtemp(dir) == NULL || make_certs() != 0 || start_fakes() != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    close(fake_in);
    if (fake_out)
        fclose(fake_out);
    for (int i = 0; i < 300 && waitpid(fake_pid, NULL, WNOHANG) != fake_pid; i++)
        usleep(10000);
    kill(fake_pid, SIGKILL);
    waitpid(fake_pid, NULL, 0);
    run("rm -f ca.key ca.pem ca.srl other.key other.pem server.key server.csr server.pem "
        "ext.cnf token ctoken log.txt");
    rmdir(dir);
    return 0;
}

/* ---- provider setups ---- */

static char ca_file[128], other_ca[128];

/* The transfer timeout of cases that are not about timeouts: a first TLS
 * handshake (loading the CA bundle) takes seconds under valgrind on a
 * loaded machine. */
#define SLOW_OK_MS 30000

static struct kumo_aws_provider_config config(long timeout_ms)
{
    path_in_dir(ca_file, sizeof ca_file, "ca.pem");
    struct kumo_aws_provider_config c = {ca_file, 1000, timeout_ms, 0, test_clock, NULL};
    return c;
}

static void web_identity_env(const char *token)
{
    char p[128], url[64];
    write_file("token", token);
    path_in_dir(p, sizeof p, "token");
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", sts_port);
    setenv("AWS_ROLE_ARN", ROLE_ARN, 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", p, 1);
    setenv("AWS_ROLE_SESSION_NAME", "kumo-test", 1);
    setenv("KUMO_AWS_STS_ENDPOINT", url, 1);
}

static struct kumo_aws_provider *web_identity_provider(long timeout_ms)
{
    web_identity_env("eyJhbGciOiJSUzI1NiJ9.first.sig\n");
    struct kumo_aws_provider_config c = config(timeout_ms);
    struct kumo_aws_provider *p = NULL;
    assert_int_equal(kumo_aws_provider_new(&p, &c), 0);
    assert_int_equal(kumo_aws_provider_source(p), KUMO_AWS_SOURCE_WEB_IDENTITY);
    return p;
}

static void container_env(void)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/credentials/abc", container_port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
}

static struct kumo_aws_provider *container_provider(void)
{
    container_env();
    struct kumo_aws_provider_config c = config(SLOW_OK_MS);
    struct kumo_aws_provider *p = NULL;
    assert_int_equal(kumo_aws_provider_new(&p, &c), 0);
    assert_int_equal(kumo_aws_provider_source(p), KUMO_AWS_SOURCE_CONTAINER);
    return p;
}

static void expect_last_error(struct kumo_aws_provider *p, const char *needle)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_aws_provider_last_error(p, &b);
    if (b.data == NULL || strstr((char *)b.data, needle) == NULL)
        fail_msg("last error \"%s\" lacks \"%s\"", b.data ? (char *)b.data : "", needle);
    kumo_buf_free(&b);
}

/* ---- environment source ---- */

static void test_aws_credentials_env_source(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    setenv("AWS_ROLE_ARN", ROLE_ARN, 1); /* env credentials come first */
    struct kumo_aws_provider *p = NULL;
    assert_int_equal(kumo_aws_provider_new(&p, NULL), 0);
    assert_int_equal(kumo_aws_provider_source(p), KUMO_AWS_SOURCE_ENV);
    assert_string_equal(kumo_aws_source_name(KUMO_AWS_SOURCE_ENV), "env");
    assert_null(kumo__aws_provider_url(p));
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "AKIDENV");
    assert_string_equal(c.secret_access_key, "envsecret");
    assert_string_equal(c.session_token, "envtoken");
    assert_int_equal(c.expiration, 0);
    /* Read once: later changes to the environment do not leak in. */
    setenv("AWS_SECRET_ACCESS_KEY", "changed", 1);
    kumo_aws_provider_invalidate(p);
    struct kumo_aws_credentials c2 = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c2), 0);
    assert_string_equal(c2.secret_access_key, "envsecret");
    assert_int_equal(kumo_aws_provider_fetch_count(p), 0);
    kumo_aws_credentials_clear(&c);
    kumo_aws_credentials_clear(&c2);
    kumo_aws_credentials_clear(&c2); /* twice is fine */
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_env_partial_or_missing(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = (struct kumo_aws_provider *)0x1;
    assert_int_equal(kumo_aws_provider_new(&p, NULL), KUMO_ERR_NOT_FOUND);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    assert_int_equal(kumo_aws_provider_new(&p, NULL), KUMO_ERR_INVALID);
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
    assert_int_equal(kumo_aws_provider_new(&p, NULL), KUMO_ERR_INVALID);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_ROLE_ARN", ROLE_ARN, 1);
    assert_int_equal(kumo_aws_provider_new(&p, NULL), KUMO_ERR_INVALID);
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent", 1);
    assert_int_equal(kumo_aws_provider_new(&p, NULL), KUMO_ERR_INVALID);
    setenv("AWS_ACCESS_KEY_ID", "", 1); /* empty counts as unset */
    assert_int_equal(kumo_aws_provider_new(&p, NULL), KUMO_ERR_INVALID);
    assert_ptr_equal(p, (struct kumo_aws_provider *)0x1);
}

/* ---- web identity (STS) ---- */

static void test_aws_credentials_web_identity_fetch_and_cache(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {0}, c2 = {0};
    time_t before = time(NULL);
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000001");
    assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCY1EXAMPLEKEY");
    assert_string_equal(c.session_token, "FwoGZXIvYXdzEN1//////////wEaDE+sess/token=");
    assert_true(c.expiration >= before + 3599 && c.expiration <= time(NULL) + 3601);
    /* What STS received: the documented form POST. */
    expect_stat_str("method", "POST");
    expect_stat_str("content_type", "application/x-www-form-urlencoded; charset=utf-8");
    expect_stat_str("action", "AssumeRoleWithWebIdentity");
    expect_stat_str("version", "2011-06-15");
    expect_stat_str("role_arn", ROLE_ARN);
    expect_stat_str("session", "kumo-test");
    expect_stat_str("token", "eyJhbGciOiJSUzI1NiJ9.first.sig");
    /* Cached: no second request, same credentials. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(kumo_aws_credentials_get(p, &c2), 0);
        assert_string_equal(c2.access_key_id, c.access_key_id);
        kumo_aws_credentials_clear(&c2);
    }
    assert_int_equal(stat_int("sts"), 1);
    assert_int_equal(kumo_aws_provider_fetch_count(p), 1);
    expect_last_error(p, "");
    kumo_aws_credentials_clear(&c);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_web_identity_rereads_token_file(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    expect_stat_str("token", "eyJhbGciOiJSUzI1NiJ9.first.sig");
    /* kubelet rotates the projected token; the next refresh must send it. */
    write_file("token", "eyJhbGciOiJSUzI1NiJ9.second.sig");
    cmd("expect-token eyJhbGciOiJSUzI1NiJ9.second.sig");
    clock_offset = 3600 - 290; /* inside the 5 minute margin */
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000002");
    expect_stat_str("token", "eyJhbGciOiJSUzI1NiJ9.second.sig");
    assert_int_equal(stat_int("sts"), 2);
    kumo_aws_credentials_clear(&c);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_refresh_margin_and_expiry(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {0};
    cmd("sts ok 60"); /* expires inside the margin: every get refreshes */
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000002");
    kumo_aws_credentials_clear(&c);
    assert_int_equal(stat_int("sts"), 2);
    cmd("sts ok 3600");
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    clock_offset = 3600 - 320; /* outside the margin: still cached */
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000003");
    kumo_aws_credentials_clear(&c);
    assert_int_equal(stat_int("sts"), 3);
    clock_offset = 3600 - 290;
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000004");
    kumo_aws_credentials_clear(&c);
    /* Invalidation forces a fetch. */
    kumo_aws_provider_invalidate(p);
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000005");
    kumo_aws_credentials_clear(&c);
    assert_int_equal(kumo_aws_provider_fetch_count(p), 5);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_sts_error_surfaced(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {(char *)"untouched", NULL, NULL, 7};
    cmd("expect-token someone-elses-token");
    assert_int_equal(kumo_aws_credentials_get(p, &c), -EACCES);
    assert_string_equal(c.access_key_id, "untouched");
    assert_int_equal(c.expiration, 7);
    expect_last_error(p, "sts: InvalidIdentityToken: Incorrect token audience or signature");
    expect_last_error(p, "http status 400");
    cmd("expect-token");
    cmd("sts error");
    assert_int_equal(kumo_aws_credentials_get(p, &c), -EACCES);
    expect_last_error(p, "ExpiredTokenException");
    cmd("sts 500");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_IO);
    expect_last_error(p, "ServiceUnavailable");
    assert_string_equal(c.access_key_id, "untouched");
    kumo_aws_provider_free(p);
}

static void expect_sts_mode(const char *mode, int want, const char *needle)
{
    struct kumo_aws_provider *p = web_identity_provider(1500);
    struct kumo_aws_credentials c = {0};
    char *r = fake("sts %s", mode);
    assert_string_equal(r, "ok\n");
    free(r);
    int rc = kumo_aws_credentials_get(p, &c);
    if (rc != want)
        fail_msg("sts %s: got %d, want %d", mode, rc, want);
    assert_null(c.access_key_id);
    expect_last_error(p, needle);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_sts_bad_responses(void **state)
{
    (void)state;
    expect_sts_mode("garbage", KUMO_ERR_INVALID, "not well-formed XML");
    expect_sts_mode("missing", KUMO_ERR_INVALID, "lacks AccessKeyId, SecretAccessKey");
    expect_sts_mode("expired", KUMO_ERR_INVALID, "already expired");
    expect_sts_mode("doctype", KUMO_ERR_INVALID, "DOCTYPE");
    expect_sts_mode("wrongroot", KUMO_ERR_INVALID, "unexpected XML document");
    expect_sts_mode("big", KUMO_ERR_TOO_LARGE, "larger than the limit");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    expect_sts_mode("slow", -ETIMEDOUT, "Timeout");
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(secs < 2.9); /* the 1.5 s timeout, not the fake's 3 s */
}

static void test_aws_credentials_token_file_problems(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {0};
    char path[128];
    path_in_dir(path, sizeof path, "token");
    unlink(path);
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_IO);
    expect_last_error(p, "cannot open the token file");
    write_file("token", "  \n");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_INVALID);
    char *big = kumo_malloc(KUMO_AWS_MAX_TOKEN_FILE + 2);
    memset(big, 'a', KUMO_AWS_MAX_TOKEN_FILE + 1);
    big[KUMO_AWS_MAX_TOKEN_FILE + 1] = '\0';
    write_file("token", big);
    kumo_free(big);
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_TOO_LARGE);
    assert_int_equal(stat_int("sts"), 0); /* nothing was sent */
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_stale_cache_used_when_refresh_fails(void **state)
{
    (void)state;
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    cmd("sts error");
    clock_offset = 3600 - 200; /* inside the margin, not expired */
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIAFAKE00000001");
    kumo_aws_credentials_clear(&c);
    assert_int_equal(stat_int("sts"), 2);
    /* Right after a failure the endpoint is left alone for a while. */
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    assert_int_equal(stat_int("sts"), 2);
    clock_offset = 3600 - 180;
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    assert_int_equal(stat_int("sts"), 3);
    /* Expired and still failing: an error, whatever the back-off. */
    clock_offset = 3605;
    assert_int_equal(kumo_aws_credentials_get(p, &c), -EACCES);
    assert_null(c.access_key_id);
    /* Fresh credentials that are already past our clock are refused... */
    cmd("sts ok");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_INVALID);
    expect_last_error(p, "already expired");
    /* ...and accepted once the clocks agree. */
    clock_offset = 0;
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_tls_verification(void **state)
{
    (void)state;
    web_identity_env("tok");
    path_in_dir(other_ca, sizeof other_ca, "other.pem");
    struct kumo_aws_provider_config c = {other_ca, 1000, 3000, 0, NULL, NULL};
    struct kumo_aws_provider *p = NULL;
    assert_int_equal(kumo_aws_provider_new(&p, &c), 0);
    struct kumo_aws_credentials cr = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &cr), KUMO_ERR_IO);
    expect_last_error(p, "http: ");
    kumo_aws_provider_free(p);
    /* The system bundle does not know the test CA either. (Loading the
     * bundle is slow under valgrind: a generous timeout.) */
    c.ca_file = NULL;
    c.connect_timeout_ms = 60000;
    c.timeout_ms = 60000;
    assert_int_equal(kumo_aws_provider_new(&p, &c), 0);
    assert_int_equal(kumo_aws_credentials_get(p, &cr), KUMO_ERR_IO);
    kumo_aws_provider_free(p);
    assert_int_equal(stat_int("sts"), 0);
}

static void expect_endpoint(const char *want)
{
    struct kumo_aws_provider *p = NULL;
    setenv("AWS_ROLE_ARN", ROLE_ARN, 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token", 1);
    int rc = kumo_aws_provider_new(&p, NULL);
    if (want == NULL) {
        assert_int_equal(rc, KUMO_ERR_INVALID);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(kumo__aws_provider_url(p), want);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_sts_endpoint_selection(void **state)
{
    (void)state;
    expect_endpoint("https://sts.amazonaws.com/");
    setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
    expect_endpoint("https://sts.eu-central-1.amazonaws.com/");
    setenv("AWS_REGION", "us-west-2", 1);
    expect_endpoint("https://sts.us-west-2.amazonaws.com/");
    setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy", 1);
    expect_endpoint("https://sts.amazonaws.com/");
    setenv("AWS_STS_REGIONAL_ENDPOINTS", "regional", 1);
    setenv("AWS_REGION", "cn-north-1", 1);
    expect_endpoint("https://sts.cn-north-1.amazonaws.com.cn/");
    setenv("AWS_REGION", "evil.com/x", 1);
    expect_endpoint(NULL);
    setenv("KUMO_AWS_STS_ENDPOINT", "https://sts.internal:8443/", 1);
    expect_endpoint("https://sts.internal:8443/");
}

/* ---- container endpoint ---- */

static void test_aws_credentials_container_fetch_with_token(void **state)
{
    (void)state;
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic a3VtbzpzZWNyZXQ=", 1);
    cmd("expect-auth Basic a3VtbzpzZWNyZXQ=");
    struct kumo_aws_provider *p = container_provider();
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    assert_string_equal(c.access_key_id, "ASIACONT00000001");
    assert_string_equal(c.secret_access_key, "cont/Secret+1");
    assert_string_equal(c.session_token, "IQoJb3JpZ2luX2Vj1//cont+token==");
    assert_true(c.expiration > time(NULL) + 3500);
    expect_stat_str("path", "/v2/credentials/abc");
    expect_stat_str("authorization", "Basic a3VtbzpzZWNyZXQ=");
    kumo_aws_credentials_clear(&c);
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    assert_int_equal(stat_int("container"), 1);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_container_token_file_reread(void **state)
{
    (void)state;
    char path[128];
    write_file("ctoken", "eks-pod-identity-token-A\n");
    path_in_dir(path, sizeof path, "ctoken");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-a-file-is-set", 1);
    struct kumo_aws_provider *p = container_provider();
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    expect_stat_str("authorization", "eks-pod-identity-token-A");
    write_file("ctoken", "eks-pod-identity-token-B");
    kumo_aws_provider_invalidate(p);
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    expect_stat_str("authorization", "eks-pod-identity-token-B");
    /* A token with a line break would inject a header: refused. */
    write_file("ctoken", "tok\r\nX-Evil: 1");
    kumo_aws_provider_invalidate(p);
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_INVALID);
    assert_int_equal(stat_int("container"), 2);
    kumo_aws_provider_free(p);
}

static void test_aws_credentials_container_errors(void **state)
{
    (void)state;
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
    cmd("expect-auth right");
    struct kumo_aws_provider *p = container_provider();
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), -EACCES);
    expect_last_error(p, "container: AccessDeniedException: Authorization token mismatch");
    expect_last_error(p, "http status 401");
    cmd("expect-auth");
    cmd("container garbage");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_INVALID);
    cmd("container missing");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_INVALID);
    cmd("container 500");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_IO);
    expect_last_error(p, "InternalError");
    cmd("container big");
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_TOO_LARGE);
    assert_null(c.access_key_id);
    kumo_aws_provider_free(p);

    /* Nobody listening. */
    int port = container_port;
    container_port = 1; /* never a listening port for us */
    p = container_provider();
    assert_int_equal(kumo_aws_credentials_get(p, &c), KUMO_ERR_IO);
    container_port = port;
    kumo_aws_provider_free(p);
}

static void expect_container_uri(const char *rel, const char *full, int want, const char *url)
{
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel)
        setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", rel, 1);
    if (full)
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    struct kumo_aws_provider *p = NULL;
    int rc = kumo_aws_provider_new(&p, NULL);
    if (rc != want)
        fail_msg("%s / %s: got %d want %d", rel ? rel : "-", full ? full : "-", rc, want);
    if (rc == 0) {
        assert_string_equal(kumo__aws_provider_url(p), url);
        kumo_aws_provider_free(p);
    }
}

static void test_aws_credentials_container_uri_rules(void **state)
{
    (void)state;
    expect_container_uri("/v2/credentials/uuid", NULL, 0,
                         "http://169.254.170.2/v2/credentials/uuid");
    expect_container_uri("/rel", "http://127.0.0.1/x", 0, "http://169.254.170.2/rel");
    expect_container_uri("v2/credentials", NULL, KUMO_ERR_INVALID, NULL);
    expect_container_uri(NULL, "http://169.254.170.23/v1/credentials", 0,
                         "http://169.254.170.23/v1/credentials");
    expect_container_uri(NULL, "http://[fd00:ec2::23]/v1/credentials", 0,
                         "http://[fd00:ec2::23]/v1/credentials");
    expect_container_uri(NULL, "http://localhost:8080/c", 0, "http://localhost:8080/c");
    expect_container_uri(NULL, "http://[::1]/c", 0, "http://[::1]/c");
    expect_container_uri(NULL, "https://creds.example.com/c", 0, "https://creds.example.com/c");
    expect_container_uri(NULL, "http://creds.example.com/c", KUMO_ERR_INVALID, NULL);
    expect_container_uri(NULL, "http://10.0.0.1/c", KUMO_ERR_INVALID, NULL);
    expect_container_uri(NULL, "ftp://127.0.0.1/c", KUMO_ERR_INVALID, NULL);
    expect_container_uri(NULL, "not a url", KUMO_ERR_INVALID, NULL);
}

/* ---- concurrency ---- */

struct getter {
    struct kumo_aws_provider *p;
    pthread_barrier_t *start;
    int rc;
    char akid[32];
};

static void *get_thread(void *arg)
{
    struct getter *g = arg;
    struct kumo_aws_credentials c = {0};
    pthread_barrier_wait(g->start);
    g->rc = kumo_aws_credentials_get(g->p, &c);
    if (g->rc == 0)
        snprintf(g->akid, sizeof g->akid, "%s", c.access_key_id);
    kumo_aws_credentials_clear(&c);
    return NULL;
}

static void test_aws_credentials_concurrent_gets_fetch_once(void **state)
{
    (void)state;
    cmd("sts slow"); /* every caller arrives while the first fetch is in flight */
    struct kumo_aws_provider *p = web_identity_provider(10000);
    enum { N = 8 };
    pthread_t t[N];
    struct getter g[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        g[i] = (struct getter){p, &start, -1, ""};
        assert_int_equal(pthread_create(&t[i], NULL, get_thread, &g[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(g[i].rc, 0);
        assert_string_equal(g[i].akid, "ASIAFAKE00000001");
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(stat_int("sts"), 1);
    kumo_aws_provider_free(p);
}

/* ---- logging hygiene ---- */

static void test_aws_credentials_secrets_never_logged(void **state)
{
    (void)state;
    char path[128];
    path_in_dir(path, sizeof path, "log.txt");
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    assert_true(fd >= 0);
    kumo_log_set_fd(fd);
    struct kumo_aws_provider *p = web_identity_provider(SLOW_OK_MS);
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo_aws_credentials_get(p, &c), 0);
    kumo_aws_credentials_clear(&c);
    cmd("sts error");
    kumo_aws_provider_invalidate(p);
    assert_int_equal(kumo_aws_credentials_get(p, &c), -EACCES);
    kumo_aws_provider_free(p);
    kumo_log_set_fd(2);
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "aws credentials refreshed"));
    assert_non_null(strstr(buf, "\"source\":\"web_identity\""));
    assert_non_null(strstr(buf, "ExpiredTokenException"));
    assert_null(strstr(buf, "EXAMPLEKEY"));     /* secret access key */
    assert_null(strstr(buf, "FwoGZXIvYXdzEN")); /* session token */
    assert_null(strstr(buf, "first.sig"));      /* web identity token */
}

/* ---- parsers on their own ---- */

/* The example response of the STS API reference. */
static const char sts_doc_example[] =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    "
    "<SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</"
    "SubjectFromWebIdentityToken>\n"
    "    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>\n"
    "      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <Expiration>2014-10-24T23:00:23Z</Expiration>\n"
    "      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "    </Credentials>\n"
    "    <SourceIdentity>SourceIdentityValue</SourceIdentity>\n"
    "    <Provider>www.amazon.com</Provider>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

static void test_aws_credentials_parse_sts_documented_example(void **state)
{
    (void)state;
    struct kumo_aws_credentials c = {0};
    struct kumo_buf err = KUMO_BUF_INIT;
    assert_int_equal(
        kumo__aws_parse_sts_response(sts_doc_example, sizeof sts_doc_example - 1, &c, &err), 0);
    assert_string_equal(c.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
    assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_string_equal(c.session_token, "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
    assert_int_equal(c.expiration, 1414191623);
    kumo_aws_credentials_clear(&c);
    assert_int_equal(err.len, 0);

    static const char e[] = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                            "<Message>Not authorized\nto assume</Message></Error></ErrorResponse>";
    assert_int_equal(kumo__aws_parse_sts_response(e, sizeof e - 1, &c, &err), -EACCES);
    assert_string_equal((char *)err.data, "sts: AccessDenied: Not authorized?to assume");
    kumo_buf_reset(&err);
    static const char *const bad[] = {
        "",
        "<a>",
        "<AssumeRoleWithWebIdentityResponse/>",
        "<!DOCTYPE x SYSTEM \"http://example.com/x.dtd\"><AssumeRoleWithWebIdentityResponse/>",
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
        "<AssumeRoleWithWebIdentityResponse>&b;</AssumeRoleWithWebIdentityResponse>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kumo__aws_parse_sts_response(bad[i], strlen(bad[i]), &c, NULL),
                         KUMO_ERR_INVALID);
        assert_null(c.access_key_id);
    }
    kumo_buf_free(&err);
}

static void test_aws_credentials_parse_container_json(void **state)
{
    (void)state;
    static const char ok[] = "{\"RoleArn\":\"arn:aws:iam::123456789012:role/r\","
                             "\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"s/+\","
                             "\"Token\":\"t==\",\"Expiration\":\"2017-07-18T18:09:51Z\"}";
    struct kumo_aws_credentials c = {0};
    assert_int_equal(kumo__aws_parse_container_response(ok, sizeof ok - 1, &c, NULL), 0);
    assert_string_equal(c.access_key_id, "ASIAX");
    assert_string_equal(c.secret_access_key, "s/+");
    assert_string_equal(c.session_token, "t==");
    assert_int_equal(c.expiration, 1500401391);
    kumo_aws_credentials_clear(&c);
    static const char noexp[] = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}";
    assert_int_equal(kumo__aws_parse_container_response(noexp, sizeof noexp - 1, &c, NULL), 0);
    assert_null(c.session_token);
    assert_int_equal(c.expiration, 0);
    kumo_aws_credentials_clear(&c);
    static const char *const bad[] = {
        "[]",
        "{",
        "{\"AccessKeyId\":\"A\"}",
        "{\"AccessKeyId\":1,\"SecretAccessKey\":\"S\"}",
        "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"tomorrow\"}",
        "{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\",\"SecretAccessKey\":\"S\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kumo__aws_parse_container_response(bad[i], strlen(bad[i]), &c, NULL),
                         KUMO_ERR_INVALID);
    static const char e[] = "{\"code\":\"InvalidToken\",\"message\":\"nope\"}";
    struct kumo_buf err = KUMO_BUF_INIT;
    assert_int_equal(kumo__aws_parse_container_response(e, sizeof e - 1, &c, &err), -EACCES);
    assert_string_equal((char *)err.data, "container: InvalidToken: nope");
    kumo_buf_free(&err);
}

static void test_aws_credentials_parse_iso8601(void **state)
{
    (void)state;
    time_t t;
    assert_int_equal(kumo__aws_parse_iso8601("2015-08-30T12:36:00Z", 20, &t), 0);
    assert_int_equal(t, 1440938160);
    assert_int_equal(kumo__aws_parse_iso8601("2015-08-30T12:36:00.123456Z", 27, &t), 0);
    assert_int_equal(t, 1440938160);
    assert_int_equal(kumo__aws_parse_iso8601("2015-08-30T14:36:00+02:00", 25, &t), 0);
    assert_int_equal(t, 1440938160);
    assert_int_equal(kumo__aws_parse_iso8601("2015-08-30T10:36:00-02:00", 25, &t), 0);
    assert_int_equal(t, 1440938160);
    static const char *const bad[] = {
        "2015-08-30T12:36:00",   "2015-08-30 12:36:00Z",     "2015-02-30T12:36:00Z",
        "2015-08-30T12:36:00.Z", "2015-08-30T12:36:00+2:00", "2015-08-30T25:36:00Z",
        "15-08-30T12:36:00Z",    "2015-08-30T12:36:00ZZ",    "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kumo__aws_parse_iso8601(bad[i], strlen(bad[i]), &t), KUMO_ERR_INVALID);
}

int main(void)
{
    kumo_log_init("test", KUMO_LOG_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_aws_credentials_env_source, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_env_partial_or_missing, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_web_identity_fetch_and_cache, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_web_identity_rereads_token_file, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_refresh_margin_and_expiry, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_sts_error_surfaced, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_sts_bad_responses, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_token_file_problems, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_stale_cache_used_when_refresh_fails,
                               reset_state),
        cmocka_unit_test_setup(test_aws_credentials_tls_verification, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_sts_endpoint_selection, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_concurrent_gets_fetch_once, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_container_fetch_with_token, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_container_token_file_reread, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_container_errors, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_container_uri_rules, reset_state),
        cmocka_unit_test_setup(test_aws_credentials_secrets_never_logged, reset_state),
        cmocka_unit_test(test_aws_credentials_parse_sts_documented_example),
        cmocka_unit_test(test_aws_credentials_parse_container_json),
        cmocka_unit_test(test_aws_credentials_parse_iso8601),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
