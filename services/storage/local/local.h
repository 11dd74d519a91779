/* Internals of the local backend shared by local.c (store, writer, sweep),
 * objects.c and multipart.c.
 *
 * Layout under the root (every name below is made here, never from a key):
 *   .kumo-storage            marker: the directory is a kumo store
 *   obj/<hh>/<h>.meta        metadata sidecar of the object whose key
 *                            hashes (SHA-256, hex) to <h>; <hh> = its first
 *                            two digits
 *   obj/<hh>/<h>.<gen>       the object's bytes; <gen> (random) is named by
 *                            the sidecar, so a new version is written beside
 *                            the old one and becomes visible only when the
 *                            sidecar is renamed over
 *   mpu/<upload id>/upload.json        settings of a multipart upload
 *   mpu/<upload id>/<NNNNN>.<md5 hex>  its parts
 *   tmp/                      files and directories being written; nothing
 *                            in it is ever visible, and start-up empties it
 * Every write goes to tmp/, is fsynced and renamed into place, and the
 * directory is fsynced: after a crash an object is either its old or its new
 * version, never a mix or a prefix. */
#ifndef KUMO_STORAGE_LOCAL_H
#define KUMO_STORAGE_LOCAL_H

#include <openssl/evp.h>
#include <sys/types.h>

#include "../storage.h"

#define LOCK_STRIPES 64

struct stg_store {
    char *root;
    int rootfd, objfd, mpufd, tmpfd;
    int do_fsync;
    _Atomic int64_t min_free; /* stg_store_set_min_free */
    pthread_mutex_t key_locks[LOCK_STRIPES];
    pthread_mutex_t mpu_locks[LOCK_STRIPES];
};

enum writer_flags {
    W_MD5 = 1u << 0,
    W_SHA256 = 1u << 1,
};

/* A digest computed on a helper thread (digest.c). */
struct stg__offload;

/* Starts hashing on a thread with `ctx` (taken). Returns 0 or -errno (then
 * ctx is still the caller's). */
int stg__offload_start(struct stg__offload **out, EVP_MD_CTX *ctx);
/* Queues bytes to hash (waits while the ring is full). */
void stg__offload_feed(struct stg__offload *o, const void *p, size_t n);
/* Waits for everything queued to be hashed, stops the thread, frees `o` and
 * returns the context. */
EVP_MD_CTX *stg__offload_finish(struct stg__offload *o);

struct stg_writer {
    struct stg_store *st;
    int fd;
    char name[48]; /* in tmp/ */
    unsigned flags;
    EVP_MD_CTX *md5, *sha;
    struct stg__offload *md5_thread; /* md5 moved to a thread */
    int64_t size;
    int64_t synced; /* bytes whose writeback was started */
    int finished;
    uint8_t md5v[16], shav[32];
};

/* Opens a writer computing the digests in `flags`. */
enum stg_err stg__writer_open(struct stg_store *st, unsigned flags, struct stg_writer **out);

/* fsyncs (if configured) and closes the writer's file; the temporary name
 * stays for the rename. Returns 0 or -errno. */
int stg__writer_seal(struct stg_writer *w);

/* Frees the writer without touching its file (after a rename). */
void stg__writer_free(struct stg_writer *w);

/* Opens `name` (one path component, no '/', not "." or "..") under
 * `dirfd` without following symlinks, confined beneath dirfd (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it). Returns
 * the fd or -errno. */
int stg__openat(int dirfd, const char *name, int flags, mode_t mode);

/* fsync of a directory fd when configured. Returns 0 or -errno. */
int stg__fsync(const struct stg_store *st, int fd);

/* Random lowercase hex of n bytes into out (2n + 1). Returns 0 or -1. */
int stg__random_hex(size_t n, char *out);

/* Writes `data` to a new file in tmp/, fsyncs it and renames it to `name`
 * in `dirfd`, then fsyncs dirfd. Returns 0 or -errno. */
int stg__write_atomic(struct stg_store *st, int dirfd, const char *name, const void *data,
                      size_t len);

/* Reads a whole small file (at most `max` bytes) under dirfd. Returns 0,
 * -ENOENT, -EFBIG or another -errno. */
int stg__read_small(int dirfd, const char *name, size_t max, struct kumo_buf *out);

/* Removes `name` under dirfd and, if it is a directory, what it holds
 * (two levels at most, as the layout never nests deeper). */
void stg__remove_tree(int dirfd, const char *name);

/* Copies the rest of fd `in` into the writer. Returns STG_OK or
 * STG_E_INTERNAL (logged). */
enum stg_err stg__copy_fd(struct stg_writer *w, int in);

/* Appends the first `len` bytes of fd `in` (from its offset 0, which it
 * leaves alone) to writer w, which must compute no digest (opened with
 * flags 0): copy_file_range where the kernel can (no copy through this
 * process), else through a buffer. For a caller that hashes the same
 * bytes itself, on another thread if it likes, and then gives the
 * writer their SHA-256 (stg__writer_set_sha256). Returns STG_OK, or an
 * error (logged) also when `in` is shorter than len. */
enum stg_err stg__writer_append_file(struct stg_writer *w, int in, int64_t len);

/* The SHA-256 that stg_writer_digests reports for a writer computing
 * none: the caller's, of exactly the bytes it had the writer take. */
void stg__writer_set_sha256(struct stg_writer *w, const uint8_t sha256[32]);

/* ---- multipart.c, assemble.c ---- */

/* The file name of a part in its upload's directory, "<NNNNN>.<ETag>". */
void stg__part_file(const struct stg_part *p, char out[48]);

/* Reads the checksum kept beside part file `part` (the one its PUT
 * carried, verified by the data port): 0 (filled), or -1 if none. */
int stg__part_ck(int dfd, const char part[48], enum stg_ck_alg *alg, char b64[STG_CK_B64_MAX]);

/* Assembles the listed parts (checked against the stored ones by the
 * caller) of the upload directory dfd into a new writer *out, ready for
 * stg_object_put with its SHA-256; md5s receives MD5(concatenated binary
 * part ETags). With the upload's checksum algorithm (m->ck_alg) it checks
 * every listed part checksum against the kept one and sets m->ck_value:
 * for COMPOSITE, as S3 does, the checksum of the concatenated binary part
 * checksums, base64, then "-<parts>"; for FULL_OBJECT the checksum of the
 * whole object. On a checksum problem: STG_E_INVALID_PART with *why set
 * (stg_why_part_checksum, stg_why_part_no_checksum), nothing kept. */
enum stg_err stg__mpu_assemble(struct stg_store *st, int dfd, const struct stg_part *want, size_t n,
                               struct stg_meta *m, struct stg_writer **out, uint8_t md5s[16],
                               const char **why);

/* Logs an I/O failure and returns STG_E_INTERNAL. */
enum stg_err stg__io_error(const char *what, int err);

#endif
