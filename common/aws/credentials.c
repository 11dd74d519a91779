/* AWS credentials provider chain: see aws_credentials.h. HTTP through
 * libcurl (timeouts, no redirects, bounded bodies), STS XML through libxml2,
 * container JSON through jansson. */
#include "aws/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>

#include "base/alloc.h"
#include "base/calendar.h"
#include "base/errors.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "aws/sigv4.h"
#include "sigv4_internal.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_TIMEOUT_MS         5000
#define DEFAULT_REFRESH_MARGIN_S   300
/* After a failed refresh while cached credentials are still valid, wait
 * this long before trying again, so a flapping endpoint is not hammered by
 * every caller. */
#define RETRY_AFTER_S 10
/* Longest server-provided error text kept in last_error. */
#define MAX_ERROR_DETAIL 200

#define ECS_HOST "http://169.254.170.2"

struct kumo_aws_provider {
    enum kumo_aws_source source;
    char *ca_file;
    long connect_timeout_ms;
    long timeout_ms;
    int refresh_margin_s;
    time_t (*clock)(void *ctx);
    void *clock_ctx;

    struct kumo_aws_credentials env; /* KUMO_AWS_SOURCE_ENV */
    char *url;                       /* STS endpoint or container URL */
    char *role_arn;                  /* web identity */
    char *token_file;
    char *session_name;
    char *auth_token; /* container: AWS_CONTAINER_AUTHORIZATION_TOKEN */
    char *auth_token_file;

    pthread_mutex_t mu; /* guards everything below */
    struct kumo_aws_credentials cached;
    int have_cached;
    time_t next_attempt;
    char *last_error;
    unsigned long fetches;
};

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;

static void libs_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

/* ---- credentials ---- */

static char *dup_or_null(const char *s)
{
    return s ? kumo_strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        kumo_free(s);
    }
}

void kumo_aws_credentials_copy(struct kumo_aws_credentials *dst,
                               const struct kumo_aws_credentials *src)
{
    dst->access_key_id = dup_or_null(src->access_key_id);
    dst->secret_access_key = dup_or_null(src->secret_access_key);
    dst->session_token = dup_or_null(src->session_token);
    dst->expiration = src->expiration;
}

void kumo_aws_credentials_clear(struct kumo_aws_credentials *c)
{
    if (c == NULL)
        return;
    kumo_free(c->access_key_id);
    wipe_free(c->secret_access_key);
    wipe_free(c->session_token);
    memset(c, 0, sizeof *c);
}

/* ---- time ---- */

/* Parses the zone suffix ("Z", "+HH:MM", "-HH:MM") into seconds east. */
static int parse_zone(const char *s, size_t len, long *offset)
{
    int h, m;
    if (len == 1 && s[0] == 'Z') {
        *offset = 0;
        return 0;
    }
    if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
        kumo__sigv4_digits(s + 1, 2, &h) || kumo__sigv4_digits(s + 4, 2, &m) || h > 23 || m > 59)
        return -1;
    *offset = (s[0] == '+' ? 1 : -1) * (h * 3600L + m * 60L);
    return 0;
}

int kumo__aws_parse_iso8601(const char *s, size_t len, time_t *out)
{
    int y, mo, d, h, mi, se;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':' || kumo__sigv4_digits(s, 4, &y) || kumo__sigv4_digits(s + 5, 2, &mo) ||
        kumo__sigv4_digits(s + 8, 2, &d) || kumo__sigv4_digits(s + 11, 2, &h) ||
        kumo__sigv4_digits(s + 14, 2, &mi) || kumo__sigv4_digits(s + 17, 2, &se))
        return KUMO_ERR_INVALID;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return KUMO_ERR_INVALID;
    }
    long offset;
    if (parse_zone(s + i, len - i, &offset) != 0)
        return KUMO_ERR_INVALID;
    int64_t t;
    if (kumo_utc_seconds(y, mo, d, h, mi, se, &t) != 0)
        return KUMO_ERR_INVALID;
    *out = (time_t)(t - offset);
    return 0;
}

/* ---- response parsers ---- */

/* Appends server-provided text, bounded and without control bytes. */
static void append_detail(struct kumo_buf *err, const char *s)
{
    if (err == NULL || s == NULL)
        return;
    size_t n = 0;
    for (; s[n] && n < MAX_ERROR_DETAIL; n++) {
        unsigned char c = (unsigned char)s[n];
        kumo_buf_append_byte(err, c < 0x20 || c == 0x7f ? '?' : c);
    }
    if (s[n])
        kumo_buf_append_str(err, "...");
}

static void errf(struct kumo_buf *err, const char *s)
{
    if (err != NULL)
        kumo_buf_append_str(err, s);
}

static xmlNode *xml_child(xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0)
            return n;
    return NULL;
}

/* Returns a kumo_malloc'd copy of the text of `node`, or NULL. */
static char *xml_text(xmlNode *node)
{
    if (node == NULL)
        return NULL;
    xmlChar *c = xmlNodeGetContent(node);
    if (c == NULL)
        return NULL;
    char *s = kumo_strdup((const char *)c);
    OPENSSL_cleanse(c, strlen((const char *)c));
    xmlFree(c);
    return s;
}

static int sts_error(xmlNode *root, struct kumo_buf *err)
{
    xmlNode *e = xml_child(root, "Error");
    char *code = xml_text(xml_child(e, "Code"));
    char *msg = xml_text(xml_child(e, "Message"));
    errf(err, "sts: ");
    append_detail(err, code ? code : "UnknownError");
    if (msg != NULL) {
        errf(err, ": ");
        append_detail(err, msg);
    }
    kumo_free(code);
    kumo_free(msg);
    return -EACCES;
}

/* Fills *out from the four text fields; all but the token are required. */
static int fill_creds(char *akid, char *secret, char *token, const char *exp_text, int exp_required,
                      struct kumo_aws_credentials *out, struct kumo_buf *err, const char *who)
{
    time_t exp = 0;
    int ok = akid && *akid && secret && *secret;
    if (ok && exp_text != NULL)
        ok = kumo__aws_parse_iso8601(exp_text, strlen(exp_text), &exp) == 0;
    else if (ok && exp_required)
        ok = 0;
    if (!ok) {
        errf(err, who);
        errf(err, ": response lacks AccessKeyId, SecretAccessKey or a valid Expiration");
        kumo_free(akid);
        wipe_free(secret);
        wipe_free(token);
        return KUMO_ERR_INVALID;
    }
    if (token != NULL && *token == '\0') {
        kumo_free(token);
        token = NULL;
    }
    out->access_key_id = akid;
    out->secret_access_key = secret;
    out->session_token = token;
    out->expiration = exp;
    return 0;
}

int kumo__aws_parse_sts_response(const char *body, size_t len, struct kumo_aws_credentials *out,
                                 struct kumo_buf *err)
{
    pthread_once(&libs_once, libs_init);
    if (len == 0 || len > KUMO_AWS_MAX_RESPONSE) {
        errf(err, "sts: empty or oversized response");
        return KUMO_ERR_INVALID;
    }
    /* No entity substitution, no DTD loading, no network: STS never sends
     * a DOCTYPE, so one is refused outright below. */
    xmlDoc *doc = xmlReadMemory(body, (int)len, "sts.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL || doc->intSubset != NULL || doc->extSubset != NULL) {
        if (doc)
            xmlFreeDoc(doc);
        errf(err, "sts: response is not well-formed XML (or has a DOCTYPE)");
        return KUMO_ERR_INVALID;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    int rc;
    if (root != NULL && strcmp((const char *)root->name, "ErrorResponse") == 0) {
        rc = sts_error(root, err);
    } else if (root == NULL ||
               strcmp((const char *)root->name, "AssumeRoleWithWebIdentityResponse") != 0) {
        errf(err, "sts: unexpected XML document");
        rc = KUMO_ERR_INVALID;
    } else {
        xmlNode *c = xml_child(xml_child(root, "AssumeRoleWithWebIdentityResult"), "Credentials");
        char *exp = xml_text(xml_child(c, "Expiration"));
        rc = fill_creds(xml_text(xml_child(c, "AccessKeyId")),
                        xml_text(xml_child(c, "SecretAccessKey")),
                        xml_text(xml_child(c, "SessionToken")), exp, 1, out, err, "sts");
        kumo_free(exp);
    }
    xmlFreeDoc(doc);
    return rc;
}

static char *json_text(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? kumo_strdup(json_string_value(v)) : NULL;
}

int kumo__aws_parse_container_response(const char *body, size_t len,
                                       struct kumo_aws_credentials *out, struct kumo_buf *err)
{
    if (len == 0 || len > KUMO_AWS_MAX_RESPONSE) {
        errf(err, "container: empty or oversized response");
        return KUMO_ERR_INVALID;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        errf(err, "container: response is not a JSON object");
        return KUMO_ERR_INVALID;
    }
    int rc;
    if (json_object_get(root, "AccessKeyId") == NULL &&
        (json_object_get(root, "code") != NULL || json_object_get(root, "message") != NULL)) {
        char *code = json_text(root, "code"), *msg = json_text(root, "message");
        errf(err, "container: ");
        append_detail(err, code ? code : "error");
        if (msg) {
            errf(err, ": ");
            append_detail(err, msg);
        }
        kumo_free(code);
        kumo_free(msg);
        rc = -EACCES;
    } else {
        char *exp = json_text(root, "Expiration");
        rc = fill_creds(json_text(root, "AccessKeyId"), json_text(root, "SecretAccessKey"),
                        json_text(root, "Token"), exp, 0, out, err, "container");
        kumo_free(exp);
    }
    json_decref(root);
    return rc;
}

/* ---- HTTP ---- */

struct http_resp {
    long status;
    struct kumo_buf body;
    int too_large;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct http_resp *r = ud;
    size_t len = size * n;
    if (r->body.len + len > KUMO_AWS_MAX_RESPONSE) {
        r->too_large = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    kumo_buf_append(&r->body, data, len);
    return len;
}

static void set_error(struct kumo_aws_provider *p, const char *msg)
{
    kumo_free(p->last_error);
    p->last_error = kumo_strdup(msg);
}

/* One bounded HTTP exchange. `post` NULL means GET. */
static int http_do(struct kumo_aws_provider *p, const char *post, struct curl_slist *hdrs,
                   int no_proxy, struct http_resp *r, struct kumo_buf *err)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        errf(err, "http: cannot make a curl handle");
        return KUMO_ERR_IO;
    }
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kumo");
    if (p->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file);
    if (no_proxy) /* link-local/loopback endpoints never go through a proxy */
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (post != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    if (cc == CURLE_OK)
        return 0;
    if (r->too_large) {
        errf(err, "http: response larger than the limit");
        return KUMO_ERR_TOO_LARGE;
    }
    errf(err, "http: ");
    errf(err, curl_easy_strerror(cc));
    return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : KUMO_ERR_IO;
}

/* Reads a token file (trailing whitespace trimmed) into *out. */
static int read_token_file(const char *path, char **out, struct kumo_buf *err)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_buf_reserve(&b, KUMO_AWS_MAX_TOKEN_FILE + 1); /* read in place: no stray copies */
    int rc = kumo_buf_read_file(&b, path, KUMO_AWS_MAX_TOKEN_FILE);
    if (rc < 0 && rc != KUMO_ERR_TOO_LARGE) { /* -errno: opening (or reading) failed */
        OPENSSL_cleanse(b.data, b.cap);
        kumo_buf_free(&b);
        errf(err, "cannot open the token file");
        return KUMO_ERR_IO;
    }
    while (rc == 0 && b.len > 0 && strchr(" \t\r\n", b.data[b.len - 1]) != NULL)
        b.data[--b.len] = '\0';
    if (rc == 0 && (b.len == 0 || memchr(b.data, '\0', b.len) != NULL))
        rc = KUMO_ERR_INVALID;
    if (rc != 0) {
        errf(err,
             rc == KUMO_ERR_TOO_LARGE ? "token file too large" : "token file empty or unreadable");
        if (b.data)
            OPENSSL_cleanse(b.data, b.cap);
        kumo_buf_free(&b);
        return rc;
    }
    *out = kumo_buf_steal(&b, NULL);
    return 0;
}

/* Maps a non-200 status: 4xx is a refusal, anything else a failure. */
static int status_error(long status, int parsed_rc, struct kumo_buf *err)
{
    if (parsed_rc != -EACCES) {
        kumo_buf_reset(err);
        kumo_buf_appendf(err, "http status %ld", status);
    } else {
        kumo_buf_appendf(err, " (http status %ld)", status);
    }
    return status >= 400 && status < 500 ? -EACCES : KUMO_ERR_IO;
}

static void append_form(struct kumo_buf *b, const char *k, const char *v)
{
    if (b->len > 0)
        kumo_buf_append_byte(b, '&');
    kumo_buf_append_str(b, k);
    kumo_buf_append_byte(b, '=');
    kumo_sigv4_uri_encode(v, strlen(v), 0, b);
}

/* The credentials in an answer of STS or the container endpoint (parse:
 * its parser) when the exchange worked (rc 0) and the status is 200; a
 * non-200 answer is an error naming the status and the service's own
 * message. The body is wiped and freed either way. */
static int read_answer(struct http_resp *r, int rc,
                       int (*parse)(const char *, size_t, struct kumo_aws_credentials *,
                                    struct kumo_buf *),
                       struct kumo_aws_credentials *out, struct kumo_buf *err)
{
    if (rc == 0) {
        rc = parse((const char *)r->body.data, r->body.len, out, err);
        if (r->status != 200) {
            if (rc == 0)
                kumo_aws_credentials_clear(out);
            rc = status_error(r->status, rc, err);
        }
    }
    if (r->body.data)
        OPENSSL_cleanse(r->body.data, r->body.len);
    kumo_buf_free(&r->body);
    return rc;
}

static int fetch_web_identity(struct kumo_aws_provider *p, struct kumo_aws_credentials *out,
                              struct kumo_buf *err)
{
    char *token = NULL;
    int rc = read_token_file(p->token_file, &token, err);
    if (rc != 0)
        return rc;
    struct kumo_buf form = KUMO_BUF_INIT;
    append_form(&form, "Action", "AssumeRoleWithWebIdentity");
    append_form(&form, "Version", "2011-06-15");
    append_form(&form, "RoleArn", p->role_arn);
    append_form(&form, "RoleSessionName", p->session_name);
    append_form(&form, "WebIdentityToken", token);
    wipe_free(token);

    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded; "
                                "charset=utf-8");
    h = curl_slist_append(h, "Accept: text/xml");
    struct http_resp r = {0};
    rc = http_do(p, (const char *)form.data, h, 0, &r, err);
    curl_slist_free_all(h);
    OPENSSL_cleanse(form.data, form.len);
    kumo_buf_free(&form);
    return read_answer(&r, rc, kumo__aws_parse_sts_response, out, err);
}

static int fetch_container(struct kumo_aws_provider *p, struct kumo_aws_credentials *out,
                           struct kumo_buf *err)
{
    char *token = NULL;
    int rc = 0;
    if (p->auth_token_file != NULL)
        rc = read_token_file(p->auth_token_file, &token, err);
    else if (p->auth_token != NULL)
        token = kumo_strdup(p->auth_token);
    if (rc != 0)
        return rc;
    if (token != NULL && strpbrk(token, "\r\n") != NULL) {
        wipe_free(token);
        errf(err, "container: authorization token holds a line break");
        return KUMO_ERR_INVALID;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    if (token != NULL) {
        struct kumo_buf line = KUMO_BUF_INIT;
        kumo_buf_appendf(&line, "Authorization: %s", token);
        h = curl_slist_append(h, (const char *)line.data);
        OPENSSL_cleanse(line.data, line.len);
        kumo_buf_free(&line);
        wipe_free(token);
    }
    struct http_resp r = {0};
    rc = http_do(p, NULL, h, 1, &r, err);
    /* curl copied the header lines; wipe ours before freeing */
    for (struct curl_slist *s = h; s; s = s->next)
        OPENSSL_cleanse(s->data, strlen(s->data));
    curl_slist_free_all(h);
    return read_answer(&r, rc, kumo__aws_parse_container_response, out, err);
}

/* ---- provider ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int valid_region(const char *r)
{
    if (strlen(r) > 32)
        return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
            return 0;
    return 1;
}

static int setup_env(struct kumo_aws_provider *p, const char *akid, const char *secret)
{
    p->source = KUMO_AWS_SOURCE_ENV;
    if (akid == NULL || secret == NULL)
        return KUMO_ERR_INVALID;
    p->env.access_key_id = kumo_strdup(akid);
    p->env.secret_access_key = kumo_strdup(secret);
    p->env.session_token = dup_or_null(env("AWS_SESSION_TOKEN"));
    return 0;
}

static int setup_web_identity(struct kumo_aws_provider *p, const char *arn, const char *file)
{
    p->source = KUMO_AWS_SOURCE_WEB_IDENTITY;
    if (arn == NULL || file == NULL)
        return KUMO_ERR_INVALID;
    p->role_arn = kumo_strdup(arn);
    p->token_file = kumo_strdup(file);
    const char *name = env("AWS_ROLE_SESSION_NAME");
    struct kumo_buf b = KUMO_BUF_INIT;
    if (name != NULL)
        kumo_buf_append_str(&b, name);
    else
        kumo_buf_appendf(&b, "kumo-%lld", (long long)time(NULL));
    p->session_name = kumo_buf_steal(&b, NULL);

    const char *override = env("KUMO_AWS_STS_ENDPOINT");
    if (override != NULL) {
        p->url = kumo_strdup(override);
        return 0;
    }
    const char *region = env("AWS_REGION");
    if (region == NULL)
        region = env("AWS_DEFAULT_REGION");
    const char *mode = env("AWS_STS_REGIONAL_ENDPOINTS");
    if (region != NULL && !valid_region(region))
        return KUMO_ERR_INVALID;
    if (region == NULL || (mode != NULL && strcmp(mode, "legacy") == 0))
        p->url = kumo_strdup("https://sts.amazonaws.com/");
    else {
        kumo_buf_appendf(&b, "https://sts.%s.amazonaws.com%s/", region,
                         strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
        p->url = kumo_buf_steal(&b, NULL);
    }
    return 0;
}

/* Plain http is allowed only to loopback and the ECS/EKS agent addresses,
 * as the AWS SDKs require: credentials must not cross a network in clear. */
static int allowed_full_uri(const char *uri)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = 0;
    if (curl_url_set(u, CURLUPART_URL, uri, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (strcmp(scheme, "https") == 0)
            ok = 1;
        else if (strcmp(scheme, "http") == 0)
            ok = strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
                 strcmp(host, "[::1]") == 0 || strcmp(host, "169.254.170.2") == 0 ||
                 strcmp(host, "169.254.170.23") == 0 || strcmp(host, "[fd00:ec2::23]") == 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static int setup_container(struct kumo_aws_provider *p, const char *rel, const char *full)
{
    p->source = KUMO_AWS_SOURCE_CONTAINER;
    if (rel != NULL) {
        if (rel[0] != '/')
            return KUMO_ERR_INVALID;
        struct kumo_buf b = KUMO_BUF_INIT;
        kumo_buf_appendf(&b, ECS_HOST "%s", rel);
        p->url = kumo_buf_steal(&b, NULL);
    } else {
        if (!allowed_full_uri(full))
            return KUMO_ERR_INVALID;
        p->url = kumo_strdup(full);
    }
    p->auth_token = dup_or_null(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    p->auth_token_file = dup_or_null(env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
    return 0;
}

static int setup_source(struct kumo_aws_provider *p)
{
    const char *akid = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    const char *arn = env("AWS_ROLE_ARN"), *file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (akid != NULL || secret != NULL)
        return setup_env(p, akid, secret);
    if (arn != NULL || file != NULL)
        return setup_web_identity(p, arn, file);
    if (rel != NULL || full != NULL)
        return setup_container(p, rel, full);
    return KUMO_ERR_NOT_FOUND;
}

static void provider_release(struct kumo_aws_provider *p)
{
    kumo_aws_credentials_clear(&p->env);
    kumo_aws_credentials_clear(&p->cached);
    kumo_free(p->ca_file);
    kumo_free(p->url);
    kumo_free(p->role_arn);
    kumo_free(p->token_file);
    kumo_free(p->session_name);
    wipe_free(p->auth_token);
    kumo_free(p->auth_token_file);
    kumo_free(p->last_error);
    kumo_free(p);
}

int kumo_aws_provider_new(struct kumo_aws_provider **out,
                          const struct kumo_aws_provider_config *cfg)
{
    static const struct kumo_aws_provider_config defaults;
    if (cfg == NULL)
        cfg = &defaults;
    pthread_once(&libs_once, libs_init);
    struct kumo_aws_provider *p = kumo_calloc(1, sizeof *p);
    p->ca_file = dup_or_null(cfg->ca_file);
    p->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    p->refresh_margin_s =
        cfg->refresh_margin_s > 0 ? cfg->refresh_margin_s : DEFAULT_REFRESH_MARGIN_S;
    p->clock = cfg->clock;
    p->clock_ctx = cfg->clock_ctx;
    int rc = setup_source(p);
    if (rc != 0) {
        if (rc == KUMO_ERR_INVALID)
            kumo_log(KUMO_LOG_ERROR, NULL, "aws credentials source is half configured", "source",
                     kumo_aws_source_name(p->source), NULL);
        provider_release(p);
        return rc;
    }
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void kumo_aws_provider_free(struct kumo_aws_provider *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    provider_release(p);
}

enum kumo_aws_source kumo_aws_provider_source(const struct kumo_aws_provider *p)
{
    return p->source;
}

const char *kumo_aws_source_name(enum kumo_aws_source s)
{
    switch (s) {
    case KUMO_AWS_SOURCE_ENV:
        return "env";
    case KUMO_AWS_SOURCE_WEB_IDENTITY:
        return "web_identity";
    case KUMO_AWS_SOURCE_CONTAINER:
        return "container";
    }
    return "unknown";
}

const char *kumo__aws_provider_url(const struct kumo_aws_provider *p)
{
    return p->url;
}

static time_t now_of(const struct kumo_aws_provider *p)
{
    return p->clock ? p->clock(p->clock_ctx) : time(NULL);
}

static int fresh_enough(const struct kumo_aws_provider *p, time_t now)
{
    return p->have_cached &&
           (p->cached.expiration == 0 || now < p->cached.expiration - p->refresh_margin_s);
}

static int still_valid(const struct kumo_aws_provider *p, time_t now)
{
    return p->have_cached && (p->cached.expiration == 0 || now < p->cached.expiration);
}

static void log_refresh(const struct kumo_aws_provider *p, int rc)
{
    const char *src = kumo_aws_source_name(p->source);
    kumo_metrics_counter_addl(
        "kumo_aws_credentials_refresh_total", "AWS credentials refreshes, by source and outcome.",
        (const char *[]){"source", src, "outcome", rc == 0 ? "ok" : "error", NULL}, 1);
    if (rc == 0) {
        char exp[KUMO_SIGV4_DATE_SIZE] = "never";
        if (p->cached.expiration != 0)
            kumo_sigv4_format_date(p->cached.expiration, exp);
        kumo_log(KUMO_LOG_INFO, NULL, "aws credentials refreshed", "source", src, "expires", exp,
                 NULL);
    } else {
        kumo_log(KUMO_LOG_WARN, NULL, "aws credentials refresh failed", "source", src, "error",
                 p->last_error, NULL);
    }
}

/* Fetches new credentials into the cache. Called with the lock held. */
static int refresh_locked(struct kumo_aws_provider *p, time_t now)
{
    struct kumo_aws_credentials fresh = {0};
    struct kumo_buf err = KUMO_BUF_INIT;
    p->fetches++;
    int rc = p->source == KUMO_AWS_SOURCE_WEB_IDENTITY ? fetch_web_identity(p, &fresh, &err)
                                                       : fetch_container(p, &fresh, &err);
    if (rc == 0 && fresh.expiration != 0 && fresh.expiration <= now) {
        kumo_aws_credentials_clear(&fresh);
        errf(&err, "credentials received are already expired");
        rc = KUMO_ERR_INVALID;
    }
    if (rc == 0) {
        kumo_aws_credentials_clear(&p->cached);
        p->cached = fresh;
        p->have_cached = 1;
        set_error(p, "");
    } else {
        set_error(p, err.data ? (const char *)err.data : "error");
        p->next_attempt = now + RETRY_AFTER_S;
    }
    kumo_buf_free(&err);
    log_refresh(p, rc);
    return rc;
}

int kumo_aws_credentials_get(struct kumo_aws_provider *p, struct kumo_aws_credentials *out)
{
    if (p->source == KUMO_AWS_SOURCE_ENV) {
        kumo_aws_credentials_copy(out, &p->env);
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    time_t now = now_of(p);
    int rc = 0;
    if (!fresh_enough(p, now)) {
        /* Inside the margin with valid credentials, a recent failure
         * defers the next attempt; without them, always try. */
        if (!still_valid(p, now) || now >= p->next_attempt)
            rc = refresh_locked(p, now);
        if (rc != 0 && still_valid(p, now))
            rc = 0;
    }
    if (rc == 0)
        kumo_aws_credentials_copy(out, &p->cached);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void kumo_aws_provider_invalidate(struct kumo_aws_provider *p)
{
    if (p->source == KUMO_AWS_SOURCE_ENV)
        return;
    pthread_mutex_lock(&p->mu);
    kumo_aws_credentials_clear(&p->cached);
    p->have_cached = 0;
    p->next_attempt = 0;
    pthread_mutex_unlock(&p->mu);
}

void kumo_aws_provider_last_error(struct kumo_aws_provider *p, struct kumo_buf *out)
{
    pthread_mutex_lock(&p->mu);
    if (p->last_error != NULL)
        kumo_buf_append_str(out, p->last_error);
    pthread_mutex_unlock(&p->mu);
}

unsigned long kumo_aws_provider_fetch_count(struct kumo_aws_provider *p)
{
    pthread_mutex_lock(&p->mu);
    unsigned long n = p->fetches;
    pthread_mutex_unlock(&p->mu);
    return n;
}
