/* Completion of a multipart upload in the local backend: the listed parts
 * become one object file. Two jobs over the same bytes run side by side:
 * a thread appends the part files to the new object file in the kernel
 * (copy_file_range: no copy through this process where the file system
 * allows it), while the calling thread reads them and computes the
 * object's SHA-256 (and whatever flexible checksum the upload needs). Done
 * one after the other, through one buffer, they took ~1.4 s of one core
 * for 1 GiB on tmpfs; side by side, about the longer of the two. The
 * parts cannot change meanwhile: the caller holds the upload's lock, a
 * part PUT replaces a part by renaming a new file over the name, and the
 * descriptors opened here keep reading the files they opened. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "local.h"

#define HASH_PIECE (256 * 1024)

/* One listed part, checked and opened. */
struct piece {
    int fd;
    int64_t size;
    int use_kept;                /* its checksum in the upload's algorithm was kept */
    uint8_t pck[STG_CK_MAX_LEN]; /* that checksum (or the computed one) */
};

struct appender {
    struct stg_writer *w;
    const struct piece *pieces;
    size_t n;
    enum stg_err e;
};

static void *append_all(void *arg)
{
    struct appender *a = arg;
    for (size_t i = 0; a->e == STG_OK && i < a->n; i++)
        a->e = stg__writer_append_file(a->w, a->pieces[i].fd, a->pieces[i].size);
    return NULL;
}

/* Reads part fd (size bytes) into the object's SHA-256 and the optional
 * checksums (either may be of STG_CK_NONE). */
static enum stg_err hash_piece(const struct piece *p, uint8_t *buf, EVP_MD_CTX *sha,
                               struct stg_cksum *part, struct stg_cksum *whole)
{
    for (int64_t off = 0; off < p->size;) {
        size_t want = p->size - off > HASH_PIECE ? HASH_PIECE : (size_t)(p->size - off);
        ssize_t k = pread(p->fd, buf, want, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return stg__io_error("read part", k < 0 ? errno : EIO);
        EVP_DigestUpdate(sha, buf, (size_t)k);
        stg_ck_update(part, buf, (size_t)k);
        stg_ck_update(whole, buf, (size_t)k);
        off += k;
    }
    return STG_OK;
}

/* Checks part i's listed checksum against the kept one and opens it. */
static enum stg_err open_piece(int dfd, const struct stg_part *want, const struct stg_meta *m,
                               struct piece *p, const char **why)
{
    char name[48];
    stg__part_file(want, name);
    /* The part's checksum: the one its PUT carried (verified by the data
     * port), which a listed one must equal; in the upload's algorithm it is
     * also the part's share of the COMPOSITE value, else that is computed
     * while hashing. */
    enum stg_ck_alg kept_alg = STG_CK_NONE;
    char kept[STG_CK_B64_MAX];
    int has_kept = stg__part_ck(dfd, name, &kept_alg, kept) == 0;
    if (want->ck_alg != STG_CK_NONE && !has_kept) {
        *why = stg_why_part_no_checksum;
        return STG_E_INVALID_PART;
    }
    if (want->ck_alg != STG_CK_NONE && (want->ck_alg != kept_alg || strcmp(want->ck, kept) != 0)) {
        *why = stg_why_part_checksum;
        return STG_E_INVALID_PART;
    }
    p->use_kept = has_kept && kept_alg == m->ck_alg && stg_ck_unb64(kept, kept_alg, p->pck) == 0;
    p->fd = stg__openat(dfd, name, O_RDONLY, 0);
    if (p->fd < 0)
        return stg__io_error("open part", p->fd);
    struct stat sb;
    if (fstat(p->fd, &sb) != 0)
        return stg__io_error("stat part", errno);
    p->size = sb.st_size;
    return STG_OK;
}

/* Formats m->ck_value from the final checksum. */
static void set_ck_value(struct stg_meta *m, const uint8_t *ck, size_t cklen, size_t n)
{
    m->ck_value[0] = '\0';
    if (m->ck_alg == STG_CK_NONE)
        return;
    char b64[STG_CK_B64_MAX];
    stg_ck_b64(ck, cklen, b64);
    /* base64 of at most 32 bytes (44) and "-10000" fit STG_CK_B64_MAX. */
    char v[STG_CK_B64_MAX + 24];
    if (m->ck_type == STG_CK_COMPOSITE)
        snprintf(v, sizeof v, "%s-%zu", b64, n);
    else
        snprintf(v, sizeof v, "%s", b64);
    snprintf(m->ck_value, sizeof m->ck_value, "%.*s", STG_CK_B64_MAX - 1, v);
}

enum stg_err stg__mpu_assemble(struct stg_store *st, int dfd, const struct stg_part *want, size_t n,
                               struct stg_meta *m, struct stg_writer **out, uint8_t md5s[16],
                               const char **why)
{
    struct piece *pieces = kumo_calloc(n, sizeof *pieces);
    for (size_t i = 0; i < n; i++)
        pieces[i].fd = -1;
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md5, EVP_md5(), NULL);
    enum stg_err e = STG_OK;
    for (size_t i = 0; e == STG_OK && i < n; i++) {
        uint8_t raw[16];
        kumo_hex_decode(want[i].etag, 32, raw, 16);
        EVP_DigestUpdate(md5, raw, 16);
        e = open_piece(dfd, &want[i], m, &pieces[i], why);
    }
    unsigned len;
    EVP_DigestFinal_ex(md5, md5s, &len);
    EVP_MD_CTX_free(md5);
    struct stg_writer *w = NULL;
    if (e == STG_OK)
        e = stg__writer_open(st, 0, &w);

    struct appender a = {w, pieces, n, STG_OK};
    pthread_t th;
    int threaded = 0;
    if (e == STG_OK) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 128 * 1024);
        threaded = pthread_create(&th, &attr, append_all, &a) == 0;
        pthread_attr_destroy(&attr);
    }

    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    struct stg_cksum whole, of_parts;
    stg_ck_init(&whole, m->ck_type == STG_CK_FULL_OBJECT ? m->ck_alg : STG_CK_NONE);
    stg_ck_init(&of_parts, m->ck_type == STG_CK_COMPOSITE ? m->ck_alg : STG_CK_NONE);
    uint8_t *buf = kumo_malloc(HASH_PIECE);
    for (size_t i = 0; e == STG_OK && i < n; i++) {
        struct piece *p = &pieces[i];
        struct stg_cksum part;
        stg_ck_init(&part, p->use_kept ? STG_CK_NONE : m->ck_alg);
        e = hash_piece(p, buf, sha, &part, &whole);
        size_t plen = p->use_kept ? stg_ck_len(m->ck_alg) : stg_ck_final(&part, p->pck);
        if (p->use_kept)
            stg_ck_free(&part);
        stg_ck_update(&of_parts, p->pck, plen);
    }
    kumo_free(buf);
    if (threaded)
        pthread_join(th, NULL);
    else if (e == STG_OK)
        append_all(&a);
    if (e == STG_OK)
        e = a.e;

    uint8_t object_sha[32];
    EVP_DigestFinal_ex(sha, object_sha, &len);
    EVP_MD_CTX_free(sha);
    uint8_t ck[STG_CK_MAX_LEN];
    size_t cklen = stg_ck_final(m->ck_type == STG_CK_COMPOSITE ? &of_parts : &whole, ck);
    stg_ck_free(&of_parts);
    stg_ck_free(&whole);
    for (size_t i = 0; i < n; i++)
        if (pieces[i].fd >= 0)
            close(pieces[i].fd);
    kumo_free(pieces);
    if (e != STG_OK) {
        stg_writer_discard(w);
        return e;
    }
    stg__writer_set_sha256(w, object_sha);
    set_ck_value(m, ck, cklen, n);
    *out = w;
    return STG_OK;
}
