/* gRPC server reflection (grpc.reflection.v1 and v1alpha ServerReflection),
 * answered from FileDescriptorSets embedded at build time (as written by
 * `protoc --include_imports --descriptor_set_out`).
 *
 * Construction indexes every file by name and every symbol (service, method,
 * message, nested message, field, oneof, enum, enum value, extension) by its
 * full name, the way grpc-go's registry resolves them; answers then cost a
 * binary search plus a walk of the file's imports.
 *
 * The core (reflection.c) does not depend on the RPC server; the handlers
 * behind kumo_reflection_service_v1/_v1alpha live in reflection_service.c. */
#ifndef KUMO_REFLECTION_H
#define KUMO_REFLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "grpc/reflection/v1/reflection.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "rpc/rpc.h"

/* A read-only byte range. */
struct kumo_blob {
    const uint8_t *data;
    size_t len;
};

struct kumo_reflection;

/* Indexes the serialized google.protobuf.FileDescriptorSets `sets[0..n_sets)`.
 * A file whose name was already seen (in an earlier set or earlier in the same
 * set) is ignored; so is a symbol already defined by an earlier file. Imports
 * missing from every set are left out of answers. `service_names` lists the
 * full names of the services the server exposes, reflection and health
 * included ("grpc.reflection.v1.ServerReflection", ...); list_services answers
 * them sorted, duplicates removed. Everything is copied: the caller keeps
 * ownership of `sets` and `service_names`.
 * Returns 0 and sets *out (free with kumo_reflection_free), or
 * KUMO_ERR_INVALID if a set or one of its files does not parse or lacks a
 * name (*out untouched). */
int kumo_reflection_new(struct kumo_reflection **out, const struct kumo_blob *sets, size_t n_sets,
                        const char *const *service_names, size_t n_services);

/* Answers one v1 request, as grpc-go does: the file requested by
 * file_by_filename / file_containing_symbol / file_containing_extension comes
 * first in file_descriptor_response, followed once each by its transitive
 * imports; list_services lists the services; all_extension_numbers_of_type
 * lists the known extension numbers (sorted; empty for a known type without
 * extensions). Unknown names get error_response NOT_FOUND, a request with no
 * message_request error_response INVALID_ARGUMENT: errors never end the
 * stream. valid_host and original_request echo the request.
 * The response and everything it points to are allocated with `alloc`,
 * except the file bytes, which point into `r` (valid until
 * kumo_reflection_free). So release it by releasing the allocator's memory
 * (an arena), never with ..._free_unpacked. Returns 0. */
int kumo_reflection_answer(struct kumo_reflection *r,
                           const Grpc__Reflection__V1__ServerReflectionRequest *req,
                           ProtobufCAllocator *alloc,
                           Grpc__Reflection__V1__ServerReflectionResponse **out);

/* The same for the v1alpha messages (same fields, another package): converts
 * the request to v1, answers it and converts the response back. Everything in
 * *out, file bytes included, is allocated with `alloc`. Returns 0, or
 * KUMO_ERR_INVALID if `req` cannot be re-encoded (it can when protobuf-c
 * decoded it). */
int kumo_reflection_answer_v1alpha(struct kumo_reflection *r,
                                   const Grpc__Reflection__V1alpha__ServerReflectionRequest *req,
                                   ProtobufCAllocator *alloc,
                                   Grpc__Reflection__V1alpha__ServerReflectionResponse **out);

/* The services to register with the RPC server: grpc.reflection.v1 (resp.
 * v1alpha) .ServerReflection, whose bidi-streaming ServerReflectionInfo is
 * answered message by message (KUMO_RPC_STREAM_EACH, public). The structs
 * are owned by `r`, valid until kumo_reflection_free; `r` must outlive the
 * server. (reflection_service.c) */
const struct kumo_rpc_service *kumo_reflection_service_v1(struct kumo_reflection *r);
const struct kumo_rpc_service *kumo_reflection_service_v1alpha(struct kumo_reflection *r);

/* Frees `r` (NULL is ignored). No RPC may be using it any more. */
void kumo_reflection_free(struct kumo_reflection *r);

/* ---- internal, for reflection_service.c ---- */

/* The storage kumo_reflection_service_v1 (alpha = 0) and _v1alpha (alpha = 1)
 * fill and return, one pair per index, so each carries its own user_data. */
struct kumo_rpc_service *kumo__reflection_service_slot(struct kumo_reflection *r, int alpha);

#endif
