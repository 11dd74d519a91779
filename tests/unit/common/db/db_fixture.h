/* Fixture shared by test_db_stmt.c, test_db_error.c and test_db_pool.c: one
 * private MariaDB per binary (db_test_server.h) with the kumo_test schema,
 * its users (kumo: TLS required, plain, sock: unix socket only) and a CA
 * that did not sign the server's certificate, plus small pool helpers.
 * Static (inline) definitions: each binary includes it once, after cmocka.h. */
#ifndef KUMO_DB_FIXTURE_H
#define KUMO_DB_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/arena.h"
#include "db/db.h"
#include "db_test_server.h"
#include "runtime/log.h"

static struct test_mariadb srv;
static char other_ca[256]; /* a CA that did not sign the server's cert */

static const char *setup_sql =
    "CREATE DATABASE kumo_test CHARACTER SET utf8mb4;"
    "CREATE USER 'kumo'@'%' IDENTIFIED BY 'kumo-pw' REQUIRE SSL;"
    "GRANT ALL ON kumo_test.* TO 'kumo'@'%';"
    "CREATE USER 'plain'@'%' IDENTIFIED BY 'plain-pw';"
    "GRANT ALL ON kumo_test.* TO 'plain'@'%';"
    "CREATE USER 'sock'@'localhost' IDENTIFIED BY 'sock-pw';"
    "GRANT ALL ON kumo_test.* TO 'sock'@'localhost';"
    "CREATE TABLE kumo_test.rt (id BIGINT AUTO_INCREMENT PRIMARY KEY, i BIGINT NULL,"
    " d DOUBLE NULL, s VARCHAR(255) NULL, b VARBINARY(255) NULL, t DATETIME(6) NULL,"
    " ts TIMESTAMP(6) NULL, big LONGBLOB NULL, txt MEDIUMTEXT NULL, u BIGINT UNSIGNED NULL,"
    " amount DECIMAL(10,2) NULL) CHARACTER SET utf8mb4;"
    "CREATE TABLE kumo_test.users (tenant_id BIGINT NOT NULL, id BIGINT NOT NULL,"
    " email VARCHAR(191) NOT NULL, name VARCHAR(100) NOT NULL, version BIGINT NOT NULL,"
    " PRIMARY KEY (tenant_id, id), UNIQUE KEY uk_users_email (tenant_id, email));"
    "CREATE TABLE kumo_test.locks (id INT PRIMARY KEY, v INT NOT NULL);"
    "INSERT INTO kumo_test.locks VALUES (1, 0), (2, 0);"
    "CREATE TABLE kumo_test.hits (thread INT NOT NULL, n INT NOT NULL);";

static inline int group_setup(void **state)
{
    char cmd[1024];
    (void)state;
    kumo_log_init("test_db", KUMO_LOG_ERROR);
    if (tm_start(&srv, "db") != 0)
        return -1;
    if (tm_sql(&srv, setup_sql) != 0)
        return -1;
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.pem", srv.dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
             " -subj /CN=other -keyout %s/other-ca.key -out %s >/dev/null 2>&1",
             srv.dir, other_ca);
    return system(cmd) == 0 ? 0 : -1;
}

static inline int group_teardown(void **state)
{
    (void)state;
    tm_destroy(&srv);
    return 0;
}

static inline struct kumo_db_options base_opts(void)
{
    struct kumo_db_options o = {0};
    o.host = "127.0.0.1";
    o.port = (unsigned)srv.port;
    o.user = "kumo";
    o.password = "kumo-pw";
    o.database = "kumo_test";
    o.tls_ca_file = srv.ca;
    o.max_conns = 4;
    o.connect_timeout_ms = 3000;
    return o;
}

static inline struct kumo_db *new_pool(const struct kumo_db_options *o)
{
    struct kumo_db *db = NULL;
    assert_int_equal(kumo_db_new(&db, o), 0);
    assert_non_null(db);
    return db;
}

static inline struct kumo_db_conn *get(struct kumo_db *db)
{
    struct kumo_db_conn *c = NULL;
    kumo_code rc = kumo_db_acquire(db, 0, &c);
    if (rc != KUMO_CODE_OK)
        fprintf(stderr, "acquire: %s (%u)\n", kumo_db_last_error()->message,
                kumo_db_last_error()->mysql_errno);
    assert_int_equal(rc, KUMO_CODE_OK);
    return c;
}

static inline int64_t conn_id(struct kumo_db_conn *c)
{
    int64_t id = 0;
    assert_int_equal(
        kumo_db_query_row(c, "SELECT CONNECTION_ID()", NULL, 0, KUMO_DB_OUTS(KUMO_DB_OUT_I64(&id))),
        KUMO_CODE_OK);
    return id;
}

static inline void exec_ok(struct kumo_db_conn *c, const char *sql)
{
    kumo_code rc = kumo_db_exec(c, sql, NULL, 0, NULL);
    if (rc != KUMO_CODE_OK)
        fprintf(stderr, "exec %s: %s\n", sql, kumo_db_last_error()->message);
    assert_int_equal(rc, KUMO_CODE_OK);
}

static inline int64_t locks_v(struct kumo_db_conn *c, int id)
{
    int64_t v = -1;
    assert_int_equal(kumo_db_query_row(c, "SELECT v FROM locks WHERE id = ?",
                                       KUMO_DB_PARAMS(KUMO_DB_I64(id)),
                                       KUMO_DB_OUTS(KUMO_DB_OUT_I64(&v))),
                     KUMO_CODE_OK);
    return v;
}

static inline void set_v(struct kumo_db_conn *c, int id, int v)
{
    assert_int_equal(kumo_db_exec(c, "UPDATE locks SET v = ? WHERE id = ?",
                                  KUMO_DB_PARAMS(KUMO_DB_I64(v), KUMO_DB_I64(id)), NULL),
                     KUMO_CODE_OK);
}

#endif
