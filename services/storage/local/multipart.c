/* Multipart uploads in the local backend. An upload is a directory
 * mpu/<id>/ holding upload.json (the final object's settings) and one file
 * per part named <NNNNN>.<ETag hex>, so a part's number, ETag and bytes
 * appear together in one rename. Completion has the parts assembled into a
 * new object file (assemble.c) and commits it like a PUT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "local.h"
#include "runtime/log.h"

#define UPLOAD_FILE   "upload.json"
#define PART_NAME_LEN (5 + 1 + 32)

static pthread_mutex_t *upload_lock(struct stg_store *st, const char *id)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 16 + (unsigned)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    return &st->mpu_locks[v % LOCK_STRIPES];
}

enum stg_err stg_mpu_create(struct stg_store *st, const struct stg_meta *init,
                            char id_out[STG_UPLOAD_ID_LEN + 1])
{
    char id[STG_UPLOAD_ID_LEN + 1], stage[STG_UPLOAD_ID_LEN + 8];
    if (stg__random_hex(STG_UPLOAD_ID_LEN / 2, id) != 0)
        return stg__io_error("random", EIO);
    snprintf(stage, sizeof stage, "%s.mpu", id);
    if (mkdirat(st->tmpfd, stage, 0750) != 0)
        return stg__io_error("create upload", errno);
    int dfd = stg__openat(st->tmpfd, stage, O_RDONLY | O_DIRECTORY, 0);
    enum stg_err e = STG_OK;
    if (dfd < 0) {
        e = stg__io_error("open upload", dfd);
    } else {
        struct stg_meta m;
        stg_meta_copy(&m, init);
        m.gen[0] = '\0';
        m.mtime_ms = stg_now_ms();
        struct kumo_buf b = KUMO_BUF_INIT;
        stg_meta_encode(&m, &b);
        stg_meta_clear(&m);
        int rc = stg__write_atomic(st, dfd, UPLOAD_FILE, b.data, b.len);
        kumo_buf_free(&b);
        close(dfd);
        /* The directory appears under mpu/ complete or not at all. */
        if (rc == 0 && renameat(st->tmpfd, stage, st->mpufd, id) != 0)
            rc = -errno;
        if (rc == 0)
            rc = stg__fsync(st, st->mpufd);
        if (rc != 0)
            e = stg__io_error("create upload", rc);
    }
    if (e != STG_OK) {
        stg__remove_tree(st->tmpfd, stage);
        return e;
    }
    memcpy(id_out, id, sizeof id);
    return STG_OK;
}

/* Opens mpu/<id> and reads its settings, checking the key. */
static enum stg_err open_upload(struct stg_store *st, const char *id, const char *key, int *dfd,
                                struct stg_meta *m)
{
    if (!stg_upload_id_valid(id, strlen(id)))
        return STG_E_NO_SUCH_UPLOAD;
    int fd = stg__openat(st->mpufd, id, O_RDONLY | O_DIRECTORY, 0);
    if (fd == -ENOENT)
        return STG_E_NO_SUCH_UPLOAD;
    if (fd < 0)
        return stg__io_error("open upload", fd);
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = stg__read_small(fd, UPLOAD_FILE, STG_META_FILE_MAX, &b);
    struct stg_meta tmp;
    enum stg_err e = STG_OK;
    if (rc == -ENOENT)
        e = STG_E_NO_SUCH_UPLOAD;
    else if (rc != 0)
        e = stg__io_error("read upload", rc);
    else if (stg_meta_decode((const char *)b.data, b.len, &tmp) != 0)
        e = stg__io_error("decode upload", EINVAL);
    kumo_buf_free(&b);
    if (e == STG_OK && strcmp(tmp.key, key) != 0) {
        stg_meta_clear(&tmp);
        e = STG_E_NO_SUCH_UPLOAD; /* an upload id is only valid with its key */
    }
    if (e != STG_OK) {
        close(fd);
        return e;
    }
    if (m)
        *m = tmp;
    else
        stg_meta_clear(&tmp);
    *dfd = fd;
    return STG_OK;
}

enum stg_err stg_mpu_get(struct stg_store *st, const char *id, const char *key, struct stg_meta *m)
{
    int dfd;
    enum stg_err e = open_upload(st, id, key, &dfd, m);
    if (e == STG_OK)
        close(dfd);
    return e;
}

/* Parses "<NNNNN>.<32 hex>". Returns the part number or 0. */
static int part_name(const char *name, char etag[33])
{
    if (strlen(name) != PART_NAME_LEN || name[5] != '.')
        return 0;
    int n = 0;
    for (int i = 0; i < 5; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        n = n * 10 + (name[i] - '0');
    }
    uint8_t raw[16];
    if (n < 1 || n > STG_PARTS_MAX || kumo_hex_decode(name + 6, 32, raw, 16) != 0)
        return 0;
    if (etag)
        kumo_hex_encode(raw, 16, etag);
    return n;
}

static int cmp_parts(const void *a, const void *b)
{
    const struct stg_part *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

/* Every part file of an upload, sorted by number. */
static enum stg_err scan_parts(int dfd, struct stg_part **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = fdopendir(dup(dfd));
    if (d == NULL)
        return stg__io_error("list parts", errno);
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stg_part p = {0};
        struct stat sb;
        p.number = part_name(e->d_name, p.etag);
        if (p.number == 0 || fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        p.size = sb.st_size;
        p.mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = kumo_realloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = p;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_parts);
    return STG_OK;
}

void stg__part_file(const struct stg_part *p, char out[48])
{
    snprintf(out, 48, "%05d.%s", p->number, p->etag);
}

/* The checksum a part's PUT carried (verified by the data port) is kept
 * beside it in "<part file>.ck" as "<ALG> <base64>": completion compares
 * the listed ones with it, as S3 does, without reading the parts again.
 * scan_parts ignores these names (not PART_NAME_LEN long). */
#define CK_SUFFIX ".ck"

static void ck_file(const char part[48], char out[52])
{
    snprintf(out, 52, "%s" CK_SUFFIX, part);
}

int stg__part_ck(int dfd, const char part[48], enum stg_ck_alg *alg, char b64[STG_CK_B64_MAX])
{
    char name[52];
    ck_file(part, name);
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = stg__read_small(dfd, name, 128, &b);
    const char *s = (const char *)b.data;
    const char *sp = rc == 0 && b.len > 0 ? memchr(s, ' ', b.len) : NULL;
    int out = -1;
    if (sp) {
        size_t vlen = b.len - (size_t)(sp + 1 - s);
        *alg = stg_ck_parse(s, (size_t)(sp - s));
        if (*alg != STG_CK_NONE && vlen > 0 && vlen < STG_CK_B64_MAX) {
            memcpy(b64, sp + 1, vlen);
            b64[vlen] = '\0';
            out = 0;
        }
    }
    kumo_buf_free(&b);
    return out;
}

enum stg_err stg_mpu_put_part(struct stg_store *st, const char *id, const char *key, int number,
                              struct stg_writer *w, enum stg_ck_alg ck_alg, const char *ck,
                              char etag_out[33])
{
    if (!stg_upload_id_valid(id, strlen(id))) {
        stg_writer_discard(w);
        return STG_E_NO_SUCH_UPLOAD;
    }
    /* The ETag: the part's MD5, or without one the part's verified
     * SHA-256 cut to an MD5's length (an opaque quoted value either way,
     * as S3's own part ETags are for SSE-KMS; the file name keeps its
     * shape). */
    uint8_t tag[STG_CK_MAX_LEN];
    int md5 = (w->flags & W_MD5) != 0;
    stg_writer_digests(w, md5 ? tag : NULL, NULL);
    if (!md5 && (ck_alg != STG_CK_SHA256 || ck == NULL || stg_ck_unb64(ck, ck_alg, tag) != 0)) {
        stg_writer_discard(w);
        return stg__io_error("part without MD5 or SHA-256", EINVAL);
    }
    struct stg_part p = {.number = number};
    kumo_hex_encode(tag, 16, p.etag);
    int rc = stg__writer_seal(w);
    if (rc != 0) {
        stg_writer_discard(w);
        return stg__io_error("fsync part", rc);
    }
    pthread_mutex_t *mu = upload_lock(st, id);
    pthread_mutex_lock(mu);
    int dfd;
    enum stg_err e = open_upload(st, id, key, &dfd, NULL);
    if (e == STG_OK) {
        struct stg_part *parts;
        size_t n;
        e = scan_parts(dfd, &parts, &n);
        char name[48], ckname[52];
        /* One file per number: the old one goes before the new one comes,
         * so a listing never sees two. */
        for (size_t i = 0; e == STG_OK && i < n; i++) {
            if (parts[i].number != number)
                continue;
            stg__part_file(&parts[i], name);
            unlinkat(dfd, name, 0);
            ck_file(name, ckname);
            unlinkat(dfd, ckname, 0);
        }
        kumo_free(parts);
        stg__part_file(&p, name);
        ck_file(name, ckname);
        unlinkat(dfd, ckname, 0); /* left by an interrupted PUT of the same bytes */
        if (e == STG_OK && ck_alg != STG_CK_NONE && ck && *ck) {
            char line[STG_CK_B64_MAX + 24];
            int len = snprintf(line, sizeof line, "%s %s", stg_ck_name(ck_alg), ck);
            if ((rc = stg__write_atomic(st, dfd, ckname, line, (size_t)len)) != 0)
                e = stg__io_error("write part checksum", rc);
        }
        if (e == STG_OK && renameat(st->tmpfd, w->name, dfd, name) != 0)
            e = stg__io_error("rename part", errno);
        if (e == STG_OK && (rc = stg__fsync(st, dfd)) != 0)
            e = stg__io_error("fsync upload", rc);
        close(dfd);
    }
    pthread_mutex_unlock(mu);
    if (e != STG_OK) {
        stg_writer_discard(w);
        return e;
    }
    stg__writer_free(w);
    memcpy(etag_out, p.etag, 33);
    return STG_OK;
}

enum stg_err stg_mpu_list(struct stg_store *st, const char *id, const char *key, int after, int max,
                          struct stg_part **parts, size_t *n, int *truncated)
{
    int dfd;
    enum stg_err e = open_upload(st, id, key, &dfd, NULL);
    if (e != STG_OK)
        return e;
    struct stg_part *all;
    size_t total;
    e = scan_parts(dfd, &all, &total);
    close(dfd);
    if (e != STG_OK)
        return e;
    size_t start = 0;
    while (start < total && all[start].number <= after)
        start++;
    size_t count = total - start;
    *truncated = count > (size_t)max;
    if (*truncated)
        count = (size_t)max;
    if (count > 0)
        memmove(all, all + start, count * sizeof *all);
    *parts = all;
    *n = count;
    return STG_OK;
}

static const struct stg_part *find_part(const struct stg_part *have, size_t n, int number)
{
    struct stg_part key = {.number = number};
    return bsearch(&key, have, n, sizeof *have, cmp_parts);
}

/* Checks the wanted list against the stored parts. */
static enum stg_err match_parts(const struct stg_part *want, size_t n, const struct stg_part *have,
                                size_t n_have, int64_t min_part, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        const struct stg_part *p = find_part(have, n_have, want[i].number);
        if (p == NULL || strcmp(p->etag, want[i].etag) != 0) {
            *why = p ? "a part's ETag does not match" : "a listed part was not uploaded";
            return STG_E_INVALID_PART;
        }
        if (i + 1 < n && p->size < min_part) {
            *why = "a part other than the last is smaller than the minimum part size";
            return STG_E_ENTITY_TOO_SMALL;
        }
    }
    return STG_OK;
}

const char stg_why_part_checksum[] = "a part's checksum does not match";
const char stg_why_part_no_checksum[] =
    "a part listed with a checksum was uploaded without one (x-amz-checksum-<algorithm>)";

/* Moves the upload out of sight, then deletes it. */
static void drop_upload(struct stg_store *st, const char *id)
{
    char dead[STG_UPLOAD_ID_LEN + 8];
    snprintf(dead, sizeof dead, "%s.dead", id);
    if (renameat(st->mpufd, id, st->tmpfd, dead) != 0) {
        stg__io_error("remove upload", errno);
        return;
    }
    stg__fsync(st, st->mpufd);
    stg__remove_tree(st->tmpfd, dead);
}

static enum stg_err complete_locked(struct stg_store *st, int dfd, const char *id,
                                    struct stg_meta *m, const struct stg_part *want, size_t n,
                                    int64_t min_part, const char **why)
{
    struct stg_part *have;
    size_t n_have;
    enum stg_err e = scan_parts(dfd, &have, &n_have);
    if (e == STG_OK)
        e = match_parts(want, n, have, n_have, min_part, why);
    kumo_free(have);
    struct stg_writer *w = NULL;
    uint8_t md5s[16];
    if (e == STG_OK)
        e = stg__mpu_assemble(st, dfd, want, n, m, &w, md5s, why);
    if (e != STG_OK)
        return e;
    char hex[33];
    kumo_hex_encode(md5s, 16, hex);
    snprintf(m->etag, sizeof m->etag, "%s-%zu", hex, n);
    m->parts = (int)n;
    m->restore_ready_ms = m->restore_expire_ms = 0;
    e = stg_object_put(st, w, m);
    if (e == STG_OK)
        drop_upload(st, id);
    return e;
}

enum stg_err stg_mpu_complete(struct stg_store *st, const char *id, const char *key,
                              const struct stg_part *want, size_t n, int64_t min_part_size,
                              struct stg_meta *out, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    *why = NULL;
    if (n == 0) {
        *why = "the part list is empty";
        return STG_E_MALFORMED_XML;
    }
    if (!stg_upload_id_valid(id, strlen(id)))
        return STG_E_NO_SUCH_UPLOAD;
    pthread_mutex_t *mu = upload_lock(st, id);
    pthread_mutex_lock(mu);
    int dfd;
    struct stg_meta m;
    enum stg_err e = open_upload(st, id, key, &dfd, &m);
    if (e == STG_OK) {
        e = complete_locked(st, dfd, id, &m, want, n, min_part_size, why);
        close(dfd);
        if (e == STG_OK)
            *out = m;
        else
            stg_meta_clear(&m);
    }
    pthread_mutex_unlock(mu);
    return e;
}

enum stg_err stg_mpu_abort(struct stg_store *st, const char *id, const char *key)
{
    if (!stg_upload_id_valid(id, strlen(id)))
        return STG_E_NO_SUCH_UPLOAD;
    pthread_mutex_t *mu = upload_lock(st, id);
    pthread_mutex_lock(mu);
    int dfd;
    enum stg_err e = open_upload(st, id, key, &dfd, NULL);
    if (e == STG_OK) {
        close(dfd);
        drop_upload(st, id);
    }
    pthread_mutex_unlock(mu);
    return e;
}
