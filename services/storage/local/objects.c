/* Objects in the local backend: commit, stat, open, delete, copy, storage
 * class and restore. Writers to one key are serialised by a striped mutex
 * (the commit step only: uploads themselves run in parallel); readers take
 * no lock and retry if an overwrite removed the generation they were about
 * to open. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "local.h"
#include "runtime/log.h"

#define OPEN_RETRIES 5

struct loc {
    char hash[65];
    char dir[3];
    char meta[72];
};

static void locate(const char *key, struct loc *l)
{
    kumo_sigv4_sha256_hex(key, strlen(key), l->hash);
    memcpy(l->dir, l->hash, 2);
    l->dir[2] = '\0';
    snprintf(l->meta, sizeof l->meta, "%s.meta", l->hash);
}

static void data_name(const struct loc *l, const char *gen, char out[100])
{
    snprintf(out, 100, "%s.%s", l->hash, gen);
}

static pthread_mutex_t *key_lock(struct stg_store *st, const struct loc *l)
{
    uint8_t v;
    kumo_hex_decode(l->hash + 2, 2, &v, 1);
    return &st->key_locks[v % LOCK_STRIPES];
}

/* Opens obj/<hh>; with `create`, makes it first. Returns fd or -errno. */
static int open_dir(struct stg_store *st, const struct loc *l, int create)
{
    if (create) {
        if (mkdirat(st->objfd, l->dir, 0750) == 0)
            stg__fsync(st, st->objfd);
        else if (errno != EEXIST)
            return -errno;
    }
    return stg__openat(st->objfd, l->dir, O_RDONLY | O_DIRECTORY, 0);
}

/* Reads the sidecar. STG_E_NO_SUCH_KEY if absent; the key inside must be
 * the one asked for. */
static enum stg_err read_meta(int dirfd, const struct loc *l, const char *key, struct stg_meta *m)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = stg__read_small(dirfd, l->meta, STG_META_FILE_MAX, &b);
    if (rc == -ENOENT) {
        kumo_buf_free(&b);
        return STG_E_NO_SUCH_KEY;
    }
    if (rc != 0) {
        kumo_buf_free(&b);
        return stg__io_error("read metadata", rc);
    }
    rc = stg_meta_decode((const char *)b.data, b.len, m);
    kumo_buf_free(&b);
    if (rc != 0 || strcmp(m->key, key) != 0) {
        if (rc == 0)
            stg_meta_clear(m);
        kumo_log(KUMO_LOG_ERROR, NULL, "corrupt metadata sidecar", "file", l->meta, NULL);
        return STG_E_INTERNAL;
    }
    return STG_OK;
}

static enum stg_err write_meta(struct stg_store *st, int dirfd, const struct loc *l,
                               const struct stg_meta *m)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    stg_meta_encode(m, &b);
    int rc = stg__write_atomic(st, dirfd, l->meta, b.data, b.len);
    kumo_buf_free(&b);
    return rc == 0 ? STG_OK : stg__io_error("write metadata", rc);
}

/* Points the sidecar of l at m, whose data file `data` (m->gen) is already
 * in place under dirfd, then drops the previous generation. Under the key
 * lock. On failure removes `data`. */
static enum stg_err publish_locked(struct stg_store *st, int dirfd, const struct loc *l,
                                   struct stg_meta *m, const char *data)
{
    /* The data file must be durable under its name before a sidecar that
     * names it can be. */
    int rc = stg__fsync(st, dirfd);
    struct stg_meta old;
    char old_gen[STG_GEN_LEN + 1] = "";
    if (read_meta(dirfd, l, m->key, &old) == STG_OK) {
        memcpy(old_gen, old.gen, sizeof old_gen);
        stg_meta_clear(&old);
    }
    enum stg_err e = rc == 0 ? write_meta(st, dirfd, l, m) : stg__io_error("fsync", rc);
    if (e != STG_OK) {
        unlinkat(dirfd, data, 0);
        return e;
    }
    if (old_gen[0] && strcmp(old_gen, m->gen) != 0) {
        char prev[100];
        data_name(l, old_gen, prev);
        unlinkat(dirfd, prev, 0);
    }
    return STG_OK;
}

/* Renames the sealed writer file in as a new generation, then points the
 * sidecar at it and drops the previous generation. Under the key lock. */
static enum stg_err commit_locked(struct stg_store *st, int dirfd, const struct loc *l,
                                  struct stg_writer *w, struct stg_meta *m)
{
    char data[100];
    if (stg__random_hex(STG_GEN_LEN / 2, m->gen) != 0)
        return stg__io_error("random", EIO);
    data_name(l, m->gen, data);
    if (renameat(st->tmpfd, w->name, dirfd, data) != 0)
        return stg__io_error("rename object", errno);
    return publish_locked(st, dirfd, l, m, data);
}

/* Commits a writer whose digests are final as m->key. */
static enum stg_err commit(struct stg_store *st, struct stg_writer *w, struct stg_meta *m)
{
    struct loc l;
    locate(m->key, &l);
    int rc = stg__writer_seal(w);
    if (rc != 0) {
        stg_writer_discard(w);
        return stg__io_error("fsync object", rc);
    }
    int dirfd = open_dir(st, &l, 1);
    if (dirfd < 0) {
        stg_writer_discard(w);
        return stg__io_error("open object directory", dirfd);
    }
    pthread_mutex_t *mu = key_lock(st, &l);
    pthread_mutex_lock(mu);
    enum stg_err e = commit_locked(st, dirfd, &l, w, m);
    pthread_mutex_unlock(mu);
    close(dirfd);
    if (e != STG_OK)
        stg_writer_discard(w);
    else
        stg__writer_free(w);
    return e;
}

enum stg_err stg_object_put(struct stg_store *st, struct stg_writer *w, struct stg_meta *m)
{
    uint8_t md5[16];
    stg_writer_digests(w, md5, m->sha256);
    m->size = stg_writer_size(w);
    if (m->parts == 0)
        kumo_hex_encode(md5, 16, m->etag);
    m->mtime_ms = stg_now_ms();
    if (m->storage_class == STG_CLASS_UNSPECIFIED)
        m->storage_class = STG_CLASS_STANDARD;
    return commit(st, w, m);
}

/* Locates `key` and opens its directory: the fd, or -1 with *e set to the
 * I/O error (left as it is when the directory does not exist: the
 * caller's outcome for an absent key). */
static int open_key_dir(struct stg_store *st, const char *key, struct loc *l, enum stg_err *e)
{
    locate(key, l);
    int dirfd = open_dir(st, l, 0);
    if (dirfd < 0 && dirfd != -ENOENT)
        *e = stg__io_error("open object directory", dirfd);
    return dirfd < 0 ? -1 : dirfd;
}

enum stg_err stg_object_stat(struct stg_store *st, const char *key, struct stg_meta *m)
{
    struct loc l;
    enum stg_err e = STG_E_NO_SUCH_KEY;
    int dirfd = open_key_dir(st, key, &l, &e);
    if (dirfd < 0)
        return e;
    e = read_meta(dirfd, &l, key, m);
    close(dirfd);
    return e;
}

static enum stg_err open_data(int dirfd, const struct loc *l, struct stg_meta *m, int *fd,
                              int *retry)
{
    char data[100];
    data_name(l, m->gen, data);
    int f = stg__openat(dirfd, data, O_RDONLY, 0);
    if (f == -ENOENT) {
        *retry = 1; /* overwritten or deleted between the two opens */
        return STG_E_NO_SUCH_KEY;
    }
    if (f < 0)
        return stg__io_error("open object", f);
    struct stat sb;
    if (fstat(f, &sb) != 0 || sb.st_size != m->size) {
        close(f);
        kumo_log(KUMO_LOG_ERROR, NULL, "object size differs from its metadata", "file", data, NULL);
        return STG_E_INTERNAL;
    }
    *fd = f;
    return STG_OK;
}

enum stg_err stg_object_open(struct stg_store *st, const char *key, struct stg_meta *m, int *fd)
{
    struct loc l;
    enum stg_err e = STG_E_NO_SUCH_KEY;
    int dirfd = open_key_dir(st, key, &l, &e);
    if (dirfd < 0)
        return e;
    for (int i = 0; i < OPEN_RETRIES; i++) {
        e = read_meta(dirfd, &l, key, m);
        if (e != STG_OK)
            break;
        int retry = 0;
        e = open_data(dirfd, &l, m, fd, &retry);
        if (e == STG_OK || !retry) {
            if (e != STG_OK)
                stg_meta_clear(m);
            break;
        }
        stg_meta_clear(m);
    }
    close(dirfd);
    return e;
}

/* What runs on a key's sidecar under its lock: `read` is how reading the
 * sidecar went (STG_OK: *m holds it, and the function must clear or keep
 * it). Returns the operation's outcome. */
typedef enum stg_err (*locked_fn)(struct stg_store *st, int dirfd, const struct loc *l,
                                  enum stg_err read, struct stg_meta *m, void *arg);

/* Opens the directory of `key`, takes its lock, reads its sidecar and runs
 * fn; `absent` is the outcome when the directory does not exist. */
static enum stg_err with_sidecar(struct stg_store *st, const char *key, enum stg_err absent,
                                 locked_fn fn, void *arg)
{
    struct loc l;
    enum stg_err e = absent;
    int dirfd = open_key_dir(st, key, &l, &e);
    if (dirfd < 0)
        return e;
    pthread_mutex_t *mu = key_lock(st, &l);
    pthread_mutex_lock(mu);
    struct stg_meta m;
    e = fn(st, dirfd, &l, read_meta(dirfd, &l, key, &m), &m, arg);
    pthread_mutex_unlock(mu);
    close(dirfd);
    return e;
}

static enum stg_err delete_locked(struct stg_store *st, int dirfd, const struct loc *l,
                                  enum stg_err read, struct stg_meta *m, void *arg)
{
    int *existed = arg;
    if (read != STG_OK)
        return read == STG_E_NO_SUCH_KEY ? STG_OK : read;
    char data[100];
    data_name(l, m->gen, data);
    stg_meta_clear(m);
    /* Sidecar first: a crash in between leaves an orphan data file, which
     * the sweep removes, never a sidecar without data. */
    if (unlinkat(dirfd, l->meta, 0) != 0)
        return stg__io_error("unlink metadata", errno);
    stg__fsync(st, dirfd);
    unlinkat(dirfd, data, 0);
    if (existed)
        *existed = 1;
    return STG_OK;
}

enum stg_err stg_object_delete(struct stg_store *st, const char *key, int *existed)
{
    if (existed)
        *existed = 0;
    return with_sidecar(st, key, STG_OK, delete_locked, existed);
}

/* Makes the data file of `src` (generation src_gen) the data of m->key
 * too, by a hard link: a data file never changes once written (every write
 * makes a new generation), so two objects may share one, and the copy
 * costs no I/O whatever the size. Returns STG_OK, an error, or
 * STG_E_NOT_IMPLEMENTED when the file system will not link (or the source
 * was replaced meanwhile): the caller copies the bytes instead. */
static enum stg_err link_put(struct stg_store *st, const char *src, const char *src_gen,
                             struct stg_meta *m)
{
    struct loc sl, dl;
    locate(src, &sl);
    locate(m->key, &dl);
    int sdir = open_dir(st, &sl, 0);
    if (sdir < 0)
        return STG_E_NOT_IMPLEMENTED;
    int ddir = open_dir(st, &dl, 1);
    if (ddir < 0) {
        close(sdir);
        return stg__io_error("open object directory", ddir);
    }
    char sname[100], dname[100];
    data_name(&sl, src_gen, sname);
    enum stg_err e = STG_E_NOT_IMPLEMENTED;
    if (stg__random_hex(STG_GEN_LEN / 2, m->gen) != 0) {
        e = stg__io_error("random", EIO);
    } else {
        data_name(&dl, m->gen, dname);
        if (linkat(sdir, sname, ddir, dname, 0) == 0) {
            pthread_mutex_t *mu = key_lock(st, &dl);
            pthread_mutex_lock(mu);
            e = publish_locked(st, ddir, &dl, m, dname);
            pthread_mutex_unlock(mu);
        }
    }
    close(sdir);
    close(ddir);
    return e;
}

/* The byte copy: from fd (the bytes m describes) into a new generation of
 * m->key (already set), checking the SHA-256 on the way. */
static enum stg_err copy_bytes(struct stg_store *st, int fd, struct stg_meta *m)
{
    uint8_t want[32];
    memcpy(want, m->sha256, 32);
    struct stg_writer *w;
    enum stg_err e = stg__writer_open(st, W_MD5 | W_SHA256, &w);
    if (e != STG_OK)
        return e;
    e = stg__copy_fd(w, fd);
    if (e == STG_OK) {
        uint8_t sha[32];
        stg_writer_digests(w, NULL, sha);
        if (memcmp(sha, want, 32) != 0) {
            kumo_log(KUMO_LOG_ERROR, NULL, "object content differs from its SHA-256", "key", m->key,
                     NULL);
            e = STG_E_INTERNAL;
        }
    }
    if (e != STG_OK) {
        stg_writer_discard(w);
        return e;
    }
    return stg_object_put(st, w, m);
}

enum stg_err stg_object_copy(struct stg_store *st, const char *src, const char *dst,
                             enum stg_class cls, const struct stg_meta *replace, int64_t now_ms,
                             struct stg_meta *out)
{
    struct stg_meta m;
    int fd;
    enum stg_err e = stg_object_open(st, src, &m, &fd);
    if (e != STG_OK)
        return e;
    if (!stg_meta_readable(&m, now_ms)) {
        close(fd);
        stg_meta_clear(&m);
        return STG_E_INVALID_OBJECT_STATE;
    }
    char src_gen[STG_GEN_LEN + 1];
    memcpy(src_gen, m.gen, sizeof src_gen);
    /* A single PUT's ETag is the MD5 of its bytes, as the copy's must be;
     * a multipart source needs the bytes read to get it. */
    int linkable = m.parts == 0;
    memcpy(m.key, dst, strlen(dst) + 1);
    if (replace) {
        stg_meta_clear(&m);
        memcpy(m.content_type, replace->content_type, sizeof m.content_type);
        for (size_t i = 0; i < replace->n_hdrs; i++)
            stg_meta_add_hdr(&m, replace->hdrs[i].name, strlen(replace->hdrs[i].name),
                             replace->hdrs[i].value, strlen(replace->hdrs[i].value));
    }
    m.parts = 0;
    if (m.ck_type == STG_CK_COMPOSITE) {
        /* A checksum of parts' checksums does not describe a copy made
         * in one piece. */
        m.ck_alg = STG_CK_NONE;
        m.ck_type = STG_CK_FULL_OBJECT;
        m.ck_value[0] = '\0';
    }
    m.storage_class = cls == STG_CLASS_UNSPECIFIED ? STG_CLASS_STANDARD : cls;
    m.restore_ready_ms = m.restore_expire_ms = 0;
    m.restore_tier = STG_TIER_UNSPECIFIED;
    e = STG_E_NOT_IMPLEMENTED;
    if (linkable) {
        m.mtime_ms = stg_now_ms();
        e = link_put(st, src, src_gen, &m);
    }
    if (e == STG_E_NOT_IMPLEMENTED)
        e = copy_bytes(st, fd, &m);
    close(fd);
    if (e == STG_OK)
        *out = m;
    else
        stg_meta_clear(&m);
    return e;
}

/* Runs `edit` on the sidecar of `key` under its lock and writes the result
 * back unless edit fails. Fills *out with the result. */
typedef enum stg_err (*meta_edit_fn)(struct stg_meta *m, void *arg);

struct meta_edit {
    meta_edit_fn edit;
    void *arg;
    struct stg_meta *out;
};

static enum stg_err edit_locked(struct stg_store *st, int dirfd, const struct loc *l,
                                enum stg_err read, struct stg_meta *m, void *arg)
{
    struct meta_edit *me = arg;
    if (read != STG_OK)
        return read;
    enum stg_err e = me->edit(m, me->arg);
    if (e == STG_OK)
        e = write_meta(st, dirfd, l, m);
    if (e == STG_OK)
        *me->out = *m;
    else
        stg_meta_clear(m);
    return e;
}

static enum stg_err edit_meta(struct stg_store *st, const char *key, meta_edit_fn edit, void *arg,
                              struct stg_meta *out)
{
    struct meta_edit me = {edit, arg, out};
    return with_sidecar(st, key, STG_E_NO_SUCH_KEY, edit_locked, &me);
}

static int is_archive(enum stg_class c)
{
    return c == STG_CLASS_GLACIER || c == STG_CLASS_DEEP_ARCHIVE;
}

struct class_edit {
    enum stg_class cls;
    int64_t now_ms;
};

static enum stg_err set_class(struct stg_meta *m, void *arg)
{
    const struct class_edit *c = arg;
    if (m->storage_class == c->cls)
        return STG_OK;
    if (is_archive(m->storage_class) && !is_archive(c->cls) &&
        stg_meta_restore_state(m, c->now_ms) != STG_RESTORE_RESTORED)
        return STG_E_INVALID_OBJECT_STATE;
    if (!is_archive(c->cls) || !is_archive(m->storage_class)) {
        m->restore_ready_ms = m->restore_expire_ms = 0;
        m->restore_tier = STG_TIER_UNSPECIFIED;
    }
    m->storage_class = c->cls;
    return STG_OK;
}

enum stg_err stg_object_set_class(struct stg_store *st, const char *key, enum stg_class cls,
                                  int64_t now_ms, struct stg_meta *out)
{
    struct class_edit c = {cls, now_ms};
    return edit_meta(st, key, set_class, &c, out);
}

struct restore_edit {
    int days;
    enum stg_tier tier;
    int64_t delay_ms, day_ms, now_ms;
    enum stg_restore_state before;
};

static enum stg_err restore(struct stg_meta *m, void *arg)
{
    struct restore_edit *r = arg;
    int64_t span = (int64_t)r->days * r->day_ms;
    r->before = stg_meta_restore_state(m, r->now_ms);
    switch (r->before) {
    case STG_RESTORE_NONE:
        return STG_E_INVALID_OBJECT_STATE;
    case STG_RESTORE_IN_PROGRESS:
        return STG_OK; /* as asked already: nothing to change */
    case STG_RESTORE_RESTORED:
        m->restore_expire_ms = r->now_ms + span;
        return STG_OK;
    default:
        m->restore_tier = r->tier == STG_TIER_UNSPECIFIED ? STG_TIER_STANDARD : r->tier;
        m->restore_ready_ms = r->now_ms + r->delay_ms;
        if (m->restore_ready_ms == 0)
            m->restore_ready_ms = 1;
        m->restore_expire_ms = m->restore_ready_ms + span;
        return STG_OK;
    }
}

enum stg_err stg_object_restore(struct stg_store *st, const char *key, int days, enum stg_tier tier,
                                int64_t delay_ms, int64_t day_ms, int64_t now_ms,
                                struct stg_meta *out, enum stg_restore_state *before)
{
    struct restore_edit r = {days, tier, delay_ms, day_ms, now_ms, STG_RESTORE_NONE};
    enum stg_err e = edit_meta(st, key, restore, &r, out);
    *before = r.before;
    return e;
}

/* ---- listing ---- */

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const struct stg_list_entry *)a)->key, ((const struct stg_list_entry *)b)->key);
}

/* Adds the objects of obj/<dir> whose keys start with prefix. */
static enum stg_err list_dir(int objfd, const char *dir, const char *prefix,
                             struct stg_list_entry **out, size_t *n, size_t *cap)
{
    int dfd = stg__openat(objfd, dir, O_RDONLY | O_DIRECTORY, 0);
    if (dfd == -ENOENT)
        return STG_OK;
    if (dfd < 0)
        return stg__io_error("open object directory", dfd);
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return stg__io_error("list objects", errno);
    }
    size_t plen = strlen(prefix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len != 64 + 5 || strcmp(de->d_name + 64, ".meta") != 0)
            continue;
        struct kumo_buf b = KUMO_BUF_INIT;
        struct stg_meta m;
        int rc = stg__read_small(dfd, de->d_name, STG_META_FILE_MAX, &b);
        if (rc == 0 && stg_meta_decode((const char *)b.data, b.len, &m) == 0) {
            if (strncmp(m.key, prefix, plen) == 0) {
                if (*n == *cap) {
                    *cap = *cap ? *cap * 2 : 64;
                    *out = kumo_realloc(*out, *cap * sizeof **out);
                }
                struct stg_list_entry *e = &(*out)[(*n)++];
                e->key = kumo_strdup(m.key);
                e->size = m.size;
                memcpy(e->etag, m.etag, sizeof e->etag);
                e->mtime_ms = m.mtime_ms;
                e->storage_class = m.storage_class;
                e->ck_alg = m.ck_alg;
            }
            stg_meta_clear(&m);
        }
        kumo_buf_free(&b);
    }
    closedir(d);
    return STG_OK;
}

enum stg_err stg_object_list(struct stg_store *st, const char *prefix, struct stg_list_entry **out,
                             size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (int i = 0; i < 256; i++) {
        char dir[3];
        snprintf(dir, sizeof dir, "%02x", i);
        enum stg_err e = list_dir(st->objfd, dir, prefix, out, n, &cap);
        if (e != STG_OK) {
            stg_list_free(*out, *n);
            *out = NULL;
            *n = 0;
            return e;
        }
    }
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_entries);
    return STG_OK;
}

void stg_list_free(struct stg_list_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kumo_free(entries[i].key);
    kumo_free(entries);
}
