/* A bounded HTTP PUT over libcurl; see http_put.h. */
#include "http/http_put.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"
#include "http/easy.h"

#define DEFAULT_TIMEOUT_MS 30000

struct source {
    const char *p;
    size_t left;
};

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
    struct source *s = ud;
    size_t k = size * n < s->left ? size * n : s->left;
    memcpy(dst, s->p, k);
    s->p += k;
    s->left -= k;
    return k;
}

static size_t on_answer(char *data, size_t size, size_t n, void *ud)
{
    (void)data;
    (void)ud;
    return size * n; /* the answer body is not needed */
}

/* Keeps the ETag response header (curl hands over one header line at a
 * time, CRLF included). */
static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    struct kumo_http_put_answer *a = ud;
    size_t len = size * n;
    if (len > 5 && strncasecmp(line, "etag:", 5) == 0) {
        size_t i = 5, j = len;
        while (i < j && (line[i] == ' ' || line[i] == '\t'))
            i++;
        while (j > i && (line[j - 1] == '\r' || line[j - 1] == '\n' || line[j - 1] == ' '))
            j--;
        if (j - i < sizeof a->etag) {
            memcpy(a->etag, line + i, j - i);
            a->etag[j - i] = '\0';
        }
    }
    return len;
}

static int fail(struct kumo_buf *err, const char *what, const char *detail)
{
    if (err) {
        kumo_buf_append_str(err, what ? what : "http PUT");
        kumo_buf_append_str(err, ": ");
        kumo_buf_append_str(err, detail);
    }
    return KUMO_ERR_IO;
}

int kumo_http_put(const struct kumo_http_put_req *rq, struct kumo_http_put_answer *ans,
                  struct kumo_buf *err)
{
    struct kumo_http_put_answer local;
    if (ans == NULL)
        ans = &local;
    memset(ans, 0, sizeof *ans);
    const char *what = rq->what;
    const struct kumo_http_header *headers = rq->headers;
    size_t n = rq->n_headers;
    char via[300] = "";
    if (rq->connect_to && *rq->connect_to) {
        /* CURLOPT_CONNECT_TO "HOST:PORT:CONNECT-HOST:CONNECT-PORT"; empty
         * HOST and PORT: every connection. */
        if ((size_t)snprintf(via, sizeof via, "::%s", rq->connect_to) >= sizeof via)
            return fail(err, what, "connect_to too long");
    }
    char errbuf[CURL_ERROR_SIZE];
    CURL *h = kumo_http_easy(rq->url, errbuf);
    if (h == NULL)
        return fail(err, what, "cannot create a curl handle");
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    int ok = hl != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        struct kumo_buf line = KUMO_BUF_INIT;
        kumo_buf_appendf(&line, "%s: %s", headers[i].name, headers[i].value);
        struct curl_slist *t = curl_slist_append(hl, (const char *)line.data);
        kumo_buf_free(&line);
        if (t == NULL)
            ok = 0;
        else
            hl = t;
    }
    if (!ok) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        return fail(err, what, "out of memory");
    }
    struct curl_slist *vl = NULL;
    if (via[0] && (vl = curl_slist_append(NULL, via)) == NULL) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        return fail(err, what, "out of memory");
    }
    struct source src = {rq->body, rq->len};
    long timeout_ms = rq->timeout_ms;
    if (vl)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, vl);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->len);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &src);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ans);
    long code;
    CURLcode cc = kumo_http_easy_run(h, &code);
    curl_slist_free_all(hl);
    curl_slist_free_all(vl);
    ans->status = code;
    if (cc != CURLE_OK)
        return fail(err, what, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (code < 200 || code > 299) {
        char st[32];
        snprintf(st, sizeof st, "HTTP %ld", code);
        return fail(err, what, st);
    }
    return 0;
}
