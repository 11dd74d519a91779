/* Writing a response: headers, JSON bodies, errors, and the REST status
 * and message of an RPC failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "bff.h"
#include "runtime/log.h"
#include "rpc/rpc.h"

static int in_header_text(const struct bff_response *rs, const char *p)
{
    return p >= rs->header_text && p < rs->header_text + sizeof rs->header_text;
}

/* A writable copy of `s` (h2c lowercases names in place): in the
 * response's own text while it fits, else malloc'd. */
static char *header_copy(struct bff_response *rs, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n <= sizeof rs->header_text - rs->header_text_used) {
        char *p = rs->header_text + rs->header_text_used;
        memcpy(p, s, n);
        rs->header_text_used += n;
        return p;
    }
    return kumo_strdup(s);
}

void bff_resp_header(struct bff_response *rs, const char *name, const char *value)
{
    if (rs->n_headers >= BFF_MAX_RESP_HEADERS)
        return;
    rs->header_names[rs->n_headers] = header_copy(rs, name);
    rs->header_values[rs->n_headers] = header_copy(rs, value);
    rs->n_headers++;
}

void bff_response_clear(struct bff_response *rs)
{
    for (size_t i = 0; i < rs->n_headers; i++) {
        if (!in_header_text(rs, rs->header_names[i]))
            kumo_free(rs->header_names[i]);
        if (!in_header_text(rs, rs->header_values[i]))
            kumo_free(rs->header_values[i]);
    }
    rs->n_headers = 0;
    rs->header_text_used = 0;
    kumo_buf_free(&rs->body);
}

void bff_json(struct bff_ctx *c, int status, json_t *obj)
{
    c->rs->status = status;
    kumo_buf_reset(&c->rs->body);
    if (obj) {
        char *s = json_dumps(obj, JSON_COMPACT);
        if (s) {
            kumo_buf_append_str(&c->rs->body, s);
            free(s);
        }
        json_decref(obj);
        c->rs->content_type = "application/json";
    } else {
        c->rs->content_type = NULL;
    }
}

void bff_json_text(struct bff_ctx *c, int status, struct kumo_buf *body)
{
    c->rs->status = status;
    kumo_buf_free(&c->rs->body);
    c->rs->body = *body;
    *body = (struct kumo_buf)KUMO_BUF_INIT;
    c->rs->content_type = "application/json";
}

void bff_error(struct bff_ctx *c, int status, const char *code, const char *message)
{
    bff_json(c, status,
             json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : ""));
}

void bff_rpc_error(struct bff_ctx *c, kumo_code code, const struct kumo_rpc_status *st)
{
    const char *msg = st && st->message ? st->message : "";
    int status = kumo_web_status_from_code(code);
    switch (code) {
    case KUMO_CODE_UNAVAILABLE:
    case KUMO_CODE_INTERNAL:
    case KUMO_CODE_UNKNOWN:
    case KUMO_CODE_DATA_LOSS:
    case KUMO_CODE_UNIMPLEMENTED:
        /* Details of internal failures (addresses, library messages) stay
         * in our log. */
        kumo_log(KUMO_LOG_WARN, c->request_id, "upstream error", "code", kumo_code_name(code),
                 "detail", msg, NULL);
        msg = code == KUMO_CODE_UNAVAILABLE ? "a service is unavailable, try again later"
                                            : "internal error";
        if (code == KUMO_CODE_UNIMPLEMENTED)
            msg = "not implemented";
        break;
    case KUMO_CODE_DEADLINE_EXCEEDED:
        msg = "the request took too long";
        break;
    case KUMO_CODE_UNAUTHENTICATED:
        msg = "missing or invalid credentials";
        bff_resp_header(c->rs, "WWW-Authenticate", "Bearer");
        break;
    default:
        break;
    }
    if (code == KUMO_CODE_RESOURCE_EXHAUSTED) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld",
                 (long long)(st && st->retry_after_s > 0 ? st->retry_after_s : 1));
        bff_resp_header(c->rs, "Retry-After", ra);
    }
    bff_error(c, status, kumo_code_name(code), msg);
}

void bff_etag_header(struct bff_ctx *c, const char *etag)
{
    if (!etag || !*etag)
        return;
    char q[80];
    size_t n = strnlen(etag, sizeof q - 3);
    q[0] = '"';
    memcpy(q + 1, etag, n);
    q[n + 1] = '"';
    q[n + 2] = '\0';
    bff_resp_header(c->rs, "ETag", q);
}
