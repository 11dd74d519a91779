/* The IAM-mode plumbing of common/db/pool.c: TLS verified or nothing, the
 * token only inside it, the cleartext plugin only. Two kinds of peers:
 *   - a real MariaDB (scripts/mariadb, TLS on; restarted once without TLS);
 *   - tests/unit/common/db/fake_mysql.py, a server that speaks the handshake,
 *     records every raw byte the client sends and reports whether the token
 *     ever crossed the wire in clear (the server-side observation). Its
 *     positive control (a certificate that does verify) shows it does see
 *     the token when it is sent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "db/db.h"
#include "db_test_server.h"
#include "runtime/log.h"

static struct test_mariadb srv;
static const char *server_opts; /* auth_pam loaded when available */
static char certs[256];         /* srv.dir/iam */
static char token[2048];        /* a long (session-token sized) fake RDS token */

static int group_setup(void **state)
{
    char cmd[4096];
    (void)state;
    kumo_log_init("test_db_iam", KUMO_LOG_ERROR);
    memset(&srv, 0, sizeof srv);
    if (access("/usr/lib/mysql/plugin/auth_pam.so", R_OK) == 0)
        server_opts = "--plugin-load-add=auth_pam --pam-use-cleartext-plugin=ON";
    if (tm_mkdtemp(srv.dir, sizeof srv.dir, "dbiam") != 0 ||
        tm_start_opts(&srv, 0, server_opts) != 0)
        return -1;
    if (tm_sql(&srv, "CREATE USER 'native'@'%' IDENTIFIED BY 'native-pw' REQUIRE SSL;") != 0)
        return -1;
    /* Certificates: an unrelated CA and a server cert it signed; and a cert
     * signed by the server's own CA but for another host name. */
    snprintf(certs, sizeof certs, "%s/iam", srv.dir);
    snprintf(
        cmd, sizeof cmd,
        "set -e; mkdir -p %s; cd %s; exec >openssl.log 2>&1;"
        "G='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';"
        "openssl req -x509 $G -days 2 -subj /CN=other-ca -keyout other-ca.key -out other-ca.pem"
        " -addext basicConstraints=critical,CA:TRUE;"
        "openssl req $G -subj /CN=127.0.0.1 -keyout other.key -out other.csr;"
        "printf 'subjectAltName=IP:127.0.0.1\\n' > ip.ext;"
        "openssl x509 -req -in other.csr -CA other-ca.pem -CAkey other-ca.key"
        " -CAcreateserial -days 2 -extfile ip.ext -out other.pem;"
        "openssl req $G -subj /CN=wrong.example -keyout wrong.key -out wrong.csr;"
        "printf 'subjectAltName=DNS:wrong.example\\n' > dns.ext;"
        "openssl x509 -req -in wrong.csr -CA %s/tls/ca.pem -CAkey %s/tls/ca.key"
        " -CAcreateserial -days 2 -extfile dns.ext -out wrong.pem",
        certs, certs, srv.dir, srv.dir);
    if (system(cmd) != 0)
        return -1;
    /* A token shaped like an RDS IAM token with a session token (~1.4 KB). */
    int n = snprintf(token, sizeof token,
                     "127.0.0.1:3306/?Action=connect&DBUser=iam_user"
                     "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAKUMOTEST%%2F20260101"
                     "%%2Fus-east-1%%2Frds-db%%2Faws4_request&X-Amz-Date=20260101T000000Z"
                     "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=");
    memset(token + n, 'Q', 1100);
    snprintf(token + n + 1100, sizeof token - (size_t)n - 1100, "&X-Amz-Signature=KUMOSECRET%s",
             "0123456789abcdef0123456789abcdef0123456789abcdef");
    return 0;
}

static char pam_file[128]; /* /etc/pam.d/kumo-iam-test-<pid>, removed at the end */

static int group_teardown(void **state)
{
    (void)state;
    if (pam_file[0])
        unlink(pam_file);
    tm_destroy(&srv);
    return 0;
}

static int token_calls;

static int token_fn(void *ud, struct kumo_buf *out)
{
    (void)ud;
    token_calls++;
    kumo_buf_append_str(out, token);
    return 0;
}

static struct kumo_db_options iam_opts(int port, const char *ca, const char *user)
{
    struct kumo_db_options o = {0};
    o.host = "127.0.0.1";
    o.port = (unsigned)port;
    o.user = user;
    o.auth = KUMO_DB_AUTH_IAM;
    o.password_fn = token_fn;
    o.tls_ca_file = ca;
    o.connect_timeout_ms = 3000;
    o.reconnect_backoff_ms = -1;
    return o;
}

/* Connects once; returns the code and the MySQL error number. */
static kumo_code try_connect(const struct kumo_db_options *o, unsigned *err)
{
    struct kumo_db *db = NULL;
    struct kumo_db_conn *c;
    kumo_code rc;

    assert_int_equal(kumo_db_new(&db, o), 0);
    rc = kumo_db_acquire(db, 0, &c);
    *err = kumo_db_last_error()->mysql_errno;
    if (rc == KUMO_CODE_OK)
        kumo_db_release(c);
    kumo_db_free(db);
    return rc;
}

/* ---- the fake server ---- */

struct fake {
    pid_t pid;
    FILE *out;
    int port;
};

static void fake_start(struct fake *f, const char *cert, const char *key, int switch_clear)
{
    char script[512], line[256];
    int fds[2];

    tm_path(script, sizeof script, "tests/unit/common/db/fake_mysql.py");
    assert_int_equal(pipe(fds), 0);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        const char *argv[10] = {"/usr/bin/python3", script, "--token", token};
        int n = 4;
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (cert) {
            argv[n++] = "--cert";
            argv[n++] = cert;
            argv[n++] = "--key";
            argv[n++] = key;
        }
        if (switch_clear)
            argv[n++] = "--switch-clear";
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    f->out = fdopen(fds[0], "r");
    assert_non_null(fgets(line, sizeof line, f->out));
    assert_int_equal(sscanf(line, "port=%d", &f->port), 1);
}

/* Reads the fake's report; the caller json_decref()s it. */
static json_t *fake_report(struct fake *f)
{
    char line[4096];
    json_t *j;
    int st;

    assert_non_null(fgets(line, sizeof line, f->out));
    fclose(f->out);
    waitpid(f->pid, &st, 0);
    j = json_loads(line, 0, NULL);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    assert_non_null(s);
    return s;
}

static int jtrue(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

static void cert_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", certs, name);
}

/* ---- against the fake server ---- */

static void test_db_iam_refuses_server_without_tls(void **state)
{
    struct fake f;
    struct kumo_db_options o;
    unsigned err = 0;
    json_t *r;
    (void)state;

    fake_start(&f, NULL, NULL, 0);
    o = iam_opts(f.port, srv.ca, "iam_user");
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 2026); /* "SSL is required, but the server does not support it" */
    r = fake_report(&f);
    assert_string_equal(jstr(r, "tls"), "none");
    assert_false(jtrue(r, "raw_has_token"));
    assert_string_equal(jstr(r, "user"), ""); /* not even an auth packet */
    json_decref(r);
}

static void test_db_iam_refuses_untrusted_certificate(void **state)
{
    struct fake f;
    struct kumo_db_options o;
    char cert[512], key[512];
    unsigned err = 0;
    json_t *r;
    (void)state;

    cert_path(cert, sizeof cert, "other.pem"); /* signed by a CA we do not trust */
    cert_path(key, sizeof key, "other.key");
    fake_start(&f, cert, key, 0);
    o = iam_opts(f.port, srv.ca, "iam_user");
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 2026);
    r = fake_report(&f);
    assert_string_equal(jstr(r, "tls"), "failed");
    assert_false(jtrue(r, "raw_has_token"));
    assert_false(jtrue(r, "auth_has_token"));
    assert_string_equal(jstr(r, "user"), ""); /* no auth packet at all */
    json_decref(r);
}

static void test_db_iam_refuses_wrong_host_name(void **state)
{
    struct fake f;
    struct kumo_db_options o;
    char cert[512], key[512];
    unsigned err = 0;
    json_t *r;
    (void)state;

    cert_path(cert, sizeof cert, "wrong.pem"); /* our CA, but for wrong.example */
    cert_path(key, sizeof key, "wrong.key");
    fake_start(&f, cert, key, 0);
    o = iam_opts(f.port, srv.ca, "iam_user");
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 2026);
    r = fake_report(&f);
    /* The handshake completes on the server's side; the client checks the
     * name right after and hangs up before any auth packet. */
    assert_string_not_equal(jstr(r, "tls"), "none");
    assert_false(jtrue(r, "raw_has_token"));
    assert_false(jtrue(r, "auth_has_token"));
    assert_string_equal(jstr(r, "user"), "");
    json_decref(r);
}

/* Positive control: with a certificate that verifies, the fake does
 * receive the token (so the negative results above mean something), whole,
 * through the cleartext plugin, and only inside TLS. */
static void test_db_iam_token_only_inside_verified_tls(void **state)
{
    struct fake f;
    struct kumo_db_options o;
    char cert[512], key[512];
    unsigned err = 0;
    json_t *r;
    (void)state;

    snprintf(cert, sizeof cert, "%s/tls/server.pem", srv.dir);
    snprintf(key, sizeof key, "%s/tls/server.key", srv.dir);
    fake_start(&f, cert, key, 0);
    o = iam_opts(f.port, srv.ca, "iam_user");
    token_calls = 0;
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 1045); /* the fake denies access */
    assert_int_equal(token_calls, 1);
    r = fake_report(&f);
    assert_string_equal(jstr(r, "tls"), "ok");
    assert_string_equal(jstr(r, "user"), "iam_user");
    assert_string_equal(jstr(r, "auth_plugin"), "mysql_clear_password");
    assert_true(jtrue(r, "auth_has_token"));
    assert_int_equal(json_integer_value(json_object_get(r, "auth_len")), strlen(token));
    assert_false(jtrue(r, "raw_has_token")); /* encrypted on the wire */
    json_decref(r);
}

/* Password mode, no TLS, a hostile server asking for the password in
 * clear: refused (mysql_clear_password is not in password mode's list). */
static void test_db_iam_password_mode_refuses_cleartext_switch(void **state)
{
    struct fake f;
    struct kumo_db_options o = {0};
    unsigned err = 0;
    json_t *r;
    (void)state;

    fake_start(&f, NULL, NULL, 1);
    o.host = "127.0.0.1";
    o.port = (unsigned)f.port;
    o.user = "someone";
    o.password = token; /* the fake watches for these bytes */
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    r = fake_report(&f);
    assert_false(jtrue(r, "switch_answered"));
    assert_false(jtrue(r, "raw_has_token"));
    assert_string_equal(jstr(r, "auth_plugin"), "mysql_native_password");
    json_decref(r);
}

/* ---- against the real server ---- */

static void test_db_iam_real_server_untrusted_ca(void **state)
{
    struct kumo_db_options o;
    char ca[512];
    unsigned err = 0;
    (void)state;

    cert_path(ca, sizeof ca, "other-ca.pem");
    o = iam_opts(srv.port, ca, "native");
    token_calls = 0;
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 2026);
}

static void test_db_iam_real_server_cleartext_plugin_only(void **state)
{
    struct kumo_db_options o = iam_opts(srv.port, srv.ca, "native");
    unsigned err = 0;
    (void)state;

    /* TLS verifies, but the account wants mysql_native_password: the
     * client refuses to switch plugins (CR_PLUGIN_NOT_ALLOWED). */
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 5010);
    /* The same account in password mode works (control). */
    o.auth = KUMO_DB_AUTH_PASSWORD;
    o.password_fn = NULL;
    o.password = "native-pw";
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_OK);
}

/* ---- the whole IAM handshake against an emulated Aurora ----
 * MariaDB's auth_pam with the cleartext plugin, and a PAM service whose
 * pam_exec runs rds_token_verify.py: it accepts only an RDS token for this
 * host:port and user, unexpired, whose SigV4 signature botocore recomputes
 * identically with the test keys. pam_exec passes at most 511 bytes of
 * password, so tokens here carry no session token (~310 bytes); the
 * 1.4 KB session-token case is covered end to end by the fake server
 * above, which receives it whole. Needs root (a file in /etc/pam.d). */

struct mint {
    int ago;    /* seconds in the past */
    int tamper; /* flip the last signature character */
    int calls;
};

static int mint_fn(void *ud, struct kumo_buf *out)
{
    struct mint *m = ud;
    char script[512], cmd[1024], line[4096];
    FILE *p;

    m->calls++;
    tm_path(script, sizeof script, "tests/unit/common/db/rds_token_verify.py");
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s --mint --host 127.0.0.1 --port %d --user iam_user --ago %d",
             script, srv.port, m->ago);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    if (!fgets(line, sizeof line, p)) {
        pclose(p);
        return -1;
    }
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    if (m->tamper)
        line[strlen(line) - 1] = line[strlen(line) - 1] == '0' ? '1' : '0';
    kumo_buf_append_str(out, line);
    return 0;
}

static void last_verdict(char *out, size_t cap)
{
    char path[256], line[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/verify.log", srv.dir);
    out[0] = '\0';
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        snprintf(out, cap, "%s", line);
    fclose(f);
}

static int setup_pam_service(void)
{
    char script[512], abs_script[4096], sql[256];
    FILE *f;

    if (!server_opts || geteuid() != 0 || access("/etc/pam.d", W_OK) != 0)
        return -1;
    tm_path(script, sizeof script, "tests/unit/common/db/rds_token_verify.py");
    if (!realpath(script, abs_script))
        return -1;
    snprintf(pam_file, sizeof pam_file, "/etc/pam.d/kumo-iam-test-%d", (int)getpid());
    f = fopen(pam_file, "w");
    if (!f)
        return -1;
    fprintf(f,
            "auth required pam_exec.so expose_authtok quiet /usr/bin/python3 %s"
            " --host 127.0.0.1 --port %d --log %s/verify.log\n"
            "account required pam_permit.so\n",
            abs_script, srv.port, srv.dir);
    fclose(f);
    snprintf(sql, sizeof sql,
             "CREATE USER 'iam_user'@'%%' IDENTIFIED VIA pam USING '%s' REQUIRE SSL;",
             pam_file + strlen("/etc/pam.d/"));
    return tm_sql(&srv, sql) == 0 ? 0 : -1;
}

static void test_db_iam_full_handshake_with_pam(void **state)
{
    struct mint m = {0, 0, 0};
    struct kumo_db_options o = iam_opts(srv.port, srv.ca, "iam_user");
    struct kumo_db *db = NULL;
    struct kumo_db_conn *c;
    char user[128], verdict[256];
    size_t len = 0;
    unsigned err = 0;
    (void)state;

    if (setup_pam_service() != 0) {
        print_message("skipped: needs root, /etc/pam.d and auth_pam\n");
        skip();
    }
    o.password_fn = mint_fn;
    o.password_ud = &m;
    assert_int_equal(kumo_db_new(&db, &o), 0);
    assert_int_equal(kumo_db_acquire(db, 0, &c), KUMO_CODE_OK);
    assert_int_equal(kumo_db_query_row(c, "SELECT CURRENT_USER()", NULL, 0,
                                       KUMO_DB_OUTS(KUMO_DB_OUT_BUF(user, sizeof user, &len))),
                     KUMO_CODE_OK);
    assert_string_equal(user, "iam_user@%");
    kumo_db_release(c);
    kumo_db_free(db);
    last_verdict(verdict, sizeof verdict);
    assert_memory_equal(verdict, "ok", 2);
    assert_int_equal(m.calls, 1);

    /* A token whose signature does not verify is refused by "Aurora". */
    m.tamper = 1;
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 1045);
    last_verdict(verdict, sizeof verdict);
    assert_string_equal(verdict, "fail: bad signature\n");
    /* So is an expired one (minted 20 minutes ago). */
    m.tamper = 0;
    m.ago = 1200;
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 1045);
    last_verdict(verdict, sizeof verdict);
    assert_string_equal(verdict, "fail: expired\n");
    unlink(pam_file);
    pam_file[0] = '\0';
}

static void test_db_iam_real_server_without_tls(void **state)
{
    struct kumo_db_options o = iam_opts(srv.port, srv.ca, "native");
    int port = srv.port;
    unsigned err = 0;
    (void)state;

    tm_stop(&srv);
    assert_int_equal(tm_start_opts(&srv, port, "--skip-ssl"), 0);
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 2026);
    /* Password mode with a CA set insists on TLS the same way. */
    o.auth = KUMO_DB_AUTH_PASSWORD;
    o.password_fn = NULL;
    o.password = "native-pw";
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_UNAVAILABLE);
    assert_int_equal(err, 2026);
    tm_stop(&srv);
    assert_int_equal(tm_start_opts(&srv, port, server_opts), 0);
    assert_int_equal(try_connect(&o, &err), KUMO_CODE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_iam_refuses_server_without_tls),
        cmocka_unit_test(test_db_iam_refuses_untrusted_certificate),
        cmocka_unit_test(test_db_iam_refuses_wrong_host_name),
        cmocka_unit_test(test_db_iam_token_only_inside_verified_tls),
        cmocka_unit_test(test_db_iam_password_mode_refuses_cleartext_switch),
        cmocka_unit_test(test_db_iam_real_server_untrusted_ca),
        cmocka_unit_test(test_db_iam_real_server_cleartext_plugin_only),
        cmocka_unit_test(test_db_iam_full_handshake_with_pam),
        cmocka_unit_test(test_db_iam_real_server_without_tls),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
