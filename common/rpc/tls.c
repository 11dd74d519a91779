/* TLS for the RPC server: TLS 1.2+, ALPN "h2" only (gRPC and Connect over
 * TLS both use HTTP/2 here), and RFC 9113's cipher requirements. */
#include "rpc/internal.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "runtime/log.h"
#include "runtime/metrics.h"

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i < inlen;) {
        unsigned n = in[i];
        if (i + 1 + n > inlen)
            break;
        if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* The certificate's notAfter, for KumoCertificateExpiringSoon: a cert that
 * lapses takes the RPC port down for every TLS client at once. */
static void report_expiry(SSL_CTX *ctx)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    struct tm tm;
    if (x == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return;
    kumo_metrics_gauge_set("kumo_tls_certificate_expiry_timestamp_seconds",
                           "When the RPC port's TLS certificate expires (Unix time).",
                           (int64_t)timegm(&tm));
}

int kumo__tls_server_ctx(const char *cert_file, const char *key_file, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* TLS 1.2 suites allowed by RFC 9113 (AEAD with ephemeral keys). */
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof(err));
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot load TLS certificate or key", "cert", cert_file,
                 "error", err, NULL);
        SSL_CTX_free(ctx);
        return KUMO_ERR_INVALID;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    report_expiry(ctx);
    *out = ctx;
    return 0;
}
