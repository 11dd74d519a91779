/* The flexible checksums of S3 (CRC32, CRC32C, CRC64NVME, SHA1, SHA256):
 * running state, names, and the header each travels in.
 *
 * Libraries: CRC32 is zlib's crc32_z; CRC32C is ISA-L's crc32_iscsi
 * (libisal, hardware-accelerated); SHA-1 and SHA-256 are OpenSSL's.
 * CRC64NVME is written here: no library of Debian 12 computes it (zlib has
 * no CRC64; ISA-L gained crc64_rocksoft, the same CRC, only in 2.31 and
 * Debian 12 ships 2.30; aws-c-checksums is not packaged). */
#include <isa-l/crc.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "base/base64.h"
#include "../storage.h"

/* CRC-64/NVME: polynomial 0xAD93D23594C93659, reflected (0x9A6C9329AC4BC9B5),
 * initial value and final XOR all ones. Slice-by-8 tables. */
#define CRC64NVME_POLY_REFLECTED 0x9A6C9329AC4BC9B5ULL

static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64NVME_POLY_REFLECTED : c >> 1;
        crc64_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc64_table[t][i] =
                (crc64_table[t - 1][i] >> 8) ^ crc64_table[0][crc64_table[t - 1][i] & 0xff];
}

uint64_t stg_crc64nvme(uint64_t crc, const void *data, size_t len)
{
    pthread_once(&crc64_once, crc64_init_tables);
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v = c ^ ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                          (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                          (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
        c = crc64_table[7][v & 0xff] ^ crc64_table[6][(v >> 8) & 0xff] ^
            crc64_table[5][(v >> 16) & 0xff] ^ crc64_table[4][(v >> 24) & 0xff] ^
            crc64_table[3][(v >> 32) & 0xff] ^ crc64_table[2][(v >> 40) & 0xff] ^
            crc64_table[1][(v >> 48) & 0xff] ^ crc64_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ crc64_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

uint32_t stg_crc32c(uint32_t crc, const void *data, size_t len)
{
    /* crc32_iscsi neither inverts on entry nor on exit, and takes an int
     * length: feed it in pieces. */
    uint32_t c = ~crc;
    const uint8_t *p = data;
    while (len > 0) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        c = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, c);
        p += n;
        len -= n;
    }
    return ~c;
}

uint32_t stg_crc32(uint32_t crc, const void *data, size_t len)
{
    return (uint32_t)crc32_z(crc, data, len);
}

static const struct {
    const char *name;
    const char *header;
    const char *xml;
    size_t len;
} algs[] = {
    [STG_CK_NONE] = {"", "", "", 0},
    [STG_CK_CRC32] = {"CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 4},
    [STG_CK_CRC32C] = {"CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C", 4},
    [STG_CK_CRC64NVME] = {"CRC64NVME", "x-amz-checksum-crc64nvme", "ChecksumCRC64NVME", 8},
    [STG_CK_SHA1] = {"SHA1", "x-amz-checksum-sha1", "ChecksumSHA1", 20},
    [STG_CK_SHA256] = {"SHA256", "x-amz-checksum-sha256", "ChecksumSHA256", 32},
};

const char *stg_ck_name(enum stg_ck_alg a)
{
    return algs[a].name;
}

const char *stg_ck_header(enum stg_ck_alg a)
{
    return algs[a].header;
}

const char *stg_ck_xml(enum stg_ck_alg a)
{
    return algs[a].xml;
}

size_t stg_ck_len(enum stg_ck_alg a)
{
    return algs[a].len;
}

enum stg_ck_alg stg_ck_parse(const char *s, size_t len)
{
    for (int a = STG_CK_CRC32; a <= STG_CK_SHA256; a++)
        if (strlen(algs[a].name) == len && strncasecmp(algs[a].name, s, len) == 0)
            return (enum stg_ck_alg)a;
    return STG_CK_NONE;
}

enum stg_ck_alg stg_ck_from_header(const char *name, size_t len)
{
    for (int a = STG_CK_CRC32; a <= STG_CK_SHA256; a++)
        if (strlen(algs[a].header) == len && strncasecmp(algs[a].header, name, len) == 0)
            return (enum stg_ck_alg)a;
    return STG_CK_NONE;
}

void stg_ck_init(struct stg_cksum *c, enum stg_ck_alg a)
{
    memset(c, 0, sizeof *c);
    c->alg = a;
    if (a == STG_CK_SHA1 || a == STG_CK_SHA256) {
        c->md = EVP_MD_CTX_new();
        EVP_DigestInit_ex(c->md, a == STG_CK_SHA1 ? EVP_sha1() : EVP_sha256(), NULL);
    }
}

void stg_ck_update(struct stg_cksum *c, const void *data, size_t len)
{
    switch (c->alg) {
    case STG_CK_CRC32:
        c->c32 = stg_crc32(c->c32, data, len);
        break;
    case STG_CK_CRC32C:
        c->c32 = stg_crc32c(c->c32, data, len);
        break;
    case STG_CK_CRC64NVME:
        c->c64 = stg_crc64nvme(c->c64, data, len);
        break;
    case STG_CK_SHA1:
    case STG_CK_SHA256:
        EVP_DigestUpdate(c->md, data, len);
        break;
    default:
        break;
    }
}

size_t stg_ck_final(struct stg_cksum *c, uint8_t out[STG_CK_MAX_LEN])
{
    unsigned n;
    switch (c->alg) {
    case STG_CK_CRC32:
    case STG_CK_CRC32C:
        for (int i = 0; i < 4; i++)
            out[i] = (uint8_t)(c->c32 >> (24 - 8 * i));
        break;
    case STG_CK_CRC64NVME:
        for (int i = 0; i < 8; i++)
            out[i] = (uint8_t)(c->c64 >> (56 - 8 * i));
        break;
    case STG_CK_SHA1:
    case STG_CK_SHA256:
        EVP_DigestFinal_ex(c->md, out, &n);
        break;
    default:
        break;
    }
    stg_ck_free(c);
    return algs[c->alg].len;
}

void stg_ck_free(struct stg_cksum *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

void stg_ck_b64(const uint8_t *raw, size_t len, char out[STG_CK_B64_MAX])
{
    struct kumo_buf b = KUMO_BUF_INIT;
    kumo_base64_encode(raw, len, 0, 1, &b);
    size_t n = b.len < STG_CK_B64_MAX - 1 ? b.len : STG_CK_B64_MAX - 1;
    memcpy(out, b.data, n);
    out[n] = '\0';
    kumo_buf_free(&b);
}

int stg_ck_unb64(const char *s, enum stg_ck_alg a, uint8_t out[STG_CK_MAX_LEN])
{
    struct kumo_buf b = KUMO_BUF_INIT;
    int ok = a != STG_CK_NONE && strlen(s) < STG_CK_B64_MAX &&
             kumo_base64_decode(s, strlen(s), &b) == 0 && b.len == algs[a].len;
    if (ok)
        memcpy(out, b.data, b.len);
    kumo_buf_free(&b);
    return ok ? 0 : -1;
}
