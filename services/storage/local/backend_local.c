/* The local backend behind the RPCs: the store in KUMO_STORAGE_ROOT, whose
 * bytes the data port serves; presigned URLs are signed with the data
 * port's own key pair. */
#include <string.h>

#include "../storage.h"

static int id_valid(const char *id, size_t len)
{
    return stg_upload_id_valid(id, len);
}

static enum stg_err stat_(struct stg_ctx *c, const char *key, struct stg_meta *m)
{
    return stg_object_stat(c->store, key, m);
}

static enum stg_err remove_(struct stg_ctx *c, const char *key)
{
    return stg_object_delete(c->store, key, NULL);
}

static enum stg_err copy(struct stg_ctx *c, const char *src, const char *dst, enum stg_class cls,
                         struct stg_meta *out)
{
    return stg_object_copy(c->store, src, dst, cls, NULL, stg_now_ms(), out);
}

static enum stg_err set_class(struct stg_ctx *c, const char *key, enum stg_class cls,
                              struct stg_meta *out)
{
    return stg_object_set_class(c->store, key, cls, stg_now_ms(), out);
}

static enum stg_err restore(struct stg_ctx *c, const char *key, int days, enum stg_tier tier,
                            struct stg_meta *out, enum stg_restore_state *before)
{
    return stg_object_restore(c->store, key, days, tier, c->s.restore_ms[tier], c->s.restore_day_ms,
                              stg_now_ms(), out, before);
}

static enum stg_err mpu_create(struct stg_ctx *c, const struct stg_meta *init,
                               char id_out[STG_UPLOAD_ID_MAX + 1])
{
    char id[STG_UPLOAD_ID_LEN + 1];
    enum stg_err e = stg_mpu_create(c->store, init, id);
    if (e == STG_OK)
        memcpy(id_out, id, sizeof id);
    return e;
}

static enum stg_err mpu_check(struct stg_ctx *c, const char *id, const char *key)
{
    return stg_mpu_get(c->store, id, key, NULL);
}

static enum stg_err mpu_list(struct stg_ctx *c, const char *id, const char *key, int after, int max,
                             struct stg_part **parts, size_t *n, int *truncated)
{
    return stg_mpu_list(c->store, id, key, after, max, parts, n, truncated);
}

static enum stg_err mpu_complete(struct stg_ctx *c, const char *id, const char *key,
                                 const struct stg_part *want, size_t n, struct stg_meta *out,
                                 const char **why)
{
    return stg_mpu_complete(c->store, id, key, want, n, c->s.min_part_size, out, why);
}

static enum stg_err mpu_abort(struct stg_ctx *c, const char *id, const char *key)
{
    return stg_mpu_abort(c->store, id, key);
}

static int sign_creds(struct stg_ctx *c, struct kumo_aws_credentials *out)
{
    kumo_aws_credentials_copy(out, &c->creds);
    return 0;
}

const struct stg_backend_ops stg_backend_local = {
    "local",    id_valid,  stat_,    remove_,      copy,      set_class,  restore,
    mpu_create, mpu_check, mpu_list, mpu_complete, mpu_abort, sign_creds,
};
