/* Request field checks every service's handlers share: the
 * invalid_argument answer naming a field, and the shape of kumo ids. */
#ifndef KUMO_RPC_FIELDS_H
#define KUMO_RPC_FIELDS_H

#include <stddef.h>

#include "google/protobuf/field_mask.pb-c.h"
#include "rpc/rpc.h"

/* Longest id (a prefix, '_' and 20 base32 characters, with room). */
#define KUMO_RPC_ID_MAX 32

/* Answers invalid_argument "<field> <why>" and returns that code. */
kumo_code kumo_rpc_invalid(struct kumo_rpc_call *call, const char *field, const char *why);

/* Checks an id field: 1..KUMO_RPC_ID_MAX characters of a-z, 0-9 and '_'.
 * Returns OK, or answers invalid_argument ("is required", "is not a valid
 * id") naming `field`. */
kumo_code kumo_rpc_check_id(struct kumo_rpc_call *call, const char *field, const char *s);

/* 1 if s is a well-formed id (as kumo_rpc_check_id accepts), else 0. */
int kumo_rpc_id_valid(const char *s);

/* A path an update_mask may name, and the bit it stands for. */
struct kumo_rpc_mask_path {
    const char *path;
    unsigned bit;
};

/* Reads a request's update_mask into *bits (the bits of the paths it
 * names). Returns OK, or answers invalid_argument naming "update_mask"
 * ("must name at least one field"; "may only name a, b and c", the paths
 * listed) and returns that code. */
kumo_code kumo_rpc_update_mask(struct kumo_rpc_call *call, const Google__Protobuf__FieldMask *m,
                               const struct kumo_rpc_mask_path *paths, size_t n, unsigned *bits);

#endif
