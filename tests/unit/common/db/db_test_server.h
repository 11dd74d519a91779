/* Test helper shared by the test_db*.c binaries: a private MariaDB started
 * by scripts/mariadb in a temporary directory (tmpfs when available), plus
 * root SQL through its socket. Static functions: each binary includes it. */
#ifndef KUMO_DB_TEST_SERVER_H
#define KUMO_DB_TEST_SERVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct test_mariadb {
    char dir[128];
    char socket[192];
    char ca[192];
    int port;
    int running;
};

/* The repository root, from this header's path (tests are run from it). */
static inline void tm_path(char *out, size_t cap, const char *rel)
{
    const char *src = __FILE__;
    const char *cut = strstr(src, "tests/unit/common/");
    int root_len = cut ? (int)(cut - src) : 0;
    snprintf(out, cap, "%.*s%s", root_len, src, rel);
}

/* Creates an empty temporary directory (tmpfs: InnoDB fsyncs a lot). */
static inline int tm_mkdtemp(char *out, size_t cap, const char *tag)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(out, cap, "%s/kumo-%s-XXXXXX", base, tag);
    return mkdtemp(out) ? 0 : -1;
}

/* Starts (or restarts, on `port`) the server of s->dir with extra mariadbd
 * options (may be NULL). Returns 0 and fills port/socket/ca, or -1. */
static inline int tm_start_opts(struct test_mariadb *s, int port, const char *extra)
{
    char script[512], cmd[1024], line[1024], owner[32];
    FILE *p;
    int ok = 0;

    tm_path(script, sizeof script, "scripts/mariadb");
    snprintf(owner, sizeof owner, "%d", (int)getpid());
    setenv("KUMO_MARIADB_OWNER_PID", owner, 1);
    snprintf(cmd, sizeof cmd, "%s start %s %d %s", script, s->dir, port, extra ? extra : "");
    p = popen(cmd, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "port=%d socket=%191s ca=%191s", &s->port, s->socket, s->ca) == 3)
            ok = 1;
    }
    if (pclose(p) != 0 || !ok) {
        fprintf(stderr, "test_mariadb: start failed: %s\n", cmd);
        return -1;
    }
    s->running = 1;
    return 0;
}

static inline int tm_start(struct test_mariadb *s, const char *tag)
{
    memset(s, 0, sizeof *s);
    if (tm_mkdtemp(s->dir, sizeof s->dir, tag) != 0)
        return -1;
    return tm_start_opts(s, 0, NULL);
}

static inline void tm_stop(struct test_mariadb *s)
{
    char script[512], cmd[1024];

    tm_path(script, sizeof script, "scripts/mariadb");
    snprintf(cmd, sizeof cmd, "%s stop %s", script, s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_mariadb: stop failed\n");
    s->running = 0;
}

/* Stops the server and deletes its directory. */
static inline void tm_destroy(struct test_mariadb *s)
{
    char cmd[256];

    if (s->running)
        tm_stop(s);
    if (strncmp(s->dir, "/dev/shm/kumo-", 14) == 0 || strncmp(s->dir, "/tmp/kumo-", 10) == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_mariadb: cannot remove %s\n", s->dir);
    }
}

/* Runs SQL as root over the socket; returns the client's exit status. */
static inline int tm_sql(const struct test_mariadb *s, const char *sql)
{
    char script[512], cmd[1024];
    FILE *p;

    tm_path(script, sizeof script, "scripts/mariadb");
    snprintf(cmd, sizeof cmd, "%s sql %s -N -B", script, s->dir);
    p = popen(cmd, "w");
    if (!p)
        return -1;
    fputs(sql, p);
    fputs("\n", p);
    return pclose(p);
}

/* Runs a query as root and copies the first line of output into out. */
static inline int tm_sql_value(const struct test_mariadb *s, const char *sql, char *out, size_t cap)
{
    char script[512], cmd[2048];
    FILE *p;

    tm_path(script, sizeof script, "scripts/mariadb");
    snprintf(cmd, sizeof cmd, "%s sql %s -N -B -e \"%s\"", script, s->dir, sql);
    out[0] = '\0';
    p = popen(cmd, "r");
    if (!p)
        return -1;
    if (fgets(out, (int)cap, p))
        out[strcspn(out, "\n")] = '\0';
    return pclose(p);
}

static inline double tm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
