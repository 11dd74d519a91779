/* The web console (web/, built by `make` into $(BUILD)/web) served at `/`
 * on the HTTP port, beside /api/v1: files under KUMO_WEB_ROOT (default
 * <directory of kumo-bff>/../web), `index.html` for every other path that
 * looks like a client route (history fallback), never for /api/.
 *
 * - Hashed assets (/assets/...) are immutable for a year; everything else
 *   (index.html above all) is `no-cache` with a validator (ETag from size
 *   and mtime, 304 on If-None-Match).
 * - Precompressed siblings written by the console build (`x.br`, `x.gz`)
 *   are sent when the client accepts them: no compression at run time.
 * - Path traversal is impossible twice over: only [A-Za-z0-9._~-] segments
 *   not starting with '.' are accepted, and files are opened relative to
 *   the root with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (openat2) where the
 *   kernel has it.
 * - A strict CSP without inline script; connect-src/img-src also name the
 *   data port's (or the bucket's) origins from KUMO_WEB_CONNECT_SRC, since
 *   uploads and previews go there directly. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "bff.h"
#include "runtime/log.h"

#define STATIC_MAX_FILE (32LL * 1024 * 1024)
#define STATIC_MAX_PATH 512

static int root_fd = -1;
static char *csp;
static int have_openat2 = 1;

static int valid_segment_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-' || ch == '~';
}

int bff__static_path_ok(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || path[0] != '/' || n >= STATIC_MAX_PATH)
        return 0;
    const char *seg = path + 1;
    for (const char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t len = (size_t)(p - seg);
            /* Empty segments ("//") are refused, but a trailing '/' is a
             * client route ("/documents/"). */
            if (len == 0 && *p == '/')
                return 0;
            if (len > 0 && seg[0] == '.')
                return 0; /* ".", "..", and hidden files */
            if (*p == '\0')
                return 1;
            seg = p + 1;
            continue;
        }
        if (!valid_segment_char(*p))
            return 0;
    }
}

static int open_beneath(const char *rel)
{
    if (have_openat2) {
        struct open_how how = {
            .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
        if (fd >= 0 || errno != ENOSYS)
            return (int)fd;
        have_openat2 = 0;
    }
    return openat(root_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static const char *mime_of(const char *path)
{
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff2", "font/woff2"},
        {".wasm", "application/wasm"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcasecmp(dot, map[i][0]) == 0)
                return map[i][1];
    return "application/octet-stream";
}

/* 1 if the Accept-Encoding value lists `coding` with a non-zero q. */
int bff__static_accepts(const char *ae, const char *coding)
{
    if (!ae)
        return 0;
    size_t cl = strlen(coding);
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t tl = (size_t)(p - tok);
        const char *params = p;
        while (*p && *p != ',')
            p++;
        if (tl == cl && strncasecmp(tok, coding, cl) == 0) {
            const char *q = strstr(params, "q=");
            if (q && q < p) {
                double v = strtod(q + 2, NULL);
                return v > 0;
            }
            return 1;
        }
    }
    return 0;
}

/* Opens a regular file `rel` (relative to the root); -1 if there is none. */
static int open_file(const char *rel, struct stat *st)
{
    int fd = open_beneath(rel);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > STATIC_MAX_FILE) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_all(int fd, off_t size, struct kumo_buf *out)
{
    kumo_buf_reset(out);
    kumo_buf_reserve(out, (size_t)size + 1);
    off_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, out->data + got, (size_t)(size - got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += n;
    }
    out->len = (size_t)size;
    out->data[size] = '\0';
    return 0;
}

static void common_headers(struct bff_response *rs)
{
    bff_resp_header(rs, "Content-Security-Policy", csp);
    bff_resp_header(rs, "X-Content-Type-Options", "nosniff");
    bff_resp_header(rs, "Referrer-Policy", "no-referrer");
    bff_resp_header(rs, "X-Frame-Options", "DENY");
    bff_resp_header(rs, "Cross-Origin-Opener-Policy", "same-origin");
}

static void plain(struct bff_response *rs, int status, const char *text)
{
    rs->status = status;
    kumo_buf_reset(&rs->body);
    kumo_buf_append_str(&rs->body, text);
    rs->content_type = "text/plain; charset=utf-8";
    common_headers(rs);
    bff_resp_header(rs, "Cache-Control", "no-store");
}

int bff_static_init(const struct bff_settings *s)
{
    char buf[PATH_MAX];
    const char *root = s->web_root;
    if (root && strcmp(root, "off") == 0)
        return 0;
    if (!root || !*root) {
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 16);
        if (n <= 0)
            return 0;
        buf[n] = '\0';
        char *dir = dirname(buf); /* .../bin */
        size_t dl = strlen(dir);
        memmove(buf, dir, dl + 1);
        snprintf(buf + dl, sizeof buf - dl, "/../web");
        root = buf;
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstatat(fd, "index.html", &st, 0) != 0) {
        if (fd >= 0)
            close(fd);
        kumo_log(s->web_root && *s->web_root ? KUMO_LOG_WARN : KUMO_LOG_INFO, NULL,
                 "web console not served: no index.html", "root", root, NULL);
        return 0;
    }
    root_fd = fd;
    struct kumo_buf b = KUMO_BUF_INIT;
    const char *extra = s->web_connect_src ? s->web_connect_src : "";
    kumo_buf_appendf(&b,
                     "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
                     "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:%s%s; "
                     "connect-src 'self'%s%s; worker-src 'self'; frame-src blob:; "
                     "object-src 'none'; base-uri 'none'; form-action 'self'; "
                     "frame-ancestors 'none'",
                     *extra ? " " : "", extra, *extra ? " " : "", extra);
    csp = kumo_buf_steal(&b, NULL);
    kumo_log(KUMO_LOG_INFO, NULL, "web console served at /", "root", root, NULL);
    return 0;
}

void bff_static_free(void)
{
    if (root_fd >= 0)
        close(root_fd);
    root_fd = -1;
    kumo_free(csp);
    csp = NULL;
}

static int is_api(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

int bff_static_serve(const struct bff_request *rq, struct bff_response *rs)
{
    if (root_fd < 0 || is_api(rq->path))
        return 0;
    int head = strcmp(rq->method, "HEAD") == 0;
    if (strcmp(rq->method, "GET") != 0 && !head)
        return 0; /* the API core answers 404/405 JSON */
    const char *path = rq->path;
    if (!bff__static_path_ok(path)) {
        plain(rs, 404, "not found\n");
        return 1;
    }
    const char *rel = path + 1;
    const char *last = strrchr(path, '/') + 1;
    int asset = strncmp(path, "/assets/", 8) == 0;
    struct stat st;
    int fd = *rel ? open_file(rel, &st) : -1;
    if (fd < 0) {
        /* A client route (no extension in its last segment) gets the app;
         * a missing file (above all a stale hashed asset) a real 404. */
        if (asset || strchr(last, '.')) {
            plain(rs, 404, "not found\n");
            return 1;
        }
        rel = "index.html";
        fd = open_file(rel, &st);
        if (fd < 0) {
            plain(rs, 404, "not found\n");
            return 1;
        }
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    common_headers(rs);
    rs->content_type = mime_of(rel);
    bff_resp_header(rs, "Cache-Control",
                    asset ? "public, max-age=31536000, immutable" : "no-cache");
    bff_resp_header(rs, "ETag", etag);
    bff_resp_header(rs, "Vary", "Accept-Encoding");
    const char *inm = bff_header(rq, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        close(fd);
        rs->status = 304;
        rs->content_type = NULL;
        return 1;
    }
    /* A precompressed sibling, best first. */
    const char *ae = bff_header(rq, "Accept-Encoding");
    static const char *const codings[][2] = {{"br", ".br"}, {"gzip", ".gz"}};
    for (size_t i = 0; i < 2; i++) {
        if (!bff__static_accepts(ae, codings[i][0]))
            continue;
        char zrel[STATIC_MAX_PATH + 8];
        snprintf(zrel, sizeof zrel, "%s%s", rel, codings[i][1]);
        struct stat zst;
        int zfd = open_file(zrel, &zst);
        if (zfd < 0)
            continue;
        close(fd);
        fd = zfd;
        st = zst;
        bff_resp_header(rs, "Content-Encoding", codings[i][0]);
        break;
    }
    /* HEAD reads too: the front-ends send the length and drop the body. */
    int rc = read_all(fd, st.st_size, &rs->body);
    close(fd);
    if (rc != 0) {
        bff_response_clear(rs);
        plain(rs, 500, "cannot read the file\n");
        return 1;
    }
    rs->status = 200;
    return 1;
}
