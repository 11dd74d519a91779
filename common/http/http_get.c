/* A bounded HTTP GET over libcurl; see http_get.h. */
#include "http/http_get.h"

#include <stdio.h>

#include "base/errors.h"
#include "http/easy.h"

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_MAX_LEN    (1024 * 1024)

struct sink {
    struct kumo_buf *b;
    size_t max;
    int too_large;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (s->b->len + len > s->max) {
        s->too_large = 1;
        return 0; /* makes curl fail the transfer */
    }
    kumo_buf_append(s->b, data, len);
    return len;
}

int kumo_http_get(const char *url, const struct kumo_http_get_opts *o, struct kumo_buf *body,
                  const char *what, struct kumo_buf *err)
{
    char msg[96];
    snprintf(msg, sizeof msg, "%s: fetch failed", what ? what : "http");
    char errbuf[CURL_ERROR_SIZE];
    CURL *h = kumo_http_easy(url, errbuf);
    if (h == NULL)
        return kumo_buf_error(err, KUMO_ERR_IO, msg, "cannot create a curl handle");
    struct sink s = {body, o && o->max_len ? o->max_len : DEFAULT_MAX_LEN, 0};
    long timeout = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (o && o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    long status;
    CURLcode cc = kumo_http_easy_run(h, &status);
    if (s.too_large) {
        snprintf(msg, sizeof msg, "%s: document too large", what ? what : "http");
        return kumo_buf_error(err, KUMO_ERR_TOO_LARGE, msg, NULL);
    }
    if (cc != CURLE_OK)
        return kumo_buf_error(err, KUMO_ERR_IO, msg, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (status < 200 || status > 299) {
        char st[32];
        snprintf(st, sizeof st, "HTTP %ld", status);
        return kumo_buf_error(err, KUMO_ERR_IO, msg, st);
    }
    return 0;
}
