/* The local backend's store: opening the root, confined file access,
 * temporary-file writers with running digests, atomic small-file writes and
 * the start-up sweep. See local.h for the layout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "local.h"
#include "runtime/log.h"
#include "base/secret.h"

#define MARKER         ".kumo-storage"
#define MARKER_TEXT    "kumo-storage layout 1\n"
#define COPY_CHUNK     (1024 * 1024)
#define WRITEBACK_STEP (8 * 1024 * 1024)
#define APPEND_STEP    (8 * 1024 * 1024)
/* Bodies larger than this hash their MD5 on a second thread (digest.c). */
#define OFFLOAD_MIN (4 * 1024 * 1024)

enum stg_err stg__io_error(const char *what, int err)
{
    int e = err < 0 ? -err : err;
    kumo_log(KUMO_LOG_ERROR, NULL, "storage I/O failed", "op", what, "error", strerror(e), NULL);
    /* A full volume is the client's to know (and retry later), not a bug. */
    return e == ENOSPC || e == EDQUOT ? STG_E_STORAGE_FULL : STG_E_INTERNAL;
}

/* ---- confined access ---- */

static atomic_int openat2_missing;

static int plain_name(const char *name)
{
    return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

int stg__openat(int dirfd, const char *name, int flags, mode_t mode)
{
    if (!plain_name(name))
        return -EINVAL;
    flags |= O_NOFOLLOW | O_CLOEXEC;
    if (!atomic_load_explicit(&openat2_missing, memory_order_relaxed)) {
        struct open_how how = {
            .flags = (uint64_t)flags,
            .mode = (flags & O_CREAT) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS)
            return -errno;
        atomic_store(&openat2_missing, 1);
    }
    int fd = openat(dirfd, name, flags, mode);
    return fd >= 0 ? fd : -errno;
}

int stg__fsync(const struct stg_store *st, int fd)
{
    if (!st->do_fsync)
        return 0;
    return fsync(fd) == 0 ? 0 : -errno;
}

int stg__random_hex(size_t n, char *out)
{
    uint8_t raw[32];
    if (n > sizeof raw || kumo_secret_random_bytes(raw, n) != 0)
        return -1;
    kumo_hex_encode(raw, n, out);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int stg__write_atomic(struct stg_store *st, int dirfd, const char *name, const void *data,
                      size_t len)
{
    char tmp[48];
    if (stg__random_hex(16, tmp) != 0)
        return -EIO;
    memcpy(tmp + 32, ".tmp", 5);
    int fd = stg__openat(st->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (fd < 0)
        return fd;
    int rc = write_all(fd, data, len);
    if (rc == 0 && st->do_fsync && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(st->tmpfd, tmp, dirfd, name) != 0)
        rc = -errno;
    if (rc != 0) {
        unlinkat(st->tmpfd, tmp, 0);
        return rc;
    }
    return stg__fsync(st, dirfd);
}

int stg__read_small(int dirfd, const char *name, size_t max, struct kumo_buf *out)
{
    int fd = stg__openat(dirfd, name, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    int rc = kumo_buf_read_fd(out, fd, max);
    close(fd);
    return rc == KUMO_ERR_TOO_LARGE ? -EFBIG : rc;
}

static void remove_dir_entries(int dfd, int depth)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!plain_name(e->d_name))
            continue;
        if (unlinkat(dfd, e->d_name, 0) == 0 || (errno != EISDIR && errno != EPERM))
            continue;
        if (depth > 0) {
            int sub = stg__openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY, 0);
            if (sub >= 0)
                remove_dir_entries(sub, depth - 1);
        }
        unlinkat(dfd, e->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

void stg__remove_tree(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        return;
    int sub = stg__openat(dirfd, name, O_RDONLY | O_DIRECTORY, 0);
    if (sub >= 0)
        remove_dir_entries(sub, 1);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* ---- writer ---- */

static void md_free(struct stg_writer *w)
{
    if (w->md5_thread) {
        w->md5 = stg__offload_finish(w->md5_thread);
        w->md5_thread = NULL;
    }
    EVP_MD_CTX_free(w->md5);
    EVP_MD_CTX_free(w->sha);
    w->md5 = w->sha = NULL;
}

enum stg_err stg__writer_open(struct stg_store *st, unsigned flags, struct stg_writer **out)
{
    struct stg_writer *w = kumo_calloc(1, sizeof *w);
    w->st = st;
    w->flags = flags;
    if (stg__random_hex(16, w->name) != 0) {
        kumo_free(w);
        return stg__io_error("random", EIO);
    }
    memcpy(w->name + 32, ".tmp", 5);
    w->fd = stg__openat(st->tmpfd, w->name, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (w->fd < 0) {
        int err = w->fd;
        kumo_free(w);
        return stg__io_error("create temporary file", err);
    }
    if (flags & W_MD5) {
        w->md5 = EVP_MD_CTX_new();
        EVP_DigestInit_ex(w->md5, EVP_md5(), NULL);
    }
    if (flags & W_SHA256) {
        w->sha = EVP_MD_CTX_new();
        EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL);
    }
    *out = w;
    return STG_OK;
}

enum stg_err stg_writer_open(struct stg_store *st, int want_md5, int want_sha256,
                             struct stg_writer **out)
{
    return stg__writer_open(st, (want_md5 ? W_MD5 : 0) | (want_sha256 ? W_SHA256 : 0), out);
}

/* Starts writing back each WRITEBACK_STEP of the file as soon as it is
 * complete (without waiting for it), so the disk works while the rest of
 * the body arrives and the fsync before the commit finds little left to do:
 * for a large upload that fsync would otherwise cost as much as receiving
 * the body did. */
static void start_writeback(struct stg_writer *w)
{
    if (!w->st->do_fsync || w->size - w->synced < WRITEBACK_STEP)
        return;
    sync_file_range(w->fd, w->synced, w->size - w->synced, SYNC_FILE_RANGE_WRITE);
    w->synced = w->size;
}

enum stg_err stg_writer_write(struct stg_writer *w, const void *p, size_t n)
{
    if (n == 0)
        return STG_OK;
    if (w->md5 && !w->md5_thread && w->size + (int64_t)n > OFFLOAD_MIN &&
        stg__offload_start(&w->md5_thread, w->md5) == 0)
        w->md5 = NULL;
    if (w->md5_thread)
        stg__offload_feed(w->md5_thread, p, n);
    else if (w->md5)
        EVP_DigestUpdate(w->md5, p, n);
    if (w->sha)
        EVP_DigestUpdate(w->sha, p, n);
    int rc = write_all(w->fd, p, n);
    if (rc != 0)
        return stg__io_error("write", rc);
    w->size += (int64_t)n;
    start_writeback(w);
    return STG_OK;
}

int64_t stg_writer_size(const struct stg_writer *w)
{
    return w->size;
}

void stg_writer_digests(struct stg_writer *w, uint8_t md5[16], uint8_t sha256[32])
{
    if (!w->finished) {
        unsigned len;
        if (w->md5_thread) {
            w->md5 = stg__offload_finish(w->md5_thread);
            w->md5_thread = NULL;
        }
        if (w->md5)
            EVP_DigestFinal_ex(w->md5, w->md5v, &len);
        if (w->sha)
            EVP_DigestFinal_ex(w->sha, w->shav, &len);
        md_free(w);
        w->finished = 1;
    }
    if (md5)
        memcpy(md5, w->md5v, 16);
    if (sha256)
        memcpy(sha256, w->shav, 32);
}

int stg__writer_seal(struct stg_writer *w)
{
    int rc = 0;
    if (w->st->do_fsync && fsync(w->fd) != 0)
        rc = -errno;
    if (close(w->fd) != 0 && rc == 0)
        rc = -errno;
    w->fd = -1;
    return rc;
}

void stg__writer_free(struct stg_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    md_free(w);
    kumo_free(w);
}

void stg_writer_discard(struct stg_writer *w)
{
    if (w == NULL)
        return;
    unlinkat(w->st->tmpfd, w->name, 0);
    stg__writer_free(w);
}

void stg__writer_set_sha256(struct stg_writer *w, const uint8_t sha256[32])
{
    memcpy(w->shav, sha256, 32);
}

enum stg_err stg__writer_append_file(struct stg_writer *w, int in, int64_t len)
{
    if (w->flags != 0 || w->finished)
        return stg__io_error("append to a hashing writer", EINVAL);
    loff_t off = 0;
    int in_kernel = 1;
    uint8_t *buf = NULL;
    enum stg_err e = STG_OK;
    while (off < len) {
        size_t want = len - off > APPEND_STEP ? APPEND_STEP : (size_t)(len - off);
        ssize_t k;
        if (in_kernel) {
            /* Writes at (and advances) the writer's file position. */
            k = copy_file_range(in, &off, w->fd, NULL, want, 0);
            if (k < 0 &&
                (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                in_kernel = 0; /* not between these files: through a buffer */
                continue;
            }
        } else {
            if (buf == NULL)
                buf = kumo_malloc(COPY_CHUNK);
            k = pread(in, buf, want < COPY_CHUNK ? want : COPY_CHUNK, off);
            int rc = k > 0 ? write_all(w->fd, buf, (size_t)k) : 0;
            if (rc != 0) {
                e = stg__io_error("write", rc);
                break;
            }
            if (k > 0)
                off += k;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            e = stg__io_error("append file", k < 0 ? errno : EIO); /* EIO: shorter than len */
            break;
        }
        w->size += (int64_t)k;
        start_writeback(w);
    }
    kumo_free(buf);
    return e;
}

enum stg_err stg__copy_fd(struct stg_writer *w, int in)
{
    uint8_t *buf = kumo_malloc(COPY_CHUNK);
    enum stg_err rc = STG_OK;
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = stg__io_error("read", errno);
            break;
        }
        if (n == 0)
            break;
        rc = stg_writer_write(w, buf, (size_t)n);
        if (rc != STG_OK)
            break;
    }
    kumo_free(buf);
    return rc;
}

/* ---- opening ---- */

static int open_or_make_dir(int parent, const char *name, int do_fsync)
{
    if (mkdirat(parent, name, 0750) == 0) {
        if (do_fsync)
            fsync(parent);
    } else if (errno != EEXIST) {
        return -errno;
    }
    return stg__openat(parent, name, O_RDONLY | O_DIRECTORY, 0);
}

/* A root must be empty or already hold our marker: pointing
 * KUMO_STORAGE_ROOT at the wrong directory must not let the sweep delete
 * someone's files. */
static int check_marker(struct stg_store *st)
{
    struct kumo_buf b = KUMO_BUF_INIT;
    int rc = stg__read_small(st->rootfd, MARKER, 256, &b);
    int ok = rc == 0 && b.len == strlen(MARKER_TEXT) && memcmp(b.data, MARKER_TEXT, b.len) == 0;
    kumo_buf_free(&b);
    if (ok)
        return 0;
    if (rc != -ENOENT)
        return -1;
    DIR *d = fdopendir(dup(st->rootfd));
    if (d == NULL)
        return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    if (!empty)
        return -1;
    int fd = stg__openat(st->rootfd, MARKER, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (fd < 0)
        return -1;
    int wrc = write_all(fd, MARKER_TEXT, strlen(MARKER_TEXT));
    if (st->do_fsync)
        fsync(fd);
    close(fd);
    if (st->do_fsync)
        fsync(st->rootfd);
    return wrc;
}

static int open_root(struct stg_store *st, const char *root)
{
    if (mkdir(root, 0750) != 0 && errno != EEXIST)
        return -errno;
    st->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return st->rootfd >= 0 ? 0 : -errno;
}

int stg_store_open(struct stg_store **out, const char *root, int do_fsync)
{
    struct stg_store *st = kumo_calloc(1, sizeof *st);
    st->root = kumo_strdup(root);
    st->do_fsync = do_fsync;
    st->rootfd = st->objfd = st->mpufd = st->tmpfd = -1;
    for (int i = 0; i < LOCK_STRIPES; i++) {
        pthread_mutex_init(&st->key_locks[i], NULL);
        pthread_mutex_init(&st->mpu_locks[i], NULL);
    }
    int rc = open_root(st, root);
    if (rc != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot open the storage root", "root", root, "error",
                 strerror(-rc), NULL);
        stg_store_close(st);
        return -1;
    }
    if (check_marker(st) != 0) {
        kumo_log(KUMO_LOG_ERROR, NULL,
                 "the storage root is neither empty nor a kumo store (no " MARKER " marker)",
                 "root", root, NULL);
        stg_store_close(st);
        return -1;
    }
    st->objfd = open_or_make_dir(st->rootfd, "obj", do_fsync);
    st->mpufd = open_or_make_dir(st->rootfd, "mpu", do_fsync);
    st->tmpfd = open_or_make_dir(st->rootfd, "tmp", do_fsync);
    if (st->objfd < 0 || st->mpufd < 0 || st->tmpfd < 0) {
        kumo_log(KUMO_LOG_ERROR, NULL, "cannot create the store's directories", "root", root, NULL);
        stg_store_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

void stg_store_close(struct stg_store *st)
{
    if (st == NULL)
        return;
    int fds[] = {st->rootfd, st->objfd, st->mpufd, st->tmpfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (int i = 0; i < LOCK_STRIPES; i++) {
        pthread_mutex_destroy(&st->key_locks[i]);
        pthread_mutex_destroy(&st->mpu_locks[i]);
    }
    kumo_free(st->root);
    kumo_free(st);
}

int stg_store_check(struct stg_store *st, char *err, size_t errlen)
{
    struct stat sb;
    if (fstatat(st->tmpfd, ".", &sb, 0) != 0 || faccessat(st->tmpfd, ".", W_OK, 0) != 0) {
        snprintf(err, errlen, "storage root not writable: %s", strerror(errno));
        return -1;
    }
    int64_t min = atomic_load(&st->min_free);
    struct statvfs vs;
    if (min > 0 && fstatvfs(st->tmpfd, &vs) == 0 &&
        (int64_t)vs.f_bavail * (int64_t)vs.f_frsize < min) {
        snprintf(err, errlen,
                 "storage volume nearly full: %lld bytes free, KUMO_STORAGE_MIN_FREE %lld",
                 (long long)vs.f_bavail * (long long)vs.f_frsize, (long long)min);
        return -1;
    }
    return 0;
}

void stg_store_set_min_free(struct stg_store *st, int64_t bytes)
{
    atomic_store(&st->min_free, bytes);
}

/* ---- sweep ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory, sorted (so an object's sidecar and data files are
 * adjacent). */
static char **list_dir(int dirfd, size_t *n)
{
    *n = 0;
    DIR *d = fdopendir(dup(dirfd));
    if (d == NULL)
        return NULL;
    size_t cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!plain_name(e->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            names = kumo_realloc(names, cap * sizeof *names);
        }
        names[(*n)++] = kumo_strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof *names, cmp_names);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kumo_free(names[i]);
    kumo_free(names);
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Reads the generation an object's sidecar names; "" if unreadable. */
static void sidecar_gen(int dirfd, const char *meta_name, char gen[STG_GEN_LEN + 1])
{
    struct kumo_buf b = KUMO_BUF_INIT;
    struct stg_meta m;
    gen[0] = '\0';
    if (stg__read_small(dirfd, meta_name, STG_META_FILE_MAX, &b) == 0 &&
        stg_meta_decode((const char *)b.data, b.len, &m) == 0) {
        memcpy(gen, m.gen, sizeof m.gen);
        stg_meta_clear(&m);
    }
    kumo_buf_free(&b);
}

/* One object's files: names[i..j) share the 64-hex hash prefix. */
static void sweep_object(int dirfd, char **names, size_t i, size_t j, struct stg_sweep_stats *stats)
{
    char meta_name[80], gen[STG_GEN_LEN + 1] = "";
    int has_meta = 0, data_found = 0;
    snprintf(meta_name, sizeof meta_name, "%.64s.meta", names[i]);
    for (size_t k = i; k < j; k++)
        if (strcmp(names[k], meta_name) == 0)
            has_meta = 1;
    if (has_meta)
        sidecar_gen(dirfd, meta_name, gen);
    for (size_t k = i; k < j; k++) {
        const char *suffix = names[k] + 65;
        if (strcmp(names[k], meta_name) == 0)
            continue;
        if (gen[0] && strcmp(suffix, gen) == 0) {
            data_found = 1;
            continue;
        }
        unlinkat(dirfd, names[k], 0);
        stats->orphans_removed++;
    }
    if (has_meta && !data_found) {
        kumo_log(KUMO_LOG_WARN, NULL, "removing metadata whose data file is missing", "file",
                 meta_name, NULL);
        unlinkat(dirfd, meta_name, 0);
        stats->broken_removed++;
    }
}

static void sweep_obj_dir(int dirfd, struct stg_sweep_stats *stats)
{
    size_t n;
    char **names = list_dir(dirfd, &n);
    size_t i = 0;
    while (i < n) {
        if (strlen(names[i]) < 66 || !is_hex(names[i], 64) || names[i][64] != '.') {
            unlinkat(dirfd, names[i], 0); /* nothing we made */
            stats->orphans_removed++;
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && strncmp(names[j], names[i], 64) == 0)
            j++;
        sweep_object(dirfd, names, i, j, stats);
        i = j;
    }
    free_names(names, n);
}

static void sweep_uploads(struct stg_store *st, struct stg_sweep_stats *stats)
{
    size_t n;
    char **names = list_dir(st->mpufd, &n);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        int ok = stg_upload_id_valid(names[i], strlen(names[i]));
        int dfd = ok ? stg__openat(st->mpufd, names[i], O_RDONLY | O_DIRECTORY, 0) : -1;
        if (dfd >= 0 && fstatat(dfd, "upload.json", &sb, AT_SYMLINK_NOFOLLOW) == 0) {
            stats->uploads_kept++;
            close(dfd);
            continue;
        }
        if (dfd >= 0)
            close(dfd);
        stg__remove_tree(st->mpufd, names[i]);
        stats->orphans_removed++;
    }
    free_names(names, n);
}

int stg_store_sweep(struct stg_store *st, struct stg_sweep_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    size_t n;
    char **names = list_dir(st->tmpfd, &n);
    for (size_t i = 0; i < n; i++) {
        stg__remove_tree(st->tmpfd, names[i]);
        stats->temp_removed++;
    }
    free_names(names, n);
    stg__fsync(st, st->tmpfd);

    names = list_dir(st->objfd, &n);
    for (size_t i = 0; i < n; i++) {
        int dfd = stg__openat(st->objfd, names[i], O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0)
            continue;
        sweep_obj_dir(dfd, stats);
        stg__fsync(st, dfd);
        close(dfd);
    }
    free_names(names, n);
    sweep_uploads(st, stats);
    return 0;
}
