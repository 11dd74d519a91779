/* Fuzzes the proto3 JSON codec (common/codec/json_decode.c, json_encode.c):
 * arbitrary bytes are decoded as kumo.test.v1.AllTypes (every field kind) and as EchoRequest.
 * Whatever decodes must re-encode to JSON that decodes again and encodes to
 * the same bytes, and must survive a trip through the binary codec unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json_codec.h"

#include "kumo/test/v1/echo.pb-c.h"
#include "kumo/test/v1/types.pb-c.h"

static void die(const char *what, const struct kumo_buf *a, const struct kumo_buf *b)
{
    fprintf(stderr, "json_codec invariant broken: %s\nfirst:  %s\nsecond: %s\n", what,
            a && a->data ? (char *)a->data : "", b && b->data ? (char *)b->data : "");
    abort();
}

/* Encodes `m` through the binary codec and back, then as JSON. */
static void encode_via_binary(const ProtobufCMessage *m, struct kumo_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *wire = kumo_malloc(n);
    protobuf_c_message_pack(m, wire);
    ProtobufCMessage *u = protobuf_c_message_unpack(m->descriptor, NULL, n, wire);
    if (u == NULL)
        die("binary unpack of a packed message failed", NULL, NULL);
    if (kumo_json_encode(u, out) != 0)
        die("encode after binary trip failed", NULL, NULL);
    protobuf_c_message_free_unpacked(u, NULL);
    kumo_free(wire);
}

static void check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = NULL;
    char *err = NULL;
    if (kumo_json_decode(desc, (const char *)data, size, NULL, &m, &err) != 0) {
        if (err == NULL || m != NULL)
            die("failed decode without a message, or with a result", NULL, NULL);
        kumo_free(err);
        return;
    }
    struct kumo_buf first = KUMO_BUF_INIT, second = KUMO_BUF_INIT, bin = KUMO_BUF_INIT;
    if (kumo_json_encode(m, &first) != 0)
        die("encode of a decoded message failed", NULL, NULL);

    /* Second decode into an arena, as the server does. */
    struct kumo_arena *arena = kumo_arena_new();
    ProtobufCMessage *m2 = NULL;
    if (kumo_json_decode(desc, (const char *)first.data, first.len, kumo_arena_allocator(arena),
                         &m2, &err) != 0) {
        fprintf(stderr, "re-decode error: %s\n", err);
        die("our own output does not decode", &first, NULL);
    }
    if (kumo_json_encode(m2, &second) != 0)
        die("second encode failed", &first, NULL);
    if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)
        die("encode(decode(encode(x))) != encode(x)", &first, &second);

    encode_via_binary(m, &bin);
    if (first.len != bin.len || memcmp(first.data, bin.data, first.len) != 0)
        die("JSON and binary codecs disagree", &first, &bin);

    kumo_arena_free(arena);
    protobuf_c_message_free_unpacked(m, NULL);
    kumo_buf_free(&first);
    kumo_buf_free(&second);
    kumo_buf_free(&bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(&kumo__test__v1__all_types__descriptor, data, size);
    check(&kumo__test__v1__echo_request__descriptor, data, size);
    return 0;
}
